package catalog

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/pgferry/pgferry/internal/pgver"
)

// Opener opens another connection to the database ReadDatabaseParallel reads; done closes it.
type Opener func(ctx context.Context) (conn Querier, done func(), err error)

// ParallelFrom is the size of pg_class in bytes from which ReadDatabaseParallel reads on several
// connections (about 5,000 relations; an empty database's is about 100 kB); below it, it is
// ReadDatabase. Its file size, not a count: counting scans it (0.6 s at 100,000 tables).
var ParallelFrom int64 = 1 << 20

// ReadDatabaseParallel reads one database as ReadDatabase does, on up to n connections at once
// when it is large (see ParallelFrom): conn and n-1 others open opens, all in one
// snapshot that conn exports (REPEATABLE READ READ ONLY, pg_export_snapshot, SET TRANSACTION
// SNAPSHOT), so that what they read together is as consistent as one query's rows. At 100,000
// tables the serial reads took 40 s of server time, half of it pg_get_indexdef; here the readers
// run at once, the index definitions in n parts. The result is the same as ReadDatabase's. When
// the snapshot cannot be exported (a standby before 10), it reads serially on conn; a connection
// that cannot be opened or set to the snapshot is done without. conn's transaction ends before
// it returns.
func ReadDatabaseParallel(ctx context.Context, conn Querier, open Opener, n int, name string, v pgver.V) (*Database, error) {
	if n <= 1 || open == nil {
		return ReadDatabase(ctx, conn, name, v)
	}
	var size int64
	if err := conn.QueryRow(ctx, `SELECT pg_catalog.pg_relation_size('pg_catalog.pg_class')`).Scan(&size); err != nil {
		return nil, fmt.Errorf("reading the size of %s: %w", name, err)
	}
	if size < ParallelFrom {
		return ReadDatabase(ctx, conn, name, v)
	}
	var snap string
	if err := exec(ctx, conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return nil, err
	}
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.pg_export_snapshot()").Scan(&snap); err != nil {
		if rerr := exec(ctx, conn, "ROLLBACK"); rerr != nil {
			return nil, rerr
		}
		return ReadDatabase(ctx, conn, name, v)
	}
	more, closers := importSnapshot(ctx, open, n-1, snap)
	defer func() {
		for _, done := range closers {
			done() // read-only transactions: closing the connection ends them
		}
	}()
	conns := append([]Querier{conn}, more...)
	d, err := readParallel(ctx, conns, name, v)
	if end := exec(context.WithoutCancel(ctx), conn, "COMMIT"); err == nil && end != nil {
		err = end
	}
	return d, err
}

// importSnapshot opens up to k connections set to the exported snapshot snap (inSnapshot); one
// that cannot be opened or set to it is done without. The caller calls each closer.
func importSnapshot(ctx context.Context, open Opener, k int, snap string) (conns []Querier, closers []func()) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range k {
		wg.Go(func() {
			c, done, err := inSnapshot(ctx, open, snap)
			if err != nil {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			conns, closers = append(conns, c), append(closers, done)
		})
	}
	wg.Wait()
	return conns, closers
}

// inSnapshot opens a connection with open in a REPEATABLE READ READ ONLY transaction set to the
// exported snapshot snap; done closes it (which ends the transaction).
func inSnapshot(ctx context.Context, open Opener, snap string) (Querier, func(), error) {
	c, done, err := open(ctx)
	if err != nil {
		return nil, nil, err
	}
	if err := exec(ctx, c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		done()
		return nil, nil, err
	}
	if err := exec(ctx, c, "SET TRANSACTION SNAPSHOT "+quoteLiteral(snap)); err != nil {
		done()
		return nil, nil, fmt.Errorf("importing the snapshot %s: %w", snap, err)
	}
	return c, done, nil
}

// ReadDatabaseInSnapshot reads one database as ReadDatabaseParallel does, in a snapshot another
// transaction exported (pg_export_snapshot) and keeps open until it returns: on connections open
// opens, each set to the snapshot with its own session settings (the exporter's, which may change
// how definitions print, are not used), n of them when the database is large (see ParallelFrom),
// else one. With dependents set it reads what depends on each table too (ReadDependents), in the
// same snapshot. The result is what ReadDatabaseParallel would have read at the moment the
// snapshot was taken: a plan and a run may share one read.
func ReadDatabaseInSnapshot(ctx context.Context, open Opener, n int, name string, v pgver.V, snapshot string, dependents bool) (*Database, error) {
	conn, done, err := inSnapshot(ctx, open, snapshot)
	if err != nil {
		return nil, err
	}
	defer done()
	var size int64
	if err := conn.QueryRow(ctx, `SELECT pg_catalog.pg_relation_size('pg_catalog.pg_class')`).Scan(&size); err != nil {
		return nil, fmt.Errorf("reading the size of %s: %w", name, err)
	}
	var d *Database
	if n <= 1 || size < ParallelFrom {
		d, err = ReadDatabase(ctx, conn, name, v)
	} else {
		more, closers := importSnapshot(ctx, open, n-1, snapshot)
		defer func() {
			for _, done := range closers {
				done()
			}
		}()
		d, err = readParallel(ctx, append([]Querier{conn}, more...), name, v)
	}
	if err == nil && dependents {
		if err = ReadDependents(ctx, conn, d, v); err != nil {
			err = fmt.Errorf("reading dependencies on tables of %s: %w", name, err)
		}
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

// exec runs a statement that returns no rows.
func exec(ctx context.Context, conn Querier, sql string) error {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return err
	}
	rows.Close()
	return rows.Err()
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// readParallel reads d on conns, all in one snapshot: first the readers that need nothing read
// before them, each writing its own fields of d (the biggest first: the connections take them
// in turn), and the index definitions in len(conns) parts once the indexes are read; then, on
// conns[0], what needs them.
func readParallel(ctx context.Context, conns []Querier, name string, v pgver.V) (*Database, error) {
	d := &Database{Name: name, Objects: map[string]int{}, UsedCollations: map[string]string{}}
	parts := len(conns)
	columns := map[uint32][]Column{}
	type task struct {
		what string
		read func(ctx context.Context, conn Querier) error
	}
	var pending sync.WaitGroup
	queue := make(chan task, len(databaseReaders)+parts+4)
	add := func(t task) { pending.Add(1); queue <- t }
	reader := func(what string, read func(ctx context.Context, conn Querier, d *Database, v pgver.V) error) task {
		return task{what, func(ctx context.Context, conn Querier) error { return read(ctx, conn, d, v) }}
	}
	// The indexes first: their definitions, the biggest part, wait for them.
	add(task{"indexes", func(ctx context.Context, conn Querier) error {
		if err := readIndexRows(ctx, conn, d, v, "''"); err != nil {
			return err
		}
		// In contiguous parts: a table's indexes (named after it, so next to each other) in one.
		for part := range parts {
			ixs := d.Indexes[part*len(d.Indexes)/parts : (part+1)*len(d.Indexes)/parts]
			add(task{"indexes", func(ctx context.Context, conn Querier) error { return readIndexDefs(ctx, conn, ixs) }})
		}
		return nil
	}})
	add(reader("tables", readTableRows))
	add(reader("constraints", readConstraints))
	add(task{"tables", func(ctx context.Context, conn Querier) error {
		return readColumns(ctx, conn, v, func(oid uint32, c Column) { columns[oid] = append(columns[oid], c) })
	}})
	add(task{"indexes", func(ctx context.Context, conn Querier) error { return readIndexCollations(ctx, conn, d, v) }})
	for _, r := range databaseReaders {
		if r.parallel == atOnce { // the others: above, or after
			add(reader(r.what, r.read))
		}
	}
	go func() { pending.Wait(); close(queue) }()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, conn := range conns {
		wg.Go(func() {
			err := withoutJIT(ctx, conn, func() error {
				for t := range queue {
					err := t.read(ctx, conn)
					pending.Done()
					if err != nil {
						return fmt.Errorf("reading %s of %s: %w", t.what, name, err)
					}
				}
				return nil
			})
			if err != nil {
				cancel(err)
				for range queue {
					pending.Done() // the others see ctx ended
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	for k := range d.Tables {
		d.Tables[k].Columns = columns[d.Tables[k].OID]
	}
	usedColumnCollations(d)
	err := withoutJIT(ctx, conns[0], func() error {
		for _, r := range databaseReaders {
			if r.parallel == afterAll {
				if err := r.read(ctx, conns[0], d, v); err != nil {
					return fmt.Errorf("reading %s of %s: %w", r.what, name, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}
