package state

// The PG backend's locks: a session-level advisory lock per migration, held on a dedicated
// connection, and its holder's LockInfo in the locks table (see PG).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// advisoryKey derives the two int4 keys of an advisory lock from a 64-bit
// FNV-1a hash of "pgferry" and parts, so that every (schema, migration) pair
// has its own lock and pgferry's keys are unlikely to meet an application's.
func advisoryKey(parts ...string) (int32, int32) {
	h := fnv.New64a()
	h.Write([]byte("pgferry"))
	for _, part := range parts {
		h.Write([]byte{0})
		h.Write([]byte(part))
	}
	v := h.Sum64()
	return int32(uint32(v >> 32)), int32(uint32(v))
}

func (p *PG) lockKey(migration string) (int32, int32) {
	return advisoryKey("lock", p.Schema, migration)
}

// holderQuery finds the session holding an advisory lock taken with the
// two-int4 form: pg_locks shows the keys as classid and objid (as unsigned
// oids) with objsubid 2, in the current database.
const holderQuery = `SELECT l.pid, COALESCE(a.usename::text, ''), COALESCE(host(a.client_addr), ''), a.backend_start
FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::text::bigint = $1 AND l.objid::text::bigint = $2
LIMIT 1`

type lockHolder struct {
	pid     int32
	user    string
	client  string
	started *time.Time
}

func (p *PG) findHolder(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, migration string) (*lockHolder, error) {
	k1, k2 := p.lockKey(migration)
	var h lockHolder
	err := q.QueryRow(ctx, holderQuery, int64(uint32(k1)), int64(uint32(k2))).Scan(&h.pid, &h.user, &h.client, &h.started)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// Lock takes the migration's advisory lock on a new dedicated connection and
// records info in the locks table (replacing any record left by a dead
// holder). With timeout > 0 it retries every LockPollInterval until it gets
// the lock, timeout passes (*LockedError) or ctx is done. Fields of info left
// empty are filled (ID, Who, Created, Path). Unlock deletes the record,
// releases the lock and closes the connection.
func (p *PG) Lock(ctx context.Context, migration string, info LockInfo, timeout time.Duration) (func() error, error) {
	if err := checkMigrationName(migration); err != nil {
		return nil, err
	}
	info = info.complete(fmt.Sprintf("%s/%s.states/%s", p.where, p.Schema, migration))
	conn, err := p.connect(ctx, "lock "+migration)
	if err != nil {
		return nil, err
	}
	// A server-side idle timeout would end the idle lock session, and the lock
	// with it, in the middle of a long apply.
	if _, err := conn.Exec(ctx, `SELECT set_config('idle_session_timeout', '0', false)
		WHERE current_setting('server_version_num')::int >= 140000`); err != nil {
		conn.Close(context.Background())
		return nil, p.fail("locking state of migration %q", err, migration)
	}
	k1, k2 := p.lockKey(migration)
	try := func(ctx context.Context) (bool, error) {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", k1, k2).Scan(&ok); err != nil {
			return false, p.fail("locking state of migration %q", err, migration)
		}
		return ok, nil
	}
	holder := func(ctx context.Context) LockInfo {
		hi, err := p.currentHolder(ctx, conn, migration)
		if err != nil || hi == nil {
			return LockInfo{Path: info.Path}
		}
		return *hi
	}
	if err := acquire(ctx, migration, timeout, try, holder); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	data, err := json.Marshal(info)
	if err == nil {
		_, err = conn.Exec(ctx, "INSERT INTO "+p.table("locks")+" (migration, info, pid) VALUES ($1, $2::jsonb, pg_backend_pid())"+
			" ON CONFLICT (migration) DO UPDATE SET info = EXCLUDED.info, pid = EXCLUDED.pid", migration, string(data))
	}
	if err != nil {
		conn.Close(context.Background()) // ends the session, so releases the lock
		return nil, p.fail("recording the lock of migration %q", err, migration)
	}

	var once sync.Once
	var unlockErr error
	unlock := func() error {
		once.Do(func() { unlockErr = p.unlock(conn, migration, info.ID, k1, k2) })
		return unlockErr
	}
	return unlock, nil
}

func (p *PG) unlock(conn *pgx.Conn, migration, id string, k1, k2 int32) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	defer conn.Close(ctx)
	deleteInfo := "DELETE FROM " + p.table("locks") + " WHERE migration = $1 AND info->>'id' = $2"
	_, err := conn.Exec(ctx, deleteInfo, migration, id)
	var released bool
	if err == nil {
		err = conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1, $2)", k1, k2).Scan(&released)
	}
	if err != nil {
		// The session is gone, and the lock with it; remove our record
		// through the state connection.
		p.withConn(ctx, func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, deleteInfo, migration, id)
			return err
		})
		return p.fail("unlocking state of migration %q: the lock's connection was lost (force-unlocked, or the connection or server failed), so the lock had already been released", err, migration)
	}
	if !released {
		return fmt.Errorf("unlocking state of migration %q: the lock was not held", migration)
	}
	return nil
}

// currentHolder describes the session holding the migration's lock, or nil
// when nobody holds it. A record in the locks table counts only when its pid
// is the holder's; otherwise it was left by a dead holder, and the holder is
// described from pg_stat_activity.
func (p *PG) currentHolder(ctx context.Context, conn *pgx.Conn, migration string) (*LockInfo, error) {
	h, err := p.findHolder(ctx, conn, migration)
	if err != nil || h == nil {
		return nil, err
	}
	var data string
	var pid *int32
	err = conn.QueryRow(ctx, "SELECT info::text, pid FROM "+p.table("locks")+" WHERE migration = $1", migration).Scan(&data, &pid)
	if err == nil && pid != nil && *pid == h.pid {
		var info LockInfo
		if json.Unmarshal([]byte(data), &info) == nil {
			return &info, nil
		}
	}
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return nil, err
	}
	who := fmt.Sprintf("PostgreSQL session pid %d", h.pid)
	if h.user != "" {
		who = fmt.Sprintf("%s@%s (pid %d, no lock info recorded)", h.user, h.client, h.pid)
	}
	info := LockInfo{Who: who, Path: fmt.Sprintf("%s/%s.states/%s", p.where, p.Schema, migration)}
	return &info, nil
}

// Locked reports whether a session holds the migration's advisory lock, as
// pg_locks shows it: a look that takes nothing.
func (p *PG) Locked(ctx context.Context, migration string) (bool, error) {
	if err := checkMigrationName(migration); err != nil {
		return false, err
	}
	var held bool
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		h, err := p.findHolder(ctx, c, migration)
		held = h != nil
		return err
	})
	if err != nil {
		return false, p.fail("checking the lock of migration %q", err, migration)
	}
	return held, nil
}

// ForceUnlock breaks the migration's lock if its recorded ID is id. An
// advisory lock can only be released by the session holding it, so
// ForceUnlock terminates that session with pg_terminate_backend (found in
// pg_locks by the lock's keys), waits until the server has released the lock,
// and deletes the record. The holder, if still running, sees its connection
// fail; its Unlock then reports the lock as lost. Terminating another role's
// session needs membership in pg_signal_backend (or superuser). A record left
// by a dead holder is simply deleted.
func (p *PG) ForceUnlock(ctx context.Context, migration, id string) error {
	if err := checkMigrationName(migration); err != nil {
		return err
	}
	var userErr error
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		userErr = nil
		var data string
		var pid *int32
		err := c.QueryRow(ctx, "SELECT info::text, pid FROM "+p.table("locks")+" WHERE migration = $1", migration).Scan(&data, &pid)
		h, herr := p.findHolder(ctx, c, migration)
		if herr != nil {
			return herr
		}
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if h != nil {
				userErr = fmt.Errorf("force-unlock: migration %q is locked by PostgreSQL session pid %d, which recorded no lock info (so no lock ID matches); terminate that session to free the lock", migration, h.pid)
			} else {
				userErr = fmt.Errorf("force-unlock: migration %q is not locked", migration)
			}
			return nil
		case err != nil:
			return err
		}
		var info LockInfo
		if err := json.Unmarshal([]byte(data), &info); err != nil {
			return fmt.Errorf("lock record of migration %q: %w", migration, err)
		}
		if info.ID != id {
			userErr = fmt.Errorf("force-unlock: lock ID %q does not match the lock of migration %q, whose ID is %s", id, migration, info.ID)
			return nil
		}
		if h != nil && (pid == nil || *pid != h.pid) {
			userErr = fmt.Errorf("force-unlock: lock %s of migration %q is stale: the lock is now held by PostgreSQL session pid %d, which recorded no lock info yet; retry", id, migration, h.pid)
			return nil
		}
		if h != nil {
			if _, err := c.Exec(ctx, "SELECT pg_terminate_backend($1)", h.pid); err != nil {
				var pge *pgconn.PgError
				if errors.As(err, &pge) && pge.Code == "42501" {
					userErr = fmt.Errorf("force-unlock: not allowed to terminate the session holding the lock (pid %d): grant pg_signal_backend to the state backend's role, or ask an administrator to run SELECT pg_terminate_backend(%d): %w", h.pid, h.pid, err)
					return nil
				}
				return err
			}
			if err := p.waitReleased(ctx, c, migration); err != nil {
				return err
			}
		}
		_, err = c.Exec(ctx, "DELETE FROM "+p.table("locks")+" WHERE migration = $1 AND info->>'id' = $2", migration, id)
		return err
	})
	if err != nil {
		return p.fail("force-unlock of migration %q", err, migration)
	}
	return userErr
}

// waitReleased waits (up to 10s) until the migration's lock is no longer held.
func (p *PG) waitReleased(ctx context.Context, c *pgx.Conn, migration string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		h, err := p.findHolder(ctx, c, migration)
		if err != nil {
			return err
		}
		if h == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the session holding the lock (pid %d) has not exited 10s after being terminated", h.pid)
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
