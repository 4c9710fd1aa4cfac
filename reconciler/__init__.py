"""np: a declarative reconciler for Huawei Cloud ModelArts node pools."""

__version__ = "0.1.0"
