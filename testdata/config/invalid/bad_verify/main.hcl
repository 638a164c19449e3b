source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}
target "flex" {
  host = "10.9.9.9"
  user = "admin"
}
migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    verify            = "hash" # ERROR: verify must be one of "none", "count" or "checksum"
    server_parameters = "aply" # ERROR: Did you mean "apply"
    roles             = "maybe" # ERROR: roles must be true or false
  }
}
