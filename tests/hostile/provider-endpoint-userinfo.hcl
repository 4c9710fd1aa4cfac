provider "modelarts" {
  endpoint = "https://admin:PWHOSTILE-do-not-echo-5@modelarts.example.com"
}
