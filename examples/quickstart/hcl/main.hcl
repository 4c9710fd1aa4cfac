# The quickstart: two node pools of one resource pool, run against the in-process simulator.
provider "modelarts" {
  region   = "cn-north-4"
  endpoint = "sim://world.json" # the simulator's world file, in this directory
}

variable "train_nodes" {
  type    = number
  default = 3
}

variable "stage" {
  type    = string
  default = "dev"
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = var.train_nodes
  labels = { team = "ml", stage = "${var.stage}" }

  taints {
    key    = "dedicated"
    value  = "gpu"
    effect = "NoSchedule"
  }
}

nodepool "infer" {
  pool      = "pool-prod"
  flavor    = "modelarts.vm.gpu.t4u8"
  count     = 1
  max_count = 4
  labels    = { team = "ml", tier = "${var.stage}-serving" }
}
