variable "big" {
  default = "yes"
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = var.big ? 8 : 1
}
