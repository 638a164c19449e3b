package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/state"
)

// TestApplyPromptInterrupt: one Ctrl-C (SIGINT) at the approval prompt cancels at once, as any
// answer but "yes" does: exit 1, "Apply cancelled.", nothing done on the target, no state
// written, the lock released. Before, the prompt waited for Enter.
func TestApplyPromptInterrupt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL servers")
	}
	ctx := context.Background()
	src, tgt := pgtest.Start(t, 15), pgtest.Start(t, 15)
	if err := src.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	if err := src.Exec(ctx, "app", "CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	server := func(kind string, c *pgtest.Cluster) string {
		return fmt.Sprintf("%s %q {\n  host = %q\n  port = %d\n  user = %q\n  password = %q\n  sslmode = \"disable\"\n}\n",
			kind, kind, c.Host, c.Port, c.User, c.Password)
	}
	config := server("source", src) + server("target", tgt) +
		"migration \"m\" {\n  source = source.source\n  target = target.target\n  databases = [\"app\"]\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)

	stdinR, stdinW := io.Pipe() // a terminal nobody types into
	defer stdinW.Close()
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	c := &cli{stdin: stdinR, stdout: stdout, stderr: stderr, isTTYIn: true}
	done := make(chan int, 1)
	go func() { done <- c.call(cmdApply, nil) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stdout.String(), "Enter a value:") {
		select {
		case code := <-done:
			t.Fatalf("apply ended (exit %d) before its prompt\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no prompt after 60s\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		t.Logf("apply ended %v after the interrupt", time.Since(sent).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatalf("apply still waits 5s after Ctrl-C at the prompt\nstdout:\n%s", stdout.String())
	}
	if out := stdout.String(); !strings.HasSuffix(strings.TrimSpace(out), "Apply cancelled.") {
		t.Errorf("stdout does not end with Apply cancelled.:\n%s", out)
	}
	if strings.Contains(stderr.String(), "Gracefully shutting down") || strings.Contains(stderr.String(), "context canceled") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	rows, err := tgt.Query(ctx, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'app'")
	if err != nil || rows[0][0] != "0" {
		t.Errorf("the target has database app (%v, %v): something was done", rows, err)
	}
	backend, err := state.NewLocal(filepath.Join(dir, ".pgferry"))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := backend.Read(ctx, "m"); err != nil || st != nil {
		t.Errorf("a state was written: %+v, %v", st, err)
	}
	if held, err := backend.Locked(ctx, "m"); err != nil || held {
		t.Errorf("the lock is still held (%t, %v)", held, err)
	}
}
