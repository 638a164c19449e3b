package views

import (
	"sync"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
)

// Progress tracks how far an apply is over all its actions — roles, schema, data, indexes,
// constraints, post-data, ANALYZE, verify — each weighted by the plan's estimate of its work, so
// that the overall figure moves through every phase and reaches 100% only when the last action
// is done. It is fed apply's events and read by the live bars and by apply --json.
type Progress struct {
	mu      sync.Mutex
	weights map[string]float64 // per action address
	total   float64
	done    map[string]float64 // fraction of each action done, 0..1
	sum     float64            // Σ weights[a]·done[a], kept by setDone: percent() is read per event
	tables  map[string]*TableProgress
	order   []string // data actions, in plan order
	bytes   int64    // bytes copied so far, all tables
	est     int64    // the plan's estimate of the bytes to copy
	start   time.Time
	first   time.Time // when the first copy reported bytes: the rate is measured from there
	base    float64   // the percent done then
	clock   func() time.Time
}

// TableProgress is one copy's figures: bytes and rows so far against the plan's estimates.
type TableProgress struct {
	Address       string `json:"address"`
	Bytes         int64  `json:"bytes"`
	BytesEstimate int64  `json:"bytes_estimate"`
	Rows          int64  `json:"rows"`
	RowsEstimate  int64  `json:"rows_estimate"`
	Percent       int    `json:"percent"`
	Done          bool   `json:"done"`
	running       bool
}

// Weights of the actions whose plan carries no size: a fixed cost, in bytes of copy it is worth.
const (
	weightSmall  = 64 << 10 // a role, a database, a sequence set, a parameter...
	weightSchema = 4 << 20  // pre-data: a catalog's worth of DDL
	weightPost   = 2 << 20  // post-data: triggers, privileges, comments...
	minWeight    = 8 << 10  // a page: no action is free
)

// actionWeights weighs each action of the plan in bytes-of-copy equivalents: a copy by its bytes,
// an index build by the index's size, a foreign key by a quarter of its table (one scan), ANALYZE
// by a tenth of the database's tables (a sample), verify by the database's tables (count: a
// twentieth; checksum: half, both sides read in parallel with the copy's speed).
func actionWeights(p *plan.Plan, verifyMode string) map[string]float64 {
	tableBytes := map[string]int64{} // schema.table -> estimate
	dbBytes := map[string]int64{}
	for _, a := range p.Actions {
		if a.Type == plan.TypeTable {
			tableBytes[a.Database+"\x00"+a.Schema+"."+a.Name] = a.BytesEstimate
			dbBytes[a.Database] += a.BytesEstimate
		}
	}
	w := make(map[string]float64, len(p.Actions))
	for _, a := range p.Actions {
		var x float64
		switch a.Type {
		case plan.TypeTable:
			if a.Parts > 0 {
				x = weightSmall // its parts carry the copy
			} else {
				x = float64(a.BytesEstimate)
			}
		case plan.TypeTablePart:
			x = float64(a.BytesEstimate)
		case plan.TypeIndex:
			x = float64(a.BytesEstimate)
		case plan.TypeConstraint:
			x = float64(tableBytes[a.Database+"\x00"+a.Schema+"."+a.Table]) / 4
		case plan.TypeAnalyze:
			x = float64(dbBytes[a.Database]) / 10
		case plan.TypeVerify:
			switch verifyMode {
			case "count":
				x = float64(dbBytes[a.Database]) / 20
			default:
				x = float64(dbBytes[a.Database]) / 2
			}
		case plan.TypeSchema:
			x = weightSchema
		case plan.TypePostData:
			x = weightPost
		case plan.TypeLargeObj:
			x = float64(a.RowsEstimate) * 2048
		default:
			x = weightSmall
		}
		w[a.Address] = max(x, minWeight)
	}
	return w
}

// NewProgress weighs the plan's actions; verifyMode is the migration's options.verify.
func NewProgress(p *plan.Plan, verifyMode string) *Progress {
	g := &Progress{weights: actionWeights(p, verifyMode), done: map[string]float64{}, tables: map[string]*TableProgress{}}
	for _, a := range p.Actions {
		g.total += g.weights[a.Address]
		if isData(a) {
			g.tables[a.Address] = &TableProgress{Address: a.Address, BytesEstimate: a.BytesEstimate, RowsEstimate: a.RowsEstimate}
			g.order = append(g.order, a.Address)
			g.est += a.BytesEstimate
		}
	}
	return g
}

func (g *Progress) now() time.Time {
	if g.clock != nil {
		return g.clock()
	}
	return time.Now()
}

// Event takes in one apply event.
func (g *Progress) Event(e apply.Event) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if g.start.IsZero() {
		g.start = now
	}
	if e.Action == nil {
		return
	}
	t := g.tables[e.Address]
	switch e.Type {
	case apply.EventStart:
		if t != nil {
			t.running = true
		}
	case apply.EventProgress:
		if t != nil && (e.Bytes > 0 || e.Rows > 0) {
			g.setTable(t, e.Bytes, e.Rows, false)
			g.markFirst(now) // what was copied before the first report is not timed: not counted
		}
	case apply.EventComplete:
		if t != nil {
			g.setTable(t, e.Bytes, e.Rows, true)
		}
		if _, ok := g.weights[e.Address]; ok {
			g.setDone(e.Address, 1)
		}
		if t != nil {
			g.markFirst(now)
		}
	case apply.EventErrored:
		if t != nil {
			t.running = false
		}
	}
}

// markFirst starts measuring the rate at the first data reported: the roles and the schema
// before it say little of the copy's speed (an ETA from them said 12m for a 20 s copy).
func (g *Progress) markFirst(now time.Time) {
	if g.first.IsZero() {
		g.first, g.base = now, g.percent()
	}
}

// setDone records the fraction of an action done.
func (g *Progress) setDone(addr string, f float64) {
	g.sum += g.weights[addr] * (f - g.done[addr])
	g.done[addr] = f
}

func (g *Progress) percent() float64 {
	if g.total <= 0 {
		return 0
	}
	return max(min(100*g.sum/g.total, 100), 0)
}

func (g *Progress) setTable(t *TableProgress, bytes, rows int64, done bool) {
	if d := bytes - t.Bytes; d > 0 {
		g.bytes += d
		t.Bytes = bytes
	}
	if rows > t.Rows {
		t.Rows = rows
	}
	t.Done, t.running = done, !done
	frac := 1.0
	if !done {
		// A copy is not done until it says so: the estimate may be low.
		frac = min(float64(t.Bytes)/float64(max(t.BytesEstimate, 1)), 0.99)
	}
	t.Percent = int(frac * 100)
	g.setDone(t.Address, frac)
}

// Overall is the figures of the whole apply.
type Overall struct {
	Percent       float64       `json:"percent"`
	Bytes         int64         `json:"bytes"`
	BytesEstimate int64         `json:"bytes_estimate"`
	Elapsed       time.Duration `json:"-"`
	// ETA is the time left at the rate measured so far; 0 while it is not measured yet (less
	// than etaAfter of work reported and under etaPercent done).
	ETA time.Duration `json:"-"`
}

// The rate behind an ETA is measured once work has been reported for etaAfter, or once etaPercent is done.
const (
	etaAfter   = 3 * time.Second
	etaPercent = 5.0
)

// Overall returns the apply's figures now.
func (g *Progress) Overall() Overall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.overall(g.now())
}

func (g *Progress) overall(now time.Time) Overall {
	o := Overall{Percent: g.percent(), Bytes: g.bytes, BytesEstimate: max(g.est, g.bytes)}
	if !g.start.IsZero() {
		o.Elapsed = now.Sub(g.start)
	}
	o.ETA = eta(g.base, o.Percent, g.first, now)
	return o
}

// eta is the time left to reach 100% from percent at the average rate since first (when base
// percent was done), or 0 while the rate is not measured: for less than etaAfter and less than
// etaPercent gained.
func eta(base, percent float64, first, now time.Time) time.Duration {
	gained := percent - base
	if first.IsZero() || gained <= 0 || percent >= 100 {
		return 0
	}
	d := now.Sub(first)
	if d <= 0 || (d < etaAfter && gained < etaPercent) {
		return 0
	}
	left := time.Duration(float64(d) * (100 - percent) / gained)
	return max(left.Round(time.Second), time.Second)
}

// Finished marks the whole apply done (a successful run): 100%.
func (g *Progress) Finished() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for addr := range g.weights {
		g.setDone(addr, 1)
	}
	g.sum = g.total // not a rounding short of it
	for _, t := range g.tables {
		t.Done, t.running, t.Percent = true, false, 100
	}
	g.est = g.bytes // what was copied is the whole copy: "X / X copied"
}

// Running returns the figures of the copies running now, in plan order.
func (g *Progress) Running() []TableProgress {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []TableProgress
	for _, addr := range g.order {
		if t := g.tables[addr]; t.running {
			out = append(out, *t)
		}
	}
	return out
}

// Table returns one copy's figures.
func (g *Progress) Table(addr string) (TableProgress, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	t, ok := g.tables[addr]
	if !ok {
		return TableProgress{}, false
	}
	return *t, true
}
