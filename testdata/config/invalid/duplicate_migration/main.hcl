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
}

migration "prod-to-flex" { # ERROR: A migration named "prod-to-flex" was previously declared at .*main.hcl:9\.
  source    = source.onprem
  target    = target.flex
  databases = ["billing"]
}
