//go:build tools

package main

import (
	_ "github.com/fatih/color"
	_ "github.com/google/uuid"
	_ "github.com/hashicorp/hcl/v2"
	_ "github.com/hashicorp/hcl/v2/hclwrite"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/spf13/pflag"
	_ "github.com/zclconf/go-cty/cty"
)
