# Several migrations sharing servers, functions in expressions, and a local backend.
variable "env" {
  type    = string
  default = "staging"
}

variable "jobs" {
  type    = number
  default = 8
}

variable "overwrite" {
  type    = bool
  default = false
}

source "onprem" {
  host    = format("%s-db.internal", var.env)
  port    = 5433
  user    = "postgres"
  sslmode = "verify-full"

  sslrootcert = "/etc/ssl/root.crt"
  sslcert     = "/etc/ssl/client.crt"
  sslkey      = "/etc/ssl/client.key"
  type        = "azure-vm"
  dbname      = "admin_db"
}

target "flex" {
  host = "10.0.0.5"
  user = upper("admin")
  fqdn = join(".", [var.env, "flex", "example", "com"])
}

migration "app" {
  source    = source.onprem
  target    = target.flex
  databases = ["app", "${var.env}_reports"]

  options {
    overwrite_databases      = var.overwrite
    roles                    = false
    strip_superuser          = false
    jobs                     = var.jobs
    verify                   = "count"
    server_parameters        = "apply"
    include_tables           = ["public.*", "sales.order?"]
    exclude_tables           = ["public.tmp_*"]
    pg_bin_dir               = "/usr/lib/postgresql/17/bin"
    split_tables_larger_than = "512MB"
    copy_format              = "text"
  }
}

migration "billing-2" {
  source    = source.onprem
  target    = target.flex
  databases = [source.onprem.dbname == "admin_db" ? "billing" : "other"]

  options {
    verify = "none"
  }
}

backend "local" {
  path = "state/${var.env}"
}
