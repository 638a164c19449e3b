//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package state

import (
	"errors"
	"github.com/pgferry/pgferry/internal/flock"
	"os"
	"syscall"
)

// flockSupported reports whether this platform has kernel file locks.
const flockSupported = true

// tryFlock takes an exclusive flock(2) on f without blocking (flock.TryLock).
func tryFlock(f *os.File) (bool, error) { return flock.TryLock(f) }

// heldByOther reports whether another open file description holds a flock(2)
// on f's file. It probes with a shared lock, released at once: a reader (show,
// list) never keeps the lock from its holder. Callers hold probeGuard
// (exclusive) around it, so a would-be holder never sees the probe's lock.
func heldByOther(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		switch {
		case err == nil:
			return false, funlock(f)
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EAGAIN):
			return true, nil
		default:
			return false, &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
	}
}

// flockWait takes an exclusive flock(2) on f, waiting as long as needed.
func flockWait(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		return nil
	}
}

// probeGuard takes a flock(2) on the migration's directory, shared for a
// would-be holder's try (Local.Lock) and exclusive for a reader's probe
// (Local.Locked), waiting as long as needed: either holds it for microseconds.
// So a probe's shared lock on the lock file is never there while a holder
// tries it, however long the prober is descheduled, and a failed try always
// means a real holder. Close the returned file to release it.
func probeGuard(dir string, exclusive bool) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			f.Close()
			return nil, &os.PathError{Op: "flock", Path: dir, Err: err}
		}
		return f, nil
	}
}

// funlock releases a flock(2) taken on f.
func funlock(f *os.File) error {
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_UN); err != nil {
		return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
	}
	return nil
}
