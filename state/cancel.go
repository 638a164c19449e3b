package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// CancelRequest asks the apply that holds a migration's lock to stop. It is
// kept beside the state, not in it: the running apply rewrites its state after
// every action from its own copy, which would lose a flag set in the document
// by another process.
type CancelRequest struct {
	// LockID is the ID of the lock held by the apply to stop, as the canceler
	// saw it; "" means whichever apply holds the lock. An apply that took the
	// lock later (another ID) ignores the request, so a request left behind
	// never stops a future apply.
	LockID      string    `json:"lock_id,omitempty"`
	Who         string    `json:"who"` // user@host of the canceler
	RequestedAt time.Time `json:"requested_at"`
}

// Targets reports whether r asks the holder of the lock lockID to stop.
func (r *CancelRequest) Targets(lockID string) bool {
	return r != nil && (r.LockID == "" || r.LockID == lockID)
}

// Canceler is implemented by backends that carry cancel requests from
// `pgferry cancel` to a running apply, across processes and, for the pg
// backend, across hosts. Both Local and PG implement it.
type Canceler interface {
	// RequestCancel records req for the migration, replacing any earlier one.
	RequestCancel(ctx context.Context, migration string, req CancelRequest) error
	// CancelRequest returns the migration's pending request, or nil. It is
	// cheap enough to be polled every half second.
	CancelRequest(ctx context.Context, migration string) (*CancelRequest, error)
	// ClearCancel removes the migration's request (none is not an error).
	ClearCancel(ctx context.Context, migration string) error
}

var (
	_ Canceler = (*Local)(nil)
	_ Canceler = (*PG)(nil)
)

// cancelFileName is the local backend's request file, beside state.json.
const cancelFileName = "cancel"

// RequestCancel writes req to <dir>/<migration>/cancel atomically.
func (l *Local) RequestCancel(ctx context.Context, migration string, req CancelRequest) error {
	if err := checkMigrationName(migration); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := l.migrationDir(migration)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("requesting cancel: %w", err)
	}
	req = req.complete()
	data, err := json.MarshalIndent(req, "", "  ")
	if err != nil {
		return fmt.Errorf("requesting cancel: %w", err)
	}
	if err := writeInfo(dir, filepath.Join(dir, cancelFileName), append(data, '\n')); err != nil {
		return fmt.Errorf("requesting cancel: %w", err)
	}
	return syncDir(dir)
}

// CancelRequest reads <dir>/<migration>/cancel, or returns nil when there is none.
func (l *Local) CancelRequest(ctx context.Context, migration string) (*CancelRequest, error) {
	if err := checkMigrationName(migration); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := filepath.Join(l.migrationDir(migration), cancelFileName)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading cancel request: %w", err)
	}
	var req CancelRequest
	if err := json.Unmarshal(data, &req); err != nil {
		// Written atomically, so only a hand edit breaks it: honour it anyway,
		// a request to stop is safer acted on than ignored.
		return &CancelRequest{Who: "unknown (unreadable " + path + ")"}, nil
	}
	return &req, nil
}

// ClearCancel removes <dir>/<migration>/cancel.
func (l *Local) ClearCancel(ctx context.Context, migration string) error {
	if err := checkMigrationName(migration); err != nil {
		return err
	}
	err := os.Remove(filepath.Join(l.migrationDir(migration), cancelFileName))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clearing cancel request: %w", err)
	}
	return nil
}

func (req CancelRequest) complete() CancelRequest {
	if req.Who == "" {
		req.Who = whoAmI()
	}
	if req.RequestedAt.IsZero() {
		req.RequestedAt = time.Now().UTC()
	}
	return req
}

// cancelsDDL is the pg backend's request table: at most one row per migration.
// It is created on the first request (not by NewPG), so states kept by an older
// pgferry need no migration and roles that only poll need no CREATE privilege.
const cancelsDDL = `CREATE TABLE IF NOT EXISTS %s (
	migration text PRIMARY KEY,
	info      jsonb NOT NULL
)`

func (p *PG) ensureCancels(ctx context.Context, c *pgx.Conn) error {
	k1, k2 := advisoryKey("ddl", p.Schema)
	err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		// Concurrent CREATE TABLE IF NOT EXISTS can still collide in pg_type:
		// serialise with the schema's DDL lock, as NewPG does.
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", k1, k2); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = 'cancels')`, p.Schema).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			_, err := tx.Exec(ctx, fmt.Sprintf(cancelsDDL, p.table("cancels")))
			return err
		}
		return nil
	})
	return err
}

// RequestCancel stores req in <schema>.cancels (created when missing).
func (p *PG) RequestCancel(ctx context.Context, migration string, req CancelRequest) error {
	if err := checkMigrationName(migration); err != nil {
		return err
	}
	req = req.complete()
	data, err := json.Marshal(req)
	if err != nil {
		return err
	}
	err = p.withConn(ctx, func(c *pgx.Conn) error {
		if err := p.ensureCancels(ctx, c); err != nil {
			return err
		}
		_, err := c.Exec(ctx, "INSERT INTO "+p.table("cancels")+" (migration, info) VALUES ($1, $2::jsonb)"+
			" ON CONFLICT (migration) DO UPDATE SET info = EXCLUDED.info", migration, string(data))
		return err
	})
	if err != nil {
		return p.fail("requesting cancel of migration %q", err, migration)
	}
	return nil
}

// CancelRequest reads the migration's row of <schema>.cancels; a missing
// table means no request was ever made.
func (p *PG) CancelRequest(ctx context.Context, migration string) (*CancelRequest, error) {
	if err := checkMigrationName(migration); err != nil {
		return nil, err
	}
	var data string
	var found bool
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		found = false
		err := c.QueryRow(ctx, "SELECT info::text FROM "+p.table("cancels")+" WHERE migration = $1", migration).Scan(&data)
		switch {
		case errors.Is(err, pgx.ErrNoRows), undefinedTable(err):
			return nil
		case err != nil:
			return err
		}
		found = true
		return nil
	})
	if err != nil {
		return nil, p.fail("reading cancel request of migration %q", err, migration)
	}
	if !found {
		return nil, nil
	}
	var req CancelRequest
	if err := json.Unmarshal([]byte(data), &req); err != nil {
		return &CancelRequest{Who: "unknown (unreadable request row)"}, nil
	}
	return &req, nil
}

// ClearCancel deletes the migration's row of <schema>.cancels.
func (p *PG) ClearCancel(ctx context.Context, migration string) error {
	if err := checkMigrationName(migration); err != nil {
		return err
	}
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, "DELETE FROM "+p.table("cancels")+" WHERE migration = $1", migration)
		if undefinedTable(err) {
			return nil
		}
		return err
	})
	if err != nil {
		return p.fail("clearing cancel request of migration %q", err, migration)
	}
	return nil
}

func undefinedTable(err error) bool {
	var pge *pgconn.PgError
	return errors.As(err, &pge) && pge.Code == "42P01"
}
