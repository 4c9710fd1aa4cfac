resource "modelarts_nodepool" "a" {
  pool = "pool-prod"
}
