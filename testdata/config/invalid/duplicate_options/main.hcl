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
    jobs = 2
  }

  options { # ERROR: A migration has at most one options block
    jobs = 3
  }

  options = {} # ERROR: options is a block: remove the equals sign
}
