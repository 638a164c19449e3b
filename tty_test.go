package main

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// overallPercent finds the overall bar's percent on a screen of apply.
var overallPercent = regexp.MustCompile(`(?m)^overall .*?\s(\d+)%`)

// ttyrun SCREEN CMD ARGS...: runs the command on a terminal (a tmux pane of 200x60 with the
// script's environment, in its working directory) until it exits, and writes the pane's final
// screen, with its scrollback, to SCREEN and the exit status to SCREEN.status. While it runs,
// the pane is read every 100 ms: the overall bar's percent must never go down (sampled percents
// are appended to SCREEN.samples).
func ttyrun(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: ttyrun SCREEN CMD [ARGS...]")
	}
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		ts.Fatalf("ttyrun needs tmux: %v", err) // [exec:tmux] guards the scripts that use it
	}
	sock := fmt.Sprintf("pgferry-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	t := func(a ...string) (string, error) {
		out, err := exec.Command(tmux, append([]string{"-L", sock, "-f", "/dev/null"}, a...)...).CombinedOutput()
		return string(out), err
	}
	newArgs := []string{"new-session", "-d", "-x", "200", "-y", "60", "-c", ts.Getenv("WORK")}
	for _, k := range []string{"SRC_HOST", "SRC_PORT", "SRC_PASSWORD", "TGT_HOST", "TGT_PORT", "TGT_PASSWORD", "PATH", "HOME", "TMPDIR", "NO_COLOR"} {
		if v := ts.Getenv(k); v != "" {
			newArgs = append(newArgs, "-e", k+"="+v)
		}
	}
	var quoted []string
	for _, a := range args[1:] {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	newArgs = append(newArgs, strings.Join(quoted, " ")+"; echo \"exit status $?\" > "+ts.MkAbs(args[0])+".status; sleep 600")
	if out, err := t(newArgs...); err != nil {
		ts.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	defer t("kill-server")
	status := ts.MkAbs(args[0]) + ".status"
	var samples []string
	last := -1
	deadline := time.Now().Add(5 * time.Minute)
	for {
		_, statErr := os.Stat(status)
		screen, err := t("capture-pane", "-p")
		if err != nil {
			ts.Fatalf("tmux capture-pane: %v\n%s", err, screen)
		}
		if m := overallPercent.FindStringSubmatch(screen); m != nil {
			n, _ := strconv.Atoi(m[1])
			if n < last {
				ts.Fatalf("the overall bar went back from %d%% to %d%%:\n%s", last, n, screen)
			}
			if n != last {
				samples = append(samples, m[1])
			}
			last = n
		}
		if statErr == nil {
			break
		}
		if time.Now().After(deadline) {
			ts.Fatalf("ttyrun: %s still running after 5m:\n%s", strings.Join(args[1:], " "), screen)
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	screen, err := t("capture-pane", "-p", "-S", "-10000")
	if err != nil {
		ts.Fatalf("tmux capture-pane: %v\n%s", err, screen)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(screen), 0o644))
	ts.Check(os.WriteFile(ts.MkAbs(args[0])+".samples", []byte(strings.Join(samples, "\n")+"\n"), 0o644))
}
