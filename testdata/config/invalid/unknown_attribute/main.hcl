source "onprem" {
  hots = "10.1.2.3" # ERROR: Did you mean "host"
  host = "10.1.2.3"
  user = "postgres"
  fqdn = "a.example.com" # ERROR: fqdn is only valid in a target block
  wibble = 1 # ERROR: arguments accepted here are: host, port
}

target "flex" {
  host = "10.9.9.9"
  user = "admin"
  type = "other" # ERROR: type is only valid in a source block
}

migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
  jobs      = 8 # ERROR: belongs in the migration's options block

  options {
    verfy = "count" # ERROR: Did you mean "verify"
  }
}
