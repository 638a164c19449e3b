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

backend "s3" { # ERROR: There is no backend "s3"
  bucket = "x"
}
