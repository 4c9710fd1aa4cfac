nodepool "train" {
  for_each = ["a", "b"]
  pool     = "pool-prod"
  flavor   = "modelarts.vm.gpu.t4u8"
  count    = 1
}
