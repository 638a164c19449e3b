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
    jobs = 0 # ERROR: jobs must be a whole number from 1 to 64
  }
}

migration "too-many-jobs" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    jobs = 65 # ERROR: Invalid jobs
  }
}

migration "fractional-jobs" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    jobs = 2.5 # ERROR: got 2.5
  }
}
