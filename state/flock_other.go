//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package state

import (
	"errors"
	"os"
)

// flockSupported reports whether this platform has kernel file locks. Without
// them the local backend cannot guarantee that a dead holder frees its lock,
// so it refuses to lock rather than pretend.
const flockSupported = false

var errNoFlock = errors.New("the local state backend needs flock(2), which this platform lacks; use the pg backend")

func tryFlock(*os.File) (bool, error)    { return false, errNoFlock }
func heldByOther(*os.File) (bool, error) { return false, errNoFlock }

// flockWait and funlock serialise writers within one machine where flock exists;
// without it writes stay atomic (rename) but concurrent writers are not ordered.
func flockWait(*os.File) error { return nil }
func funlock(*os.File) error   { return nil }

// probeGuard has nothing to guard without flock: Lock refuses to lock at all.
func probeGuard(dir string, exclusive bool) (*os.File, error) { return os.Open(dir) }
