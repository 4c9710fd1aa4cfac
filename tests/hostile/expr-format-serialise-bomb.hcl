locals {
  l0   = range(100000)
  big  = [for i in range(9) : local.l0]
  bomb = [for i in range(100000) : format("%.1v", local.big)]
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = length(local.bomb)
}
