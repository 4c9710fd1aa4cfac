nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = 3
  creating_step {
    step = 2
    type = "rack"
  }
}
