package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pgferryCopyFormat is pgferry apply with copy_format set to format (#15 item 3): run beside the
// default ("auto") tool, the A/B of one run. Not a peer: bestPeer leaves every pgferry* tool out.
func pgferryCopyFormat(format string) *tool {
	return &tool{id: "pgferry-" + format, name: fmt.Sprintf("pgferry apply, copy_format %q", format),
		prepare: func(ctx context.Context, e *env, r *runCtx) error {
			if err := writeConfig(e, r.dir, r.ds, "none"); err != nil {
				return err
			}
			path := filepath.Join(r.dir, "main.hcl")
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			hcl := strings.Replace(string(b), "  options {\n", fmt.Sprintf("  options {\n    copy_format = %q\n", format), 1)
			return os.WriteFile(path, []byte(hcl), 0o600)
		},
		command: func(e *env, r *runCtx) *exec.Cmd {
			return pgferryCmd(e, r.dir, "apply", "--auto-approve", "--jobs", fmt.Sprint(e.o.jobs))
		},
		after: pgferryAfter}
}
