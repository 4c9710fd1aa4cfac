provider "modelarts" {
  endpoint = "http://10.1.2.3:8787"
}
