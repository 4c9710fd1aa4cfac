locals {
  k = format("%1000s%1000s", "a", "b")
  m = { for i in range(20000) : "${local.k}${i}" => i }
}

nodepool "train" {
  for_each = toset([for i in range(100) : "p${i}"])
  pool     = "pool-prod"
  name     = "train-${each.key}"
  flavor   = "modelarts.vm.gpu.t4u8"
  count    = local.m["${local.k}-${each.key}"]
}
