package state

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
)

// runsDDL creates the pg backend's runs table: one row per run, its summary as jsonb (what
// history reads) and its per-action timings as gzipped columnar JSON (NULL once dropped, see
// RunDetailKept). It is created by the first run recorded (not by NewPG), as cancels is: states
// kept by an older pgferry need no migration, and roles that only read need no CREATE privilege.
const runsDDL = `CREATE TABLE IF NOT EXISTS %s (
	migration   text NOT NULL,
	id          integer NOT NULL,
	operation   text NOT NULL,
	outcome     text NOT NULL,
	started_at  timestamptz NOT NULL,
	finished_at timestamptz NOT NULL,
	summary     jsonb NOT NULL,
	actions     bytea,
	PRIMARY KEY (migration, id)
)`

// AppendRun inserts r as the migration's next run in one transaction, and drops the per-action
// timings of runs older than the RunDetailKept latest (keeping the latest Succeeded apply's).
func (p *PG) AppendRun(ctx context.Context, migration string, r *Run) (int, error) {
	if err := checkMigrationName(migration); err != nil {
		return 0, err
	}
	var id int
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		if err := p.ensureTable(ctx, c, "runs", runsDDL); err != nil {
			return err
		}
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			// Two hosts appending at once (the lock makes it rare) serialise on the migration.
			k1, k2 := advisoryKey("runs", p.Schema, migration)
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", k1, k2); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, "SELECT COALESCE(max(id), 0) + 1 FROM "+p.table("runs")+" WHERE migration = $1", migration).Scan(&id); err != nil {
				return err
			}
			prepareRun(migration, id, r)
			summary, err := json.Marshal(r.RunSummary)
			if err != nil {
				return err
			}
			actions, err := gzipWritten(func(w io.Writer) error {
				if err := r.Actions.writeJSON(w); err != nil {
					return err
				}
				_, err := io.WriteString(w, "\n")
				return err
			})
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO "+p.table("runs")+
				" (migration, id, operation, outcome, started_at, finished_at, summary, actions) VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)",
				migration, id, string(r.Operation), string(r.Outcome), r.StartedAt, r.FinishedAt, string(summary), actions); err != nil {
				return err
			}
			runs, err := p.runs(ctx, tx, migration)
			if err != nil {
				return err
			}
			if drop := trimmable(runs); len(drop) > 0 {
				_, err = tx.Exec(ctx, "UPDATE "+p.table("runs")+
					` SET actions = NULL, summary = jsonb_set(summary, '{detailed}', 'false') WHERE migration = $1 AND id = ANY($2)`, migration, drop)
			}
			return err
		})
	})
	if err != nil {
		return 0, p.fail("recording a run of migration %q", err, migration)
	}
	return id, nil
}

type querier interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

func (p *PG) runs(ctx context.Context, q querier, migration string) ([]RunSummary, error) {
	rows, err := q.Query(ctx, "SELECT summary::text FROM "+p.table("runs")+" WHERE migration = $1 ORDER BY id", migration)
	if err != nil {
		return nil, err
	}
	var out []RunSummary
	var text string
	_, err = pgx.ForEachRow(rows, []any{&text}, func() error {
		var r RunSummary
		if err := json.Unmarshal([]byte(text), &r); err != nil {
			return fmt.Errorf("a run of migration %q in %s: %w", migration, p.table("runs"), err)
		}
		out = append(out, r)
		return nil
	})
	return out, err
}

// Runs returns the summaries of the migration's runs, oldest first.
func (p *PG) Runs(ctx context.Context, migration string) ([]RunSummary, error) {
	if err := checkMigrationName(migration); err != nil {
		return nil, err
	}
	var out []RunSummary
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		var err error
		out, err = p.runs(ctx, c, migration)
		if undefinedTable(err) {
			return nil // no run was ever recorded
		}
		return err
	})
	if err != nil {
		return nil, p.fail("listing runs", err)
	}
	return out, nil
}

// Run returns run id of the migration with its actions, or (nil, nil) when there is none.
func (p *PG) Run(ctx context.Context, migration string, id int) (*Run, error) {
	if err := checkMigrationName(migration); err != nil {
		return nil, err
	}
	var summary string
	var actions []byte
	found := true
	err := p.withConn(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, "SELECT summary::text, actions FROM "+p.table("runs")+" WHERE migration = $1 AND id = $2", migration, id).Scan(&summary, &actions)
		if errors.Is(err, pgx.ErrNoRows) || undefinedTable(err) {
			found = false
			return nil
		}
		return err
	})
	if err != nil {
		return nil, p.fail("reading run %d of migration %q", err, id, migration)
	}
	if !found {
		return nil, nil
	}
	what := fmt.Sprintf("run %d of migration %q in %s", id, migration, p.table("runs"))
	var r Run
	if err := json.Unmarshal([]byte(summary), &r.RunSummary); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if r.FormatVersion > RunFormatVersion {
		return nil, fmt.Errorf("%s has format version %d, newer than this pgferry reads (%d): %w", what, r.FormatVersion, RunFormatVersion, ErrNewerFormat)
	}
	if actions != nil {
		zr, err := gzip.NewReader(bytes.NewReader(actions))
		if err == nil {
			err = json.NewDecoder(zr).Decode(&r.Actions)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: actions: %w", what, err)
		}
	}
	return &r, nil
}

// gzipJSON is v's JSON, gzipped.
func gzipJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ensureTable creates <schema>.name with ddl when it is missing, under the schema's DDL lock as
// NewPG does (concurrent CREATE TABLE IF NOT EXISTS can still collide in pg_type).
func (p *PG) ensureTable(ctx context.Context, c *pgx.Conn, name, ddl string) error {
	k1, k2 := advisoryKey("ddl", p.Schema)
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", k1, k2); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = $1 AND c.relname = $2)`, p.Schema, name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			return nil
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(ddl, p.table(name)))
		return err
	})
}
