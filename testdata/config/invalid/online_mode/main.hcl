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
  mode      = "online" # ERROR: online migrations are not supported yet; use mode = "offline"
  databases = ["app"]
}

migration "other" {
  source    = source.onprem
  target    = target.flex
  mode      = "fast" # ERROR: mode must be "offline"
  databases = ["app"]
}
