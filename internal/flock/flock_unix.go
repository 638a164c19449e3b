//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

// Package flock takes flock(2) locks without blocking, for the local state backend's lock and the
// per-process work directories: a lock that the kernel drops when its holder dies.
package flock

import (
	"errors"
	"os"
	"syscall"
)

// TryLock takes an exclusive flock(2) on f without blocking; it reports false when another open
// file description holds a lock on the same file. flock locks belong to the open file
// description, so two opens of the same file conflict even within one process, and the kernel
// drops the lock when the last descriptor closes, which includes the death of the process.
func TryLock(f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EWOULDBLOCK), errors.Is(err, syscall.EAGAIN):
			return false, nil
		default:
			return false, &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
	}
}
