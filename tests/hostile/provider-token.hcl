provider "modelarts" {
  endpoint = "sim://world.json"
  token    = "TOKHOSTILE-do-not-echo-4"
}
