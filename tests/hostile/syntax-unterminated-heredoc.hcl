nodepool "train" {
  pool = <<EOT
pool-prod
}
