package forecast

import (
	"fmt"
	"math"
	"time"

	"github.com/pgferry/pgferry/internal/english"
)

// Outgrown is how many actions a rehearsal estimate ran on far less data than the plan holds now
// (outgrown, rehearsal.go): their measured time is mostly the fixed part of a tiny action, and
// scaling it by the growth multiplies overhead. WithModel prices them by the model.
func (e *Estimate) Outgrown() int {
	n, _ := e.outgrownBy()
	return n
}

// outgrownBy is how many actions outgrew their run, and the least of their growths.
func (e *Estimate) outgrownBy() (n int, least float64) {
	least = math.Inf(1)
	if e == nil {
		return 0, least
	}
	for _, g := range e.outgrown {
		if g > 0 {
			n++
			least = math.Min(least, g)
		}
	}
	return n, least
}

// WithModel is e, a rehearsal's estimate, with its outgrown actions priced by m, the model's
// estimate of the same plan at the same jobs (Probe: these servers' measured rates, as a plan
// without a rehearsal is priced): each takes m's duration. The range is widened by m's own
// spread times the share of the time m priced, and the note says how many actions grew how much
// since which run. e itself when nothing outgrew its run, or m does not price the same plan.
func (e *Estimate) WithModel(m *Estimate) *Estimate {
	n, least := e.outgrownBy()
	if n == 0 || m == nil || len(m.Durations) != len(e.Durations) {
		return e
	}
	c := *e
	c.Durations = append([]time.Duration(nil), e.Durations...)
	var modelled, total time.Duration
	for i, g := range e.outgrown {
		if g > 0 {
			c.Durations[i] = m.Durations[i]
			modelled += m.Durations[i]
		}
	}
	for _, d := range c.Durations {
		total += d
	}
	total += max(c.Fixed, 0)
	share := 1.0
	if total > 0 {
		share = float64(modelled) / float64(total)
	}
	c.Spread += math.Max(m.Spread, 0) * share
	c.outgrown = nil
	c.Note = joinNote(e.Note, fmt.Sprintf("%s grew %s or more since run %d: priced by the model of these servers",
		english.Count(n, "action"), growth(least), e.Run))
	return &c
}

// Unmodelled is e, a rehearsal's estimate with outgrown actions, when the model could not be
// measured (why): they keep their scaled time, which may be far too long, and the range is the
// widest; the note says so. e itself when nothing outgrew its run.
func (e *Estimate) Unmodelled(why string) *Estimate {
	n, least := e.outgrownBy()
	if n == 0 {
		return e
	}
	c := *e
	c.Spread = maxSpread
	c.outgrown = nil
	c.Note = joinNote(e.Note, fmt.Sprintf("%s grew %s or more since run %d, scaled from it (the model could not be measured: %s)",
		english.Count(n, "action"), growth(least), e.Run, why))
	return &c
}

// growth says a growth factor g for a note: "12×", "12,000×" (rounded down to two significant
// digits: the sizes are estimates).
func growth(g float64) string {
	if g < 1 || math.IsInf(g, 0) || math.IsNaN(g) {
		return "1×"
	}
	p := math.Pow(10, math.Max(0, math.Floor(math.Log10(g))-1))
	v := int64(math.Floor(g/p) * p)
	s := fmt.Sprint(v)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + "×"
}

// joinNote appends b to a note a, "; " between.
func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
