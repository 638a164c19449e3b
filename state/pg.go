package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5"
)

// PG is the shared backend: states live in <schema>.states of a PostgreSQL
// database that every host running the migration can reach.
//
//	states(migration text PRIMARY KEY, serial bigint, lineage text, data jsonb,
//	       updated_at timestamptz, backup jsonb)   -- backup: the previous data
//	locks(migration text PRIMARY KEY, info jsonb, pid int)
//	journal(migration, serial, base, data jsonb)  -- records appended while In progress (journal.go):
//	     those whose base is the serial in states.data are replayed on it; a compaction deletes them
//	runs(migration, id, operation, outcome, started_at, finished_at, summary jsonb,
//	     actions bytea)   -- one row per run, created by the first (runs_pg.go)
//
// A migration's lock is a session-level advisory lock whose two int4 keys are
// a hash of the schema and the migration name (so migrations never wait for one
// another, and two state schemas in one database do not collide). It is taken
// with pg_try_advisory_lock on a connection opened for that lock alone and kept
// until Unlock: when the holder dies its session ends and the server releases
// the lock, and a pool could not be trusted to keep a session lock. The table
// locks records who holds it (and the holder's backend pid, which tells a
// current record from one left by a dead holder). The connection string must
// therefore reach PostgreSQL directly or through a session-mode pooler, never
// a transaction-mode one.
//
// The holder of a lock is not told if its lock connection breaks; a network
// failure long enough for the server to drop the session frees the lock.
type PG struct {
	// Schema holds the states and locks tables.
	Schema string

	cfg   *pgx.ConnConfig
	scrub *scrubber
	where string // host:port/database, for lock paths; never secrets

	mu     sync.Mutex
	conn   *pgx.Conn // state reads and writes; reconnected when lost
	closed bool
	// stored is what this process wrote last of each migration (guarded by mu).
	stored map[string]*tracker
}

var _ Backend = (*PG)(nil)

// NewPG connects to the database of connStr and creates the schema (default
// "pgferry") and its tables when absent. Concurrent first runs from several
// hosts are safe: the DDL runs under a transaction-level advisory lock, and
// objects that exist are not created again (which also lets a role without
// CREATE privilege use tables prepared by an administrator). Errors never
// contain the connection string's password.
func NewPG(ctx context.Context, connStr, schema string) (*PG, error) {
	if schema == "" {
		schema = "pgferry"
	}
	scrub := newScrubber(connStr)
	cfg, err := pgx.ParseConfig(connStr)
	if err != nil {
		return nil, fmt.Errorf("pg state backend: invalid conn_str: %w", scrub.scrub(err))
	}
	// The password may also come from PGPASSWORD or .pgpass: mask it too.
	passwords := []string{cfg.Password}
	p := &PG{
		Schema: schema,
		cfg:    cfg,
		scrub:  newScrubber(connStr, passwords...),
		where:  fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database),
	}
	conn, err := p.connect(ctx, "state")
	if err != nil {
		return nil, err
	}
	p.conn = conn
	if err := p.setup(ctx); err != nil {
		conn.Close(context.Background())
		return nil, err
	}
	return p, nil
}

func (p *PG) table(name string) string { return pgx.Identifier{p.Schema, name}.Sanitize() }

// fail wraps err with context, masking secrets.
func (p *PG) fail(format string, err error, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, p.scrub.scrub(err))...)
}

func (p *PG) connect(ctx context.Context, purpose string) (*pgx.Conn, error) {
	cfg := p.cfg.Copy()
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "pgferry " + purpose
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, p.fail("pg state backend: connecting to %s", err, p.where)
	}
	return conn, nil
}

func (p *PG) setup(ctx context.Context) error {
	k1, k2 := advisoryKey("ddl", p.Schema)
	err := pgx.BeginFunc(ctx, p.conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", k1, k2); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", p.Schema).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{p.Schema}.Sanitize()); err != nil {
				return err
			}
		}
		tables := []struct{ name, ddl string }{
			{"states", `CREATE TABLE IF NOT EXISTS %s (
				migration  text PRIMARY KEY,
				serial     bigint NOT NULL,
				lineage    text NOT NULL,
				data       jsonb NOT NULL,
				updated_at timestamptz NOT NULL DEFAULT now(),
				backup     jsonb
			)`},
			{"locks", `CREATE TABLE IF NOT EXISTS %s (
				migration text PRIMARY KEY,
				info      jsonb NOT NULL,
				pid       integer
			)`},
			{"journal", `CREATE TABLE IF NOT EXISTS %s (
				migration text NOT NULL,
				serial    bigint NOT NULL,
				base      bigint NOT NULL,
				data      jsonb NOT NULL,
				PRIMARY KEY (migration, serial)
			)`},
		}
		for _, t := range tables {
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = $1 AND c.relname = $2)`, p.Schema, t.name).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				if _, err := tx.Exec(ctx, fmt.Sprintf(t.ddl, p.table(t.name))); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return p.fail("pg state backend: preparing schema %s", err, strconv.Quote(p.Schema))
	}
	return nil
}

// withConn runs fn on the state connection, reconnecting first when it was
// lost, and once more when it is lost during fn (fn must be safe to retry).
func (p *PG) withConn(ctx context.Context, fn func(*pgx.Conn) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return errors.New("pg state backend: closed")
	}
	for attempt := 0; ; attempt++ {
		if p.conn == nil || p.conn.IsClosed() {
			conn, err := p.connect(ctx, "state")
			if err != nil {
				return err
			}
			p.conn = conn
		}
		err := fn(p.conn)
		if err != nil && p.conn.IsClosed() && attempt == 0 && ctx.Err() == nil {
			continue
		}
		return err
	}
}

// Read returns the migration's state, upgraded to FormatVersion, or (nil, nil): the stored
// document with the journal records written since it replayed on it, read in one snapshot.
func (p *PG) Read(ctx context.Context, migration string) (*State, error) {
	if err := checkMigrationName(migration); err != nil {
		return nil, err
	}
	var data string
	var journal []string
	var found bool
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		found, journal = true, nil
		return pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			err := tx.QueryRow(ctx, "SELECT data::text FROM "+p.table("states")+" WHERE migration = $1", migration).Scan(&data)
			if errors.Is(err, pgx.ErrNoRows) {
				found = false
				return nil
			}
			if err != nil {
				return err
			}
			journal, err = p.journal(ctx, tx, migration)
			return err
		})
	})
	if err != nil {
		return nil, p.fail("reading state of migration %q", err, migration)
	}
	if !found {
		return nil, nil
	}
	s, err := p.decode(migration, data)
	if err != nil {
		return nil, err
	}
	return s, p.replay(s, journal)
}

func (p *PG) decode(migration, data string) (*State, error) {
	what := fmt.Sprintf("state of migration %q in %s", migration, p.table("states"))
	s, err := decodeState(what, []byte(data))
	if err != nil {
		if !errors.Is(err, ErrNewerFormat) {
			//lint:ignore ST1005 the second line tells the user where the previous version is
			err = fmt.Errorf("%w\nThe previous version is kept in the backup column of that row.", err)
		}
		return nil, err
	}
	if s.Migration != migration {
		return nil, fmt.Errorf("%s names migration %q", what, s.Migration)
	}
	return s, nil
}

// Write stores s in one transaction: it locks the migration's row, bumps
// s.Serial above both its own value and the stored one, sets FormatVersion and
// UpdatedAt, gives s a Lineage when it has none, moves the stored document to
// the backup column and stores the new one. It refuses to replace a state of
// another lineage or of a newer format. On error s is left unchanged.
func (p *PG) Write(ctx context.Context, s *State) error {
	if s == nil {
		return errors.New("writing state: nil state")
	}
	if err := checkMigrationName(s.Migration); err != nil {
		return err
	}
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		for range 5 {
			done, err := p.writeOnce(ctx, c, s)
			if err != nil || done {
				return err
			}
			// Another writer created the row between our look and our
			// insert: go again, this time as an update.
		}
		return errors.New("the state row keeps changing under us")
	})
	if err != nil {
		return p.fail("writing state of migration %q", err, s.Migration)
	}
	return nil
}

func (p *PG) writeOnce(ctx context.Context, c *pgx.Conn, s *State) (done bool, err error) {
	tx, err := c.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.Background())

	var stored *State
	var version int
	st := State{Migration: s.Migration}
	err = tx.QueryRow(ctx, "SELECT serial, lineage, COALESCE((data->>'format_version')::int, 0) FROM "+p.table("states")+
		" WHERE migration = $1 FOR UPDATE", s.Migration).Scan(&st.Serial, &st.Lineage, &version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return false, err
	default:
		stored = &st
		if version > FormatVersion {
			return false, fmt.Errorf("refusing to overwrite the stored state (format version %d, this pgferry writes %d): %w",
				version, FormatVersion, ErrNewerFormat)
		}
	}
	restore, err := prepareWrite(s, stored)
	if err != nil {
		return false, err
	}
	ok := false
	defer func() {
		if !ok {
			restore()
			delete(p.stored, s.Migration)
		}
	}()
	// While the migration is In progress, a state this process stored last is only appended to.
	if tr := p.stored[s.Migration]; stored != nil && tr != nil && tr.serial == stored.Serial && tr.lineage == stored.Lineage &&
		s.Status == StatusInProgress {
		pend, fits, err := tr.diff(s)
		if err != nil {
			return false, err
		}
		if fits {
			if err := p.appendJournal(ctx, tx, s, tr.base, &pend); err != nil {
				return false, err
			}
			ok = true
			p.stored[s.Migration] = pend.next
			return true, nil
		}
	}
	data, err := json.Marshal(s)
	if err != nil {
		return false, err
	}
	if stored != nil {
		_, err = tx.Exec(ctx, "UPDATE "+p.table("states")+
			" SET backup = data, data = $2::jsonb, serial = $3, lineage = $4, updated_at = $5 WHERE migration = $1",
			s.Migration, string(data), s.Serial, s.Lineage, *s.UpdatedAt)
		if err != nil {
			return false, err
		}
	} else {
		tag, err := tx.Exec(ctx, "INSERT INTO "+p.table("states")+
			" (migration, serial, lineage, data, updated_at) VALUES ($1, $3, $4, $2::jsonb, $5) ON CONFLICT (migration) DO NOTHING",
			s.Migration, string(data), s.Serial, s.Lineage, *s.UpdatedAt)
		if err != nil {
			return false, err
		}
		if tag.RowsAffected() == 0 {
			return false, nil
		}
	}
	// The new document holds the journal's records.
	if _, err := tx.Exec(ctx, "DELETE FROM "+p.table("journal")+" WHERE migration = $1", s.Migration); err != nil {
		return false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return false, err
	}
	ok = true
	if tr, err := newTracker(s, int64(len(data))); err == nil && tr != nil {
		if p.stored == nil {
			p.stored = map[string]*tracker{}
		}
		p.stored[s.Migration] = tr
	}
	return true, nil
}

// List returns every stored state, sorted by migration name, each with its journal replayed.
func (p *PG) List(ctx context.Context) ([]*State, error) {
	type row struct {
		migration, data string
		journal         []string
	}
	var rows []row
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		return pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
			rows = rows[:0]
			r, err := tx.Query(ctx, "SELECT migration, data::text, EXISTS (SELECT 1 FROM "+p.table("journal")+
				" j WHERE j.migration = s.migration) FROM "+p.table("states")+" s ORDER BY migration")
			if err != nil {
				return err
			}
			var m, d string
			var journaled bool
			var with []int
			_, err = pgx.ForEachRow(r, []any{&m, &d, &journaled}, func() error {
				if journaled {
					with = append(with, len(rows))
				}
				rows = append(rows, row{migration: m, data: d})
				return nil
			})
			for _, k := range with {
				if err != nil {
					break
				}
				rows[k].journal, err = p.journal(ctx, tx, rows[k].migration)
			}
			return err
		})
	})
	if err != nil {
		return nil, p.fail("listing states", err)
	}
	out := make([]*State, 0, len(rows))
	for _, r := range rows {
		s, err := p.decode(r.migration, r.data)
		if err == nil {
			err = p.replay(s, r.journal)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Close closes the state connection. Locks stay held until their Unlock.
func (p *PG) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	if p.conn != nil {
		return p.scrub.scrub(p.conn.Close(context.Background()))
	}
	return nil
}
