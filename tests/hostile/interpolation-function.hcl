nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = 1
  labels = { tier = "gpu-${timestamp()}" }
}
