locals {
  l0 = range(50000)
  l1 = [local.l0, local.l0]
  l2 = [local.l1, local.l1]
  l3 = [local.l2, local.l2]
  l4 = [local.l3, local.l3]
  l5 = [local.l4, local.l4]
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = length(local.l5)
}
