variable "specs" {
  type = map(object({ count = number, flavor = string }))
  default = {
    small = { count = "two", flavor = "modelarts.vm.cpu.8u" }
  }
}

nodepool "train" {
  pool   = "pool-prod"
  flavor = var.specs["small"].flavor
  count  = var.specs["small"].count
}
