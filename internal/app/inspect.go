package app

import (
	"cmp"
	"context"
	"fmt"
	"github.com/jackc/pgx/v5"
	"runtime/trace"
	"sync"

	"github.com/pgferry/pgferry/internal/pgconn"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/checks"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// InspectOptions configure Inspect.
type InspectOptions struct {
	// Prefetch, when set, is called at most once, from a reading goroutine, with the first
	// selected database the state does not show finished, as soon as a count of its relations
	// shows that pg_dump's locks fit (checks.DumpFitsLocks; else once its whole catalog is read
	// and does), while the catalogs are still read. snap then holds the instances and the tools,
	// not yet the databases. apply without a prompt opens that database's source there (snapshot,
	// schema dump: apply.StartPrefetch): at tens of thousands of tables the dump is the longest
	// part of what comes before the run, and it no longer waits for the catalog reads.
	// When it returns a catalog reader (apply.Prefetch.Catalog: the database's catalog as read in
	// the prefetch's snapshot), an early prefetch's database is not read again: its plan is made
	// from what the run will hold, read once (at 20,000 tables a second read held another 26-34
	// MB at once and loaded the source beside pg_dump). Should that read fail, the database is
	// read as the others are.
	// conn, when not nil, is an idle session to db on the source (the one that counted its
	// relations), which the hook takes: it closes it, or hands it to apply.StartPrefetch to export
	// the snapshot on (an authentication less before pg_dump starts).
	Prefetch func(snap *snapshot.Snapshot, db string, conn *pgx.Conn) func() (*catalog.Database, error)
	// State, when StateRead, is the migration's state as the caller read it under the lock (nil:
	// none): Inspect does not read it again.
	State     *state.State
	StateRead bool
	// SampleCopy asks for the samples copy_format = "auto" decides by (apply.SampleCopyFormats):
	// set when the plan made from the snapshot is the one to be applied (plan, apply without a
	// saved plan), not for verify or for the plan a saved one is checked against.
	SampleCopy bool
}

// ReadError is why a server, or one of its databases, could not be reached, logged into or read:
// the connectivity validation fails with it, and nothing else can be checked.
type ReadError struct {
	// Server is the server that failed: the migration's source or target.
	Server *config.Server
	// Database is the database that could not be read, "" for the instance.
	Database string
	Err      error
}

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Inspect reads the state, then both servers' catalogs at once, then every selected database of
// both at once (a few connections per server at a time), and returns them as one snapshot: the
// source databases filtered by the table filters, here and only here. On an error the snapshot
// holds what was read before it (for the plan of an unreachable migration, UnreachablePlan): a
// *ReadError when a server failed (the source's when both did), ctx's error when ctx ended
// (Ctrl-C: nothing failed, the caller says so).
func (s *Session) Inspect(ctx context.Context, opt InspectOptions) (*snapshot.Snapshot, error) {
	m := s.Migration
	snap := &snapshot.Snapshot{Config: s.Config, Migration: m}
	var err error
	if opt.StateRead {
		snap.State = opt.State
	} else if snap.State, err = s.Backend.Read(ctx, m.Name); err != nil {
		return snap, fmt.Errorf("reading the state: %w", err)
	}
	// Both servers are read at once, and then every database of both: the catalog reads are
	// round trips to two servers, and plan (and apply, which plans first) waits for all of them.
	pgdump.Prewarm(m.Options.PgBinDir) // pg_dump --version while the instances are read (Find below)
	var counting *earlyCount
	if opt.Prefetch != nil {
		counting = countEarly(ctx, m, snap.State, opt.SampleCopy) // the prefetch's relation count, while the instances are read
		defer counting.release()
		if counting != nil && opt.SampleCopy {
			// The forecast's probe's sessions, likewise: an apply without a saved plan forecasts
			// (Forecast closes them); one of a saved plan may keep its plan's forecast.
			s.predialProbe(ctx, counting.db)
		}
	}
	var link *linkStart // the links' speed copy_format = "auto" may need, measured meanwhile
	if opt.SampleCopy {
		link = startLink(ctx, m, counting)
		defer func() { link.take().Stop() }()
	}
	var srcErr, tgtErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); snap.Source, srcErr = readInstance(ctx, m.Source) }()
	go func() { defer wg.Done(); snap.Target, tgtErr = readInstance(ctx, m.Target) }()
	wg.Wait()
	if err := cmp.Or(srcErr, tgtErr); err != nil {
		return snap, readFailed(ctx, err)
	}
	if snap.Databases, err = plan.SelectDatabases(m, snap.Source); err != nil {
		return snap, &ReadError{Server: m.Source, Err: err} // a database that is not there cannot be reached
	}
	snap.Tools, snap.ToolsErr = pgdump.Find(m.Options.PgBinDir, snap.Source.VersionNum.Release(), snap.Target.VersionNum.Release())
	prefetch := ""
	if opt.Prefetch != nil && snap.Tools != nil {
		prefetch = snap.FirstUnfinished()
	}
	type read struct {
		srv *config.Server
		in  *catalog.Instance
		db  string
		out *catalog.Database
		err error
	}
	var reads []*read
	for _, db := range snap.Databases {
		reads = append(reads, &read{srv: m.Source, in: snap.Source, db: db})
		if info := snap.Target.Database(db); info != nil && info.AllowConn {
			reads = append(reads, &read{srv: m.Target, in: snap.Target, db: db})
		}
	}
	early := s.prefetchEarly(ctx, snap, prefetch, opt.Prefetch, counting)
	sem := make(chan struct{}, 4) // a few connections per server at a time, not one per database
	for _, r := range reads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r.srv == m.Source && r.db == prefetch {
				if read := early.catalog(); read != nil {
					if r.out, r.err = read(); r.err == nil {
						return
					}
				}
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			// Only the table_filters check needs what depends on each source table: a pg_depend scan.
			dependents := r.srv == m.Source && m.Options.Filters()
			r.out, r.err = readDatabase(ctx, r.srv, r.in, r.db, dependents)
			if r.err == nil && r.srv == m.Source && r.db == prefetch && !early.wait() && checks.DumpFitsLocks(snap.Source, r.out) {
				opt.Prefetch(snap, r.db, counting.takeConn(r.db))
			}
		}()
	}
	wg.Wait()
	early.wait() // its hook has returned (when the database's read failed, nobody waited for it)
	snap.SourceDBs, snap.TargetDBs = map[string]*catalog.Database{}, map[string]*catalog.Database{}
	for _, r := range reads {
		if r.err != nil {
			return snap, readFailed(ctx, r.err)
		}
		if r.srv == m.Source {
			// Plan, checks and verify see the source as the table filters select it.
			snap.SourceDBs[r.db] = plan.FilterDatabase(m.Options, r.out)
		} else {
			snap.TargetDBs[r.db] = r.out
		}
	}
	if opt.SampleCopy {
		s.startProbe(ctx, snap) // the forecast's measures meanwhile (plan.go)
		if err := apply.SampleCopyFormats(ctx, snap, link.take()); err != nil {
			return snap, err
		}
	}
	return snap, nil
}

// prefetchEarly calls prefetch for database db (none: "") in the background as soon as a count of
// its relations (catalog.ReadDumpedRelations) shows that pg_dump's locks fit, before the catalog
// reads end. Its wait says whether it did: when it did not (the count does not fit, or failed),
// the read of db's whole catalog decides, as before.
// The count is counting's when it counted db (countEarly), else taken now.
func (s *Session) prefetchEarly(ctx context.Context, snap *snapshot.Snapshot, db string, prefetch func(*snapshot.Snapshot, string, *pgx.Conn) func() (*catalog.Database, error), counting *earlyCount) *earlyPrefetch {
	e := &earlyPrefetch{done: make(chan struct{})}
	go func() {
		defer close(e.done)
		if db == "" {
			return
		}
		counts, err := counting.of(db)
		if counts == nil && err == nil {
			counts, err = countRelations(ctx, s.Migration.Source, db)
		}
		if err == nil && checks.DumpFitsLocks(snap.Source, counts) {
			e.read = prefetch(snap, db, counting.takeConn(db))
			e.started = true
		}
	}()
	return e
}

// countRelations counts the relations of database db on srv that pg_dump locks
// (catalog.ReadDumpedRelations), on a session of its own.
func countRelations(ctx context.Context, srv *config.Server, db string) (*catalog.Database, error) {
	c := &earlyCount{db: db, done: make(chan struct{})}
	c.count(ctx, srv, false)
	close(c.done)
	c.release()
	return c.counts, c.err
}

// count counts the relations of c's database on srv (countRelations) and, with sized, sizes its
// largest table (catalog.ReadLargestCopySize; largest -1 when that read failed), on a session it
// keeps (conn) for a prefetch to take (takeConn) when the count succeeded.
func (c *earlyCount) count(ctx context.Context, srv *config.Server, sized bool) {
	defer trace.StartRegion(ctx, "relation count").End()
	c.largest = -1
	conn, err := pgconn.ConnectOneShot(ctx, srv, c.db)
	if err != nil {
		c.err = err
		return
	}
	if c.counts, c.err = catalog.ReadDumpedRelations(ctx, conn, c.db); c.err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return
	}
	if sized {
		if n, err := catalog.ReadLargestCopySize(ctx, conn, pgconn.ServerVersion(conn)); err == nil {
			c.largest = n
		}
	}
	c.conn = conn
}

// earlyCount is the relation count of the database the prefetch will most likely open, taken
// while the instances are read (countEarly): a session's authentication and a query less between
// the instances' read and the schema dump's start.
type earlyCount struct {
	db     string
	done   chan struct{}
	counts *catalog.Database
	err    error
	// largest is the largest table's catalog.Table.CopySize in db, when sized (countEarly); -1
	// when not known.
	largest int64
	// conn is the session that counted, kept for the prefetch to export its snapshot on
	// (takeConn) and closed by release otherwise; guarded by mu once done is closed.
	mu   sync.Mutex
	conn *pgx.Conn
}

// countEarly starts counting the relations of the database a prefetch opens when the migration
// names its databases (not "*": which those are is known only once the source's instance is
// read): the first one st does not show finished (State.FirstUnfinished, as the snapshot picks it). nil when
// there is none to guess. With sized, it also sizes the database's largest table (startLink).
func countEarly(ctx context.Context, m *config.Migration, st *state.State, sized bool) *earlyCount {
	if len(m.Databases) == 1 && m.Databases[0] == "*" {
		return nil
	}
	db := st.FirstUnfinished(m.Databases)
	if db == "" {
		return nil
	}
	c := &earlyCount{db: db, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		c.count(ctx, m.Source, sized)
	}()
	return c
}

// wait returns once the count is done. A nil earlyCount's returns at once.
func (c *earlyCount) wait() {
	if c != nil {
		<-c.done
	}
}

// takeConn waits for the count and hands over its session when it counted database db, once (nil:
// none, or another database). A nil earlyCount has none.
func (c *earlyCount) takeConn(db string) *pgx.Conn {
	if c == nil {
		return nil
	}
	c.wait()
	if c.db != db {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	conn := c.conn
	c.conn = nil
	return conn
}

// release waits for the count and closes its session unless a prefetch took it. A nil earlyCount
// has none.
func (c *earlyCount) release() {
	if c == nil {
		return
	}
	c.wait()
	if conn := c.takeConn(c.db); conn != nil {
		conn.Close(context.Background())
	}
}

// of waits for the count and returns it when it is of database db; nil and no error when it is
// not (or there is none): the caller counts.
func (c *earlyCount) of(db string) (*catalog.Database, error) {
	if c == nil {
		return nil, nil
	}
	c.wait()
	if c.db != db {
		return nil, nil
	}
	return c.counts, c.err
}

// earlyPrefetch is prefetchEarly's work.
type earlyPrefetch struct {
	done    chan struct{}
	started bool // set before done is closed
	// read is the prefetch's reader of the database's catalog in its snapshot (nil: none).
	read func() (*catalog.Database, error)
}

// wait returns once prefetchEarly's work is done, and whether it called prefetch.
func (e *earlyPrefetch) wait() bool {
	<-e.done
	return e.started
}

// catalog waits for prefetchEarly's work and returns the prefetch's catalog reader: nil when it
// did not start the prefetch, or the prefetch reads no catalog for the plan.
func (e *earlyPrefetch) catalog() func() (*catalog.Database, error) {
	if !e.wait() {
		return nil
	}
	return e.read
}

// readFailed is the error Inspect returns for a failed read: ctx's when it ended (an interrupted
// read is no connectivity failure), else err.
func readFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// readInstance reads the catalog of srv's instance (roles, databases, settings).
func readInstance(ctx context.Context, srv *config.Server) (*catalog.Instance, error) {
	defer trace.StartRegion(ctx, "instance read").End()
	conn, err := pgconn.ConnectOneShot(ctx, srv, "")
	if err != nil {
		return nil, &ReadError{Server: srv, Err: err}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	in, err := catalog.ReadInstance(ctx, conn)
	if err != nil {
		return nil, &ReadError{Server: srv, Err: fmt.Errorf("%s: reading the catalog: %w", srv.Label(), err)}
	}
	return in, nil
}

// catalogConns is how many connections read a large database's catalog at once
// (catalog.ReadDatabaseParallel).
const catalogConns = 4

// readDatabase reads the catalog of database db on srv, with what depends on each table when
// dependents is set.
func readDatabase(ctx context.Context, srv *config.Server, in *catalog.Instance, db string, dependents bool) (*catalog.Database, error) {
	defer trace.StartRegion(ctx, "database read").End()
	conn, err := pgconn.ConnectOneShot(ctx, srv, db)
	if err != nil {
		return nil, &ReadError{Server: srv, Database: db, Err: err}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// A large database is read on a few connections at once, in one snapshot.
	d, err := catalog.ReadDatabaseParallel(ctx, conn, pgconn.Opener(srv, db), catalogConns, db, in.VersionNum)
	if err != nil {
		return nil, &ReadError{Server: srv, Database: db, Err: fmt.Errorf("%s: %w", srv.Label(), err)}
	}
	if dependents {
		if err := catalog.ReadDependents(ctx, conn, d, in.VersionNum); err != nil {
			return nil, &ReadError{Server: srv, Database: db, Err: fmt.Errorf("%s: reading dependencies on tables of %s: %w", srv.Label(), db, err)}
		}
	}
	return d, nil
}

// linkStart is the links' measure for copy_format = "auto" (apply.StartLinkMeasure), started at
// once or once an early count has sized the tables (startLink).
type linkStart struct {
	done chan struct{}
	l    *apply.LinkMeasure // nil: not started
}

// startLinkMeasure is apply.StartLinkMeasure, a variable so that tests can see when it is started.
var startLinkMeasure = apply.StartLinkMeasure

// startLink starts measuring the links copy_format = "auto" may need to decide by, while the
// catalogs are read: at once, or, when counting is the early count of the migration's only
// database (sized: countEarly), once it has sized that database's tables, and not at all when none
// is as large as plan.CopySampleMinBytes: no table is then sampled, and the measure (two sessions,
// 10 MB through each link) only loaded the machine beside the instance reads and the schema dump.
// SampleCopyFormats measures the links itself should a sample need them after all.
func startLink(ctx context.Context, m *config.Migration, counting *earlyCount) *linkStart {
	l := &linkStart{done: make(chan struct{})}
	if counting == nil || len(m.Databases) != 1 || counting.db != m.Databases[0] {
		l.l = startLinkMeasure(ctx, m)
		close(l.done)
		return l
	}
	go func() {
		defer close(l.done)
		counting.wait()
		if counting.err != nil || counting.largest < 0 || counting.largest >= plan.CopySampleMinBytes {
			l.l = startLinkMeasure(ctx, m)
		}
	}()
	return l
}

// take waits for the measure to be started or skipped and returns it (nil: none). A nil
// linkStart has none.
func (l *linkStart) take() *apply.LinkMeasure {
	if l == nil {
		return nil
	}
	<-l.done
	return l.l
}
