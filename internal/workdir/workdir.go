package workdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Prefix starts the name of every work directory.
const Prefix = "pgferry-run-"

const ownerName = "owner"

// Dir is a process's work directory.
type Dir struct {
	// Path is the directory's absolute path.
	Path  string
	owner *os.File
}

// New creates a work directory under parent ("" means os.TempDir()) and locks it as this
// process's. Remove removes it.
func New(parent string) (*Dir, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	path, err := os.MkdirTemp(parent, Prefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("creating a directory for temporary files: %w", err)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	// Opened close-on-exec (as os.OpenFile does): pg_dump and pg_restore never inherit the lock
	// and keep it alive after pgferry dies.
	f, err := os.OpenFile(filepath.Join(path, ownerName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		err = lock(f)
		if err != nil {
			f.Close()
		}
	}
	if err != nil {
		os.RemoveAll(path)
		return nil, fmt.Errorf("creating a directory for temporary files: %w", err)
	}
	return &Dir{Path: path, owner: f}, nil
}

// Remove removes the directory and everything in it, and releases it.
func (d *Dir) Remove() error {
	if d == nil {
		return nil
	}
	err := os.RemoveAll(d.Path)
	if d.owner != nil {
		d.owner.Close()
		d.owner = nil
	}
	return err
}

// Sweep removes the work directories under parent ("" means os.TempDir()) whose process ended
// without removing them, and returns their paths. A directory whose owner is alive, or that this
// user may not remove, is left alone; errors are returned only for what could not be removed.
func Sweep(parent string) (removed []string, err error) {
	if parent == "" {
		parent = os.TempDir()
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), Prefix) {
			continue
		}
		path := filepath.Join(parent, e.Name())
		if !abandoned(path) {
			continue
		}
		if err := os.RemoveAll(path); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, path)
	}
	return removed, errors.Join(errs...)
}

// abandoned reports whether the work directory at path belongs to no live process: its owner file
// can be locked (its owner died), or it has none (its owner died between creating the directory
// and the file, or the directory is not pgferry's own kind).
func abandoned(path string) bool {
	f, err := os.OpenFile(filepath.Join(path, ownerName), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		// Give a brand-new directory the moment its process needs to create its owner file.
		fi, serr := os.Stat(path)
		return serr == nil && !isNew(fi)
	}
	if err != nil {
		return false // not ours to judge (another user's, say)
	}
	defer f.Close()
	free, err := tryLock(f)
	return err == nil && free
}
