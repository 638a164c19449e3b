package catalog_test

import (
	"context"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgver"
)

// TestReadDatabaseParallel reads the sample database on one connection and on three in one
// snapshot: the same catalog, to the last index definition and column.
func TestReadDatabaseParallel(t *testing.T) {
	c, conn := sampleDatabase(t, "")
	ctx := context.Background()
	serial, err := catalog.ReadDatabase(ctx, conn, "app", pgver.Of(15))
	if err != nil {
		t.Fatal(err)
	}
	var opened atomic.Int32
	open := countingOpener(c.DSN("app"), &opened)
	was := catalog.ParallelFrom
	catalog.ParallelFrom = 0
	defer func() { catalog.ParallelFrom = was }()
	parallel, err := catalog.ReadDatabaseParallel(ctx, conn, open, 3, "app", pgver.Of(15))
	if err != nil {
		t.Fatal(err)
	}
	if opened.Load() != 2 {
		t.Errorf("opened %d more connections, want 2", opened.Load())
	}
	if len(serial.Indexes) == 0 || serial.Indexes[0].Def == "" || len(serial.Tables) == 0 {
		t.Fatalf("the sample read as %d tables, %d indexes", len(serial.Tables), len(serial.Indexes))
	}
	if !reflect.DeepEqual(serial, parallel) {
		for _, f := range []string{"Tables", "Indexes", "Constraints", "Extensions", "UsedCollations", "CollationVersions", "Objects", "Owned"} {
			if s, p := reflect.ValueOf(*serial).FieldByName(f).Interface(), reflect.ValueOf(*parallel).FieldByName(f).Interface(); !reflect.DeepEqual(s, p) {
				t.Errorf("%s differ:\nserial   %+v\nparallel %+v", f, s, p)
			}
		}
		t.Fatal("the parallel read differs from the serial one")
	}
	// The connection is left out of the snapshot's transaction, usable as before.
	var status string
	if err := conn.QueryRow(ctx, "SELECT 'idle'").Scan(&status); err != nil || conn.PgConn().TxStatus() != 'I' {
		t.Errorf("connection after the read: %v, transaction status %c", err, conn.PgConn().TxStatus())
	}
	// Interrupted at any point (a failed read is one too), the read ends with an error or a
	// whole catalog: never a hang, never a part.
	for _, after := range []time.Duration{5 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond, 150 * time.Millisecond} {
		c2, err := pgx.Connect(ctx, c.DSN("app"))
		if err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, after)
		done := make(chan struct{})
		go func() {
			defer close(done)
			d, err := catalog.ReadDatabaseParallel(short, c2, open, 3, "app", pgver.Of(15))
			if err == nil && !reflect.DeepEqual(serial, d) {
				t.Errorf("interrupted after %v: no error, and a catalog unlike the serial read's", after)
			}
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("interrupted after %v: the read did not return", after)
		}
		cancel()
		c2.Close(ctx)
	}
	// A small database is read serially, on conn alone.
	catalog.ParallelFrom = was
	opened.Store(0)
	if _, err := catalog.ReadDatabaseParallel(ctx, conn, open, 3, "app", pgver.Of(15)); err != nil || opened.Load() != 0 {
		t.Errorf("small database: %v, %d connections opened", err, opened.Load())
	}
}

// TestReadDatabaseInSnapshot reads the sample database in a snapshot another connection exported,
// after a table was created outside it: the catalog as of the snapshot, the same on one
// connection and on three, with what depends on each table when asked.
func TestReadDatabaseInSnapshot(t *testing.T) {
	c, conn := sampleDatabase(t, "")
	ctx := context.Background()
	before, err := catalog.ReadDatabase(ctx, conn, "app", pgver.Of(15))
	if err != nil {
		t.Fatal(err)
	}
	if err := catalog.ReadDependents(ctx, conn, before, pgver.Of(15)); err != nil {
		t.Fatal(err)
	}
	holder, err := pgx.Connect(ctx, c.DSN("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	// The exporter's session settings are its own: the readers print definitions as a fresh
	// session does.
	if _, err := holder.Exec(ctx, "SET extra_float_digits = 3; SET DateStyle = 'SQL, DMY'; BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		t.Fatal(err)
	}
	var snap string
	if err := holder.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snap); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE after_snapshot (id int PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	var opened atomic.Int32
	open := countingOpener(c.DSN("app"), &opened)
	was := catalog.ParallelFrom
	defer func() { catalog.ParallelFrom = was }()
	for _, tc := range []struct {
		from  int64
		conns int32
	}{{was, 1}, {0, 3}} {
		catalog.ParallelFrom = tc.from
		opened.Store(0)
		d, err := catalog.ReadDatabaseInSnapshot(ctx, open, 3, "app", pgver.Of(15), snap, true)
		if err != nil {
			t.Fatal(err)
		}
		if opened.Load() != tc.conns {
			t.Errorf("ParallelFrom %d: opened %d connections, want %d", tc.from, opened.Load(), tc.conns)
		}
		if !reflect.DeepEqual(before, d) {
			t.Errorf("ParallelFrom %d: the catalog read in the snapshot differs from the one read before it (%d vs %d tables)", tc.from, len(d.Tables), len(before.Tables))
		}
	}
	// A snapshot that is no longer exported is an error, not a read outside it.
	if _, err := holder.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	if _, err := catalog.ReadDatabaseInSnapshot(ctx, open, 3, "app", pgver.Of(15), snap, false); err == nil {
		t.Error("read in an ended snapshot: no error")
	}
}

// countingOpener opens sessions to dsn, counting them in opened; as pgconn.Opener's, they run
// each query in one round trip (pgx's exec mode: results in text, parameters typed by their Go
// type), so that the parallel reads, compared with a serial one through prepared statements,
// show both modes read the same catalog.
func countingOpener(dsn string, opened *atomic.Int32) catalog.Opener {
	return func(ctx context.Context) (catalog.Querier, func(), error) {
		c, err := pgx.Connect(ctx, dsn+"&default_query_exec_mode=exec&statement_cache_capacity=0&description_cache_capacity=0")
		if err != nil {
			return nil, nil, err
		}
		opened.Add(1)
		return c, func() { c.Close(ctx) }, nil
	}
}
