# The same inference fleet in three regions, from one configuration: one provider per region
# (a for_each provider, addressed modelarts.region["cn-north-4"]) and one node pool per region
# (a for_each node pool naming its region's provider). The same node pool name in every region
# is three node pools: np tells them apart by their provider. The same in YAML is in ../yaml;
# both plan identically.
variable "regions" {
  description = "The regions np manages, each with its own project (project ids are per region)."
  type = map(object({
    project_id = string
    t4_nodes   = number
  }))
  default = {
    "cn-north-4"     = { project_id = "0a1b2c3d4e5f", t4_nodes = 4 }
    "cn-southwest-2" = { project_id = "1b2c3d4e5f6a", t4_nodes = 2 }
    "ap-southeast-1" = { project_id = "2c3d4e5f6a7b", t4_nodes = 2 }
  }
}

provider "modelarts" {
  alias      = "region"
  for_each   = var.regions
  region     = each.key
  project_id = each.value.project_id
  endpoint   = "sim://world-${each.key}.json" # the simulator; without it, the region's API
}

locals {
  common_labels = { team = "ml-platform", managed-by = "np" }
}

nodepool "inference" {
  for_each  = var.regions
  provider  = modelarts.region[each.key]
  pool      = "pool-infer"
  name      = "infer-t4"
  flavor    = "modelarts.vm.gpu.t4u8"
  count     = each.value.t4_nodes
  max_count = each.value.t4_nodes * 2
  labels    = merge(local.common_labels, { workload = "inference", region = each.key })
}

# Training runs in one region only: name that region's provider.
nodepool "training" {
  provider = modelarts.region["cn-north-4"]
  pool     = "pool-train"
  name     = "train-a100"
  flavor   = "modelarts.vm.gpu.a100"
  count    = 4
  labels   = merge(local.common_labels, { workload = "training" })

  lifecycle {
    prevent_destroy = true
  }
}
