locals {
  grid = [for x in range(1000) : [for y in range(1000) : x * y]]
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = length(local.grid)
}
