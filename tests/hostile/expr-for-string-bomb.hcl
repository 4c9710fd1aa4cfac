locals {
  big  = join("", [for i in range(65000) : "x"])
  bomb = [for i in range(100000) : "${local.big}${i}"]
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = length(local.bomb)
}
