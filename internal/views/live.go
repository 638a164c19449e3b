package views

import (
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
// table being copied (bytes, rate, ETA against the catalog's estimate) and one for the whole copy.
type Live struct {
	*Applier
	p          *mpb.Progress
	out        io.Writer
	mu         sync.Mutex
	bars       map[string]*mpb.Bar
	seen       map[string]int64 // bytes copied so far per running table
	overall    *mpb.Bar
	copied     int64
	totalBytes int64
}

// NewLive starts the bars; totalBytes is the plan's estimate of the bytes to copy.
func NewLive(w io.Writer, totalBytes int64) *Live {
	p := mpb.New(mpb.WithOutput(w), mpb.WithWidth(32), mpb.WithRefreshRate(200*time.Millisecond), mpb.WithAutoRefresh())
	l := &Live{Applier: &Applier{W: p}, p: p, out: w, bars: map[string]*mpb.Bar{}, seen: map[string]int64{}}
	l.totalBytes = totalBytes
	if totalBytes > 0 {
		l.overall = p.AddBar(totalBytes,
			mpb.PrependDecorators(decor.Name("data copy ", decor.WC{W: 40, C: decor.DindentRight})),
			mpb.AppendDecorators(decor.Counters(decor.SizeB1024(0), "% .1f / % .1f"), decor.Name("  "), decor.AverageSpeed(decor.SizeB1024(0), "% .1f"),
				decor.Name("  ETA "), decor.AverageETA(decor.ET_STYLE_GO)),
			mpb.BarPriority(1<<30))
	}
	return l
}

func isData(a *plan.Action) bool {
	return a != nil && (a.Type == plan.TypeTablePart || (a.Type == plan.TypeTable && a.Parts == 0))
}

// Event updates the bars and prints the event's line above them.
func (l *Live) Event(e apply.Event) {
	l.mu.Lock()
	switch {
	case e.Type == "apply_start" && isData(e.Action):
		name := e.Action.Schema + "." + e.Action.Name
		if e.Action.Part > 0 {
			name += " (part " + strconv.Itoa(e.Action.Part) + "/" + strconv.Itoa(e.Action.Parts) + ")"
		}
		l.bars[e.Address] = l.p.AddBar(max(e.Action.BytesEstimate, 1),
			mpb.PrependDecorators(decor.Name(clip(name, 38), decor.WC{W: 40, C: decor.DindentRight})),
			mpb.AppendDecorators(decor.Current(decor.SizeB1024(0), "% .1f"), decor.Name("  "), decor.AverageSpeed(decor.SizeB1024(0), "% .1f"),
				decor.Name("  ETA "), decor.AverageETA(decor.ET_STYLE_GO)),
			mpb.BarRemoveOnComplete())
	case e.Type == "apply_progress" && isData(e.Action) && !e.Still:
		if b := l.bars[e.Address]; b != nil {
			l.advance(e.Address, e.Bytes)
			if e.Bytes >= e.Action.BytesEstimate {
				b.SetTotal(e.Bytes+1, false) // the estimate was low
			}
			b.SetCurrent(e.Bytes)
		}
	case (e.Type == "apply_complete" || e.Type == "apply_errored" || e.Type == "apply_interrupted") && isData(e.Action):
		if b := l.bars[e.Address]; b != nil {
			l.advance(e.Address, e.Bytes)
			if e.Type == "apply_complete" {
				b.SetTotal(-1, true)
			} else {
				b.Abort(true)
			}
			delete(l.bars, e.Address)
		}
	}
	l.mu.Unlock()
	// A copy's bar shows its progress; an action without a bar (an index build, ANALYZE, ...)
	// prints "Still creating..." above the bars, as without a terminal.
	if e.Type != "apply_progress" || (e.Still && !isData(e.Action)) {
		l.Applier.Event(e)
	}
}

func (l *Live) advance(addr string, bytes int64) {
	if d := bytes - l.seen[addr]; d > 0 && l.overall != nil {
		l.copied += d
		if l.copied >= l.totalBytes {
			l.totalBytes = l.copied + 1
			l.overall.SetTotal(l.totalBytes, false)
		}
		l.overall.SetCurrent(l.copied)
	}
	l.seen[addr] = max(bytes, l.seen[addr])
}

// Finish removes the bars and prints the closing summary below them.
func (l *Live) Finish(total time.Duration, err error) {
	l.mu.Lock()
	for _, b := range l.bars {
		b.Abort(true)
	}
	if l.overall != nil {
		l.overall.Abort(true)
	}
	l.mu.Unlock()
	l.p.Wait()
	l.Applier.W = l.out
	l.Applier.Finish(total, err)
}
