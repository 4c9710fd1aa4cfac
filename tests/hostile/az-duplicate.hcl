nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = 2
  azs    = [{ az = "cn-north-4a", count = 1 }, { az = "cn-north-4a", count = 1 }]
}
