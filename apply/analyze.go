package apply

import (
	"context"
	"github.com/pgferry/pgferry/internal/pgio"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/plan"
)

// analyzeLane gathers statistics table by table while the rest of the migration runs: a table is
// analyzed, on one connection of its own, as soon as everything this run does to it (its copy,
// indexes and foreign keys) is finished, so that ANALYZE uses the time index builds spend waiting
// for their files to be synced instead of running alone at the end. The database's analyze action
// then analyzes only what is left: tables whose statistics need objects post-data creates
// (extended statistics), partitioned and inheritance parents (their statistics cover the
// children), tables this run did not load, and any the lane did not reach.
//
// Statistics are not state: a table the lane analyzed is not recorded anywhere, and a run that
// stops before the analyze action finished analyzes everything again the next time.
type analyzeLane struct {
	d       *dbRun
	mu      sync.Mutex
	pending map[string]int            // table key → actions of this run on it not finished yet
	tables  map[string]*catalog.Table // table key → the tables the lane may analyze
	queue   []*catalog.Table
	done    map[string]bool // analyzed by the lane
	closed  bool
	work    time.Duration // time spent in the lane's ANALYZEs
	wake    chan struct{}
	exited  chan struct{}
}

// tableKey names the table an action works on, "schema.name"; "" for other actions.
func tableKey(a *plan.Action) string {
	switch a.Type {
	case plan.TypeTable, plan.TypeTablePart:
		return a.Schema + "." + a.Name
	case plan.TypeIndex, plan.TypeConstraint:
		return a.Schema + "." + a.Table
	}
	return ""
}

// earlyAnalyzable reports whether a table's statistics can be gathered before post-data.
func earlyAnalyzable(t *catalog.Table) bool {
	return t.Kind == "r" && !t.IsPartition && !t.HasInheritChildren && !t.HasExtendedStats
}

// startAnalyzeLane starts the lane for the actions of this run, or returns nil when the run has
// no analyze action or nothing the lane could do early.
func (d *dbRun) startAnalyzeLane(ctx context.Context, actions []*plan.Action) *analyzeLane {
	analyze := false
	for _, a := range actions {
		if a.Type == plan.TypeAnalyze {
			analyze = true
		}
	}
	if !analyze {
		return nil
	}
	byKey := map[string]*catalog.Table{}
	for k := range d.src.Tables {
		t := &d.src.Tables[k]
		if earlyAnalyzable(t) {
			byKey[t.Key()] = t
		}
	}
	l := &analyzeLane{d: d, pending: map[string]int{}, tables: byKey, done: map[string]bool{}, wake: make(chan struct{}, 1), exited: make(chan struct{})}
	loaded := map[string]bool{}
	for _, a := range actions {
		k := tableKey(a)
		if byKey[k] == nil {
			continue
		}
		l.pending[k]++
		if a.Type == plan.TypeTable || a.Type == plan.TypeTablePart {
			loaded[k] = true
		}
	}
	for k := range l.pending {
		if !loaded[k] {
			delete(l.pending, k) // loaded by an earlier run: left to the analyze action
		}
	}
	if len(l.pending) == 0 {
		return nil
	}
	go l.run(ctx)
	return l
}

// finished tells the lane an action succeeded.
func (l *analyzeLane) finished(a *plan.Action) {
	if l == nil {
		return
	}
	k := tableKey(a)
	l.mu.Lock()
	defer l.mu.Unlock()
	n, ok := l.pending[k]
	if !ok || l.closed {
		return
	}
	if n > 1 {
		l.pending[k] = n - 1
		return
	}
	delete(l.pending, k)
	l.queue = append(l.queue, l.tables[k])
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *analyzeLane) run(ctx context.Context) {
	defer close(l.exited)
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.WithoutCancel(ctx))
		}
	}()
	for {
		l.mu.Lock()
		if l.closed || ctx.Err() != nil {
			l.mu.Unlock()
			return
		}
		var t *catalog.Table
		if len(l.queue) > 0 {
			t, l.queue = l.queue[0], l.queue[1:]
		}
		l.mu.Unlock()
		if t == nil {
			select {
			case <-l.wake:
			case <-ctx.Done():
				return
			}
			continue
		}
		if conn == nil {
			c, err := openTargetConn(ctx, l.d)
			if err != nil {
				return // the analyze action does it all
			}
			conn = c
		}
		start := time.Now()
		_, err := conn.Exec(ctx, "ANALYZE "+t.Qualified())
		l.mu.Lock()
		l.work += time.Since(start)
		if err == nil {
			l.done[t.Key()] = true
		}
		l.mu.Unlock()
		if err != nil {
			return // a lost connection, a dropped table: the analyze action does it again
		}
	}
}

// stop stops the lane once its current ANALYZE is done and returns what it analyzed and the time
// it spent.
func (l *analyzeLane) stop() (map[string]bool, time.Duration) {
	if l == nil {
		return nil, 0
	}
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	<-l.exited
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done, l.work
}

// analyze gathers the statistics the lane did not, Jobs tables at a time, and returns the work
// time of all ANALYZEs, the lane's included.
func (d *dbRun) analyze(ctx context.Context) (time.Duration, error) {
	done, work := d.lane.stop()
	var names []string
	for _, t := range d.src.Tables {
		if !done[t.Key()] {
			names = append(names, t.Qualified())
		}
	}
	// Materialized views were filled by post-data's REFRESH.
	mv, err := d.materializedViews(ctx)
	if err != nil {
		return work, err
	}
	names = append(names, mv...)
	var mu sync.Mutex
	err = pgio.Parallel(ctx, d.r.opt.Jobs, len(names), func() (*pgx.Conn, error) { return openTargetConn(ctx, d) },
		func(ctx context.Context, c *pgx.Conn, i int) error {
			start := time.Now()
			_, err := c.Exec(ctx, "ANALYZE "+names[i])
			mu.Lock()
			work += time.Since(start)
			mu.Unlock()
			return err
		})
	return work, err
}

// materializedViews lists the target database's populated materialized views, quoted.
func (d *dbRun) materializedViews(ctx context.Context) ([]string, error) {
	c, err := openTargetConn(ctx, d)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	rows, err := c.Query(ctx, `SELECT n.nspname::text, c.relname::text FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'm' AND c.relispopulated AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.pg_class'::regclass
			AND e.objid = c.oid AND e.deptype = 'e')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var s, n string
		err := r.Scan(&s, &n)
		return catalog.QuoteQualified(s, n), err
	})
}
