"""Providers per region: aliases, ``for_each`` on a provider, how a node pool names one, and
every rule about them, in HCL and in YAML (no network: the configuration alone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.config import load_config
from reconciler.config.configuration import Configuration
from reconciler.endpoint import endpoint_variable
from reconciler.errors import ConfigError, NpError
from reconciler.identifiers import parse_provider_address, provider_address

REGIONS_HCL = """\
variable "regions" {
  type    = set(string)
  default = ["cn-north-4", "ap-southeast-1"]
}

locals {
  projects = { "cn-north-4" = "p-bj", "ap-southeast-1" = "p-hk" }
}

provider "modelarts" {
  region = "cn-north-4"
}

provider "modelarts" {
  alias      = "sg"
  region     = "ap-southeast-3"
  project_id = "p-sg"
}

provider "modelarts" {
  alias      = "region"
  for_each   = toset(var.regions)
  region     = each.key
  project_id = local.projects[each.key]
}

nodepool "train" {
  pool = "pool-prod"
}

nodepool "train_sg" {
  provider = modelarts.sg
  pool     = "pool-prod"
  name     = "train"
}

nodepool "infer" {
  for_each = toset(var.regions)
  provider = modelarts.region[each.key]
  pool     = "pool-prod"
  name     = "infer"
}
"""

REGIONS_YAML = """\
variables:
  regions: {type: set(string), default: [cn-north-4, ap-southeast-1]}
locals:
  projects: {cn-north-4: p-bj, ap-southeast-1: p-hk}
provider: {region: cn-north-4}
providers:
  - {alias: sg, region: ap-southeast-3, project_id: p-sg}
  - alias: region
    for_each: ${toset(var.regions)}
    region: ${each.key}
    project_id: ${local.projects[each.key]}
nodepools:
  train: {pool: pool-prod}
  train_sg: {provider: sg, pool: pool-prod, name: train}
  infer:
    for_each: ${toset(var.regions)}
    provider: ${modelarts.region[each.key]}
    pool: pool-prod
    name: infer
"""


def load(root: Path, files: dict[str, str]) -> Configuration:
    for name, text in files.items():
        (root / name).write_text(text)
    return load_config(root, environ={})


def problems(root: Path, files: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(root, files)
    return str(info.value).splitlines()


def shape(config: Configuration) -> dict[str, object]:
    """What the providers and node pools mean, without positions."""
    return {
        "providers": {
            a: (p.alias, p.key, p.region, p.project_id) for a, p in config.providers.items()
        },
        "nodepools": [(n.address, n.provider, n.pool, n.name) for n in config.nodepools],
    }


EXPECTED = {
    "providers": {
        "modelarts": (None, None, "cn-north-4", None),
        "modelarts.sg": ("sg", None, "ap-southeast-3", "p-sg"),
        'modelarts.region["ap-southeast-1"]': (
            "region",
            "ap-southeast-1",
            "ap-southeast-1",
            "p-hk",
        ),
        'modelarts.region["cn-north-4"]': ("region", "cn-north-4", "cn-north-4", "p-bj"),
    },
    "nodepools": [
        (
            'nodepool.infer["ap-southeast-1"]',
            'modelarts.region["ap-southeast-1"]',
            "pool-prod",
            "infer",
        ),
        ('nodepool.infer["cn-north-4"]', 'modelarts.region["cn-north-4"]', "pool-prod", "infer"),
        ("nodepool.train", "modelarts", "pool-prod", "train"),
        ("nodepool.train_sg", "modelarts.sg", "pool-prod", "train"),
    ],
}


@pytest.mark.parametrize(("name", "text"), [("main.hcl", REGIONS_HCL), ("main.yaml", REGIONS_YAML)])
def test_aliases_and_a_for_each_provider_mean_the_same_in_both_languages(
    tmp_path: Path, name: str, text: str
) -> None:
    """The same pool and name under three providers are three node pools, not a conflict."""
    config = load(tmp_path, {name: text})
    assert shape(config) == EXPECTED
    assert config.providers_in_use() == [
        "modelarts",
        'modelarts.region["ap-southeast-1"]',
        'modelarts.region["cn-north-4"]',
        "modelarts.sg",
    ]


@pytest.mark.parametrize(
    "written",
    ["hk", "modelarts.hk", '"modelarts.hk"', "'${modelarts.hk}'"],
)
def test_yaml_names_a_provider_by_alias_or_by_address(tmp_path: Path, written: str) -> None:
    text = (
        "providers: [{alias: hk, region: ap-southeast-1}]\n"
        f"nodepools:\n  a: {{pool: p, provider: {written}}}\n"
    )
    [pool] = load(tmp_path, {"main.yaml": text}).nodepools
    assert pool.provider == "modelarts.hk"


def test_an_instance_key_may_be_written_in_a_yaml_string(tmp_path: Path) -> None:
    text = (
        "providers: [{alias: r, for_each: '${toset([\"x\"])}', region: cn-north-4}]\n"
        "nodepools:\n  a: {pool: p, provider: 'modelarts.r[\"x\"]'}\n"
        "  b: {pool: p, provider: modelarts}\n"
    )
    a, b = load(tmp_path, {"main.yaml": text}).nodepools
    assert (a.provider, b.provider) == ('modelarts.r["x"]', "modelarts")


def test_the_same_node_pool_of_one_provider_is_still_refused(tmp_path: Path) -> None:
    hcl = (
        'provider "modelarts" {\n  alias = "hk"\n  region = "ap-southeast-1"\n}\n'
        'nodepool "a" {\n  provider = modelarts.hk\n  pool = "p"\n}\n'
        'nodepool "b" {\n  provider = modelarts.hk\n  pool = "p"\n  name = "a"\n}\n'
    )
    assert problems(tmp_path, {"main.hcl": hcl}) == [
        "main.hcl:9: nodepool.b: manages the same node pool p/a of modelarts.hk as nodepool.a "
        "(main.hcl:5)"
    ]


PROVIDER_HK = 'provider "modelarts" {\n  alias  = "hk"\n  region = "ap-southeast-1"\n}\n'
REGION = (
    'provider "modelarts" {\n  alias    = "r"\n  for_each = toset(["a", "b"])\n'
    "  region   = each.key\n}\n"
)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {
                "main.hcl": PROVIDER_HK
                + 'nodepool "x" {\n  provider = modelarts.hx\n  pool = "p"\n}\n'
            },
            [
                "main.hcl:6: nodepool.x: provider: modelarts.hx is not declared: add a provider "
                'block with alias = "hx"; declared: modelarts.hk'
            ],
        ),
        (
            {"main.hcl": REGION + 'nodepool "x" {\n  provider = modelarts.r\n  pool = "p"\n}\n'},
            [
                "main.hcl:7: nodepool.x: provider: modelarts.r uses for_each: name one instance, "
                "e.g. modelarts.r[each.key]"
            ],
        ),
        (
            {
                "main.hcl": REGION
                + 'nodepool "x" {\n  provider = modelarts.r["c"]\n  pool = "p"\n}\n'
            },
            [
                'main.hcl:7: nodepool.x: provider: modelarts.r has no instance "c"; its keys: '
                '"a", "b"'
            ],
        ),
        (
            {
                "main.hcl": PROVIDER_HK
                + 'nodepool "x" {\n  provider = modelarts.hk["a"]\n  pool = "p"\n}\n'
            },
            ["main.hcl:6: nodepool.x: provider: modelarts.hk has no for_each: write modelarts.hk"],
        ),
        (
            {"main.hcl": 'nodepool "x" {\n  provider = aws.hk\n  pool = "p"\n}\n'},
            [
                "main.hcl:2: nodepool.x: provider: unknown reference aws.hk; np knows var.NAME, "
                "local.NAME, each.key, each.value and np.workspace"
            ],
        ),
        (
            {"main.yaml": "nodepools:\n  x: {pool: p, provider: 3}\n"},
            [
                "main.yaml:2: nodepool.x: provider: expected a provider (modelarts, "
                'modelarts.ALIAS or modelarts.ALIAS["KEY"], or an alias), got integer 3'
            ],
        ),
        (
            {"main.hcl": PROVIDER_HK + PROVIDER_HK.replace("ap-southeast-1", "cn-north-4")},
            ["main.hcl:5: provider modelarts.hk: declared more than once (first at main.hcl:1)"],
        ),
        (
            {"main.hcl": 'provider "modelarts" {\n  region = "a-b-1"\n}\n' * 2},
            ["main.hcl:4: provider: declared more than once (first at main.hcl:1)"],
        ),
        (
            {"main.hcl": 'provider "modelarts" {\n  for_each = toset(["a"])\n}\n'},
            [
                "main.hcl:2: provider: for_each: for_each needs an alias: a provider with "
                'for_each is addressed modelarts.ALIAS["KEY"]; add alias = "NAME"'
            ],
        ),
        (
            {"main.hcl": 'provider "modelarts" {\n  alias = "h-k"\n}\n'},
            [
                "main.hcl:2: provider: alias: 'h-k' is not an alias: letters, digits and _, "
                "starting with a letter or _ (it also names NP_ENDPOINT_<ALIAS>)"
            ],
        ),
        (
            {"main.hcl": 'provider "modelarts" {\n  alias = var.x\n}\n'},
            [
                "main.hcl:2: provider: alias: alias must be written as a literal name, e.g. "
                'alias = "hk"'
            ],
        ),
        (
            {"main.hcl": REGION.replace("each.key", "local.region")},
            [
                'main.hcl:4: provider modelarts.r["a"]: region: undeclared local value '
                "local.region (and in 1 more instance)"
            ],
        ),
        (
            {"main.hcl": 'provider "modelarts" {\n  alias = "hk"\n  secret_key = "x"\n}\n'},
            [
                "main.hcl:3: provider modelarts.hk: secret_key: credentials must not be written "
                "in configuration; set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK instead"
            ],
        ),
        (
            {"main.yaml": "providers: {alias: hk}\n"},
            ["main.yaml:1: providers must be a list of provider mappings (each with an alias)"],
        ),
    ],
)
def test_every_provider_rule_names_file_line_and_address(
    tmp_path: Path, files: dict[str, str], expected: list[str]
) -> None:
    assert problems(tmp_path, files) == expected


def test_a_failed_provider_for_each_leaves_its_node_pools_quiet(tmp_path: Path) -> None:
    hcl = (
        'provider "modelarts" {\n  alias = "r"\n  for_each = ["a"]\n}\n'
        'nodepool "x" {\n  provider = modelarts.r["a"]\n  pool = "p"\n}\n'
    )
    assert problems(tmp_path, {"main.hcl": hcl}) == [
        "main.hcl:3: provider modelarts.r: for_each needs a map or a set of strings, got a "
        "list; use toset(...)"
    ]


def test_provider_addresses_read_back_as_written() -> None:
    for alias, key in ((None, None), ("hk", None), ("region", "cn-north-4"), ("r", 'a"b')):
        assert parse_provider_address(provider_address(alias, key)) == (alias, key)
    assert parse_provider_address("modelarts.region[cn-north-4]") == ("region", "cn-north-4")
    with pytest.raises(ValueError, match="is not a provider address"):
        parse_provider_address("nodepool.a")


def test_each_provider_has_its_own_endpoint_override() -> None:
    assert endpoint_variable() == "NP_ENDPOINT"
    assert endpoint_variable("hk") == "NP_ENDPOINT_HK"
    assert endpoint_variable("region", "cn-north-4") == "NP_ENDPOINT_REGION_CN_NORTH_4"


def test_endpoint_rules_hold_for_every_alias(tmp_path: Path) -> None:
    """A configuration may not send an alias anywhere the default provider may not go; only
    that alias's own variable overrides it, and NP_ENDPOINT never does."""
    hcl = (
        'provider "modelarts" {\n  region = "cn-north-4"\n}\n'
        'provider "modelarts" {\n  alias = "hk"\n  endpoint = "https://collector.example"\n}\n'
        'nodepool "a" {\n  provider = modelarts.hk\n  pool = "p"\n}\n'
    )
    config = load(tmp_path, {"main.hcl": hcl})
    hk = config.providers["modelarts.hk"]
    assert [p.address for p in config.providers_to_check({}, offline=True)] == ["modelarts.hk"]
    with pytest.raises(NpError) as refused:
        hk.checked_endpoint({"NP_ENDPOINT": "http://127.0.0.1:1"})
    assert str(refused.value) == (
        "main.hcl:6: provider modelarts.hk: endpoint: collector.example is not a Huawei Cloud "
        "modelarts endpoint (modelarts.REGION.myhuaweicloud.com or another official domain) nor "
        "a loopback host. np does not take other endpoints from configuration files, so that a "
        "change to a configuration cannot send credentials somewhere new; to allow this one, set "
        "NP_ALLOWED_ENDPOINTS=collector.example (or NP_ENDPOINT_HK) in the environment"
    )
    allowed = {"NP_ALLOWED_ENDPOINTS": "collector.example"}
    assert hk.checked_endpoint(allowed) == "https://collector.example"
    assert hk.checked_endpoint({"NP_ENDPOINT_HK": "http://127.0.0.1:9"}) == "http://127.0.0.1:9"
    default = config.providers["modelarts"]
    override = {"NP_ENDPOINT": "http://127.0.0.1:7"}
    assert default.checked_endpoint(override) == "http://127.0.0.1:7"
    assert hk.resolved_endpoint(override) == "https://collector.example"
