source "onprem" {
  host = "10.1.2.3"
  user = "postgres"
}
target "flex" {
  host = "10.9.9.9"
  user = "admin"
}
migration "prod-to-flex" {
  source      = source.onprem
  target      = target.flex
  databases   = ["app"]
  copy_format = "text" # ERROR: copy_format belongs in the migration's options block

  options {
    copy_format = "binray" # ERROR: copy_format must be one of "auto", "binary" or "text"; got "binray". Did you mean "binary"
  }
}

migration "other" {
  source    = source.onprem
  target    = target.flex
  databases = ["app"]

  options {
    copy_format = "csv" # ERROR: copy_format must be one of "auto", "binary" or "text"; got "csv"\.$
  }
}
