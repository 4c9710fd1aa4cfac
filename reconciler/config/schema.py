"""The configuration's shape as strict pydantic models: they validate every block and also
produce the JSON Schema that ``np schema`` prints, so the two can never disagree.

A field left out of a block is ``None`` here (np does not manage it); ``null`` itself is
refused before validation, so ``None`` always means "not written" (and the JSON Schema
does not offer null).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from reconciler.config.messages import FieldPath, did_you_mean
from reconciler.endpoint import endpoint_problem

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*")
_K8S_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_K8S_CHARSET = "letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
_RESERVED_TAG_PREFIXES = ("CCE-", "__type_baremetal")
_AKSK = "HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK"
_SECRET_LOOKING = re.compile(r"secret|passw|credential|privatekey|accesskey|^[as]k$")


def _qualified_name(kind: str) -> AfterValidator:
    """Kubernetes label/taint key: optional DNS-subdomain prefix and ``/``, then a name."""

    def check(key: str) -> str:
        prefix, slash, name = key.rpartition("/")
        if slash and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
            raise ValueError(
                f"{kind} prefix {prefix!r} must be a lowercase DNS subdomain of at most "
                "253 characters"
            )
        if not name:
            raise ValueError(f"{kind} {key!r} has an empty name")
        if len(name) > 63:
            raise ValueError(f"{kind} {key!r}: the name is longer than 63 characters")
        if not _K8S_NAME.fullmatch(name):
            raise ValueError(f"{kind} {key!r} must consist of {_K8S_CHARSET}")
        return key

    return AfterValidator(check)


def _label_value(kind: str) -> AfterValidator:
    """Kubernetes label value: at most 63 characters, may be empty."""

    def check(value: str) -> str:
        if len(value) > 63:
            raise ValueError(f"{kind} is longer than 63 characters")
        if value and not _K8S_NAME.fullmatch(value):
            raise ValueError(f"{kind} {value!r} must consist of {_K8S_CHARSET}")
        return value

    return AfterValidator(check)


def _check_tag_key(key: str) -> str:
    if not key:
        raise ValueError("tag key must not be empty")
    for prefix in _RESERVED_TAG_PREFIXES:
        if key.startswith(prefix):
            raise ValueError(f"tag key {key!r} must not start with {prefix!r} (reserved)")
    return key


def _check_endpoint(url: str) -> str:
    """The URL's shape only; whether plain http may leave this machine is decided at connect
    time, where ``--allow-insecure-http`` is known."""
    problem = endpoint_problem(url, allow_insecure_http=True)
    if problem:
        raise ValueError(problem)
    return url


def _check_s3_endpoint(url: str) -> str:
    """An http(s) URL without credentials; whether np may connect to it is decided when it
    connects, where the operator's settings are known."""
    problem = endpoint_problem(url, allow_insecure_http=True)
    if problem is None and url.startswith("sim://"):
        problem = "endpoint must be https://HOST or http://127.0.0.1:PORT"
    if problem:
        raise ValueError(problem.replace("sim://PATH, ", ""))
    return url


_SCHEMA_NAME = r"[a-z_][a-z0-9_]{0,62}"


def _check_schema_name(name: str) -> str:
    if not re.fullmatch(_SCHEMA_NAME, name):
        raise ValueError(
            f"{name!r} is not a schema name np uses: lowercase letters, digits and _, starting "
            "with a letter or _, at most 63 characters"
        )
    return name


NonEmpty = Annotated[str, Field(min_length=1)]
MAX_COUNT = 2_147_483_647
"""The API's counts are 32-bit integers."""
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
LabelKey = Annotated[str, _qualified_name("label key")]
LabelValue = Annotated[str, _label_value("label value")]
TagKey = Annotated[str, AfterValidator(_check_tag_key)]
Endpoint = Annotated[str, AfterValidator(_check_endpoint)]
S3Endpoint = Annotated[str, AfterValidator(_check_s3_endpoint)]
SchemaName = Annotated[
    str,
    AfterValidator(_check_schema_name),
    Field(json_schema_extra={"pattern": f"^{_SCHEMA_NAME}$"}),
]


class _Strict(BaseModel):
    """No coercion (``"2"`` is not 2, ``true`` is not 1) and no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid")


class AzCount(_Strict):
    az: NonEmpty
    count: Count


class Taint(_Strict):
    key: Annotated[str, _qualified_name("taint key")]
    value: Annotated[str, _label_value("taint value")] | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Network(_Strict):
    vpc: NonEmpty | None = None
    subnet: NonEmpty | None = None
    security_groups: list[NonEmpty] | None = None


class CreatingStep(_Strict):
    step: Annotated[int, Field(ge=1)]
    type: Literal["rack", "hyperinstance"]


class OsSpec(_Strict):
    name: str | None = None
    image_id: str | None = None
    image_type: str | None = None
    auto_match: bool | None = None


class LifecycleSpec(_Strict):
    ignore_changes: list[str] = Field(
        default=[], description="Top-level fields np neither changes nor reports as drift."
    )
    prevent_destroy: bool = Field(default=False, description="Make a plan that deletes fail.")


class NodePoolSpec(_Strict):
    """One ``nodepool`` block. Only ``pool`` is required; a field left out is not managed."""

    pool: NonEmpty = Field(description="Resource pool name.")
    name: NonEmpty | None = Field(
        default=None, description="Node pool name in the API; defaults to the block label."
    )
    flavor: NonEmpty | None = None
    count: Count | None = None
    max_count: Count | None = Field(default=None, description="Defaults to count.")
    azs: list[AzCount] | None = None
    labels: dict[LabelKey, LabelValue] | None = None
    taints: list[Taint] | None = None
    tags: Annotated[dict[TagKey, str], Field(max_length=20)] | None = None
    extend_params: dict[NonEmpty, str] | None = Field(
        default=None, description="Passed through with keys as written (e.g. dockerBaseSize)."
    )
    network: Network | None = None
    creating_step: CreatingStep | None = None
    os: OsSpec | None = None
    lifecycle: LifecycleSpec | None = None

    def problems(self) -> list[tuple[FieldPath, str]]:
        """Rules that span several fields; run once the fields themselves are valid."""
        found = self._count_problems()
        if self.taints:
            found += _repeats([(t.key, t.effect) for t in self.taints], ("taints",), "taint")
        if self.azs:
            found += _repeats([a.az for a in self.azs], ("azs",), "az", ("az",))
        if self.lifecycle:
            for index, name in enumerate(self.lifecycle.ignore_changes):
                if name not in MANAGED_FIELDS:
                    hint = did_you_mean(name, MANAGED_FIELDS)
                    path: FieldPath = ("lifecycle", "ignore_changes", index)
                    found.append((path, f"{name!r} is not a field np manages{hint}"))
        return found

    def _count_problems(self) -> list[tuple[FieldPath, str]]:
        found: list[tuple[FieldPath, str]] = []
        if self.count is not None and self.max_count is not None and self.max_count < self.count:
            message = f"must be at least count ({self.count}), got {self.max_count}"
            found.append((("max_count",), message))
        step = self.creating_step.step if self.creating_step else 1
        for name, value in (("count", self.count), ("max_count", self.max_count)):
            if value is not None and value % step:
                message = f"must be a multiple of creating_step.step ({step}), got {value}"
                found.append(((name,), message))
        return found


def _repeats(
    keys: list[Any], where: FieldPath, what: str, field: FieldPath = ()
) -> list[tuple[FieldPath, str]]:
    """Entries whose identity repeats an earlier entry of the same list."""
    first: dict[Any, int] = {}
    found: list[tuple[FieldPath, str]] = []
    for index, key in enumerate(keys):
        if key in first:
            shown = ":".join(key) if isinstance(key, tuple) else key
            message = f"duplicate {what} {shown!r} (also {where[-1]}[{first[key]}])"
            found.append(((*where, index, *field), message))
        else:
            first.setdefault(key, index)
    return found


MANAGED_FIELDS = tuple(
    name for name in NodePoolSpec.model_fields if name not in ("pool", "name", "lifecycle")
)
"""Top-level fields np manages (what ``lifecycle.ignore_changes`` may name)."""

REPEATED_BLOCKS = frozenset({"azs", "taints"})
"""Nodepool fields that HCL may also write as repeated blocks, one block per list item."""


class ProviderSpec(_Strict):
    """``provider "modelarts"``. Credentials never live here: they come from the environment."""

    region: NonEmpty | None = None
    project_id: NonEmpty | None = None
    endpoint: Endpoint | None = Field(
        default=None, description="sim://PATH, https://HOST, or http:// to a loopback host."
    )
    workspace_id: NonEmpty | None = Field(
        default=None,
        description="The ModelArts workspace whose pools np manages; default: the default one.",
    )

    @staticmethod
    def secret_hint(field: str) -> str | None:
        """For a field that holds a credential: the environment variables to use instead."""
        squashed = _squash(field)
        if "securitytoken" in squashed:
            return f"HUAWEICLOUD_SDK_SECURITY_TOKEN (with {_AKSK})"
        if "token" in squashed:
            return "HW_AUTH_TOKEN"
        return _AKSK if _SECRET_LOOKING.search(squashed) else None


def _squash(field: str) -> str:
    """``Secret_Key`` → ``secretkey``: how fields are compared with secret-looking names."""
    return re.sub(r"[^a-z0-9]", "", field.lower())


_PG_CONN_STR = "NP_PG_CONN_STR (a libpq URI or key=value string; PG* variables work too)"
_PG_SECRET = re.compile(r"conn|dsn|uri|url")
"""A connection string or URI may carry the password."""
_PG_CONNECTION = re.compile(r"host|port|user|db|database|ssl|options")
_AWS_KEYS = "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"


class PgBackendSpec(_Strict):
    """``backend "pg"``: state in PostgreSQL. The connection comes from the environment."""

    schema_name: SchemaName | None = Field(
        default=None,
        description="The database schema that holds np's table (default: np); lowercase "
        "letters, digits and _, at most 63 characters.",
    )

    @staticmethod
    def secret_hint(field: str) -> str | None:
        secret = ProviderSpec.secret_hint(field) or _PG_SECRET.search(_squash(field))
        return _PG_CONN_STR if secret else None

    @staticmethod
    def environment_hint(field: str) -> str | None:
        """Connection settings (host, user, ...) are not secrets, but belong with them."""
        return _PG_CONN_STR if _PG_CONNECTION.search(_squash(field)) else None


class S3BackendSpec(_Strict):
    """``backend "s3"``: state in an S3-compatible object store. Keys come from the
    environment."""

    bucket: NonEmpty = Field(description="The bucket that holds the state object.")
    key: Annotated[str, Field(min_length=1, max_length=1024)] = Field(
        description="The state object's key, e.g. modelarts/np.state.json."
    )
    region: NonEmpty | None = Field(default=None, description="The store's region.")
    endpoint: S3Endpoint | None = Field(
        default=None,
        description="The store's URL, e.g. https://obs.cn-north-4.myhuaweicloud.com.",
    )

    @staticmethod
    def secret_hint(field: str) -> str | None:
        squashed = _squash(field)
        if "token" in squashed:
            return f"AWS_SESSION_TOKEN (with {_AWS_KEYS})"
        return _AWS_KEYS if _SECRET_LOOKING.search(squashed) else None

    @staticmethod
    def environment_hint(field: str) -> str | None:
        return None


BACKENDS: dict[str, type[PgBackendSpec] | type[S3BackendSpec]] = {
    "pg": PgBackendSpec,
    "s3": S3BackendSpec,
}


VariableType = Literal["string", "number", "bool", "list", "map"]


class VariableSpec(_Strict):
    type: VariableType | None = Field(
        default=None, description="Values are checked against it; any type when left out."
    )
    default: Any = None
    description: str | None = None


class BackendChoice(_Strict):
    """Where state lives: exactly one of pg or s3 (none: the local state file)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    pg: PgBackendSpec | None = None
    s3: S3BackendSpec | None = None


class ConfigFile(_Strict):
    """A YAML configuration file (HCL files carry the same blocks)."""

    model_config = ConfigDict(title="np configuration")

    provider: ProviderSpec | None = None
    backend: BackendChoice | None = None
    variables: dict[str, VariableSpec] | None = None
    nodepools: dict[str, NodePoolSpec] | None = None


_VAR_REFERENCE: JsonSchemaValue = {
    "type": "string",
    "pattern": r"^\$\{var\.[A-Za-z_][A-Za-z0-9_-]*\}$",
    "description": "A whole-value variable reference, e.g. ${var.train_nodes}",
}


class _SchemaGenerator(GenerateJsonSchema):
    """Leaves out ``null`` and ``"default": null``: null is not a value users may write.

    A YAML value that is exactly ``${var.x}`` takes the variable's type, so every non-string
    field also accepts such a reference (editors would flag ``count: ${var.n}`` otherwise).
    """

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        return {"anyOf": [super().int_schema(schema), _VAR_REFERENCE]}

    def float_schema(self, schema: core_schema.FloatSchema) -> JsonSchemaValue:
        return {"anyOf": [super().float_schema(schema), _VAR_REFERENCE]}

    def bool_schema(self, schema: core_schema.BoolSchema) -> JsonSchemaValue:
        return {"anyOf": [super().bool_schema(schema), _VAR_REFERENCE]}

    def list_schema(self, schema: core_schema.ListSchema) -> JsonSchemaValue:
        return {"anyOf": [super().list_schema(schema), _VAR_REFERENCE]}

    def dict_schema(self, schema: core_schema.DictSchema) -> JsonSchemaValue:
        return {"anyOf": [super().dict_schema(schema), _VAR_REFERENCE]}

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default") is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def config_json_schema() -> dict[str, Any]:
    """JSON Schema of the YAML configuration, from the models that validate it."""
    return ConfigFile.model_json_schema(schema_generator=_SchemaGenerator)
