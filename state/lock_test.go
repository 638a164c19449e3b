package state

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lockHolderEnv makes the test binary a lock holder (see lockHolderMain).
const lockHolderEnv = "PGFERRY_STATE_TEST_LOCK_HOLDER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockHolderEnv); dir != "" {
		os.Exit(lockHolderMain(dir))
	}
	os.Exit(m.Run())
}

// lockHolderMain takes the lock of migration "m" in dir, prints its ID and
// waits to be killed.
func lockHolderMain(dir string) int {
	l, err := NewLocal(dir)
	if err != nil {
		fmt.Println("ERROR", err)
		return 1
	}
	_, err = l.Lock(context.Background(), "m", NewLockInfo("apply", "helper-1.0"), 0)
	if err != nil {
		fmt.Println("ERROR", strings.ReplaceAll(err.Error(), "\n", " | "))
		return 1
	}
	fmt.Println("LOCKED")
	time.Sleep(time.Hour)
	return 0
}

// startHolder runs a subprocess holding the lock of "m" in l.Dir.
func startHolder(t *testing.T, l *Local) *exec.Cmd {
	t.Helper()
	if !flockSupported {
		t.Skip("no flock on this platform")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHolderEnv+"="+l.Dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "LOCKED" {
		t.Fatalf("lock holder: %q %v", line, err)
	}
	return cmd
}

func lockedInfo(t *testing.T, err error) LockInfo {
	t.Helper()
	var le *LockedError
	if !errors.As(err, &le) {
		t.Fatalf("got %v (%T), want *LockedError", err, err)
	}
	return le.Info
}

func TestLocalLockInProcess(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	unlock, err := l.Lock(ctx, "m", LockInfo{Operation: "apply", Version: "1.2.3"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(l.Dir, "m")
	if m := mode(t, filepath.Join(dir, lockInfoName)); m != 0o600 {
		t.Fatalf("lock info mode %v", m)
	}
	if m := mode(t, filepath.Join(dir, lockFileName)); m != 0o600 {
		t.Fatalf("lock file mode %v", m)
	}

	// A second lock from the same process conflicts: flock locks belong to
	// the open file description, and every Lock opens its own.
	start := time.Now()
	_, err = l.Lock(ctx, "m", LockInfo{Operation: "destroy"}, 0)
	info := lockedInfo(t, err)
	if time.Since(start) > time.Second {
		t.Fatal("Lock with no timeout waited")
	}
	if info.Operation != "apply" || info.Version != "1.2.3" || info.ID == "" || info.Path != l.StatePath("m") ||
		!strings.Contains(info.Who, "@") || info.Created.IsZero() {
		t.Fatalf("lock info %+v", info)
	}
	if !strings.Contains(err.Error(), "pgferry force-unlock "+info.ID) {
		t.Fatalf("message does not say how to force-unlock:\n%v", err)
	}

	// Other migrations are independent.
	u2, err := l.Lock(ctx, "other", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := u2(); err != nil {
		t.Fatal(err)
	}

	if err := unlock(); err != nil {
		t.Fatal(err)
	}
	if err := unlock(); err != nil {
		t.Fatalf("second unlock: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, lockInfoName)); !os.IsNotExist(err) {
		t.Fatalf("lock info left after unlock: %v", err)
	}
	u3, err := l.Lock(ctx, "m", LockInfo{}, 0)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	u3()
}

func TestLocalLockTimeout(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	unlock, err := l.Lock(ctx, "m", LockInfo{Operation: "apply"}, 0)
	if err != nil {
		t.Fatal(err)
	}

	// Times out while held.
	start := time.Now()
	_, err = l.Lock(ctx, "m", LockInfo{}, 300*time.Millisecond)
	lockedInfo(t, err)
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Fatalf("gave up after %v, want about 300ms", d)
	}
	var le *LockedError
	errors.As(err, &le)
	if le.Waited < 300*time.Millisecond || !strings.Contains(err.Error(), "waited") {
		t.Fatalf("Waited = %v; %v", le.Waited, err)
	}

	// Succeeds once the holder releases.
	go func() {
		time.Sleep(500 * time.Millisecond)
		unlock()
	}()
	start = time.Now()
	u2, err := l.Lock(ctx, "m", LockInfo{}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 400*time.Millisecond || d > 5*time.Second {
		t.Fatalf("acquired after %v, want about 500ms", d)
	}
	defer u2()

	// A cancelled context stops the wait.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = l.Lock(cctx, "m", LockInfo{}, time.Minute)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock with a cancelled context: %v", err)
	}
}

// TestLocalLockCrossProcess: a holder killed with SIGKILL frees the lock at
// once, with no cleanup of its own.
func TestLocalLockCrossProcess(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	holder := startHolder(t, l)

	_, err := l.Lock(ctx, "m", LockInfo{}, 0)
	info := lockedInfo(t, err)
	if info.Operation != "apply" || info.Version != "helper-1.0" {
		t.Fatalf("holder info %+v", info)
	}

	if err := holder.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	holder.Wait()
	// The dead holder's lock.info is still there, but the kernel lock is gone.
	unlock, err := l.Lock(ctx, "m", LockInfo{Operation: "destroy"}, 0)
	if err != nil {
		t.Fatalf("lock after the holder was killed: %v", err)
	}
	_, err = l.Lock(ctx, "m", LockInfo{}, 0)
	if got := lockedInfo(t, err); got.Operation != "destroy" {
		t.Fatalf("stale lock info was not replaced: %+v", got)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}
}

func TestLocalForceUnlock(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	if err := l.ForceUnlock(ctx, "m", "x"); err == nil || !strings.Contains(err.Error(), "not locked") {
		t.Fatalf("force-unlock of an unlocked migration: %v", err)
	}

	// Across processes: a live holder's lock is not stuck and is refused (it
	// would go on writing beside the next holder); once the holder is dead,
	// what it left behind is removed.
	holder := startHolder(t, l)
	_, err := l.Lock(ctx, "m", LockInfo{}, 0)
	id := lockedInfo(t, err).ID
	if err := l.ForceUnlock(ctx, "m", "wrong-id"); err == nil || !strings.Contains(err.Error(), id) {
		t.Fatalf("force-unlock with a wrong ID: %v", err)
	}
	err = l.ForceUnlock(ctx, "m", id)
	if err == nil || !strings.Contains(err.Error(), "held by a running pgferry apply") || !strings.Contains(err.Error(), "pgferry cancel") {
		t.Fatalf("force-unlock of a live holder's lock: %v; want a refusal saying what to do", err)
	}
	if held, err := l.Locked(ctx, "m"); err != nil || !held {
		t.Fatalf("after a refused force-unlock, Locked = %t, %v; want the holder to keep it", held, err)
	}
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	if _, err := os.Stat(filepath.Join(l.Dir, "m", lockInfoName)); err != nil {
		t.Fatalf("the killed holder's lock info: %v", err)
	}
	if err := l.ForceUnlock(ctx, "m", id); err != nil {
		t.Fatal(err)
	}
	unlock, err := l.Lock(ctx, "m", LockInfo{Operation: "destroy"}, 0)
	if err != nil {
		t.Fatalf("lock after force-unlock: %v", err)
	}
	if err := unlock(); err != nil {
		t.Fatal(err)
	}

	// In process: a held lock is refused too. And should a lock file be
	// removed under its holder anyway (by hand), the old holder's Unlock must
	// not remove the new holder's info.
	old, err := l.Lock(ctx, "n", LockInfo{Operation: "apply"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = l.Lock(ctx, "n", LockInfo{}, 0)
	if err := l.ForceUnlock(ctx, "n", lockedInfo(t, err).ID); err == nil || !strings.Contains(err.Error(), "not stuck") {
		t.Fatalf("force-unlock of a lock held in this process: %v; want a refusal", err)
	}
	if err := os.Remove(filepath.Join(l.Dir, "n", lockFileName)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(l.Dir, "n", lockInfoName)); err != nil {
		t.Fatal(err)
	}
	cur, err := l.Lock(ctx, "n", LockInfo{Operation: "cancel"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := old(); err != nil {
		t.Fatal(err)
	}
	_, err = l.Lock(ctx, "n", LockInfo{}, 0)
	if got := lockedInfo(t, err); got.Operation != "cancel" {
		t.Fatalf("after the old holder's unlock the lock shows %+v", got)
	}
	cur()
}

// TestLocalLocked: Locked sees a holder in another process and in this one, sees the lock free
// once the holder is killed (lock.info left behind), and never makes a Lock fail by looking.
func TestLocalLocked(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	if held, err := l.Locked(ctx, "m"); err != nil || held {
		t.Fatalf("Locked before any lock: %t, %v", held, err)
	}
	if _, err := os.Stat(filepath.Join(l.Dir, "m", lockFileName)); !os.IsNotExist(err) {
		t.Fatalf("Locked created the lock file (%v)", err)
	}

	holder := startHolder(t, l)
	if held, err := l.Locked(ctx, "m"); err != nil || !held {
		t.Fatalf("Locked while another process holds it: %t, %v", held, err)
	}
	// Looking took nothing: the holder still holds it.
	lockedInfo(t, func() error { _, err := l.Lock(ctx, "m", LockInfo{}, 0); return err }())
	holder.Process.Signal(syscall.SIGKILL)
	holder.Wait()
	if held, err := l.Locked(ctx, "m"); err != nil || held {
		t.Fatalf("Locked after the holder was killed: %t, %v", held, err)
	}

	unlock, err := l.Lock(ctx, "m", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := l.Locked(ctx, "m"); err != nil || !held {
		t.Fatalf("Locked while this process holds it: %t, %v", held, err)
	}
	unlock()

	// A reader looking in a loop never makes a Lock without timeout fail.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			l.Locked(ctx, "m")
		}
	}()
	for i := range 100 {
		u, err := l.Lock(ctx, "m", LockInfo{}, 0)
		if err != nil {
			close(stop)
			<-done
			t.Fatalf("Lock %d failed while a reader looked: %v", i, err)
		}
		u()
	}
	close(stop)
	<-done
}

// A reader descheduled in the middle of its probe (its shared lock on the lock
// file taken, not yet released) never makes a Lock without timeout fail: the
// Lock waits for the probe's guard instead of seeing the probe's lock as a
// holder. (CI once saw "Lock 59 failed while a reader looked" when a probe
// outlasted the old 3 × 2 ms retries.)
func TestLocalLockWaitsForStalledProbe(t *testing.T) {
	if !flockSupported {
		t.Skip("no flock on this platform")
	}
	ctx := context.Background()
	l := newLocal(t)
	unlock, err := l.Lock(ctx, "m", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	unlock()

	// What Locked does, stopped for 200 ms between taking and releasing.
	dir := l.migrationDir("m")
	g, err := probeGuard(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(dir, lockFileName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	type result struct {
		unlock func() error
		err    error
	}
	got := make(chan result, 1)
	go func() {
		u, err := l.Lock(ctx, "m", LockInfo{}, 0)
		got <- result{u, err}
	}()
	time.Sleep(200 * time.Millisecond)
	select {
	case r := <-got:
		t.Fatalf("Lock returned while a probe was under way: %v", r.err)
	default:
	}
	funlock(f)
	g.Close()
	r := <-got
	if r.err != nil {
		t.Fatalf("Lock after a stalled probe: %v", r.err)
	}
	if held, err := l.Locked(ctx, "m"); err != nil || !held {
		t.Fatalf("Locked after the Lock: %t, %v", held, err)
	}
	r.unlock()
}
