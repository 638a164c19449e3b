package views

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
)

// Applier prints apply events for people, Terraform style.
type Applier struct {
	W        io.Writer
	mu       sync.Mutex
	lastTick map[string]time.Time
	timings  map[string]time.Duration
	tables   map[string]*tableTiming // by table address: the parts of a table are one entry, until all are copied
	// slowest are the slowest tables copied (slowestFirst), at most tablesListed of them, and
	// copied how many tables were: the closing timing table lists no more, and a run of tens of
	// thousands of tables keeps no timing per table.
	slowest []*tableTiming
	copied  int
	// added, changed and destroyed count finished actions as the plan's ActionsLine does.
	added     int
	changed   int
	destroyed int
	// clock is time.Now, or a test's clock.
	clock func() time.Time
}

// tableTiming is one table's copy: from its (first part's) start to its (last part's) end.
type tableTiming struct {
	addr       string
	start, end time.Time
	rows       int64
	bytes      int64
	parts      int
}

// tablesListed is how many tables the closing timing table lists at most, the slowest first.
const tablesListed = 20

func (v *Applier) now() time.Time {
	if v.clock != nil {
		return v.clock()
	}
	return time.Now()
}

// Event prints one event.
func (v *Applier) Event(e apply.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.lastTick == nil {
		v.lastTick, v.timings = map[string]time.Time{}, map[string]time.Duration{}
	}
	switch e.Type {
	case apply.EventPhase:
		fmt.Fprintln(v.W, bold(e.Message))
	case apply.EventStart:
		start := verbsOf(e.Action.Kind).ing
		fmt.Fprintf(v.W, "%s: %s\n", bold(e.Address), start)
		v.lastTick[e.Address] = v.now()
	case apply.EventProgress:
		// Progress of its own (copies, large objects) is printed every 10 s; apply emits the
		// Still events of the other actions every 10 s already.
		if !e.Still && v.now().Sub(v.lastTick[e.Address]) < StillEvery {
			return
		}
		v.lastTick[e.Address] = v.now()
		extra := ""
		if e.Bytes > 0 {
			extra = fmt.Sprintf(", %s, %s/s", Bytes(e.Bytes), Bytes(int64(float64(e.Bytes)/max(e.Elapsed.Seconds(), 0.001))))
		}
		fmt.Fprintf(v.W, "%s: Still %s [%s elapsed%s]\n", bold(e.Address), verbsOf(e.Action.Kind).still, Duration(e.Elapsed.Round(time.Second)), extra)
	case apply.EventComplete:
		delete(v.lastTick, e.Address) // held only while the action runs (tens of thousands of them)
		done := verbsOf(e.Action.Kind).done
		extra := ""
		if e.Action.Type == plan.TypeTablePart || (e.Action.Type == plan.TypeTable && e.Action.Parts == 0) {
			extra = fmt.Sprintf(" [%s, %s]", Rows(e.Rows), Bytes(e.Bytes))
		}
		fmt.Fprintf(v.W, "%s: %s after %s%s\n", bold(e.Address), done, Duration(e.Elapsed), extra)
		work := e.Elapsed
		if e.Work > 0 {
			work = e.Work
		}
		v.timings[plan.PhaseOf(e.Action.Type)] += work
		switch e.Action.Kind {
		case plan.Update:
			v.changed++
		case plan.Replace:
			v.added++
			v.destroyed++
		case plan.Delete:
			v.destroyed++
		default:
			v.added++
		}
		if e.Action.Type == plan.TypeTablePart || (e.Action.Type == plan.TypeTable && e.Action.Parts == 0) {
			v.addTable(e)
		}
	case apply.EventErrored:
		delete(v.lastTick, e.Address)
		fmt.Fprintf(v.W, "%s: %s %v\n", bold(e.Address), red("Error:"), e.Err)
	case apply.EventInterrupted:
		delete(v.lastTick, e.Address)
		fmt.Fprintf(v.W, "%s: Interrupted after %s\n", bold(e.Address), Duration(e.Elapsed))
	case apply.EventMessage:
		fmt.Fprintln(v.W, e.Message)
	}
}

// addTable records a finished table copy, or one part of it.
func (v *Applier) addTable(e apply.Event) {
	if v.tables == nil {
		v.tables = map[string]*tableTiming{}
	}
	end := v.now()
	start := end.Add(-e.Elapsed)
	addr := e.Address
	if e.Action.Type == plan.TypeTablePart {
		addr = plan.TableAddr(e.Action.Database, e.Action.Schema, e.Action.Name)
	}
	t := v.tables[addr]
	if t == nil {
		t = &tableTiming{addr: addr, start: start, end: end}
		v.tables[addr] = t
	}
	t.start, t.end = minTime(t.start, start), maxTime(t.end, end)
	t.rows += e.Rows
	t.bytes += e.Bytes
	if e.Action.Type == plan.TypeTablePart {
		t.parts++
		if t.parts < e.Action.Parts {
			return // more parts to come
		}
	}
	delete(v.tables, addr)
	v.copied++
	// Into its place among the slowest (kept in order), when it is one of them.
	i := sort.Search(len(v.slowest), func(k int) bool { return slowestFirst(t, v.slowest[k]) })
	if i < tablesListed {
		v.slowest = slices.Insert(v.slowest, i, t)
		v.slowest = v.slowest[:min(len(v.slowest), tablesListed)]
	}
}

// slowestFirst orders table timings by wall clock, the slowest first, then by address.
func slowestFirst(a, b *tableTiming) bool {
	if da, db := a.end.Sub(a.start), b.end.Sub(b.start); da != db {
		return da > db
	}
	return a.addr < b.addr
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Finish prints the closing summary: counts, time per phase (summed over workers) and per table.
func (v *Applier) Finish(total time.Duration, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	fmt.Fprintln(v.W)
	if len(v.timings) > 0 {
		fmt.Fprintln(v.W, bold("Time per phase")+faint(" (work time, summed over parallel workers):"))
		for _, ph := range plan.Phases {
			if d, ok := v.timings[ph]; ok {
				fmt.Fprintf(v.W, "  %-12s %10s\n", ph, Duration(d))
			}
		}
		fmt.Fprintf(v.W, "  %-12s %10s\n", "wall clock", Duration(total))
		if n := v.copied + len(v.tables); n > 0 {
			// Every table when there are a few; the slowest otherwise (show lists each). A split
			// table some of whose parts did not finish is among them.
			tables := append([]*tableTiming(nil), v.slowest...)
			for _, t := range v.tables {
				tables = append(tables, t)
			}
			sort.Slice(tables, func(i, j int) bool { return slowestFirst(tables[i], tables[j]) })
			fmt.Fprintln(v.W, bold("Time per table")+faint(" (wall clock, slowest first):"))
			for _, t := range tables[:min(len(tables), tablesListed)] {
				parts := ""
				if t.parts > 0 {
					parts = fmt.Sprintf(", %d parts", t.parts)
				}
				fmt.Fprintf(v.W, "  %10s  %s  (%s, %s%s)\n", Duration(t.end.Sub(t.start)), t.addr, Rows(t.rows), Bytes(t.bytes), parts)
			}
			if n > tablesListed {
				fmt.Fprintf(v.W, "  … and %d more tables (pgferry show lists every table)\n", n-tablesListed)
			}
		}
		fmt.Fprintln(v.W)
	}
	if err == nil {
		fmt.Fprintln(v.W, green(bold(fmt.Sprintf("Apply complete! Resources: %d added, %d changed, %d destroyed.", v.added, v.changed, v.destroyed))))
	}
}

// Forecast shows the forecast of a saved plan, whose plan apply does not show, before the run.
func (a *applyHuman) Forecast(p *plan.Plan) {
	if p.Forecast != nil && p.HasChanges() && !p.ValidationFailed() {
		Forecast(a.Stdout, p.Forecast)
		fmt.Fprintln(a.Stdout)
	}
}

// Forecast writes the plan's forecast as a "forecast" line (the document plan --json carries),
// once before the run: after the plan made now (Plan), or for a saved plan.
func (a *applyJSON) Forecast(p *plan.Plan) {
	if p.ValidationFailed() || !p.HasChanges() {
		return
	}
	if f := forecastJSON(p.Forecast); f != nil {
		a.jl.Write("info", "forecast", fmt.Sprintf("Forecast: apply will take about %s", msDuration(p.Forecast.ExpectedMS)), map[string]any{"forecast": f})
	}
}
