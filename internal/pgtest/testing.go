package pgtest

import (
	"os"
	"testing"
)

// Start creates and starts a cluster of the given major version for one
// test, in a fresh directory under os.TempDir(), and registers a cleanup that
// stops it and removes the directory (printing the server log's tail when the
// test failed). Without binaries for that major the test is skipped, unless
// the CI environment variable is set, when it fails: CI must test every
// version it claims to. It also makes the client tools that `make
// pg-versions` installed visible to pgferry code in this process (UseClients).
func Start(t testing.TB, major int, opts ...Option) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a PostgreSQL server: not run with -short")
	}
	UseClients()
	if _, err := BinDir(major); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("PostgreSQL %d not available: %v", major, err)
		}
		t.Fatalf("PostgreSQL %d required under CI: %v", major, err)
	}
	dir, err := MkdirTemp("pgferry-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := claim(dir); err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	c, err := New(dir, major, opts...)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("PostgreSQL %d server log (%s), last lines:\n%s", major, c.LogPath(), c.LogTail())
		}
		if err := c.Destroy(); err != nil {
			t.Errorf("removing cluster: %v", err)
		}
	})
	return c
}
