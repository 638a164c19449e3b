package apply

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/pgver"
	"github.com/pgferry/pgferry/plan"
)

// worker is one of the Jobs parallel workers of a database: it keeps a source connection inside
// the exported snapshot and a target connection, opened on first use.
type worker struct {
	d         *dbRun
	lane      int // the scheduler's lane this worker runs
	src, tgt  *pgx.Conn
	preambled bool
	// retry is set while the current action is tried again after a lost connection.
	retry bool
	// work is the current action's work time when it is not its elapsed time (analyze).
	work time.Duration
}

func (w *worker) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if w.src != nil {
		w.src.Close(ctx)
		w.src = nil
	}
	if w.tgt != nil {
		w.tgt.Close(ctx)
		w.tgt = nil
	}
	w.preambled = false
}

// source returns a connection to the source database that sees the exported snapshot.
func (w *worker) source(ctx context.Context) (*pgx.Conn, error) {
	if w.src != nil {
		return w.src, nil
	}
	c, err := snapshotConn(ctx, w.d, noJIT(w.d.r.opt.Plan.Source.VersionNum))
	if err != nil {
		return nil, err
	}
	w.src = c
	return c, nil
}

// noJIT is what turns JIT compilation off for a worker's session on a server of version v ("" before
// 11, which has no JIT). A worker's statements that PostgreSQL would compile are single passes over
// a large table: the source's COPY of a query (a table with character(n) columns, or a part of a
// split one) and the target's check of a new foreign key. They cost more than jit_above_cost, and
// the compiling costs more than it saves: on pgbench_accounts (5M rows) it delayed the COPY's first
// row by 75-125 ms (EXPLAIN ANALYZE's JIT timing) and cost the foreign key's check 12% more CPU
// (0.99 s against 0.87 s on average, 8 alternated runs each). A materialized view's refresh, the
// one query of the user's a worker runs, has JIT as the target's settings say (postData).
func noJIT(v pgver.V) string {
	if v.Before(11) {
		return ""
	}
	return "SET jit = off"
}

func openSnapshotConn(ctx context.Context, d *dbRun) (*pgx.Conn, error) {
	return snapshotConn(ctx, d, "")
}

// snapshotConn opens a connection to the source database inside the exported snapshot, with the
// statement set, when not "", run in the snapshot's transaction (in the message that imports it:
// no round trip more).
func snapshotConn(ctx context.Context, d *dbRun, set string) (*pgx.Conn, error) {
	c, err := pgconn.Connect(ctx, d.r.m.Source, d.db)
	if err != nil {
		return nil, err
	}
	if err := pgconn.SessionSettings(ctx, c, d.r.floatDg); err != nil {
		c.Close(ctx)
		return nil, err
	}
	if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		c.Close(ctx)
		return nil, err
	}
	imp := "SET TRANSACTION SNAPSHOT " + literal(d.snapshot)
	if set != "" {
		imp += "; " + set
	}
	if _, err := c.Exec(ctx, imp); err != nil {
		c.Close(ctx)
		return nil, fmt.Errorf("importing the source snapshot: %w", err)
	}
	return c, nil
}

// conns returns the worker's source (in the snapshot) and target connections.
func (w *worker) conns(ctx context.Context) (src, tgt *pgx.Conn, err error) {
	if src, err = w.source(ctx); err != nil {
		return nil, nil, err
	}
	if tgt, err = w.target(ctx); err != nil {
		return nil, nil, err
	}
	return src, tgt, nil
}

// target returns a connection to the target database tuned for bulk loading.
func (w *worker) target(ctx context.Context) (*pgx.Conn, error) {
	if w.tgt != nil {
		return w.tgt, nil
	}
	c, err := targetConn(ctx, w.d, noJIT(w.d.r.opt.Plan.Target.VersionNum))
	if err != nil {
		return nil, err
	}
	w.tgt = c
	return c, nil
}

func openTargetConn(ctx context.Context, d *dbRun) (*pgx.Conn, error) {
	return targetConn(ctx, d, "")
}

// targetConn opens a connection to the target database with the bulk-load settings and the
// statement set, when not "", in the same message.
func targetConn(ctx context.Context, d *dbRun, set string) (*pgx.Conn, error) {
	c, err := pgconn.Connect(ctx, d.r.m.Target, d.db)
	if err != nil {
		return nil, err
	}
	// The session's settings, then bulk-load settings for this session only (nothing to restore
	// afterwards), in one message: one round trip per connection on a slow link.
	sql := pgconn.SessionSettingsSQL(c, d.r.floatDg) + "; SET synchronous_commit = off; SET maintenance_work_mem = '256MB'"
	if d.r.opt.Plan.Target.VersionNum.AtLeast(14) {
		// A statement whose client died (pgferry killed) stops within a second instead of running on.
		sql += "; SET client_connection_check_interval = '1s'"
	}
	if set != "" {
		sql += "; " + set
	}
	if _, err := c.Exec(ctx, sql); err != nil {
		c.Close(ctx)
		return nil, err
	}
	return c, nil
}

// run runs one action, retrying it when its connection was lost, and records its outcome in memory:
// a success stays "running" until the flusher records it applied (flush.go).
func (w *worker) run(ctx context.Context, a *plan.Action) error {
	r := w.d.r
	start := r.markBegin(a, w.lane)
	var rows, bytes int64
	// Streamed pre-data is not tried again here: early copies may be running in the database
	// a new try would drop and create again. Nor is a part of a split table: its commit may
	// have succeeded before the connection was lost, and its rows cannot be told apart from
	// the other parts'. The database's run starts over instead (it reloads a split table whole).
	once := (a.Type == plan.TypeSchema && w.d.streamed) || a.Type == plan.TypeTablePart
	err := w.tries(ctx, a.Address, once, func() (err error) {
		rows, bytes, err = w.do(ctx, a)
		return err
	})
	r.markFinish(ctx, a, start, rows, bytes, w.work, err, true)
	w.work = 0
	return err
}

// tries runs f, and again on a new connection when it lost its connection (unless once), with
// the backoff between tries. It returns f's last error.
func (w *worker) tries(ctx context.Context, address string, once bool, f func() error) error {
	var err error
	for attempt := 0; ; attempt++ {
		w.retry = attempt > 0
		err = f()
		if err != nil {
			// A failed statement may leave the connections mid-transaction or broken.
			w.close()
		}
		if err == nil || once || !retryable(err) || attempt >= len(backoff) || ctx.Err() != nil {
			return err
		}
		w.d.r.emit(Event{Type: EventMessage, Address: address, Message: fmt.Sprintf("%s: connection lost (%v); retrying in %s", address, err, backoff[attempt])})
		if serr := sleep(ctx, backoff[attempt]); serr != nil {
			return err
		}
	}
}

// runGroup runs index actions of one table that were ready together (graph.go's groups) as one
// message and one transaction (postDataGroup), and records each one's outcome as run does. Each
// is recorded running first and, once built, waits for the flusher like any action; the time
// they took together is split evenly among them. When the server refused a statement, the
// transaction built none of them: each is then built alone, so that the failure is the
// action's whose statement failed, with its own error, and the others are built.
func (w *worker) runGroup(ctx context.Context, actions []*plan.Action) []error {
	r := w.d.r
	for _, a := range actions {
		r.markBegin(a, w.lane)
	}
	begin := time.Now()
	err := w.tries(ctx, actions[0].Address, false, func() error { return w.postDataGroup(ctx, actions) })
	errs := make([]error, len(actions))
	if err != nil && !retryable(err) && !Interrupted(ctx, err) {
		for k, a := range actions {
			start := time.Now()
			errs[k] = w.tries(ctx, a.Address, false, func() error { return w.postDataObject(ctx, a) })
			r.markFinish(ctx, a, start, 0, 0, 0, errs[k], true)
		}
		return errs
	}
	share := time.Since(begin) / time.Duration(len(actions))
	for k, a := range actions {
		errs[k] = err
		r.markFinish(ctx, a, time.Now().Add(-share), 0, 0, 0, err, true)
	}
	return errs
}

// do runs one action once.
func (w *worker) do(ctx context.Context, a *plan.Action) (rows, bytes int64, err error) {
	switch a.Type {
	case plan.TypeExtension:
		err = w.extension(ctx, a)
	case plan.TypeSchema:
		if w.d.streamed {
			err = w.d.streamSchema(ctx)
		} else {
			err = w.d.schema(ctx)
		}
	case plan.TypeTable:
		if a.Parts > 0 {
			err = w.truncate(ctx, a)
		} else {
			rows, bytes, err = w.copyTable(ctx, a)
		}
	case plan.TypeTablePart:
		rows, bytes, err = w.copyTable(ctx, a)
	case plan.TypeIndex, plan.TypeConstraint:
		err = w.postDataObject(ctx, a)
	case plan.TypeSequences:
		rows, err = w.sequences(ctx)
	case plan.TypeLargeObj:
		rows, bytes, err = w.largeObjects(ctx, a)
	case plan.TypeExtData:
		rows, bytes, err = w.extensionData(ctx)
	case plan.TypePostData:
		err = w.postData(ctx)
	case plan.TypeAnalyze:
		w.work, err = w.d.analyze(ctx)
	case plan.TypeVerify:
		err = w.d.verify(ctx)
	case plan.TypeOwnership:
		err = w.confirmOwnership(ctx, a)
	default:
		err = fmt.Errorf("unexpected action type %q", a.Type)
	}
	return rows, bytes, err
}
