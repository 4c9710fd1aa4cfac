locals {
  a = local.b + 1
  b = local.c + 1
  c = local.a + 1
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = local.a
}
