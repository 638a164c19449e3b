package main

import (
	"os"
	"path/filepath"

	"github.com/pgferry/pgferry/config"
)

func main() {
	dirs, _ := filepath.Glob(os.Args[1])
	for _, d := range dirs {
		os.Stdout.WriteString("=================== " + d + "\n")
		cfg, diags := config.Load(d, config.Inputs{})
		diags.Write(os.Stdout, cfg.Files, false, 110)
	}
}
