"""What the tests and the benchmark share: the real servers they start (``servers``: PostgreSQL
and an S3 server, started and stopped by PID) and the fleets they generate (``workload``).

Run from the repository root: the tests have it on their path (pytest's ``pythonpath``), the
benchmark runs as ``python -m bench.run``, and ``.ci/run`` starts the servers with
``python -m testkit.servers start DIR``.
"""
