package main

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/verify"
	"github.com/pgferry/pgferry/internal/views"
)

func cmdVerify(c *cli, args []string) error {
	pre := newPreamble("verify", true)
	fs := pre.fs
	mode := fs.String("mode", "", "count | checksum (default: options.verify, or checksum)")
	jsonOut := fs.Bool("json", false, "print the result as one JSON document")
	mdOut := fs.Bool("markdown", false, "print a Markdown report to attach to a change ticket or pull request")
	allTables := fs.Bool("all-tables", false, "list every table, also those that match (text output)")
	if done, err := pre.parse(c, args, "verify [--mode count|checksum] [--json | --markdown] [--all-tables] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]", 0, ""); done {
		return err
	}
	vt, err := viewType(*jsonOut, *mdOut, "--json and --markdown cannot be combined: pick one output format")
	if err != nil {
		return err
	}
	view := views.NewVerify(vt, c.view())
	began := time.Now()
	ctx, s, end, err := c.begin(pre.v)
	if err != nil {
		return err
	}
	defer end()
	m := *s.mode(*mode)
	if m != "count" && m != "checksum" {
		return fmt.Errorf("--mode must be count or checksum, not %q", m)
	}
	if code := c.inspect(ctx, s); code != 0 {
		return fromCode(code)
	}
	report := &views.VerifyReport{Migration: s.m.Name, Mode: m, Source: s.snap.SourceIdentity(), Target: s.snap.TargetIdentity(), At: began}
	floatDigits := 3
	if s.snap.Source.VersionNum.Before(12) || s.snap.Target.VersionNum.Before(12) {
		floatDigits = 0
	}
	for _, db := range s.snap.Databases {
		r := views.VerifyDatabase{Name: db}
		if src := s.snap.SourceDBs[db]; src != nil {
			for _, t := range src.Tables { // as the table filters select them (the snapshot is filtered)
				if t.Kind == "r" {
					r.SourceTables++
				}
			}
		}
		if s.snap.TargetDBs[db] == nil {
			r.Differences = []verify.Difference{{Database: db, Object: "database " + db, Kind: "missing"}}
			report.Databases = append(report.Databases, r)
			continue
		}
		r.Present = true
		open := func(srvIsSource bool) func(context.Context) (*pgx.Conn, error) {
			return func(ctx context.Context) (*pgx.Conn, error) {
				srv := s.m.Target
				if srvIsSource {
					srv = s.m.Source
				}
				conn, err := pgconn.Connect(ctx, srv, db)
				if err != nil {
					return nil, err
				}
				if err := pgconn.SessionSettings(ctx, conn, floatDigits); err != nil {
					conn.Close(ctx)
					return nil, err
				}
				return conn, nil
			}
		}
		diffs, tables, err := verify.CompareDatabase(ctx, db, s.snap.SourceDBs[db], s.snap.Source.VersionNum, s.m.Options, m, max(2, s.m.Options.Jobs), open(true), open(false))
		if err != nil {
			return fmt.Errorf("verifying database %q: %w", db, err)
		}
		r.Differences, r.Tables = diffs, tables
		report.Databases = append(report.Databases, r)
	}
	report.Elapsed = time.Since(began)
	if err := view.Report(report, *allTables); err != nil {
		return err
	}
	if n := report.DifferenceCount(); n > 0 {
		view.Differences(n)
		return errReported
	}
	return nil
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
