package apply

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgio"
	"github.com/pgferry/pgferry/internal/pgver"
	"github.com/pgferry/pgferry/plan"
)

// analyzeLane gathers statistics while the rest of the migration runs: a table's are gathered, on
// one connection of its own (the tables finished meanwhile in one statement), as soon as its
// copy and index builds are finished (not its foreign keys: AnalyzeAfter), so that this
// uses the time index builds spend waiting for their files to be synced instead of running alone
// at the end. Where the target takes the source's statistics (statistics.go), the lane restores
// them, several tables per statement, once pg_dump dumped them: after the table's indexes are
// built (CREATE INDEX counts its pages and rows again), and nothing this run does to the table
// afterwards changes them; it analyzes the tables whose statistics cannot be carried. The
// database's analyze action then does only what is left: tables whose statistics need objects
// post-data creates (extended statistics), partitioned and inheritance parents and partitions
// (their parents' indexes are built on them), materialized views (post-data fills them), tables
// this run did not load, and any the lane did not reach.
//
// Statistics are not state: a table the lane did is not recorded anywhere, and a run that stops
// before the analyze action finished restores or analyzes everything again the next time.
type analyzeLane struct {
	d       *dbRun
	mu      sync.Mutex
	pending map[string]int            // table key → actions of this run on it not finished yet
	tables  map[string]*catalog.Table // table key → the tables the lane may do
	queue   []*catalog.Table          // to analyze
	carry   []*catalog.Table          // to restore the statistics of, once dumped
	done    map[string]bool           // restored or analyzed by the lane
	closed  bool
	work    time.Duration // time spent in the lane's statements
	wake    chan struct{}
	exited  chan struct{}
	// carries: the target takes the source's planner statistics (plan.CarriesStatistics);
	// dumped is closed once pg_dump, started with the lane, wrote their script (statsFile) or
	// failed (statsErr).
	carries   bool
	dumped    chan struct{}
	statsFile string
	statsErr  error
	// conn is the lane's connection once it stopped, for the analyze action (takeConn).
	conn *pgx.Conn
	// rs indexes the script (restorer): built once, by the lane or the analyze action.
	rsMu sync.Mutex
	rs   *statsRestorer
}

// AnalyzeAfter names the table ("schema.name") whose early statistics wait for action a: a copy
// (whole or part) of it or an index build on it; "" for other actions. A foreign key is not
// waited for: adding one changes neither the table's rows nor its statistics, and ANALYZE takes a
// lock on one table at a time, so a foreign key that comes while its table is analyzed waits for
// that table only (and ANALYZE for a foreign key being validated). Most foreign keys run late,
// once the table they reference is loaded: tables waiting for theirs were analyzed in a rush at
// the end, and what the lane had not reached by then was left to the analyze action, alone at
// the end of the run. The forecast's replay of the lane follows the same rule.
func AnalyzeAfter(a *plan.Action) string {
	switch a.Type {
	case plan.TypeTable, plan.TypeTablePart:
		return a.Schema + "." + a.Name
	case plan.TypeIndex:
		return a.Schema + "." + a.Table
	}
	return ""
}

// earlyAnalyzable reports whether a table's statistics can be gathered (or restored) before
// post-data.
func earlyAnalyzable(t *catalog.Table) bool {
	return t.Kind == "r" && !t.IsPartition && !t.HasInheritChildren && !t.HasExtendedStats
}

// startAnalyzeLane starts the lane for the actions of this run, and where the target takes the
// source's statistics, pg_dump dumping them; it returns nil when the run has no analyze action.
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
	l := &analyzeLane{d: d, done: map[string]bool{}, wake: make(chan struct{}, 1), exited: make(chan struct{})}
	if tools := d.r.opt.Tools; tools != nil && plan.CarriesStatistics(d.r.opt.Plan.Target.VersionNum, tools.Release) {
		l.carries, l.dumped = true, make(chan struct{})
		stats := d.dumpStatistics(ctx)
		go func() {
			l.statsFile, l.statsErr = stats()
			close(l.dumped)
			l.poke()
		}()
	}
	l.tables = map[string]*catalog.Table{}
	for k := range d.src.Tables {
		t := &d.src.Tables[k]
		if earlyAnalyzable(t) {
			l.tables[t.Key()] = t
		}
	}
	l.pending = lanePending(l.tables, actions)
	if len(l.pending) == 0 {
		close(l.exited) // nothing to do early
		return l
	}
	go l.run(ctx)
	return l
}

// lanePending counts, for each table of tables that this run loads, the actions of actions its
// early statistics wait for (AnalyzeAfter); a table loaded by an earlier run is left to the
// analyze action.
func lanePending(tables map[string]*catalog.Table, actions []*plan.Action) map[string]int {
	pending := map[string]int{}
	loaded := map[string]bool{}
	for _, a := range actions {
		k := AnalyzeAfter(a)
		if tables[k] == nil {
			continue
		}
		pending[k]++
		if a.Type == plan.TypeTable || a.Type == plan.TypeTablePart {
			loaded[k] = true
		}
	}
	for k := range pending {
		if !loaded[k] {
			delete(pending, k)
		}
	}
	return pending
}

// restorer returns the index of the statistics pg_dump dumped, once it finished, built on c the
// first time it is asked for.
func (l *analyzeLane) restorer(ctx context.Context, c *pgx.Conn) (*statsRestorer, error) {
	select {
	case <-l.dumped:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if l.statsErr != nil {
		return nil, l.statsErr
	}
	l.rsMu.Lock()
	defer l.rsMu.Unlock()
	if l.rs == nil {
		rs, err := l.d.newStatsRestorer(ctx, c, l.statsFile)
		if err != nil {
			return nil, err // the next caller tries again
		}
		l.rs = rs
	}
	return l.rs, nil
}

// poke wakes the lane.
func (l *analyzeLane) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// finished tells the lane an action succeeded.
func (l *analyzeLane) finished(a *plan.Action) {
	if l == nil {
		return
	}
	k := AnalyzeAfter(a)
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
	if t := l.tables[k]; l.carries && plan.StatisticsCarriable(t) {
		l.carry = append(l.carry, t)
	} else {
		l.queue = append(l.queue, t)
	}
	l.poke()
}

// isDumped reports whether pg_dump finished dumping the statistics.
func (l *analyzeLane) isDumped() bool {
	select {
	case <-l.dumped:
		return true
	default:
		return false
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
	restores := l.carries
	for {
		l.mu.Lock()
		if l.closed && ctx.Err() == nil && conn != nil {
			l.conn, conn = conn, nil // to the analyze action: one connection's setup less
		}
		if l.closed || ctx.Err() != nil {
			l.mu.Unlock()
			return
		}
		// Whatever finished meanwhile, in one statement each (up to maxAnalyzeBatch tables, and
		// laneBatchPages to analyze).
		var carry []*catalog.Table
		if restores && l.isDumped() {
			carry = l.carry[:min(len(l.carry), maxAnalyzeBatch)]
			l.carry = l.carry[len(carry):]
		}
		batch := l.queue[:laneBatch(l.queue)]
		l.queue = l.queue[len(batch):]
		l.mu.Unlock()
		if len(batch) == 0 && len(carry) == 0 {
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
		if len(carry) > 0 {
			if err := l.restore(ctx, conn, carry); err != nil {
				if ctx.Err() != nil || conn.IsClosed() {
					return
				}
				restores = false // the analyze action says why, and analyzes them
			}
		}
		if len(batch) > 0 && !l.analyze(ctx, conn, batch) {
			return // a lost connection, a dropped table: the analyze action does it again
		}
	}
}

// restore restores the statistics of tables on c; those the target did not take in full go to the
// lane's queue, to be analyzed.
func (l *analyzeLane) restore(ctx context.Context, c *pgx.Conn, tables []*catalog.Table) error {
	rs, err := l.restorer(ctx, c)
	if err != nil {
		return err
	}
	owners := make([]statsOwner, len(tables))
	for i, t := range tables {
		owners[i] = tableOwner(t)
	}
	carried, work, err := rs.restoreOn(ctx, c, owners)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.work += work
	if err != nil {
		return err
	}
	for _, t := range tables {
		if carried[t.Key()] {
			l.done[t.Key()] = true
		} else {
			l.queue = append(l.queue, t)
		}
	}
	return nil
}

// analyze analyzes tables on c and reports whether it succeeded.
func (l *analyzeLane) analyze(ctx context.Context, c *pgx.Conn, tables []*catalog.Table) bool {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = t.Qualified()
	}
	start := time.Now()
	_, err := c.Exec(ctx, analyzeStatement(names, l.d.r.opt.Plan.Target.VersionNum))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.work += time.Since(start)
	if err == nil {
		for _, t := range tables {
			l.done[t.Key()] = true
		}
	}
	return err == nil
}

// stop stops the lane once its current statement is done and returns what it restored or
// analyzed and the time it spent.
func (l *analyzeLane) stop() (map[string]bool, time.Duration) {
	if l == nil {
		return nil, 0
	}
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.poke()
	<-l.exited
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done, l.work
}

// takeConn returns the connection the stopped lane used, or nil; the caller closes it.
func (l *analyzeLane) takeConn() *pgx.Conn {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.conn
	l.conn = nil
	return c
}

// close stops the lane and closes its connection if the analyze action did not take it.
func (l *analyzeLane) close(ctx context.Context) {
	if l == nil {
		return
	}
	l.stop()
	if c := l.takeConn(); c != nil {
		c.Close(context.WithoutCancel(ctx))
	}
}

// maxAnalyzeBatch is the most tables one ANALYZE statement names.
const maxAnalyzeBatch = 100

// laneBatchPages is the most heap pages (those ANALYZE reads: analyzeSample at most per table) one
// ANALYZE of the lane names, unless its first table alone has more: the analyze action waits for
// the lane's statement running when it starts, with the other connections idle at the end of the
// run, so that statement is kept to some 0.1 s of a server's time. Tiny tables still go up to
// maxAnalyzeBatch a statement: one per few tables would cost a round trip each on a slow link.
const laneBatchPages = 2048

// laneBatch is how many tables at the head of queue the lane's next ANALYZE names.
func laneBatch(queue []*catalog.Table) int {
	n, pages := 0, int64(0)
	for n < len(queue) && n < maxAnalyzeBatch {
		pages += min(max(queue[n].Pages, 0), analyzeSample)
		if n > 0 && pages > laneBatchPages {
			break
		}
		n++
	}
	return n
}

// analyzeStatement is one statement analyzing the tables names (quoted): ANALYZE t1, t2, ... on
// PostgreSQL 11 and later, one ANALYZE per table in one message before (ANALYZE may run in the
// implicit transaction a message of several statements runs in).
func analyzeStatement(names []string, target pgver.V) string {
	if target.AtLeast(11) {
		return "ANALYZE " + strings.Join(names, ", ")
	}
	return "ANALYZE " + strings.Join(names, "; ANALYZE ")
}

// analyzeItem is a relation the analyze action gathers the statistics of: its quoted name and its
// heap pages (0 when unknown).
type analyzeItem struct {
	name  string
	pages int64
}

// analyzeSample is the most pages ANALYZE reads of a table (300 × default_statistics_target rows,
// one page each at worst); analyzeOverhead is a table's fixed cost in pages.
const (
	analyzeSample   = 30000
	analyzeOverhead = 64
)

// analyzeBatches groups relations into ANALYZE statements: few statements (each a round trip),
// yet enough of them, of even cost, for jobs connections to share the work: a table that costs
// more than a share (jobs × 4 shares in all) alone, smaller ones together, up to maxAnalyzeBatch
// per statement. The cost of a table is the pages ANALYZE reads of it, plus a fixed overhead.
// Larger statements come first.
func analyzeBatches(items []analyzeItem, jobs int, target pgver.V) []string {
	if len(items) == 0 {
		return nil
	}
	cost := func(it analyzeItem) int64 { return min(max(it.pages, 0), analyzeSample) + analyzeOverhead }
	sorted := slices.Clone(items)
	slices.SortStableFunc(sorted, func(a, b analyzeItem) int { return cmp.Compare(cost(b), cost(a)) })
	var total int64
	for _, it := range sorted {
		total += cost(it)
	}
	share := max(total/int64(max(jobs, 1)*4), 1)
	var out []string
	var cur []string
	var curCost int64
	flush := func() {
		if len(cur) > 0 {
			out = append(out, analyzeStatement(cur, target))
			cur, curCost = nil, 0
		}
	}
	for _, it := range sorted {
		cur = append(cur, it.name)
		curCost += cost(it)
		if curCost >= share || len(cur) >= maxAnalyzeBatch {
			flush()
		}
	}
	flush()
	return out
}

// analyze gathers the statistics the lane did not: it restores the source's where the target
// takes them (restoreStatistics), and analyzes the rest, several tables per statement on Jobs
// connections. It returns the work time of all statements, the lane's included.
func (d *dbRun) analyze(ctx context.Context) (time.Duration, error) {
	done, work := d.lane.stop()
	// One connection for the catalog reads the step starts with (materialized views, and the
	// tables whose statistics cannot be carried) and the first statistics restores: the lane's,
	// or one connection's setup, not two, on a slow link.
	c := d.lane.takeConn()
	if c == nil {
		var err error
		if c, err = openTargetConn(ctx, d); err != nil {
			return work, err
		}
	}
	handed := false // to the statements' workers, which close it
	defer func() {
		if !handed {
			c.Close(context.WithoutCancel(ctx))
		}
	}()
	mvs, err := d.materializedViews(ctx, c)
	if err != nil {
		return work, err
	}
	var carried map[string]bool
	if d.lane != nil && d.lane.carries {
		var sum statsSummary
		var restoreWork time.Duration
		carried, sum, restoreWork, err = d.restoreStatistics(ctx, c, mvs, done)
		work += restoreWork
		switch {
		case ctx.Err() != nil:
			return work, ctx.Err()
		case err != nil:
			d.r.emit(Event{Type: EventMessage, Message: fmt.Sprintf("Database %q: the source's planner statistics could not be carried over (%v); gathering them with ANALYZE", d.db, err)})
			carried = done
		default:
			d.r.emit(Event{Type: EventMessage, Message: fmt.Sprintf("Database %q: %s", d.db, sum)})
		}
	}
	var items []analyzeItem
	for k := range d.src.Tables {
		t := &d.src.Tables[k]
		if !done[t.Key()] && !carried[t.Key()] {
			items = append(items, analyzeItem{t.Qualified(), t.Pages})
		}
	}
	// Materialized views were filled by post-data's REFRESH.
	for _, mv := range mvs {
		if !carried[mv.key()] {
			items = append(items, analyzeItem{catalog.QuoteQualified(mv.schema, mv.name), mv.pages})
		}
	}
	stmts := analyzeBatches(items, d.r.opt.Jobs, d.r.opt.Plan.Target.VersionNum)
	var mu sync.Mutex
	err = pgio.Parallel(ctx, d.r.opt.Jobs, len(stmts), firstThen(c, &handed, func() (*pgx.Conn, error) { return openTargetConn(ctx, d) }),
		func(ctx context.Context, c *pgx.Conn, i int) error {
			start := time.Now()
			_, err := c.Exec(ctx, stmts[i])
			mu.Lock()
			work += time.Since(start)
			mu.Unlock()
			return err
		})
	return work, err
}

// firstThen is a connection opener for pgio.Parallel that hands out c first, setting handed, then
// opens new ones with open: the analyze action's statements run on its connection and Jobs - 1
// more, not on Jobs new ones (connection setups at the very end of the run). handed may be read
// once Parallel returned.
func firstThen(c *pgx.Conn, handed *bool, open func() (*pgx.Conn, error)) func() (*pgx.Conn, error) {
	var mu sync.Mutex
	return func() (*pgx.Conn, error) {
		mu.Lock()
		first := !*handed
		*handed = true
		mu.Unlock()
		if first {
			return c, nil
		}
		return open()
	}
}

// matview is a populated materialized view of the target database: its heap pages, and whether
// extended statistics objects are defined on it.
type matview struct {
	schema, name string
	pages        int64
	extStats     bool
}

func (m matview) key() string { return m.schema + "." + m.name }

// materializedViews lists the target database's populated materialized views.
func (d *dbRun) materializedViews(ctx context.Context, c *pgx.Conn) ([]matview, error) {
	ext := "false"
	if d.r.opt.Plan.Target.VersionNum.AtLeast(10) {
		ext = "EXISTS (SELECT 1 FROM pg_catalog.pg_statistic_ext x WHERE x.stxrelid = c.oid)"
	}
	rows, err := c.Query(ctx, `SELECT n.nspname::text, c.relname::text, pg_catalog.pg_relation_size(c.oid) / 8192, `+ext+`
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'm' AND c.relispopulated AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend e WHERE e.classid = 'pg_catalog.pg_class'::regclass
			AND e.objid = c.oid AND e.deptype = 'e')
		ORDER BY 1, 2`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (matview, error) {
		var m matview
		err := r.Scan(&m.schema, &m.name, &m.pages, &m.extStats)
		return m, err
	})
}
