package verify

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgio"
	"github.com/pgferry/pgferry/internal/pgver"
	"github.com/pgferry/pgferry/plan"
)

// Difference is one way in which a target database differs from its source.
type Difference struct {
	Database string `json:"database"`
	Object   string `json:"object"`
	Kind     string `json:"kind"` // missing, extra, rows, checksum, sequence, count
	Source   string `json:"source"`
	Target   string `json:"target"`
	// Rows names, for a table with a primary key whose rows differ, the first differing rows by
	// key, e.g. "(id)=(7): differs", "(id)=(12): missing on the target"; RowsDiffering counts them all.
	Rows          []string `json:"rows,omitempty"`
	RowsDiffering int      `json:"rows_differing,omitempty"`
}

func (d Difference) String() string {
	switch d.Kind {
	case "missing":
		return fmt.Sprintf("%s: %s is missing on the target", d.Database, d.Object)
	case "extra":
		return fmt.Sprintf("%s: %s exists only on the target", d.Database, d.Object)
	}
	return fmt.Sprintf("%s: %s %s differs: source %s, target %s", d.Database, d.Object, d.Kind, d.Source, d.Target)
}

// TableResult is the comparison of one table.
type TableResult struct {
	Table          string `json:"table"`
	SourceRows     int64  `json:"source_rows"`
	TargetRows     int64  `json:"target_rows"`
	SourceChecksum string `json:"source_checksum,omitempty"`
	TargetChecksum string `json:"target_checksum,omitempty"`
}

// checksumSQL is an order-independent content hash of a table: the sum of the first 64 bits of
// each row's md5. One scan, no sort, comparable across servers given the same session settings.
// With both servers on 11 or later it uses the 64-bit hashtextextended, several times cheaper
// than md5.
func checksumSQL(q string, mode string, extended bool) string {
	if mode == "count" {
		return "SELECT count(*), '' FROM ONLY " + q
	}
	if extended {
		return "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text FROM ONLY " + q + " AS t"
	}
	return "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text FROM ONLY " + q + " AS t"
}

// Opener opens a connection to one side's database.
type Opener = func(context.Context) (*pgx.Conn, error)

// CompareDatabase compares the inventory and the data of one database. openSrc and openTgt open
// connections to the source and target database (openSrc may pin a snapshot). The source is compared as
// the table filters of opts select it (plan.FilterDatabase): what they leave out is not compared.
func CompareDatabase(ctx context.Context, db string, src *catalog.Database, srcVersion pgver.V, opts config.Options, mode string, jobs int,
	openSrc, openTgt Opener) ([]Difference, []TableResult, error) {
	tgt, tv, err := readTarget(ctx, db, openTgt)
	if err != nil {
		return nil, nil, err
	}
	src = plan.FilterDatabase(opts, src)
	diffs := Inventory(db, src, tgt)
	if mode == "none" {
		return diffs, nil, nil
	}
	tables := comparedTables(src, tgt)
	extended := srcVersion.AtLeast(11) && tv.AtLeast(11)
	results, err := checksumTables(ctx, tables, mode, extended, jobs, openSrc, openTgt)
	if err != nil {
		return nil, nil, err
	}
	if mode == "checksum" && src.LargeObjects > 0 && tgt.LargeObjects == src.LargeObjects {
		d, err := compareLargeObjects(ctx, db, openSrc, openTgt)
		if err != nil {
			return nil, nil, err
		}
		if d != nil {
			diffs = append(diffs, *d)
		}
	}
	for i, t := range tables {
		results[i].Table = t.Key()
		r := results[i]
		var d Difference
		switch {
		case r.SourceRows != r.TargetRows:
			d = Difference{Database: db, Object: "table " + t.Key(), Kind: "row count", Source: fmt.Sprint(r.SourceRows), Target: fmt.Sprint(r.TargetRows)}
		case r.SourceChecksum != r.TargetChecksum:
			d = Difference{Database: db, Object: "table " + t.Key(), Kind: "checksum", Source: r.SourceChecksum, Target: r.TargetChecksum}
		default:
			continue
		}
		if mode == "checksum" && t.HasPrimaryKey {
			// Say which rows: by primary key, narrowed down through hash buckets of the keys.
			rows, n, err := differingRows(ctx, t, extended, openSrc, openTgt)
			if err != nil {
				return nil, nil, fmt.Errorf("finding the differing rows of %s: %w", t.Key(), err)
			}
			d.Rows, d.RowsDiffering = rows, n
		}
		diffs = append(diffs, d)
	}
	return diffs, results, nil
}

// readTarget reads the catalog of the target database and the target's version.
func readTarget(ctx context.Context, db string, openTgt Opener) (*catalog.Database, pgver.V, error) {
	tc, err := openTgt(ctx)
	if err != nil {
		return nil, 0, err
	}
	var tv pgver.V
	if err := tc.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&tv); err != nil {
		tc.Close(ctx)
		return nil, 0, err
	}
	tgt, err := catalog.ReadDatabase(ctx, tc, db, tv)
	tc.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, 0, err
	}
	return tgt, tv, nil
}

// comparedTables are the ordinary tables of src that the target has too: their data is compared.
func comparedTables(src, tgt *catalog.Database) []catalog.Table {
	var tables []catalog.Table
	onTarget := make(map[[2]string]bool, len(tgt.Tables)) // not tgt.Table: a scan per table is quadratic
	for _, t := range tgt.Tables {
		onTarget[[2]string{t.Schema, t.Name}] = true
	}
	for _, t := range src.Tables {
		if t.Kind == "r" && onTarget[[2]string{t.Schema, t.Name}] {
			tables = append(tables, t)
		}
	}
	return tables
}

// checksumTables counts (mode count) or checksums the tables on both sides at once, each side on
// up to jobs/2 connections.
func checksumTables(ctx context.Context, tables []catalog.Table, mode string, extended bool, jobs int, openSrc, openTgt Opener) ([]TableResult, error) {
	results := make([]TableResult, len(tables))
	var mu sync.Mutex
	side := func(open Opener, set func(i int, n int64, sum string)) error {
		return pgio.Parallel(ctx, max(1, jobs/2), len(tables), func() (*pgx.Conn, error) { return open(ctx) },
			func(ctx context.Context, c *pgx.Conn, i int) error {
				var n int64
				var sum string
				if err := c.QueryRow(ctx, checksumSQL(tables[i].Qualified(), mode, extended)).Scan(&n, &sum); err != nil {
					return fmt.Errorf("checksumming %s: %w", tables[i].Key(), err)
				}
				mu.Lock()
				set(i, n, sum)
				mu.Unlock()
				return nil
			})
	}
	err := both(
		func() error {
			return side(openSrc, func(i int, n int64, s string) { results[i].SourceRows, results[i].SourceChecksum = n, s })
		},
		func() error {
			return side(openTgt, func(i int, n int64, s string) { results[i].TargetRows, results[i].TargetChecksum = n, s })
		})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// both runs a and b at once and returns the first error either returned.
func both(a, b func() error) error {
	errc := make(chan error, 2)
	go func() { errc <- a() }()
	go func() { errc <- b() }()
	var err error
	for i := 0; i < 2; i++ {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	return err
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }
