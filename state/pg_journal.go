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
