nodepool "train" {
  for_each = toset([for i in range(100000) : "np-${i}"])
  pool     = "pool-prod"
  name     = each.key
  flavor   = "modelarts.vm.gpu.t4u8"
  count    = 1
}
