target_password = "s3cret-value" # ERROR: Rename it to pgferry\.pgfvars
