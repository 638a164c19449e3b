package main

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

// TestExitCode: run maps a command's error to its exit status and prints it once, without the
// configuration's secrets; an error already reported, or an exit status, prints nothing.
func TestExitCode(t *testing.T) {
	for name, c := range map[string]struct {
		err    error
		code   int
		stderr string
	}{
		"success":         {nil, 0, ""},
		"reported":        {errReported, 1, ""},
		"detailed change": {exitStatus(2), 2, ""},
		"fmt check":       {fmt.Errorf("wrapped: %w", exitStatus(3)), 3, ""},
		"error":           {errors.New("password hunter2 refused"), 1, "Error: password ******** refused\n"},
		"failure":         {failf("Saved plan is stale\n\n%s", "why"), 1, "Error: Saved plan is stale\n\nwhy\n"},
	} {
		t.Run(name, func(t *testing.T) {
			var stderr bytes.Buffer
			cl := &cli{stderr: &stderr, secrets: []string{"hunter2"}}
			if got := cl.exitCode(c.err); got != c.code || stderr.String() != c.stderr {
				t.Errorf("exit %d, stderr %q; want %d, %q", got, stderr.String(), c.code, c.stderr)
			}
		})
	}
}
