package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgBinDir finds the PostgreSQL server binaries: $PGFERRY_PG_BIN, or the newest
// Debian-style /usr/lib/postgresql/N/bin.
func pgBinDir() string {
	if d := os.Getenv("PGFERRY_PG_BIN"); d != "" {
		return d
	}
	for v := 18; v >= 12; v-- {
		d := fmt.Sprintf("/usr/lib/postgresql/%d/bin", v)
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

// startPG starts a throwaway cluster for this test and returns a DSN for its
// postgres database. It skips without PostgreSQL binaries unless $CI is set.
// initdb and pg_ctl refuse to run as root, so as root they run as postgres.
func startPG(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL server: not in the -short tier")
	}
	bin := pgBinDir()
	if bin == "" {
		if os.Getenv("CI") == "" {
			t.Skip("PostgreSQL server binaries not found (set PGFERRY_PG_BIN)")
		}
		t.Fatal("PostgreSQL server binaries not found under CI (set PGFERRY_PG_BIN)")
	}
	dir, err := os.MkdirTemp("", "pgferry-state-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	asPostgres := os.Geteuid() == 0
	if asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	run := func(name string, args ...string) error {
		path := filepath.Join(bin, name)
		if asPostgres {
			args = append([]string{"-u", "postgres", "--", path}, args...)
			path = "runuser"
		}
		cmd := exec.Command(path, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-N"); err != nil {
		t.Fatal(err)
	}
	port := closedPort(t)
	opts := fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir)
	if err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		t.Fatalf("%v\n%s", err, log)
	}
	t.Cleanup(func() {
		if err := run("pg_ctl", "-D", data, "-m", "fast", "-w", "stop"); err != nil {
			t.Log(err)
		}
	})
	return fmt.Sprintf("host=127.0.0.1 port=%s user=postgres dbname=postgres sslmode=disable", port)
}

func TestPG(t *testing.T) {
	dsn := startPG(t)
	ctx := context.Background()
	newPG := func(t *testing.T, schema string) *PG {
		t.Helper()
		p, err := NewPG(ctx, dsn, schema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}

	t.Run("ConcurrentNewPG", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 12)
		for i := range errs {
			wg.Go(func() {
				p, err := NewPG(ctx, dsn, "concurrent")
				if err == nil {
					err = p.Close()
				}
				errs[i] = err
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		// A second run on existing tables is a no-op.
		newPG(t, "concurrent")
	})

	t.Run("WriteRead", func(t *testing.T) {
		p := newPG(t, "rw")
		if s, err := p.Read(ctx, "m"); s != nil || err != nil {
			t.Fatalf("Read of a missing state = %v, %v", s, err)
		}
		s := New("m")
		s.Status = StatusInProgress
		s.Databases = []string{"app", "billing"}
		s.Upsert(&Action{Address: `database.app.table["public"."orders"]`, Status: ActionApplied, Rows: 42})
		s.Created = []Change{{Type: "role", Name: "app", Op: "created", At: time.Now().UTC().Truncate(time.Microsecond)}}
		if err := p.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
		if s.Serial != 1 {
			t.Fatalf("serial %d", s.Serial)
		}
		got, err := p.Read(ctx, "m")
		if err != nil {
			t.Fatal(err)
		}
		want := s.Clone()
		if !got.UpdatedAt.Equal(*want.UpdatedAt) || !got.Created[0].At.Equal(want.Created[0].At) {
			t.Fatalf("times differ: %v %v", got.UpdatedAt, want.UpdatedAt)
		}
		got.UpdatedAt, got.Created[0].At = want.UpdatedAt, want.Created[0].At
		if !reflect.DeepEqual(got, want) || got.Action(`database.app.table["public"."orders"]`).Rows != 42 {
			t.Fatalf("read back differs:\n got %+v\nwant %+v", got, want)
		}

		s.Status = StatusSucceeded
		if err := p.Write(ctx, s); err != nil {
			t.Fatal(err)
		}
		stale := s.Clone()
		stale.Serial = 1
		if err := p.Write(ctx, stale); err != nil {
			t.Fatal(err)
		}
		if s.Serial != 2 || stale.Serial != 3 {
			t.Fatalf("serials %d, %d; want 2, 3", s.Serial, stale.Serial)
		}
		var serial int64
		var backupStatus Status
		err = p.conn.QueryRow(ctx, "SELECT serial, backup->>'status' FROM rw.states WHERE migration = 'm'").Scan(&serial, &backupStatus)
		if err != nil || serial != 3 || backupStatus != StatusSucceeded {
			t.Fatalf("row serial %d backup status %q: %v", serial, backupStatus, err)
		}

		if err := p.Write(ctx, New("m")); err == nil || !strings.Contains(err.Error(), "lineage") {
			t.Fatalf("Write of another lineage: %v", err)
		}
		if err := p.Write(ctx, New("n")); err != nil {
			t.Fatal(err)
		}
		list, err := p.List(ctx)
		if err != nil || len(list) != 2 || list[0].Migration != "m" || list[1].Migration != "n" {
			t.Fatalf("List = %v, %v", list, err)
		}

		// Newer formats are refused, on read and on write.
		if _, err := p.conn.Exec(ctx, `UPDATE rw.states SET data = jsonb_set(data, '{format_version}', '99') WHERE migration = 'n'`); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Read(ctx, "n"); !errors.Is(err, ErrNewerFormat) {
			t.Fatalf("Read of a newer state: %v", err)
		}
		if err := p.Write(ctx, New("n")); !errors.Is(err, ErrNewerFormat) {
			t.Fatalf("Write over a newer state: %v", err)
		}

		// Concurrent writers (several hosts) get distinct serials.
		base := New("c")
		if err := p.Write(ctx, base); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			q := newPG(t, "rw")
			wg.Go(func() {
				for range 5 {
					if err := q.Write(ctx, base.Clone()); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if got, err := p.Read(ctx, "c"); err != nil || got.Serial != 21 {
			t.Fatalf("after 20 concurrent writes serial %v: %v", got, err)
		}
	})

	t.Run("Reconnect", func(t *testing.T) {
		p := newPG(t, "reconnect")
		if err := p.Write(ctx, New("m")); err != nil {
			t.Fatal(err)
		}
		admin := newPG(t, "reconnect")
		if _, err := admin.conn.Exec(ctx, "SELECT pg_terminate_backend($1)", p.conn.PgConn().PID()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if s, err := p.Read(ctx, "m"); err != nil || s == nil {
			t.Fatalf("Read after the connection was killed: %v, %v", s, err)
		}
	})

	t.Run("Lock", func(t *testing.T) {
		a, b := newPG(t, "locks"), newPG(t, "locks")
		unlock, err := a.Lock(ctx, "m", LockInfo{Operation: "apply", Version: "9.9"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		// Another backend (another host) and the same backend both conflict.
		for _, p := range []*PG{b, a} {
			_, err = p.Lock(ctx, "m", LockInfo{Operation: "destroy"}, 0)
			info := lockedInfo(t, err)
			if info.Operation != "apply" || info.Version != "9.9" || info.ID == "" ||
				!strings.Contains(info.Path, "locks.states/m") || info.Created.IsZero() {
				t.Fatalf("lock info %+v", info)
			}
		}
		// Other migrations, and the same name in another schema, are free.
		u, err := b.Lock(ctx, "other", LockInfo{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		u()
		c := newPG(t, "locks2")
		u, err = c.Lock(ctx, "m", LockInfo{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		u()

		// Waiting, then succeeding when the holder releases.
		go func() {
			time.Sleep(500 * time.Millisecond)
			if err := unlock(); err != nil {
				t.Error(err)
			}
		}()
		start := time.Now()
		unlock2, err := b.Lock(ctx, "m", LockInfo{Operation: "cancel"}, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 400*time.Millisecond {
			t.Fatalf("acquired after %v, before the holder released", d)
		}
		start = time.Now()
		_, err = a.Lock(ctx, "m", LockInfo{}, 300*time.Millisecond)
		if lockedInfo(t, err).Operation != "cancel" || time.Since(start) < 300*time.Millisecond {
			t.Fatalf("timed lock: %v after %v", err, time.Since(start))
		}
		if err := unlock2(); err != nil {
			t.Fatal(err)
		}
		var n int
		a.conn.QueryRow(ctx, "SELECT count(*) FROM locks.locks").Scan(&n)
		if n != 0 {
			t.Fatalf("%d lock records left after unlock", n)
		}
	})

	t.Run("HolderDies", func(t *testing.T) {
		a, b := newPG(t, "dies"), newPG(t, "dies")
		// The holder's unlock is kept reachable until its session is ended below: a lock
		// connection nothing refers to may be garbage collected, and its socket's finalizer
		// closes it, releasing the lock early (as happened once in CI).
		holding, err := a.Lock(ctx, "m", LockInfo{Operation: "apply"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Lock(ctx, "m", LockInfo{}, 0)
		lockedInfo(t, err)
		// Locked sees the holder, from either backend, and takes nothing from it.
		for _, p := range []*PG{a, b} {
			if held, err := p.Locked(ctx, "m"); err != nil || !held {
				t.Fatalf("Locked while held: %t, %v", held, err)
			}
		}
		if held, err := b.Locked(ctx, "other"); err != nil || held {
			t.Fatalf("Locked of a free migration: %t, %v", held, err)
		}
		// The holder's session ends (as when its process dies).
		var pid int32
		err = b.conn.QueryRow(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgferry lock m'").Scan(&pid)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.conn.Exec(ctx, "SELECT pg_terminate_backend($1)", pid); err != nil {
			t.Fatal(err)
		}
		runtime.KeepAlive(holding)
		// The lock is free though its record is left: Locked says so.
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			held, err := b.Locked(ctx, "m")
			if err != nil {
				t.Fatal(err)
			}
			if !held {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("Locked still true 5s after the holder's session ended")
			}
		}
		// The record left behind is stale and replaced.
		unlock, err := b.Lock(ctx, "m", LockInfo{Operation: "destroy"}, 5*time.Second)
		if err != nil {
			t.Fatalf("lock after the holder's session ended: %v", err)
		}
		_, err = a.Lock(ctx, "m", LockInfo{}, 0)
		if got := lockedInfo(t, err); got.Operation != "destroy" {
			t.Fatalf("stale record shown: %+v", got)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}

		// A stale record is not shown as the holder of a lock taken outside
		// pgferry's Lock (here: a bare session holding the advisory lock).
		if _, err := a.conn.Exec(ctx, `INSERT INTO dies.locks VALUES ('m', '{"id":"ghost","operation":"apply"}', 1)`); err != nil {
			t.Fatal(err)
		}
		k1, k2 := a.lockKey("m")
		bare, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer bare.Close(ctx)
		if _, err := bare.Exec(ctx, "SELECT pg_advisory_lock($1, $2)", k1, k2); err != nil {
			t.Fatal(err)
		}
		_, err = a.Lock(ctx, "m", LockInfo{}, 0)
		info := lockedInfo(t, err)
		if info.ID == "ghost" || !strings.Contains(info.Who, fmt.Sprint(bare.PgConn().PID())) {
			t.Fatalf("stale record taken for the holder: %+v", info)
		}
		if err := a.ForceUnlock(ctx, "m", "ghost"); err == nil || !strings.Contains(err.Error(), "stale") {
			t.Fatalf("force-unlock of a stale record: %v", err)
		}
	})

	t.Run("ForceUnlock", func(t *testing.T) {
		a, b := newPG(t, "force"), newPG(t, "force")
		if err := b.ForceUnlock(ctx, "m", "x"); err == nil || !strings.Contains(err.Error(), "not locked") {
			t.Fatalf("force-unlock of an unlocked migration: %v", err)
		}
		oldUnlock, err := a.Lock(ctx, "m", LockInfo{Operation: "apply"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Lock(ctx, "m", LockInfo{}, 0)
		id := lockedInfo(t, err).ID
		if err := b.ForceUnlock(ctx, "m", "wrong"); err == nil || !strings.Contains(err.Error(), id) {
			t.Fatalf("force-unlock with a wrong ID: %v", err)
		}
		if err := b.ForceUnlock(ctx, "m", id); err != nil {
			t.Fatal(err)
		}
		unlock, err := b.Lock(ctx, "m", LockInfo{Operation: "destroy"}, 0)
		if err != nil {
			t.Fatalf("lock after force-unlock: %v", err)
		}
		// The old holder learns that its lock was lost, and leaves the new
		// holder's record alone.
		if err := oldUnlock(); err == nil || !strings.Contains(err.Error(), "lost") {
			t.Fatalf("old holder's unlock: %v", err)
		}
		_, err = a.Lock(ctx, "m", LockInfo{}, 0)
		if got := lockedInfo(t, err); got.Operation != "destroy" {
			t.Fatalf("lock shows %+v", got)
		}
		if err := unlock(); err != nil {
			t.Fatal(err)
		}
		// A record left by a dead holder is simply removed.
		if _, err := a.conn.Exec(ctx, `INSERT INTO force.locks VALUES ('m', '{"id":"dead"}', 1)`); err != nil {
			t.Fatal(err)
		}
		if err := a.ForceUnlock(ctx, "m", "dead"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ErrorsHidePassword", func(t *testing.T) {
		// Trust authentication ignores the password, so the session works
		// and errors come from the server and from pgx.
		p := newPG(t, "pw")
		p2, err := NewPG(ctx, dsn+" password=Hunter2-secret", "pw")
		if err != nil {
			t.Fatal(err)
		}
		defer p2.Close()
		p.conn.Exec(ctx, "DROP TABLE pw.states")
		_, err = p2.Read(ctx, "m")
		if err == nil || strings.Contains(err.Error(), "Hunter2") {
			t.Fatalf("Read error: %v", err)
		}
	})
}
