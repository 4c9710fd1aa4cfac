# The same configuration as ../twin_yaml/main.yaml, written in HCL.
provider "modelarts" {
  region     = "cn-north-4"
  project_id = "0a1b2c3d"
  endpoint   = "sim://world.json"
}

variable "train_nodes" {
  type        = number
  default     = 4
  description = "GPU nodes for training"
}

variable "tier" {
  type    = string
  default = "prod"
}

nodepool "train" {
  pool      = "pool-prod"
  name      = "train"
  flavor    = "modelarts.vm.gpu.t4u8"
  count     = var.train_nodes
  max_count = 8
  azs       = [{ az = "cn-north-4a", count = 4 }]
  labels    = { team = "ml", tier = "${var.tier}-gpu", "app.kubernetes.io/name" = "trainer" }
  taints    = [{ key = "dedicated", value = "gpu", effect = "NoSchedule" }]
  tags      = { owner = "ml-platform" }
  extend_params = { dockerBaseSize = "0" }
  network { vpc = "vpc-1" subnet = "subnet-1" security_groups = ["sg-1", "sg-2"] }
  creating_step { step = 1 type = "rack" }
  os { name = "EulerOS 2.10" image_id = "img-1" image_type = "private" auto_match = false }

  lifecycle {
    ignore_changes  = ["count"]
    prevent_destroy = true
  }
}

nodepool "infer" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.cpu.8u"
  count  = 0

  taints {
    key    = "spot"
    effect = "PreferNoSchedule"
  }
  taints {
    key    = "role"
    value  = "inference"
    effect = "NoExecute"
  }
}
