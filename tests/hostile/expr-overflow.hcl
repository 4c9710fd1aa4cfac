locals {
  big = 9223372036854775807
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = local.big * local.big
}
