nodepool {
  pool = "pool-prod"
}
