source "onprem" {
  host = enb("SOURCE_HOST") # ERROR: Did you mean "env"
  user = "postgres"
}

target "flex" {
  host = "10.9.9.9"
  user = lower(1, 2) # ERROR: Function "lower" expects only 1 argument
}

migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]
}
