# A fleet of three resource pools. Each pool has a map of node-pool specs, and one for_each
# turns it into node pools, addressed nodepool.BLOCK["KEY"]; every node pool carries the
# fleet's common labels. The same fleet in YAML is in ../yaml; both plan identically.
provider "modelarts" {
  region   = "cn-north-4"
  endpoint = "sim://world.json" # the simulator's world, in this directory
}

variable "env" {
  type    = string
  default = "prod"
}

variable "training" {
  description = "Training node pools on the physical pool, one per GPU model."
  type = map(object({
    flavor = string
    count  = number
    zone   = optional(string, "cn-north-4a")
  }))
  default = {
    a100 = { flavor = "modelarts.vm.gpu.a100", count = 4 }
    v100 = { flavor = "modelarts.vm.gpu.v100", count = 2, zone = "cn-north-4b" }
  }
}

locals {
  common_labels = { team = "ml-platform", env = var.env, managed-by = "np" }

  inference = {
    t4-small = { count = 1, max = 4 }
    t4-large = { count = 2, max = 8 }
  }

  batch_jobs = toset(["etl", "features", "reports"])
}

nodepool "training" {
  for_each = var.training
  pool     = "pool-train"
  name     = "train-${each.key}"
  flavor   = each.value.flavor
  count    = each.value.count
  azs      = [{ az = each.value.zone, count = each.value.count }]
  labels   = merge(local.common_labels, { workload = "training", gpu = each.key })
  taints   = [{ key = "dedicated", value = "training", effect = "NoSchedule" }]

  lifecycle {
    prevent_destroy = true
  }
}

nodepool "inference" {
  for_each  = local.inference
  pool      = "pool-infer"
  name      = "infer-${each.key}"
  flavor    = "modelarts.vm.gpu.t4u8"
  count     = each.value.count
  max_count = each.value.max
  labels    = merge(local.common_labels, { workload = "inference", size = split("-", each.key)[1] })
}

nodepool "batch" {
  for_each = local.batch_jobs
  pool     = "pool-batch"
  name     = "batch-${each.key}"
  flavor   = "modelarts.vm.cpu.8u"
  count    = each.key == "etl" ? 4 : 2
  labels   = merge(local.common_labels, { workload = "batch", job = each.key })
  tags     = { cost-center = "data-${each.key}" }
}
