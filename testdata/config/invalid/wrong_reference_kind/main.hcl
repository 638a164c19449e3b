source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}
target "flex" {
  host = "10.9.9.9"
  user = "admin"
}
migration "prod-to-flex" {
  source    = target.flex # ERROR: source must refer to a source block, but target.flex refers to a target block
  target    = source.onprem # ERROR: Wrong kind of reference
  databases = ["app"]
}

migration "quoted" {
  source    = "onprem" # ERROR: Write source = source.onprem, without quotes
  target    = var.flex # ERROR: Invalid target reference
  databases = ["app"]
}
