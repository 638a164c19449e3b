package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fatih/color"
	"github.com/pgferry/pgferry/internal/jsonschema"
	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/rogpeppe/go-internal/testscript"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"pgferry": func() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testdata/script/*.txtar end to end: the real binary against real clusters.
func TestScripts(t *testing.T) {
	sample, err := filepath.Abs("testdata/sample/sample.sql")
	if err != nil {
		t.Fatal(err)
	}
	planSchema, err := jsonschema.Load("docs/plan-json.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	cmds := pgtest.Commands()
	cmds["ttyrun"] = ttyrun                 // tty_test.go
	cmds["histcheck"] = histcheck           // history_test.go
	cmds["lastruncheck"] = lastruncheck     // history_test.go
	cmds["runwithin"] = runwithin           // history_test.go
	cmds["forecastwithin"] = forecastwithin // history_test.go
	// planschema FILE: FILE (or stdout) is a plan --json document valid against the documented schema.
	cmds["planschema"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if len(args) != 1 {
			ts.Fatalf("usage: planschema FILE|stdout")
		}
		v, err := jsonschema.Decode([]byte(ts.ReadFile(args[0])))
		if err != nil {
			ts.Fatalf("planschema: %v", err)
		}
		errs := planSchema.Check(v)
		switch {
		case neg && len(errs) == 0:
			ts.Fatalf("planschema: %s is valid", args[0])
		case !neg && len(errs) > 0:
			ts.Fatalf("planschema: %s breaks docs/plan-json.schema.json:\n%s", args[0], strings.Join(errs, "\n"))
		}
	}
	testscript.Run(t, testscript.Params{
		Dir:  "testdata/script",
		Cmds: cmds,
		Condition: func(cond string) (bool, error) {
			// [pg15ext]: an extension can be installed into PostgreSQL 15's share directory (the
			// tests run as root, as CI does).
			if cond == "pg15ext" {
				return syscall.Access("/usr/share/postgresql/15/extension", 2 /* W_OK */) == nil, nil
			}
			return pgtest.Condition(cond)
		},
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("SAMPLE", sample)
			env.Setenv("NO_COLOR", "1")
			return pgtest.Setup(env)
		},
	})
}

var errorMarker = regexp.MustCompile(`#\s*ERROR:\s*(.+)$`)

// TestInvalidConfigs runs validate and plan on every fixture of testdata/config/invalid: each must
// exit 1 and print, for every line marked "# ERROR: regexp", a diagnostic at that line matching it.
func TestInvalidConfigs(t *testing.T) {
	dirs, err := filepath.Glob("testdata/config/invalid/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			type marker struct {
				file string
				line int
				re   *regexp.Regexp
			}
			var markers []marker
			files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				for i, l := range strings.Split(string(src), "\n") {
					if m := errorMarker.FindStringSubmatch(l); m != nil {
						markers = append(markers, marker{filepath.Base(f), i + 1, regexp.MustCompile(strings.TrimSpace(m[1]))})
					}
				}
			}
			if len(markers) == 0 {
				t.Fatalf("fixture %s has no # ERROR: marker", dir)
			}
			// A fixture with a file "plan-only" is valid for validate, which needs no input values.
			_, planOnly := os.Stat(filepath.Join(dir, "plan-only"))
			for _, cmd := range []string{"validate", "plan"} {
				var stdout, stderr bytes.Buffer
				code := run([]string{"--chdir", dir, "--no-color", cmd}, strings.NewReader(""), &stdout, &stderr)
				if cmd == "validate" && planOnly == nil {
					if code != 0 {
						t.Errorf("validate: exit %d, want 0 (no input values needed)\nstderr:\n%s", code, stderr.String())
					}
					continue
				}
				if code != 1 {
					t.Errorf("%s: exit %d, want 1\nstderr:\n%s", cmd, code, stderr.String())
				}
				out := stderr.String()
				for _, m := range markers {
					loc := regexp.MustCompile(regexp.QuoteMeta(m.file) + `:` + strconv.Itoa(m.line) + `:\d+`)
					if !loc.MatchString(out) {
						t.Errorf("%s: no diagnostic at %s:%d\nstderr:\n%s", cmd, m.file, m.line, out)
						continue
					}
					// Details are wrapped for the terminal: match against the text with runs of
					// white space collapsed.
					if !m.re.MatchString(strings.Join(strings.Fields(out), " ")) {
						t.Errorf("%s: diagnostic at %s:%d does not match %q\nstderr:\n%s", cmd, m.file, m.line, m.re, out)
					}
				}
			}
		})
	}
}

// TestSignalContext: SIGTERM, as a pipeline sends when it cancels a job, stops gracefully like
// Ctrl-C: the context is cancelled and the user is told.
func TestSignalContext(t *testing.T) {
	stderr := &syncBuffer{}
	c := &cli{stderr: stderr}
	ctx, stop := c.signalContext()
	defer stop()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not cancel the context")
	}
	if got := stderr.String(); !strings.Contains(got, "Interrupt received. Gracefully shutting down...") {
		t.Errorf("stderr = %q", got)
	}
}

// TestSignalTwice: a second Ctrl-C while the first one's graceful stop is under way exits at once
// with status 1 and says so. It runs in a child process (os.Exit).
func TestSignalTwice(t *testing.T) {
	if os.Getenv("PGFERRY_SIGNAL_CHILD") != "" {
		c := &cli{stderr: os.Stderr}
		ctx, stop := c.signalContext()
		defer stop()
		os.Stdout.WriteString("ready\n")
		<-ctx.Done()
		os.Stdout.WriteString("stopping\n")
		time.Sleep(time.Minute) // a graceful stop that takes long
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSignalTwice$")
	cmd.Env = append(os.Environ(), "PGFERRY_SIGNAL_CHILD=1")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewReader(out)
	for _, want := range []string{"ready", "stopping"} {
		if want == "stopping" {
			cmd.Process.Signal(os.Interrupt)
		}
		line, err := lines.ReadString('\n')
		if err != nil || strings.TrimSpace(line) != want {
			t.Fatalf("child said %q (%v), want %q; stderr:\n%s", line, err, want, stderr.String())
		}
	}
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || time.Since(start) > 10*time.Second {
		t.Fatalf("after the second interrupt: %v after %v, want exit status 1 at once", err, time.Since(start))
	}
	got := stderr.String()
	for _, want := range []string{"Interrupt received. Gracefully shutting down...", "Two interrupts received. Exiting immediately."} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q:\n%s", want, got)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in different goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestNoColorAfterCommand checks that --no-color after the command name turns colour off, as
// pgferry --no-color COMMAND does.
func TestNoColorAfterCommand(t *testing.T) {
	prev := color.NoColor
	t.Cleanup(func() { color.NoColor = prev })
	color.NoColor = false
	var stdout, stderr bytes.Buffer
	c := &cli{color: true, stdout: &stdout, stderr: &stderr}
	if code := c.call(cmdVersion, []string{"--no-color"}); code != 0 {
		t.Fatalf("version --no-color: exit %d\n%s", code, stderr.String())
	}
	if c.color || !color.NoColor {
		t.Errorf("after version --no-color: color %t, color.NoColor %t; want colour off", c.color, color.NoColor)
	}
}
