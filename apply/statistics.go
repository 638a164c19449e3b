package apply

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	pgxconn "github.com/jackc/pgx/v5/pgconn"

	"github.com/pgferry/pgferry/catalog"
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

// statsRestorer restores the source's planner statistics that pg_dump dumped (dumpStatistics) onto
// the target, a table (or materialized view) at a time with its indexes: the analyze lane as each
// table is finished, the analyze action the rest (restoreStatistics). It knows where each
// relation's STATISTICS DATA chunk is in the script, and reads the chunks it restores again from
// there, holding none in memory.
//
// A table's (or materialized view's) statistics are carried when its own chunk is in the dump and
// the target took every call of its chunks; otherwise it is analyzed: a table with a column of a
// type with statistics kinds of its own (custom: its typanalyze; pg_dump dumps only the standard
// kinds), one whose rows the source counted but whose columns it never analyzed (only vacuumed),
// one whose chunk is not as pg_dump 18 writes it, one a restore function refused in part (it
// returns false, with a warning), and one whose statistics the dump lacks.
type statsRestorer struct {
	file    string
	chunks  map[[2]string][2]int64 // offset and length of each relation's chunk, by schema and name
	indexes map[string][][2]string // the indexes of each table and materialized view, by its key
	custom  map[string]bool        // tables and materialized views with a column of such a type
	mu      sync.Mutex             // guards sum and refused
	sum     statsSummary           // everything restored so far, by the lane and the action
	refused map[string]bool        // owners not (fully) taken: analyzed instead
}

// statsOwner is a table or materialized view whose statistics are restored, with its indexes'.
type statsOwner struct {
	key, schema, name string
	matview           bool
	hasColumns        bool
}

func tableOwner(t *catalog.Table) statsOwner {
	return statsOwner{key: t.Key(), schema: t.Schema, name: t.Name, hasColumns: len(t.Columns) > 0}
}

// newStatsRestorer indexes the script pg_dump dumped (file) and lists the tables the target cannot
// take the statistics of (customStatisticsTables, on c).
func (d *dbRun) newStatsRestorer(ctx context.Context, c *pgx.Conn, file string) (*statsRestorer, error) {
	custom, err := d.customStatisticsTables(ctx, c)
	if err != nil {
		return nil, err
	}
	s := &statsRestorer{file: file, chunks: map[[2]string][2]int64{}, indexes: map[string][][2]string{}, custom: custom,
		refused: map[string]bool{}}
	for _, ix := range d.src.Indexes {
		k := ix.Schema + "." + ix.Table
		s.indexes[k] = append(s.indexes[k], [2]string{ix.Schema, ix.Name})
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	err = pgdump.ScanChunksAt(f, func(c pgdump.Chunk, off, n int64) error {
		if schema, name, ok := pgdump.StatisticsRelation(c.SQL); ok {
			s.chunks[[2]string{schema, name}] = [2]int64{off, n}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the statistics pg_dump dumped: %w", err)
	}
	return s, nil
}

// batches sends the restore calls of owners to emit, several owners a batch (statsBatchBytes,
// statsBatchCalls; an owner's calls stay in one batch), and returns the owners it sent none for:
// to be analyzed.
func (s *statsRestorer) batches(owners []statsOwner, emit func(*statsBatch) error) ([]statsOwner, error) {
	f, err := os.Open(s.file)
	if err != nil {
		return nil, fmt.Errorf("reading the statistics pg_dump dumped: %w", err)
	}
	defer f.Close()
	var left []statsOwner
	b := &statsBatch{}
	var counts statsSummary // of b: added to sum once b is sent
	send := func() error {
		if err := emit(b); err != nil {
			return err
		}
		s.mu.Lock()
		s.sum.tables += counts.tables
		s.sum.matviews += counts.matviews
		s.sum.indexes += counts.indexes
		s.mu.Unlock()
		b, counts = &statsBatch{}, statsSummary{}
		return nil
	}
	for _, o := range owners {
		calls, indexes, ok, err := s.load(f, o)
		if err != nil {
			return nil, fmt.Errorf("reading the statistics pg_dump dumped: %w", err)
		}
		if !ok {
			left = append(left, o)
			continue
		}
		if o.matview {
			counts.matviews++
		} else {
			counts.tables++
		}
		counts.indexes += indexes
		b.add(calls, o.key)
		if b.size >= statsBatchBytes || len(b.calls) >= statsBatchCalls {
			if err := send(); err != nil {
				return nil, err
			}
		}
	}
	if len(b.calls) > 0 {
		if err := send(); err != nil {
			return nil, err
		}
	}
	return left, nil
}

// load reads the restore calls of an owner's chunk and of its indexes' from f, and how many
// indexes they restore; false when the owner is to be analyzed instead.
func (s *statsRestorer) load(f io.ReaderAt, o statsOwner) ([]string, int, bool, error) {
	if s.custom[o.key] {
		return nil, 0, false, nil
	}
	at, ok := s.chunks[[2]string{o.schema, o.name}]
	if !ok {
		return nil, 0, false, nil // the dump lacks them
	}
	sql, ok, err := pgdump.StatisticsChunkAt(f, at[0], at[1])
	if err != nil || !ok {
		return nil, 0, false, err
	}
	refuse := func() ([]string, int, bool, error) {
		s.mu.Lock()
		s.refused[o.key] = true
		s.mu.Unlock()
		return nil, 0, false, nil
	}
	// Rows counted but no column analyzed (only vacuumed on the source): ANALYZE.
	if cols, reltuples := pgdump.StatisticsHasColumns(sql); reltuples > 0 && !cols && o.hasColumns {
		return refuse()
	}
	calls, ok := pgdump.StatisticsCalls(sql)
	if !ok {
		return refuse() // not as pg_dump 18 writes them: ANALYZE
	}
	n := 0
	for _, ix := range s.indexes[o.key] {
		at, ok := s.chunks[ix]
		if !ok {
			continue
		}
		sql, ok, err := pgdump.StatisticsChunkAt(f, at[0], at[1])
		if err != nil || !ok {
			return nil, 0, false, err
		}
		more, ok := pgdump.StatisticsCalls(sql)
		if !ok {
			return refuse()
		}
		calls = append(calls, more...)
		n++
	}
	return calls, n, true, nil
}

// restoreOn restores the statistics of owners on c, one batch after the other, and returns the
// keys of those the target took in full; the others are to be analyzed. work is the time spent in
// the restores.
func (s *statsRestorer) restoreOn(ctx context.Context, c *pgx.Conn, owners []statsOwner) (map[string]bool, time.Duration, error) {
	var work time.Duration
	_, err := s.batches(owners, func(b *statsBatch) error {
		start := time.Now()
		failed, err := restoreBatch(ctx, c, b)
		work += time.Since(start)
		s.refuse(failed)
		return err
	})
	return s.carried(owners), work, err
}

func (s *statsRestorer) refuse(keys []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		s.refused[k] = true
	}
}

// carried is the keys of owners whose statistics were restored in full.
func (s *statsRestorer) carried(owners []statsOwner) map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]bool{}
	for _, o := range owners {
		if _, dumped := s.chunks[[2]string{o.schema, o.name}]; dumped && !s.custom[o.key] && !s.refused[o.key] {
			out[o.key] = true
		}
	}
	return out
}

// summary is what the restores did so far.
func (s *statsRestorer) summary() statsSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := s.sum
	sum.refused = len(s.refused)
	return sum
}

// restoreStatistics restores the statistics the lane did not (done: what it restored or analyzed)
// onto the target, after every index is built and post-data ran (REFRESH of materialized views;
// CREATE INDEX counts a table's pages and rows again): those of each table plan.StatisticsCarriable
// allows and of the populated materialized views without extended statistics (mvs), with their
// indexes'. The restores go several tables per statement, on Jobs connections. It returns the
// tables and materialized views (keys) whose statistics the target took in full, by the lane or
// now; the analyze action analyzes the others.
func (d *dbRun) restoreStatistics(ctx context.Context, c *pgx.Conn, mvs []matview, done map[string]bool) (map[string]bool, statsSummary, time.Duration, error) {
	s, err := d.lane.restorer(ctx, c)
	if err != nil {
		return nil, statsSummary{}, 0, err
	}
	var owners []statsOwner
	for k := range d.src.Tables {
		t := &d.src.Tables[k]
		if plan.StatisticsCarriable(t) && !done[t.Key()] {
			owners = append(owners, tableOwner(t))
		}
	}
	for _, m := range mvs {
		if !m.extStats {
			owners = append(owners, statsOwner{key: m.key(), schema: m.schema, name: m.name, matview: true, hasColumns: true})
		}
	}
	var work time.Duration
	var mu sync.Mutex
	batches := make(chan *statsBatch)
	readErr := make(chan error, 1)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(batches)
		_, err := s.batches(owners, func(b *statsBatch) error {
			select {
			case batches <- b:
				return nil
			case <-rctx.Done():
				return rctx.Err()
			}
		})
		readErr <- err
	}()
	err = parallelBatches(rctx, d.r.opt.Jobs, batches, c, func() (*pgx.Conn, error) { return openTargetConn(rctx, d) },
		func(ctx context.Context, c *pgx.Conn, b *statsBatch) error {
			start := time.Now()
			failed, err := restoreBatch(ctx, c, b)
			s.refuse(failed)
			mu.Lock()
			work += time.Since(start)
			mu.Unlock()
			return err
		})
	cancel()
	for range batches {
	}
	if rerr := <-readErr; err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
		err = rerr
	}
	if err != nil {
		return nil, s.summary(), work, err
	}
	carried := s.carried(owners)
	for k := range done {
		carried[k] = true // restored or analyzed by the lane
	}
	return carried, s.summary(), work, nil
}

// parallelBatches runs task for each batch received, on up to jobs connections, until batches is
// closed or a task fails: first (open already, left open) and those open returns (closed at the
// end), opened as batches come.
func parallelBatches(ctx context.Context, jobs int, batches <-chan *statsBatch, first *pgx.Conn, open func() (*pgx.Conn, error), task func(context.Context, *pgx.Conn, *statsBatch) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, jobs)
	var mu sync.Mutex
	spare := first // taken by the first worker to get a batch
	for range max(jobs, 1) {
		go func() {
			var c *pgx.Conn
			defer func() {
				if c != nil && c != first {
					c.Close(context.WithoutCancel(ctx))
				}
			}()
			for b := range batches {
				if c == nil {
					mu.Lock()
					c, spare = spare, nil
					mu.Unlock()
				}
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
	var firstErr error
	for range max(jobs, 1) {
		if err := <-errs; err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
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
