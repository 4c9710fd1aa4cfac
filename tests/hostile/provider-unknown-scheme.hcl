provider "modelarts" {
  endpoint = "ftp://modelarts.example.com"
}
