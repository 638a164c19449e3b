source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}
target "flex" {
  host = "10.9.9.9"
  user = "admin"
}
migration "prod-to-flex" { # ERROR: needs the argument "target"
  source    = source.onprem
  databases = ["app"]
}

migration {  # ERROR: Missing name for migration block
  source = source.onprem
}
