locals {
  big = join("", [for i in range(65000) : "x"])
}

nodepool "train" {
  for_each      = toset([for i in range(30) : "p${i}"])
  pool          = "pool-prod"
  name          = "train-${each.key}"
  flavor        = "modelarts.vm.gpu.t4u8"
  count         = 1
  extend_params = { for i in range(1000) : "k${i}" => local.big }
}
