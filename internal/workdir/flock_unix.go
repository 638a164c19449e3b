//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package workdir

import (
	"errors"
	"github.com/pgferry/pgferry/internal/flock"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// lock takes an exclusive flock(2) on f, which its open file description keeps until closed or
// until the process dies.
func lock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		return nil
	}
}

// tryLock reports whether f's file is locked by nobody, taking the lock (kept until f is closed).
func tryLock(f *os.File) (bool, error) { return flock.TryLock(f) }

// isNew reports whether a directory was made in the last minute.
func isNew(fi fs.FileInfo) bool { return time.Since(fi.ModTime()) < time.Minute }
