nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = 1
  labels = { for k in ["a", "b", "a"] : k => "x" }
}
