nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8\u0000"
}
