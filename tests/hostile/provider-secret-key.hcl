provider "modelarts" {
  endpoint   = "sim://world.json"
  secret_key = "SKHOSTILE-do-not-echo-1"
}
