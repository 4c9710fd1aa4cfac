"""Reading a configuration directory (HCL and YAML) into validated desired node pools."""

from reconciler.config.loader import load_config
from reconciler.config.schema import config_json_schema

__all__ = ["config_json_schema", "load_config"]
