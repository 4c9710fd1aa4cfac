"""Turning plans, drift reports and state into what users and machines read."""
