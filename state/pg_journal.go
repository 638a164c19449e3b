package state

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// journal returns the migration's journal records, in order, as text.
func (p *PG) journal(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, migration string) ([]string, error) {
	rows, err := q.Query(ctx, "SELECT base, data::text FROM "+p.table("journal")+" WHERE migration = $1 ORDER BY serial", migration)
	if err != nil {
		return nil, err
	}
	var out []string
	var base int64
	var d string
	_, err = pgx.ForEachRow(rows, []any{&base, &d}, func() error {
		out = append(out, strconv.FormatInt(base, 10)+" "+d)
		return nil
	})
	return out, err
}

// replay applies the journal records ("BASE JSON") whose base is the document's serial: others
// were left by a compaction that did not delete them, and were folded into it.
func (p *PG) replay(s *State, journal []string) error {
	doc := s.Serial
	for _, j := range journal {
		b, d, _ := strings.Cut(j, " ")
		if base, err := strconv.ParseInt(b, 10, 64); err != nil || base != doc {
			continue
		}
		var rec journalRecord
		err := json.Unmarshal([]byte(d), &rec)
		if err == nil {
			err = s.replay(&rec)
		}
		if err != nil {
			return fmt.Errorf("state journal of migration %q in %s: %w", s.Migration, p.table("journal"), err)
		}
	}
	return nil
}

// appendJournal appends s's record (rec, a diff of the document of serial base) to the
// migration's journal, sets the row's serial and update time to s's, and commits tx.
func (p *PG) appendJournal(ctx context.Context, tx pgx.Tx, s *State, base int64, rec *pending) error {
	// Encoded once, into a string of its size (json.Marshal's growing buffer and the copy into a
	// string held it up to three times).
	var data strings.Builder
	data.Grow(int(rec.size))
	if err := rec.writeTo(&data); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO "+p.table("journal")+" (migration, serial, base, data) VALUES ($1, $2, $3, $4::jsonb)",
		s.Migration, s.Serial, base, data.String()); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "UPDATE "+p.table("states")+" SET serial = $2, updated_at = $3 WHERE migration = $1",
		s.Migration, s.Serial, *s.UpdatedAt); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
