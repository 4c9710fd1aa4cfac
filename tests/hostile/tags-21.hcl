nodepool "train" {
  pool   = "pool-prod"
  flavor = "modelarts.vm.gpu.t4u8"
  count  = 1
  tags   = {
    t01 = "v"
    t02 = "v"
    t03 = "v"
    t04 = "v"
    t05 = "v"
    t06 = "v"
    t07 = "v"
    t08 = "v"
    t09 = "v"
    t10 = "v"
    t11 = "v"
    t12 = "v"
    t13 = "v"
    t14 = "v"
    t15 = "v"
    t16 = "v"
    t17 = "v"
    t18 = "v"
    t19 = "v"
    t20 = "v"
    t21 = "v"
  }
}
