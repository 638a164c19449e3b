package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/internal/english"
)

func cmdVerify(c *cli, args []string) int {
	fs := newFlags("verify")
	var v varFlags
	v.register(fs, true)
	mode := fs.String("mode", "", "count | checksum (default: options.verify, or checksum)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON document")
	if code, done := c.parse(fs, args, "verify [--mode count|checksum] [--json] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]"); done {
		return code
	}
	ctx, stop := c.signalContext()
	defer stop()
	s, code := c.open(ctx, v)
	if s == nil {
		return code
	}
	defer s.close()
	m := *s.mode(*mode)
	if m != "count" && m != "checksum" {
		c.errorf(nil, "--mode must be count or checksum, not %q", m)
		return 1
	}
	if code := c.inspect(ctx, s); code != 0 {
		return code
	}
	type dbResult struct {
		Database    string              `json:"database"`
		Present     bool                `json:"present_on_target"`
		Differences []apply.Difference  `json:"differences"`
		Tables      []apply.TableResult `json:"tables"`
	}
	var results []dbResult
	total := 0
	floatDigits := 3
	if s.src.VersionNum < 120000 || s.tgt.VersionNum < 120000 {
		floatDigits = 0
	}
	for _, db := range s.dbs {
		r := dbResult{Database: db, Differences: []apply.Difference{}}
		if s.tgtDBs[db] == nil {
			r.Differences = append(r.Differences, apply.Difference{Database: db, Object: "database " + db, Kind: "missing"})
			total++
			results = append(results, r)
			continue
		}
		r.Present = true
		open := func(srvIsSource bool) func(context.Context) (*pgx.Conn, error) {
			return func(ctx context.Context) (*pgx.Conn, error) {
				srv := s.m.Target
				if srvIsSource {
					srv = s.m.Source
				}
				conn, err := apply.Connect(ctx, srv, db)
				if err != nil {
					return nil, err
				}
				if err := apply.SessionSettings(ctx, conn, floatDigits); err != nil {
					conn.Close(ctx)
					return nil, err
				}
				return conn, nil
			}
		}
		diffs, tables, err := apply.CompareDatabase(ctx, db, s.srcDBs[db], s.src.VersionNum, s.m.Options, m, max(2, s.m.Options.Jobs), open(true), open(false))
		if err != nil {
			c.errorf(s.secrets, "verifying database %q: %v", db, err)
			return 1
		}
		if diffs != nil {
			r.Differences = diffs
		}
		r.Tables = tables
		total += len(diffs)
		results = append(results, r)
	}
	if *jsonOut {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		enc.Encode(map[string]any{"format_version": "1.0", "migration": s.m.Name, "mode": m, "ok": total == 0, "differences": total, "databases": results})
	} else {
		for _, r := range results {
			if !r.Present {
				fmt.Fprintf(c.stdout, "database %q: missing on the target\n", r.Database)
				continue
			}
			var rows int64
			for _, t := range r.Tables {
				rows += t.SourceRows
			}
			if len(r.Differences) == 0 {
				fmt.Fprintf(c.stdout, "database %q: OK — %d tables, %d rows, objects and sequences match (%s)\n", r.Database, len(r.Tables), rows, m)
				continue
			}
			fmt.Fprintf(c.stdout, "database %q: %s\n", r.Database, english.Count(len(r.Differences), "difference"))
			for _, d := range r.Differences {
				fmt.Fprintf(c.stdout, "  - %s\n", d)
				for _, row := range d.Rows {
					fmt.Fprintf(c.stdout, "      row %s\n", row)
				}
				if more := d.RowsDiffering - len(d.Rows); more > 0 {
					fmt.Fprintf(c.stdout, "      ... and %s more\n", english.Count(more, "row"))
				}
			}
		}
	}
	if total > 0 {
		if !*jsonOut {
			c.errorf(nil, "verification found %s between source and target", english.Count(total, "difference"))
		}
		return 1
	}
	return 0
}

// mode is the verification mode: the flag, else options.verify, else checksum.
func (s *session) mode(flag string) *string {
	m := flag
	if m == "" {
		m = s.m.Options.Verify
	}
	if m == "" || m == "none" {
		m = "checksum"
	}
	return &m
}
