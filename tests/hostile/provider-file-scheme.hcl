provider "modelarts" {
  endpoint = "file:///etc/passwd"
}
