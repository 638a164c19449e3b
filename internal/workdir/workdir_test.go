package workdir

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSweep: a directory whose process died is removed by the next Sweep; a live process's is
// kept, whether it is this process's own or another's.
func TestSweep(t *testing.T) {
	parent := t.TempDir()

	mine, err := New(parent)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(mine.Path), Prefix+strconv.Itoa(os.Getpid())+"-") {
		t.Errorf("work directory %s is not named %s<pid>-...", mine.Path, Prefix)
	}
	if err := os.WriteFile(filepath.Join(mine.Path, "schema.dump"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}

	// A dead process's directory: its owner file exists and nobody holds it.
	dead := filepath.Join(parent, Prefix+"999999-dead")
	if err := os.MkdirAll(filepath.Join(dead, "dump-1"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{ownerName, "dump-1/schema.dump"} {
		if err := os.WriteFile(filepath.Join(dead, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A live process's: a child holds its owner file locked (flock(1) as a separate process).
	var live string
	if flock, err := exec.LookPath("flock"); err == nil {
		live = filepath.Join(parent, Prefix+"1-live")
		if err := os.Mkdir(live, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(live, ownerName), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(flock, "-x", filepath.Join(live, ownerName), "sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitLocked(t, filepath.Join(live, ownerName))
	}
	// Not a work directory: never touched.
	other := filepath.Join(parent, "pgferry-ts-123")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}

	removed, err := Sweep(parent)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{dead}) {
		t.Errorf("Sweep removed %v, want only %s", removed, dead)
	}
	for _, keep := range []string{mine.Path, other, live} {
		if keep == "" {
			continue
		}
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s was removed: %v", keep, err)
		}
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("%s still exists (%v)", dead, err)
	}

	if err := mine.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(mine.Path); !os.IsNotExist(err) {
		t.Errorf("Remove left %s (%v)", mine.Path, err)
	}
}

// TestSweepDeadChild: a process that made its directory and was killed (SIGKILL) leaves it; the
// next Sweep removes it.
func TestSweepDeadChild(t *testing.T) {
	if os.Getenv("WORKDIR_CHILD") != "" {
		d, err := New(os.Getenv("WORKDIR_CHILD"))
		if err != nil {
			os.Exit(2)
		}
		os.Stdout.WriteString(d.Path + "\n")
		time.Sleep(time.Minute)
		return
	}
	parent := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSweepDeadChild$")
	cmd.Env = append(os.Environ(), "WORKDIR_CHILD="+parent)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	n, _ := out.Read(buf)
	path := strings.TrimSpace(strings.SplitN(string(buf[:n]), "\n", 2)[0])
	if path == "" {
		t.Fatal("the child made no work directory")
	}
	if removed, _ := Sweep(parent); len(removed) > 0 {
		t.Fatalf("Sweep removed %v while its process lives", removed)
	}
	cmd.Process.Kill()
	cmd.Wait()
	removed, err := Sweep(parent)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{path}) {
		t.Errorf("after kill -9 Sweep removed %v, want %s", removed, path)
	}
}

func waitLocked(t *testing.T, path string) {
	t.Helper()
	for range 100 {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		free, err := tryLock(f)
		f.Close()
		if err == nil && !free {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("flock(1) never took the lock")
}
