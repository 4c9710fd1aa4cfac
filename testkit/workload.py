"""Synthetic but realistic workloads: a simulator world, the HCL that manages it, and a state.

One `Fleet` describes every node pool once, in wire form; the world (live), the configuration
(desired) and the state (last-applied) are all derived from it, so they agree except where a
benchmark asks for differences: count changes in the configuration, and labels edited "in the
console" (drift).

    fleet = Fleet(pools=100, per_pool=20)
    fleet.write(Path("ws"), endpoint="sim://world.json", changed_every=10, drift_every=25)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLAVORS = ("modelarts.vm.gpu.t4u8", "modelarts.vm.gpu.v100", "modelarts.vm.cpu.8u32g")
AZS = ("cn-north-4a", "cn-north-4b", "cn-north-4c")
STATE_FILE = Path("state") / "np.state.json"
LINEAGE = "6f1c1f0e-6b1b-4a55-9a43-000000000001"


@dataclass(frozen=True)
class NodePool:
    """One node pool: where it lives and its wire `PoolResource` as np last applied it."""

    pool: str
    name: str
    spec: dict[str, Any]

    @property
    def label(self) -> str:
        return f"p{self.pool.removeprefix('pool-bench-')}_{self.name.replace('-', '_')}"

    @property
    def address(self) -> str:
        return f"nodepool.{self.label}"


def _spec(pool: int, index: int) -> dict[str, Any]:
    """A wire `PoolResource` with most fields np manages, varied a little per node pool."""
    count = 2 + index % 4
    return {
        "flavor": FLAVORS[index % len(FLAVORS)],
        "count": count,
        "maxCount": count * 2,
        "azs": [{"az": AZS[index % 3], "count": count}],
        "labels": {
            "team": f"ml-{pool % 7}",
            "stage": "prod",
            "node.kubernetes.io/role": "train" if index % 2 else "infer",
        },
        "taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
        "tags": [{"key": "owner", "value": "ml-platform"}, {"key": "cost-center", "value": "1234"}],
        "network": {
            "vpc": f"vpc-{pool % 4:04d}",
            "subnet": f"subnet-{pool % 16:04d}",
            "securityGroups": [f"sg-{pool % 8:04d}"],
        },
        "extendParams": {"dockerBaseSize": "100"},
    }


def config_fields(spec: dict[str, Any], count: int) -> dict[str, Any]:
    """What a `nodepool` block for `spec` declares, in the config's names (snake_case)."""
    net = spec["network"]
    return {
        "flavor": spec["flavor"],
        "count": count,
        "max_count": max(count, spec["maxCount"]),
        "azs": [{**spec["azs"][0], "count": count}],  # the AZ spread adds up to count
        "labels": spec["labels"],
        "taints": spec["taints"],
        "tags": {t["key"]: t["value"] for t in spec["tags"]},
        "extend_params": spec["extendParams"],
        "network": {
            "vpc": net["vpc"],
            "subnet": net["subnet"],
            "security_groups": net["securityGroups"],
        },
    }


class Fleet:
    """`pools` resource pools of `per_pool` node pools each."""

    def __init__(self, pools: int, per_pool: int) -> None:
        self.nodepools = [
            NodePool(f"pool-bench-{p:03d}", f"gpu-{i:03d}", _spec(p, i))
            for p in range(pools)
            for i in range(per_pool)
        ]
        self.pool_names = sorted({n.pool for n in self.nodepools})

    def __len__(self) -> int:
        return len(self.nodepools)

    def changed(self, every: int) -> list[NodePool]:
        """The node pools whose count the configuration raises: every `every`-th one."""
        return self.nodepools[::every] if every else []

    def desired(self, changed_every: int = 0) -> list[tuple[NodePool, dict[str, Any]]]:
        """Every node pool with its config fields; the changed ones get 2 more nodes."""
        raised = {n.address for n in self.changed(changed_every)}
        return [
            (n, config_fields(n.spec, n.spec["count"] + (2 if n.address in raised else 0)))
            for n in self.nodepools
        ]

    def world(self, *, drift_every: int = 0) -> dict[str, Any]:
        """The live world; every `drift_every`-th node pool had a label edited in the console."""
        pools: dict[str, Any] = {
            name: {"type": "Logical", "privileged": True, "nodepools": {}}
            for name in self.pool_names
        }
        for i, n in enumerate(self.nodepools):
            spec = n.spec
            if drift_every and i % drift_every == 0:
                spec = {**spec, "labels": {**spec["labels"], "stage": "hotfix"}}
            pools[n.pool]["nodepools"][n.name] = spec
        return {"pools": pools, "settings": {"scale_seconds": 0}}

    def state(self, *, for_each: bool = False) -> dict[str, Any]:
        """A state in which np already manages every node pool, as last applied (at the
        addresses of one for_each block, with `for_each`)."""
        return {
            "version": 1,
            "lineage": LINEAGE,
            "serial": 1,
            "resources": {
                (f'nodepool.fleet["{n.label}"]' if for_each else n.address): {
                    "pool": n.pool,
                    "name": n.name,
                    "applied": n.spec,
                    "live": n.spec,
                    "updated_at": "2025-01-01T00:00:00Z",
                }
                for n in sorted(self.nodepools, key=lambda n: n.address)
            },
        }

    def hcl_files(
        self, *, endpoint: str | None, changed_every: int = 0, one_file: bool = False
    ) -> dict[str, str]:
        """File name → HCL: the provider in `main.hcl` and one file per resource pool (how a
        large fleet is kept), or all in one."""
        files = {"main.hcl": provider_hcl(endpoint)}
        for n, fields in self.desired(changed_every):
            name = "main.hcl" if one_file else f"{n.pool}.hcl"
            files[name] = files.get(name, "") + "\n" + nodepool_hcl(n, fields)
        return files

    def for_each_hcl(self, *, endpoint: str | None, changed_every: int = 0) -> str:
        """The same fleet as one `for_each` block: a map built by a for expression, every field
        computed from a node pool's place in the fleet by the rules of `_spec`."""
        pools = len(self.pool_names)
        per_pool = len(self.nodepools) // max(1, pools)
        raise_ = f"n % {changed_every} == 0 ? 2 : 0" if changed_every else "0"
        return provider_hcl(endpoint) + FOR_EACH_HCL.format(
            total=len(self.nodepools), per_pool=per_pool, raise_=raise_
        )

    def write(
        self,
        root: Path,
        *,
        endpoint: str | None,
        changed_every: int = 0,
        drift_every: int = 0,
        state: bool = True,
        one_file: bool = False,
        for_each: bool = False,
    ) -> None:
        """World, configuration files and, if asked, a state into `root`; with `for_each`, the
        configuration is one for_each block (and the state uses its addresses)."""
        root.mkdir(parents=True, exist_ok=True)
        world = self.world(drift_every=drift_every)
        (root / "world.json").write_text(json.dumps(world, indent=2))
        if for_each:
            files = {"main.hcl": self.for_each_hcl(endpoint=endpoint, changed_every=changed_every)}
        else:
            files = self.hcl_files(
                endpoint=endpoint, changed_every=changed_every, one_file=one_file
            )
        for name, text in files.items():
            (root / name).write_text(text)
        if state:
            (root / STATE_FILE).parent.mkdir(parents=True, exist_ok=True)
            document = self.state(for_each=for_each)
            (root / STATE_FILE).write_text(json.dumps(document, indent=2))


def provider_hcl(endpoint: str | None) -> str:
    line = f'  endpoint = "{endpoint}"\n' if endpoint else ""
    return f'provider "modelarts" {{\n  region = "cn-north-4"\n{line}}}\n'


def nodepool_hcl(n: NodePool, fields: dict[str, Any]) -> str:
    """The block a person would write (~22 lines): attributes, maps, lists, a nested block."""

    def obj(entries: dict[str, Any]) -> str:
        return ", ".join(f"{k} = {json.dumps(v)}" for k, v in entries.items())

    labels = "\n".join(
        f"    {json.dumps(k)} = {json.dumps(v)}" for k, v in fields["labels"].items()
    )
    tags = ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in fields["tags"].items())
    net = fields["network"]
    return f"""nodepool "{n.label}" {{
  pool      = "{n.pool}"
  name      = "{n.name}"
  flavor    = "{fields["flavor"]}"
  count     = {fields["count"]}
  max_count = {fields["max_count"]}
  azs       = [{", ".join(f"{{ {obj(a)} }}" for a in fields["azs"])}]
  labels = {{
{labels}
  }}
  taints        = [{", ".join(f"{{ {obj(t)} }}" for t in fields["taints"])}]
  tags          = {{ {tags} }}
  extend_params = {{ {obj(fields["extend_params"])} }}
  network {{
    vpc             = "{net["vpc"]}"
    subnet          = "{net["subnet"]}"
    security_groups = {json.dumps(net["security_groups"])}
  }}
}}
"""


FOR_EACH_HCL = """
locals {{
  flavors = ["modelarts.vm.gpu.t4u8", "modelarts.vm.gpu.v100", "modelarts.vm.cpu.8u32g"]
  zones   = ["cn-north-4a", "cn-north-4b", "cn-north-4c"]
  fleet = {{
    for n in range({total}) : format("p%03d_gpu_%03d", floor(n / {per_pool}), n % {per_pool}) => {{
      pool  = floor(n / {per_pool})
      index = n % {per_pool}
      base  = 2 + n % {per_pool} % 4
      raise = {raise_}
    }}
  }}
}}

nodepool "fleet" {{
  for_each  = local.fleet
  pool      = format("pool-bench-%03d", each.value.pool)
  name      = format("gpu-%03d", each.value.index)
  flavor    = local.flavors[each.value.index % 3]
  count     = each.value.base + each.value.raise
  max_count = each.value.base * 2
  azs = [{{
    az    = local.zones[each.value.index % 3]
    count = each.value.base + each.value.raise
  }}]
  labels = {{
    team                      = "ml-${{each.value.pool % 7}}"
    stage                     = "prod"
    "node.kubernetes.io/role" = each.value.index % 2 == 1 ? "train" : "infer"
  }}
  taints        = [{{ key = "dedicated", value = "gpu", effect = "NoSchedule" }}]
  tags          = {{ "owner" = "ml-platform", "cost-center" = "1234" }}
  extend_params = {{ dockerBaseSize = "100" }}
  network {{
    vpc             = format("vpc-%04d", each.value.pool % 4)
    subnet          = format("subnet-%04d", each.value.pool % 16)
    security_groups = [format("sg-%04d", each.value.pool % 8)]
  }}
}}
"""
