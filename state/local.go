package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// File names inside a migration's directory.
const (
	stateFileName   = "state.json"
	backupFileName  = "state.json.backup"
	journalFileName = "state.journal"
	lockFileName    = "lock"
	lockInfoName    = "lock.info"
	writeLockName   = ".write.lock"
	tempPrefix      = ".tmp-"
)

// Local is the default backend: one directory per migration under Dir,
// holding
//
//	state.json         the state (mode 0600), replaced atomically by a compacting Write
//	state.journal      what the Writes since then changed, appended (journal.go); replayed on read
//	state.json.backup  the version state.json replaced at the last compaction
//	lock               the file flock(2)ed by the holder of the migration's lock
//	lock.info          JSON LockInfo of that holder (removed by Unlock)
//	.write.lock        flock(2)ed for the few milliseconds of each Write
//
// The kernel releases a flock when the holder's process dies, so a crashed
// apply never leaves the lock stuck; lock.info may then be left behind, and is
// simply overwritten by the next holder. Locks need a local file system with
// working flock (not every NFS setup has one).
type Local struct {
	// Dir is the absolute path of the state directory.
	Dir string
}

var _ Backend = (*Local)(nil)

// NewLocal opens (creating it with mode 0700 when missing) the state directory
// dir, e.g. "<config dir>/.pgferry". An empty dir means ".pgferry".
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		dir = ".pgferry"
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("state directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("state directory %s is not a directory", abs)
	}
	return &Local{Dir: abs}, nil
}

func (l *Local) migrationDir(migration string) string { return filepath.Join(l.Dir, migration) }

// StatePath is the path of a migration's state file.
func (l *Local) StatePath(migration string) string {
	return filepath.Join(l.Dir, migration, stateFileName)
}

// Read returns the migration's state, upgraded to FormatVersion, or (nil, nil)
// when it has none.
func (l *Local) Read(ctx context.Context, migration string) (*State, error) {
	if err := checkMigrationName(migration); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.readFile(migration)
}

func (l *Local) readFile(migration string) (*State, error) {
	// A compaction between reading state.json and its journal would pair the old document with
	// no journal: read again when state.json changed meanwhile.
	for attempt := 0; ; attempt++ {
		s, fi, err := l.readOnce(migration)
		if err != nil || s == nil || attempt >= 5 {
			return s, err
		}
		if now, err := os.Stat(l.StatePath(migration)); err == nil && os.SameFile(fi, now) && fi.Size() == now.Size() && fi.ModTime().Equal(now.ModTime()) {
			return s, nil
		}
	}
}

func (l *Local) readOnce(migration string) (*State, fs.FileInfo, error) {
	path := l.StatePath(migration)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading state: %w", err)
	}
	fi, err := f.Stat()
	var data []byte
	if err == nil {
		data, err = io.ReadAll(f)
	}
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("reading state: %w", err)
	}
	s, err := decodeState("state file "+path, data)
	if err != nil {
		if errors.Is(err, ErrNewerFormat) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w\n%s", err, l.backupHint(migration))
	}
	if s.Migration != migration {
		return nil, nil, fmt.Errorf("state file %s belongs to migration %q, not %q: move it back to %s",
			path, s.Migration, migration, l.StatePath(s.Migration))
	}
	jpath := filepath.Join(l.migrationDir(migration), journalFileName)
	j, err := os.Open(jpath)
	if errors.Is(err, fs.ErrNotExist) {
		return s, fi, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading state journal: %w", err)
	}
	defer j.Close()
	if _, _, err := readJournal(s, j); err != nil {
		return nil, nil, fmt.Errorf("state journal %s: %w", jpath, err)
	}
	return s, fi, nil
}

// backupHint says how to recover from a broken state file.
func (l *Local) backupHint(migration string) string {
	path, backup := l.StatePath(migration), filepath.Join(l.migrationDir(migration), backupFileName)
	if _, err := os.Stat(backup); err == nil {
		return fmt.Sprintf("The previous version of the state is kept in %s: check it and copy it over %s to restore it.", backup, path)
	}
	return fmt.Sprintf("There is no backup (%s): repair %s by hand or restore it from your own backups.", backup, path)
}

// Write stores s atomically and durably: it bumps s.Serial above both its own
// value and the stored one, sets FormatVersion and UpdatedAt, gives s a Lineage
// when it has none, writes a temporary file in the same directory, fsyncs it,
// keeps the current file as state.json.backup, renames the new one over it and
// fsyncs the directory. A crash at any point leaves either the old or the new
// state.json, never a torn one. Write refuses to replace a state of another
// lineage (another history of the same migration name). On error s is left
// unchanged.
func (l *Local) Write(ctx context.Context, s *State) error {
	if s == nil {
		return errors.New("writing state: nil state")
	}
	if err := checkMigrationName(s.Migration); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := l.migrationDir(s.Migration)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}

	// Serialise writers of this migration (apply and a concurrent cancel) so
	// that serials stay monotonic and no write is based on a stale backup.
	wl, err := os.OpenFile(filepath.Join(dir, writeLockName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	defer wl.Close()
	if err := flockWait(wl); err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	defer funlock(wl)

	path := l.StatePath(s.Migration)
	// A broken or newer current file is not overwritten: rotating it into the
	// backup would destroy the one good copy left. The files this process wrote
	// last, unchanged since (same inode, size and mtime), are not read again:
	// apply writes a state of thousands of actions many times a second.
	stored, tr, ok := lastWritten(path, filepath.Join(dir, journalFileName))
	if !ok {
		if stored, err = l.readFile(s.Migration); err != nil {
			return fmt.Errorf("refusing to overwrite the current state: %w", err)
		}
	}
	restore, err := prepareWrite(s, stored)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// While the migration is In progress, a state this process stored last is only appended to.
	if ok && tr != nil && s.Status == StatusInProgress {
		p, fits, err := tr.diff(s)
		if err == nil && fits {
			err = l.appendJournal(dir, tr, p)
			if err == nil {
				rememberWritten(path, filepath.Join(dir, journalFileName), p.next)
				return nil
			}
		}
		if err != nil {
			restore()
			writtenFiles.Delete(path)
			return fmt.Errorf("writing %s: %w", filepath.Join(dir, journalFileName), err)
		}
	}
	size, err := l.writeAtomic(dir, path, s)
	var next *tracker
	if err == nil {
		next, err = newTracker(s, size)
	}
	if err != nil {
		restore()
		writtenFiles.Delete(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	rememberWritten(path, filepath.Join(dir, journalFileName), next)
	return nil
}

// prepareWrite sets the fields Write owns and returns a function undoing that.
func prepareWrite(s, stored *State) (restore func(), err error) {
	if stored != nil && stored.Lineage != "" && s.Lineage != "" && stored.Lineage != s.Lineage {
		return nil, fmt.Errorf("the stored state of migration %q has lineage %s, this one %s: they are different histories of the migration, refusing to replace one with the other",
			s.Migration, stored.Lineage, s.Lineage)
	}
	old := *s
	restore = func() {
		s.FormatVersion, s.Lineage, s.Serial, s.UpdatedAt = old.FormatVersion, old.Lineage, old.Serial, old.UpdatedAt
	}
	if s.Lineage == "" {
		if stored != nil && stored.Lineage != "" {
			return nil, fmt.Errorf("a state of migration %q already exists (lineage %s): read it and update it instead of writing a new one",
				s.Migration, stored.Lineage)
		}
		s.Lineage = New("").Lineage
	}
	serial := s.Serial
	if stored != nil && stored.Serial > serial {
		serial = stored.Serial
	}
	s.Serial = serial + 1
	s.FormatVersion = FormatVersion
	now := time.Now().UTC()
	s.UpdatedAt = &now
	return restore, nil
}

// writeAtomic replaces path with s encoded (a compaction): temp file, fsync, backup, rename, the
// journal removed (the new file holds it), fsync dir. It returns the size written.
func (l *Local) writeAtomic(dir, path string, s *State) (size int64, err error) {
	tmp, err := os.CreateTemp(dir, tempPrefix+stateFileName+"-*")
	if err != nil {
		return 0, err
	}
	tmpName := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err = tmp.Chmod(0o600); err != nil {
		return 0, err
	}
	cw := &countingWriter{w: tmp}
	if err = writeDocument(cw, s); err != nil {
		return 0, err
	}
	if err = tmp.Sync(); err != nil {
		return 0, err
	}
	if err = tmp.Close(); err != nil {
		return 0, err
	}
	if err = keepBackup(dir, path); err != nil {
		return 0, fmt.Errorf("keeping the previous state as a backup: %w", err)
	}
	if err = os.Rename(tmpName, path); err != nil {
		return 0, err
	}
	// A journal left now applies to the replaced document only, and readers ignore it; removing
	// it is tidiness.
	if rerr := os.Remove(filepath.Join(dir, journalFileName)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		return 0, rerr
	}
	return cw.n, syncDir(dir)
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// keepBackup makes state.json.backup the current state.json (when there is
// one) without ever leaving state.json missing: it hard-links the current file
// to a temporary name and renames that over the backup, copying when the file
// system has no hard links.
func keepBackup(dir, path string) error {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	backup := filepath.Join(dir, backupFileName)
	tmpName := filepath.Join(dir, tempPrefix+backupFileName+"-"+New("").Lineage)
	if err := os.Link(path, tmpName); err != nil {
		data, rerr := os.ReadFile(path)
		if rerr != nil {
			return rerr
		}
		if werr := writeFileSync(tmpName, data); werr != nil {
			os.Remove(tmpName)
			return werr
		}
	}
	if err := os.Rename(tmpName, backup); err != nil {
		os.Remove(tmpName)
		return err
	}
	return nil
}

func writeFileSync(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes renames in dir durable. Some platforms cannot fsync a
// directory; they are tolerated, the rename itself stays atomic.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// List returns the state of every migration in Dir, sorted by migration name.
// Directories without a state file are skipped; a broken state file is an
// error.
func (l *Local) List(ctx context.Context) ([]*State, error) {
	entries, err := os.ReadDir(l.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing states: %w", err)
	}
	var out []*State
	for _, e := range entries {
		if !e.IsDir() || checkMigrationName(e.Name()) != nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s, err := l.readFile(e.Name())
		if err != nil {
			return nil, err
		}
		if s != nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Migration < out[j].Migration })
	return out, nil
}

// Lock takes the migration's lock: an exclusive flock(2) on its lock file,
// held through an open descriptor until Unlock (or until the process dies),
// and a lock.info file describing the holder. With timeout > 0 it retries
// every LockPollInterval until the lock is free, timeout passes (*LockedError)
// or ctx is done. A second Lock of the same migration conflicts even within
// one process, since every Lock opens its own descriptor. Fields of info left
// empty are filled (ID, Who, Created, Path).
//
// Descriptors are opened close-on-exec, so child processes (pg_dump) never
// inherit the lock and keep it alive after pgferry dies.
func (l *Local) Lock(ctx context.Context, migration string, info LockInfo, timeout time.Duration) (func() error, error) {
	if err := checkMigrationName(migration); err != nil {
		return nil, err
	}
	if !flockSupported {
		_, err := tryFlock(nil)
		return nil, err
	}
	dir := l.migrationDir(migration)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("locking state: %w", err)
	}
	info = info.complete(l.StatePath(migration))
	lockPath := filepath.Join(dir, lockFileName)

	var held *os.File
	try := func(context.Context) (bool, error) {
		g, err := probeGuard(dir, false)
		if err != nil {
			return false, fmt.Errorf("locking state: %w", err)
		}
		f, err := lockFile(lockPath)
		g.Close()
		if err != nil {
			return false, fmt.Errorf("locking state: %w", err)
		}
		held = f
		return f != nil, nil
	}
	holder := func(context.Context) LockInfo {
		// The holder writes its info right after taking the lock: give a
		// brand-new holder a moment rather than report no info at all.
		for range 5 {
			if hi, err := l.readLockInfo(migration); err == nil && hi != nil {
				return *hi
			}
			time.Sleep(20 * time.Millisecond)
		}
		return LockInfo{Path: l.StatePath(migration)}
	}
	if err := acquire(ctx, migration, timeout, try, holder); err != nil {
		return nil, err
	}

	infoPath := filepath.Join(dir, lockInfoName)
	data, err := json.MarshalIndent(info, "", "  ")
	if err == nil {
		err = writeInfo(dir, infoPath, append(data, '\n'))
	}
	if err != nil {
		funlock(held)
		held.Close()
		return nil, fmt.Errorf("writing lock info %s: %w", infoPath, err)
	}

	var once sync.Once
	var unlockErr error
	unlock := func() error {
		once.Do(func() {
			// Remove the info only if it is still ours: after a force-unlock
			// it describes the new holder.
			if cur, err := l.readLockInfo(migration); err == nil && cur != nil && cur.ID == info.ID {
				if err := os.Remove(infoPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
					unlockErr = fmt.Errorf("removing lock info: %w", err)
				}
			}
			if err := funlock(held); err != nil && unlockErr == nil {
				unlockErr = fmt.Errorf("unlocking state: %w", err)
			}
			if err := held.Close(); err != nil && unlockErr == nil {
				unlockErr = fmt.Errorf("unlocking state: %w", err)
			}
		})
		return unlockErr
	}
	return unlock, nil
}

// Locked reports whether an operation holds the migration's lock: whether
// another open file description holds a flock on its lock file. It probes with
// a shared lock released at once (see heldByOther), under the directory's
// exclusive probeGuard so that no Lock tries meanwhile; the file is not
// created when missing (nobody ever locked the migration).
func (l *Local) Locked(ctx context.Context, migration string) (bool, error) {
	if err := checkMigrationName(migration); err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	dir := l.migrationDir(migration)
	f, err := os.Open(filepath.Join(dir, lockFileName))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking the state lock: %w", err)
	}
	defer f.Close()
	g, err := probeGuard(dir, true)
	if err != nil {
		return false, fmt.Errorf("checking the state lock: %w", err)
	}
	defer g.Close()
	held, err := heldByOther(f)
	if err != nil {
		return false, fmt.Errorf("checking the state lock: %w", err)
	}
	return held, nil
}

// lockFile opens path and flocks it, returning nil when someone else holds it.
// Since ForceUnlock unlinks the lock file, the file locked may no longer be the
// one at path; then it retries on the new file, which is what "unlinking
// breaks the lock" relies on.
func lockFile(path string) (*os.File, error) {
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		ok, err := tryFlock(f)
		if err != nil || !ok {
			f.Close()
			return nil, err
		}
		if same, err := isSameFile(f, path); err != nil || !same {
			funlock(f)
			f.Close()
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			continue
		}
		return f, nil
	}
	return nil, fmt.Errorf("lock file %s keeps being replaced", path)
}

func isSameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// writeInfo writes lock info atomically, so readers never see half of it.
func writeInfo(dir, path string, data []byte) error {
	tmp := filepath.Join(dir, tempPrefix+lockInfoName+"-"+New("").Lineage)
	if err := writeFileSync(tmp, data); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// readLockInfo returns the recorded holder of the migration's lock, or nil.
// The record may be stale (a holder killed with SIGKILL leaves it behind).
func (l *Local) readLockInfo(migration string) (*LockInfo, error) {
	path := filepath.Join(l.migrationDir(migration), lockInfoName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var info LockInfo
	if err := json.Unmarshal(data, &info); err != nil {
		return nil, fmt.Errorf("lock info %s: %s", path, jsonErrorDetail(data, err))
	}
	return &info, nil
}

// ForceUnlock removes the migration's lock if its recorded ID is id and no
// live process holds its flock: what is left of a holder that died (lock.info;
// the kernel already freed its flock). A lock whose flock is held belongs to a
// running process and is refused (wait, cancel, or stop that process), since
// the holder would go on writing the state and the target beside the next
// holder. It unlinks the lock file (and removes lock.info), so the next Lock
// creates a new file, a fresh inode; Lock checks after flocking that the file
// it holds is still the one at the path, so it never trusts a lock on an
// unlinked file.
func (l *Local) ForceUnlock(ctx context.Context, migration, id string) error {
	if err := checkMigrationName(migration); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	info, err := l.readLockInfo(migration)
	if err != nil {
		return fmt.Errorf("force-unlock: %w", err)
	}
	if info == nil {
		return fmt.Errorf("force-unlock: migration %q has no lock info: it is not locked (or its holder has not recorded itself yet)", migration)
	}
	if strings.TrimSpace(id) != info.ID {
		return fmt.Errorf("force-unlock: lock ID %q does not match the lock of migration %q, whose ID is %s", id, migration, info.ID)
	}
	// A kernel lock still held means its process is alive: that lock is not
	// stuck (the kernel frees it when the process dies), and unlinking it would
	// let a second apply or destroy write the same state and target while the
	// first one runs on, unaware, as Terraform's local backend also refuses.
	if held, err := l.Locked(ctx, migration); err != nil {
		return fmt.Errorf("force-unlock: %w", err)
	} else if held {
		return fmt.Errorf("force-unlock: lock %s of migration %q is held by a running pgferry %s (%s, since %s), not stuck: "+
			"the local backend frees a lock when its process ends, however it ends. Wait for it to finish, "+
			"stop it with `pgferry cancel`, or stop that process; then no unlock is needed",
			info.ID, migration, info.Operation, info.Who, info.Created.UTC().Format("2006-01-02 15:04:05 UTC"))
	}
	dir := l.migrationDir(migration)
	if err := os.Remove(filepath.Join(dir, lockFileName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("force-unlock: %w", err)
	}
	if err := os.Remove(filepath.Join(dir, lockInfoName)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("force-unlock: %w", err)
	}
	return syncDir(dir)
}

// Close does nothing: locks are released by their Unlock functions.
func (l *Local) Close() error { return nil }
