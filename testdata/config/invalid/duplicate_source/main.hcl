source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}

source "onprem" { # ERROR: A source named "onprem" was previously declared at .*main.hcl:1\.
  host = "10.1.2.4"
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
