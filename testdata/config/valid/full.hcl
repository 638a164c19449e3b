# The example of SPEC.md §1: every block and argument pgferry knows.
variable "target_password" {
  type        = string
  sensitive   = true # never printed, never written to plan or state
  description = "Password of the target administrator."
}

source "onprem" {
  host     = "10.1.2.3"
  port     = 5432
  user     = "postgres"
  password = env("PGFERRY_SOURCE_PASSWORD")
  sslmode  = "prefer"
  type     = "on-premises"
  dbname   = "postgres"
}

target "flex" {
  host     = "127.0.0.1"
  port     = 5433
  user     = "admin"
  password = var.target_password
  sslmode  = "require"
  fqdn     = "prod-flex.example.com"
}

migration "prod-to-flex" {
  source    = source.onprem
  target    = target.flex
  mode      = "offline"
  databases = ["app", "billing"]

  options {
    overwrite_databases = false
    roles               = true
    strip_superuser     = true
    jobs                = 4
    verify              = "checksum"
    server_parameters   = "report"
    include_tables      = []
    exclude_tables      = []
    owner_map           = { postgres = "app_admin", "My Role" = "app" }
  }
}

backend "pg" {
  conn_str = env("PGFERRY_STATE_DSN")
  schema   = "pgferry"
}
