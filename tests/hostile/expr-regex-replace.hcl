nodepool "train" {
  pool   = "pool-prod"
  flavor = replace("modelarts.vm.gpu.t4u8", "/(a+)+$/", "x")
  count  = 1
}
