nodepool "train" "gpu" {
  pool = "pool-prod"
}
