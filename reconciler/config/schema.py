"""The configuration's shape as strict pydantic models: they validate every block and also
produce the JSON Schema that ``np schema`` prints, so the two can never disagree.

A field left out of a block is ``None`` here (np does not manage it); ``null`` itself is
refused before validation, so ``None`` always means "not written" (and the JSON Schema
does not offer null).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, GetJsonSchemaHandler
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from reconciler.config.messages import FieldPath, excerpt
from reconciler.endpoint import endpoint_problem
from reconciler.identifiers import ALIAS, segment_problem

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
                f"{kind} prefix {excerpt(prefix)!r} must be a lowercase DNS subdomain of at most "
                "253 characters"
            )
        if not name:
            raise ValueError(f"{kind} {excerpt(key)!r} has an empty name")
        if len(name) > 63:
            raise ValueError(f"{kind} {excerpt(key)!r}: the name is longer than 63 characters")
        if not _K8S_NAME.fullmatch(name):
            raise ValueError(f"{kind} {excerpt(key)!r} must consist of {_K8S_CHARSET}")
        return key

    return AfterValidator(check)


def _label_value(kind: str) -> AfterValidator:
    """Kubernetes label value: at most 63 characters, may be empty."""

    def check(value: str) -> str:
        if len(value) > 63:
            raise ValueError(f"{kind} is longer than 63 characters")
        if value and not _K8S_NAME.fullmatch(value):
            raise ValueError(f"{kind} {excerpt(value)!r} must consist of {_K8S_CHARSET}")
        return value

    return AfterValidator(check)


def _check_tag_key(key: str) -> str:
    if not key:
        raise ValueError("tag key must not be empty")
    for prefix in _RESERVED_TAG_PREFIXES:
        if key.startswith(prefix):
            raise ValueError(f"tag key {excerpt(key)!r} must not start with {prefix!r} (reserved)")
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
            f"{excerpt(name)!r} is not a schema name np uses: lowercase letters, digits and _, "
            "starting with a letter or _, at most 63 characters"
        )
    return name


NonEmpty = Annotated[str, Field(min_length=1)]


def _check_api_name(name: str) -> str:
    problem = segment_problem(name)
    if problem is not None:
        raise ValueError(problem)
    return name


ApiName = Annotated[str, Field(min_length=1), AfterValidator(_check_api_name)]
"""A pool or node-pool name: one segment of an API path."""
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


class _Expression:
    """Marks a value that YAML may also write as ``${...}``: a whole-value expression takes the
    expression's type, so editors must not flag ``count: ${var.n}``. Blocks never get it, so
    that an editor still reports a misspelt field inside them."""

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"anyOf": [handler(schema), _EXPRESSION]}


EXPR = _Expression()
_EXPRESSION: JsonSchemaValue = {
    "type": "string",
    "pattern": r"^\$\{[\s\S]*\}$",
    "description": "An expression whose value is used as it is, e.g. ${var.train_nodes}",
}


class _Strict(BaseModel):
    """No coercion (``"2"`` is not 2, ``true`` is not 1) and no unknown fields. Attribute
    docstrings are the schema's descriptions."""

    model_config = ConfigDict(strict=True, extra="forbid", use_attribute_docstrings=True)


class AzCount(_Strict):
    """How many of the node pool's nodes run in one availability zone."""

    az: NonEmpty
    """The availability zone, e.g. cn-north-4a."""
    count: Annotated[Count, EXPR]
    """Nodes in that zone."""


Effect = Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Taint(_Strict):
    """A Kubernetes taint on every node of the node pool; matched by key and effect."""

    key: Annotated[str, _qualified_name("taint key")]
    """The taint's key, by Kubernetes label-key rules."""
    value: Annotated[str, _label_value("taint value")] | None = None
    """The taint's value, by Kubernetes label-value rules."""
    effect: Annotated[Effect, EXPR]
    """NoSchedule, PreferNoSchedule or NoExecute."""


class Network(_Strict):
    """Where the nodes attach; np changes only the sub-fields written here."""

    vpc: NonEmpty | None = None
    """The VPC ID."""
    subnet: NonEmpty | None = None
    """The subnet ID."""
    security_groups: Annotated[list[NonEmpty], EXPR] | None = None
    """Security group IDs, replaced as written."""


class CreatingStep(_Strict):
    """Nodes are created in steps: count and max_count must be multiples of step."""

    step: Annotated[int, Field(ge=1), EXPR]
    """Nodes per step."""
    type: Annotated[Literal["rack", "hyperinstance"], EXPR]
    """rack or hyperinstance."""


class OsSpec(_Strict):
    """The nodes' operating system image."""

    name: str | None = None
    """The OS name, e.g. EulerOS 2.10."""
    image_id: str | None = None
    """The image ID."""
    image_type: str | None = None
    """The image type, e.g. private."""
    auto_match: Annotated[bool, EXPR] | None = None
    """Whether the API picks a matching image."""


class LifecycleSpec(_Strict):
    """How np treats the node pool over time."""

    ignore_changes: list[str] | Literal["all"] = []
    """Fields np neither changes nor reports as drift after creation: names (count), single
    map keys (labels["team"]), or all."""
    prevent_destroy: Annotated[bool, EXPR] = False
    """A plan that would delete the node pool fails instead."""


class NodePoolSpec(_Strict):
    """One ``nodepool`` block. Only ``pool`` is required; a field left out is not managed."""

    for_each: Annotated[dict[str, Any] | list[str], EXPR] | None = None
    """One node pool per key of a map or element of a set of strings, addressed
    nodepool.NAME["KEY"]; each.key and each.value inside the block."""
    provider: NonEmpty | None = None
    """The provider (region) that holds the node pool: an alias (hk), or modelarts.hk, or
    ${modelarts.region[each.key]} for an instance of a for_each provider; default: the
    provider without an alias."""
    pool: ApiName
    """The resource pool that holds the node pool."""
    name: ApiName | None = None
    """The node pool's name in the API; defaults to the block label."""
    flavor: NonEmpty | None = None
    """The node flavor, e.g. modelarts.vm.gpu.t4u8; required to create, fixed afterwards."""
    count: Annotated[Count, EXPR] | None = None
    """How many nodes; required to create."""
    max_count: Annotated[Count, EXPR] | None = None
    """The most nodes the node pool may scale to; at least count."""
    azs: Annotated[list[AzCount], EXPR] | None = None
    """Nodes per availability zone; matched by az."""
    labels: Annotated[dict[LabelKey, LabelValue], EXPR] | None = None
    """Kubernetes labels on the nodes; patched key by key."""
    taints: Annotated[list[Taint], EXPR] | None = None
    """Kubernetes taints on the nodes; matched by key and effect."""
    tags: Annotated[dict[TagKey, str], Field(max_length=20), EXPR] | None = None
    """Resource tags (at most 20); a map here, a list of {key, value} on the wire."""
    extend_params: Annotated[dict[NonEmpty, str], EXPR] | None = None
    """Extra API parameters, keys passed through as written (e.g. dockerBaseSize)."""
    network: Network | None = None
    """Where the nodes attach."""
    creating_step: CreatingStep | None = None
    """Nodes are created in steps of this size."""
    os: OsSpec | None = None
    """The operating system image of the nodes; np changes only the sub-fields written."""
    lifecycle: LifecycleSpec | None = None
    """ignore_changes and prevent_destroy; never sent."""

    def problems(self) -> list[tuple[FieldPath, str]]:
        """Rules that span several fields; run once the fields themselves are valid."""
        found = self._count_problems()
        if self.taints:
            found += _repeats([(t.key, t.effect) for t in self.taints], ("taints",), "taint")
        if self.azs:
            found += _repeats([a.az for a in self.azs], ("azs",), "az", ("az",))
        return found

    def az_sum_problems(self) -> list[tuple[FieldPath, str]]:
        """AZ counts that do not add up to ``count``, as plan refuses them. Only ``np
        validate`` asks: plan also counts AZs that live holds and the block does not list."""
        if self.count is None or not self.azs:
            return []
        total = sum(a.count for a in self.azs)
        if total == self.count:
            return []
        return [(("azs",), f"the AZ counts add up to {total}, but count is {self.count}")]

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
            shown = excerpt(":".join(key) if isinstance(key, tuple) else key)
            message = f"duplicate {what} {shown!r} (also {where[-1]}[{first[key]}])"
            found.append(((*where, index, *field), message))
        else:
            first.setdefault(key, index)
    return found


MANAGED_FIELDS = tuple(
    name
    for name in NodePoolSpec.model_fields
    if name not in ("for_each", "provider", "pool", "name", "lifecycle")
)
"""Top-level fields np manages (what ``lifecycle.ignore_changes`` may name)."""

REPEATED_BLOCKS = frozenset({"azs", "taints"})
"""Nodepool fields that HCL may also write as repeated blocks, one block per list item."""


AliasName = Annotated[str, Field(pattern=f"^{ALIAS.pattern}$")]


class ProviderSpec(_Strict):
    """``provider "modelarts"``. Credentials never live here: they come from the environment."""

    alias: AliasName | None = None
    """Another provider beside the default one (another region or project): node pools name
    it with provider = modelarts.ALIAS. Letters, digits and _; written as a literal."""
    for_each: Annotated[dict[str, Any] | list[str], EXPR] | None = None
    """One provider per key of a map or element of a set of strings (with an alias only),
    addressed modelarts.ALIAS["KEY"]; each.key and each.value inside the block."""
    region: NonEmpty | None = None
    """The region, e.g. cn-north-4: the endpoint is https://modelarts.REGION.myhuaweicloud.com."""
    project_id: NonEmpty | None = None
    """The project ID (else HUAWEICLOUD_SDK_PROJECT_ID or HW_PROJECT_ID)."""
    endpoint: Endpoint | None = None
    """sim://PATH, https://HOST, or http:// to a loopback host (NP_ENDPOINT overrides it)."""
    workspace_id: NonEmpty | None = None
    """The ModelArts workspace whose pools np manages; default: the default workspace."""

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

    schema_name: SchemaName | None = None
    """The database schema of np's table (default: np): lowercase letters, digits and _."""

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

    bucket: NonEmpty
    """The bucket that holds the state object."""
    key: Annotated[str, Field(min_length=1, max_length=1024)]
    """The state object's key, e.g. modelarts/np.state.json."""
    region: NonEmpty | None = None
    """The store's region."""
    endpoint: S3Endpoint | None = None
    """The store's URL, e.g. https://obs.cn-north-4.myhuaweicloud.com."""

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


class VariableSpec(_Strict):
    """An input variable, used as var.NAME."""

    type: str | None = None
    """Values are checked against it: string, number, bool, any, list(T), set(T), map(T) or
    object({name = T, other = optional(T, default)}); any type when left out."""
    default: Any = None
    """The value when no other source sets one."""
    description: str | None = None
    """What the variable is for."""


class BackendChoice(_Strict):
    """Where state lives: exactly one of pg or s3 (none: the local state file)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    pg: PgBackendSpec | None = None
    """State in PostgreSQL (connection from NP_PG_CONN_STR)."""
    s3: S3BackendSpec | None = None
    """State in an S3-compatible store (keys from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)."""


class MovedSpec(_Strict):
    """A node pool's address changed: np moves its state entry and sends nothing."""

    from_address: str = Field(alias="from")
    """The old address: nodepool.NAME or nodepool.NAME["KEY"]."""
    to_address: str = Field(alias="to")
    """The new address, which a block declares."""


class ConfigFile(_Strict):
    """A YAML configuration file (HCL files carry the same blocks)."""

    model_config = ConfigDict(title="np configuration")

    provider: ProviderSpec | None = None
    """The ModelArts endpoint np talks to."""
    providers: list[ProviderSpec] | None = None
    """More providers, each with an alias (another region or project); node pools name one
    with provider: ALIAS."""
    backend: BackendChoice | None = None
    """Where state lives (none: the local file state/np.state.json)."""
    variables: dict[str, VariableSpec] | None = None
    """Input variables by name."""
    locals: dict[str, Any] | None = None
    """Named values (local.NAME): any value or ${...} expression."""
    nodepools: dict[str, NodePoolSpec] | None = None
    """Node pools by block label (the address is nodepool.LABEL)."""
    moved: list[MovedSpec] | None = None
    """Addresses that changed: state entries move, nothing is sent."""


class _SchemaGenerator(GenerateJsonSchema):
    """Leaves out ``null`` and ``"default": null``: null is not a value users may write."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        if schema.get("default") is None:
            return self.generate_inner(schema["schema"])
        return super().default_schema(schema)


def config_json_schema() -> dict[str, Any]:
    """JSON Schema of the YAML configuration, from the models that validate it."""
    return ConfigFile.model_json_schema(schema_generator=_SchemaGenerator)
