"""Large configurations as a fleet writes them: the large-file tests' inputs, which the HCL
differential test reads with both parsers too."""

from __future__ import annotations


def hcl_block(i: int) -> str:
    return f"""nodepool "np{i}" {{
  pool      = "pool-{i % 50}"
  flavor    = "modelarts.vm.gpu.t4u8"
  count     = {i % 7}
  max_count = {i % 7 + 2}
  azs       = [{{ az = "cn-north-4a", count = {i % 7} }}]
  labels    = {{ team = "ml", tier = "gpu-{i}", "app.kubernetes.io/name" = "trainer" }}
  taints    = [{{ key = "dedicated", value = "gpu", effect = "NoSchedule" }}]
  tags      = {{ owner = "ml-platform", cost = "c{i}" }}
  extend_params = {{ dockerBaseSize = "0" }}
  network {{
    vpc             = "vpc-1"
    subnet          = "subnet-1"
    security_groups = ["sg-1", "sg-2"]
  }}
}}
"""


def yaml_block(i: int) -> str:
    return f"""  np{i}:
    pool: pool-{i % 50}
    flavor: modelarts.vm.gpu.t4u8
    count: {i % 7}
    max_count: {i % 7 + 2}
    azs: [{{az: cn-north-4a, count: {i % 7}}}]
    labels: {{team: ml, tier: gpu-{i}, app.kubernetes.io/name: trainer}}
    taints: [{{key: dedicated, value: gpu, effect: NoSchedule}}]
    tags: {{owner: ml-platform, cost: c{i}}}
    extend_params: {{dockerBaseSize: "0"}}
    network:
      vpc: vpc-1
      subnet: subnet-1
      security_groups: [sg-1, sg-2]
"""
