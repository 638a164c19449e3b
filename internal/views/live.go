package views

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Live shows apply on a terminal: the Terraform-like lines of Applier scroll above live bars, one per
// table being copied (bytes and rows against the plan's estimates, rate) and one for the whole apply
// over all its phases (Progress), with an ETA once the rate is measured. A finished copy's bar goes.
type Live struct {
	*Applier
	prog    *Progress
	p       *mpb.Progress
	out     io.Writer
	mu      sync.Mutex
	bars    map[string]*mpb.Bar
	overall *mpb.Bar
}

// overallUnits is the overall bar's total: per mille of the weighted work.
const overallUnits = 1000

// NewLive starts the bars for applying p; verifyMode is the migration's options.verify.
func NewLive(w io.Writer, p *plan.Plan, verifyMode string) *Live {
	mp := mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh())
	l := &Live{Applier: &Applier{W: mp}, prog: NewProgress(p, verifyMode), p: mp, out: w, bars: map[string]*mpb.Bar{}}
	l.overall = mp.AddBar(overallUnits,
		mpb.PrependDecorators(decor.Name("overall ", decor.WC{W: 40, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string { return OverallLine(l.prog.Overall()) })),
		mpb.BarPriority(1<<30))
	return l
}

// OverallLine is the overall bar's figures: percent, bytes copied of the estimate, elapsed, and
// the ETA once the rate is measured.
func OverallLine(o Overall) string {
	s := fmt.Sprintf("%3d%%  %s / %s copied  %s", int(o.Percent), Bytes(o.Bytes), Bytes(o.BytesEstimate), Duration(o.Elapsed.Round(time.Second)))
	if o.ETA > 0 {
		s += "  ETA " + Duration(o.ETA)
	}
	return s
}

// TableLine is a copy's figures: bytes of the estimate, rows (the estimate's share until the
// copy counts them), and rate.
func TableLine(t TableProgress, elapsed time.Duration) string {
	rows := t.Rows
	if rows == 0 && t.BytesEstimate > 0 {
		rows = int64(float64(t.RowsEstimate) * min(float64(t.Bytes)/float64(t.BytesEstimate), 1))
	}
	s := fmt.Sprintf("%s / %s  ~%s / %s rows", Bytes(t.Bytes), Bytes(max(t.BytesEstimate, t.Bytes)), Count(rows), Count(max(t.RowsEstimate, rows)))
	if elapsed > time.Second && t.Bytes > 0 {
		s += fmt.Sprintf("  %s/s", Bytes(int64(float64(t.Bytes)/elapsed.Seconds())))
	}
	return s
}

// Event updates the bars and prints the event's line above them.
func (l *Live) Event(e apply.Event) {
	l.prog.Event(e)
	l.mu.Lock()
	switch {
	case e.Type == apply.EventStart && isData(e.Action):
		if old := l.bars[e.Address]; old != nil {
			old.Abort(true) // a retry starts it again
			delete(l.bars, e.Address)
		}
	case e.Type == apply.EventProgress && isData(e.Action) && !e.Still:
		// A copy gets its bar at its first report (after CopyProgressEvery): the many small
		// tables done before would only flicker.
		b := l.bars[e.Address]
		if b == nil {
			b = l.addBar(e)
		}
		if e.Bytes >= e.Action.BytesEstimate {
			b.SetTotal(e.Bytes+1, false) // the estimate was low
		}
		b.SetCurrent(e.Bytes)
	case (e.Type == apply.EventComplete || e.Type == apply.EventErrored || e.Type == apply.EventInterrupted) && isData(e.Action):
		if b := l.bars[e.Address]; b != nil {
			// Removed either way: a finished copy leaves its line above ("Creation complete ... [rows, bytes]").
			b.Abort(true)
			delete(l.bars, e.Address)
		}
	}
	l.overall.SetCurrent(int64(l.prog.Overall().Percent * overallUnits / 100))
	l.mu.Unlock()
	// A copy's bar shows its progress; an action without a bar (an index build, ANALYZE, ...)
	// prints "Still creating..." above the bars, as without a terminal.
	if e.Type != apply.EventProgress || (e.Still && !isData(e.Action)) {
		l.Applier.Event(e)
	}
}

func (l *Live) addBar(e apply.Event) *mpb.Bar {
	name := e.Action.Schema + "." + e.Action.Name
	if e.Action.Part > 0 {
		name += " (part " + strconv.Itoa(e.Action.Part) + "/" + strconv.Itoa(e.Action.Parts) + ")"
	}
	addr, start := e.Address, time.Now().Add(-e.Elapsed)
	b := l.p.AddBar(max(e.Action.BytesEstimate, 1),
		mpb.PrependDecorators(decor.Name(clip(name, 38), decor.WC{W: 40, C: decor.DindentRight})),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			t, _ := l.prog.Table(addr)
			return TableLine(t, time.Since(start))
		})),
		mpb.BarRemoveOnComplete())
	l.bars[addr] = b
	return b
}

func isData(a *plan.Action) bool {
	return a != nil && (a.Type == plan.TypeTablePart || (a.Type == plan.TypeTable && a.Parts == 0))
}

// Finish removes the bars and prints the closing summary below them. A successful apply's
// overall bar reaches 100% first.
func (l *Live) Finish(total time.Duration, err error) {
	l.mu.Lock()
	for _, b := range l.bars {
		b.Abort(true)
	}
	if err == nil {
		l.prog.Finished()
		l.overall.SetCurrent(overallUnits)
	} else {
		l.overall.Abort(false)
	}
	l.mu.Unlock()
	l.p.Wait()
	l.Applier.W = l.out
	l.Applier.Finish(total, err)
}
