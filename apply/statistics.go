package apply

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	pgxconn "github.com/jackc/pgx/v5/pgconn"

	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/plan"
)

// statsBatchBytes and statsBatchCalls bound one statement of statistics restores.
const (
	statsBatchBytes = 1 << 20
	statsBatchCalls = 1000
)

// statsBatch is one statement of statistics restores: the restore calls of several chunks in one
// SELECT (pgdump.StatisticsCalls), and the relation (table or materialized view key) each call
// restores the statistics of.
type statsBatch struct {
	calls  []string
	owners []string
	size   int
}

func (b *statsBatch) add(calls []string, owner string) {
	for _, c := range calls {
		b.calls = append(b.calls, c)
		b.owners = append(b.owners, owner)
		b.size += len(c)
	}
}

func (b *statsBatch) sql() string { return "SELECT " + strings.Join(b.calls, ",\n") }

// statsSummary counts what restoreStatistics did.
type statsSummary struct {
	tables, indexes, matviews int
	refused                   int // tables and materialized views the target did not take them all for
}

func (s statsSummary) String() string {
	m := fmt.Sprintf("the source's planner statistics carried over for %s, %s and %s", english.Count(s.tables, "table"),
		english.Count(s.indexes, "index"), english.Count(s.matviews, "materialized view"))
	if s.refused > 0 {
		m += fmt.Sprintf("; not all taken for %s, analyzed instead", english.Count(s.refused, "relation"))
	}
	return m
}

// restoreStatistics restores the source's planner statistics that pg_dump dumped (dumpStatistics)
// onto the target, after every index is built (CREATE INDEX counts the table's pages and rows
// again): those of each table plan.StatisticsCarriable allows, of their indexes (expression
// columns included) and of the populated materialized views without extended statistics (mvs),
// REFRESHed by post-data. It returns the tables and materialized views (keys) whose statistics
// the target took in full; the analyze action analyzes the others: a table with extended
// statistics, one the source never counted or whose columns it never analyzed, one with a column
// of a type with statistics kinds of its own (its typanalyze; pg_dump dumps only the standard
// kinds), one whose statistics the dump lacks (pg_dump 18 dumps none of a source it cannot), and
// one a restore function refused in part (it returns false, with a warning).
//
// The restores go several tables per statement, on Jobs connections.
func (d *dbRun) restoreStatistics(ctx context.Context, c *pgx.Conn, mvs []matview) (map[string]bool, statsSummary, time.Duration, error) {
	file, err := d.lane.stats()
	if err != nil {
		return nil, statsSummary{}, 0, err
	}
	custom, err := d.customStatisticsTables(ctx, c)
	if err != nil {
		return nil, statsSummary{}, 0, err
	}
	sr := d.statsOwners(mvs, custom)
	var work time.Duration
	batches := make(chan *statsBatch)
	readErr := make(chan error, 1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { readErr <- sr.read(rctx, file, batches) }()
	err = parallelBatches(rctx, d.r.opt.Jobs, batches, func() (*pgx.Conn, error) { return openTargetConn(rctx, d) },
		func(ctx context.Context, c *pgx.Conn, b *statsBatch) error {
			start := time.Now()
			failed, err := restoreBatch(ctx, c, b)
			sr.mu.Lock()
			defer sr.mu.Unlock()
			work += time.Since(start)
			for _, o := range failed {
				sr.refused[o] = true
			}
			return err
		})
	cancel()
	for range batches {
	}
	if rerr := <-readErr; err == nil && rerr != nil {
		err = fmt.Errorf("reading the statistics pg_dump dumped: %w", rerr)
	}
	if err != nil {
		return nil, sr.sum, work, err
	}
	carried := map[string]bool{}
	for _, r := range sr.owners {
		if r.kind != 'i' && sr.seen[r.owner] && !sr.refused[r.owner] {
			carried[r.owner] = true
		}
	}
	sr.sum.refused = len(sr.refused)
	return carried, sr.sum, work, nil
}

// statsRel is a relation whose statistics are restored: the table or materialized view (key)
// they belong to, and which it is ('t', 'i', 'm').
type statsRel struct {
	owner string
	kind  byte
}

// statsRestore is what restoreStatistics knows of the relations whose statistics it restores.
type statsRestore struct {
	owners     map[[2]string]statsRel // by schema and name
	hasColumns map[string]bool        // by owner
	mu         sync.Mutex             // guards refused and seen
	refused    map[string]bool        // owners not (fully) restored: analyzed instead
	seen       map[string]bool        // owners with their own relation's statistics in the dump
	sum        statsSummary           // counted by read alone
}

// statsOwners lists the relations whose statistics restoreStatistics restores: the tables
// plan.StatisticsCarriable allows and the materialized views of mvs without extended statistics,
// none of them with a column of a type with statistics kinds of its own (custom), and their
// indexes.
func (d *dbRun) statsOwners(mvs []matview, custom map[string]bool) *statsRestore {
	sr := &statsRestore{owners: map[[2]string]statsRel{}, hasColumns: map[string]bool{},
		refused: map[string]bool{}, seen: map[string]bool{}}
	for k := range d.src.Tables {
		t := &d.src.Tables[k]
		if plan.StatisticsCarriable(t) && !custom[t.Key()] {
			sr.owners[[2]string{t.Schema, t.Name}] = statsRel{t.Key(), 't'}
			sr.hasColumns[t.Key()] = len(t.Columns) > 0
		}
	}
	for _, m := range mvs {
		if !m.extStats && !custom[m.key()] {
			sr.owners[[2]string{m.schema, m.name}] = statsRel{m.key(), 'm'}
			sr.hasColumns[m.key()] = true
		}
	}
	for _, ix := range d.src.Indexes {
		if o, ok := sr.owners[[2]string{ix.Schema, ix.Table}]; ok && o.kind != 'i' {
			sr.owners[[2]string{ix.Schema, ix.Name}] = statsRel{o.owner, 'i'}
		}
	}
	return sr
}

// read scans the statistics pg_dump dumped (file) and sends their restore calls to batches,
// several chunks a batch (statsBatchBytes, statsBatchCalls), until the file ends or ctx is done.
// It closes batches.
func (sr *statsRestore) read(ctx context.Context, file string, batches chan<- *statsBatch) error {
	defer close(batches)
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	b := &statsBatch{}
	send := func() bool {
		if len(b.owners) == 0 {
			return true
		}
		select {
		case batches <- b:
			b = &statsBatch{}
			return true
		case <-ctx.Done():
			return false
		}
	}
	err = pgdump.ScanChunks(f, func(c pgdump.Chunk) error {
		calls, owner, ok := sr.take(c.SQL)
		if !ok {
			return nil
		}
		b.add(calls, owner)
		if b.size >= statsBatchBytes || len(b.calls) >= statsBatchCalls {
			if !send() {
				return ctx.Err()
			}
		}
		return nil
	})
	send()
	return err
}

// take returns the restore calls of a chunk of the dumped statistics and the owner of the
// relation they restore, counting it in sum, or false for a chunk not restored: not statistics,
// of a relation not restored, or of an owner analyzed instead (which it then records in refused).
func (sr *statsRestore) take(sql string) ([]string, string, bool) {
	schema, name, ok := pgdump.StatisticsRelation(sql)
	if !ok {
		return nil, "", false
	}
	r, ok := sr.owners[[2]string{schema, name}]
	if !ok {
		return nil, "", false // a relation the filters leave out, or one analyzed anyway
	}
	if r.kind != 'i' {
		cols, reltuples := pgdump.StatisticsHasColumns(sql)
		sr.mu.Lock()
		sr.seen[r.owner] = true
		// Rows counted but no column analyzed (only vacuumed on the source): ANALYZE.
		if reltuples > 0 && !cols && sr.hasColumns[r.owner] {
			sr.refused[r.owner] = true
		}
		skip := sr.refused[r.owner]
		sr.mu.Unlock()
		if skip {
			return nil, "", false
		}
		switch r.kind {
		case 't':
			sr.sum.tables++
		case 'm':
			sr.sum.matviews++
		}
	} else {
		sr.sum.indexes++
	}
	calls, ok := pgdump.StatisticsCalls(sql)
	if !ok {
		sr.mu.Lock()
		sr.refused[r.owner] = true // not as pg_dump 18 writes them: ANALYZE
		sr.mu.Unlock()
		return nil, "", false
	}
	return calls, r.owner, true
}

// parallelBatches runs task for each batch received, on up to jobs connections, until batches is
// closed or a task fails.
func parallelBatches(ctx context.Context, jobs int, batches <-chan *statsBatch, open func() (*pgx.Conn, error), task func(context.Context, *pgx.Conn, *statsBatch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, jobs)
	for range max(jobs, 1) {
		go func() {
			var c *pgx.Conn
			defer func() {
				if c != nil {
					c.Close(context.WithoutCancel(ctx))
				}
			}()
			for b := range batches {
				if c == nil {
					var err error
					if c, err = open(); err != nil {
						cancel()
						errs <- err
						return
					}
				}
				if err := task(ctx, c, b); err != nil {
					cancel()
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range max(jobs, 1) {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// restoreBatch runs a statement of restores and returns the owners of the calls the target did not
// take in full: a restore function that returned false, or, when the server refused the statement
// (an error rolls back the whole of it), the owners whose calls it refuses alone.
func restoreBatch(ctx context.Context, c *pgx.Conn, b *statsBatch) ([]string, error) {
	results, err := c.PgConn().Exec(ctx, b.sql()).ReadAll()
	if err != nil {
		var pgErr *pgxconn.PgError
		if !errors.As(err, &pgErr) || ctx.Err() != nil {
			return nil, err
		}
		// One owner at a time (its calls are adjacent).
		var failed []string
		for i := 0; i < len(b.calls); {
			k := i
			for k < len(b.calls) && b.owners[k] == b.owners[i] {
				k++
			}
			if len(b.owners) == k-i {
				return []string{b.owners[i]}, nil
			}
			one := &statsBatch{calls: b.calls[i:k], owners: b.owners[i:k]}
			f, err := restoreBatch(ctx, c, one)
			if err != nil {
				return nil, err
			}
			failed = append(failed, f...)
			i = k
		}
		return failed, nil
	}
	if len(results) != 1 || len(results[0].Rows) != 1 || len(results[0].Rows[0]) != len(b.owners) {
		return nil, fmt.Errorf("internal error: unexpected result of %d statistics restores", len(b.owners))
	}
	var failed []string
	for i, v := range results[0].Rows[0] {
		if string(v) != "t" && (len(failed) == 0 || failed[len(failed)-1] != b.owners[i]) {
			failed = append(failed, b.owners[i])
		}
	}
	return failed, nil
}

// customStatisticsTables lists the target's tables and materialized views (keys) with a column, or
// an index column, of a type whose statistics ANALYZE gathers with a function of its own
// (pg_type.typanalyze other than PostgreSQL's for arrays and tsvector, and for ranges and
// multiranges from a source of 17 or later): their statistics may hold kinds pg_dump does not
// dump, as it reads them from the source's pg_stats view, which shows the standard kinds only,
// and those of ranges from PostgreSQL 17 on.
func (d *dbRun) customStatisticsTables(ctx context.Context, c *pgx.Conn) (map[string]bool, error) {
	taken := "'pg_catalog.array_typanalyze'::pg_catalog.regproc, 'pg_catalog.ts_typanalyze'::pg_catalog.regproc"
	if d.r.opt.Plan.Source.VersionNum.AtLeast(17) {
		// pg_stats shows the statistics of ranges and multiranges from PostgreSQL 17 on.
		taken += ", 'pg_catalog.range_typanalyze'::pg_catalog.regproc, 'pg_catalog.multirange_typanalyze'::pg_catalog.regproc"
	}
	rows, err := c.Query(ctx, `SELECT DISTINCT n.nspname::text, t.relname::text
		FROM pg_catalog.pg_attribute a
		JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid
		LEFT JOIN pg_catalog.pg_index i ON i.indexrelid = a.attrelid
		JOIN pg_catalog.pg_class t ON t.oid = coalesce(i.indrelid, a.attrelid)
		JOIN pg_catalog.pg_namespace n ON n.oid = t.relnamespace
		WHERE a.attnum > 0 AND NOT a.attisdropped AND t.relkind IN ('r', 'p', 'm')
		AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		AND ty.typanalyze <> 0 AND ty.typanalyze NOT IN (`+taken+`)`)
	if err != nil {
		return nil, err
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var s, n string
		err := r.Scan(&s, &n)
		return s + "." + n, err
	})
	out := map[string]bool{}
	for _, k := range keys {
		out[k] = true
	}
	return out, err
}
