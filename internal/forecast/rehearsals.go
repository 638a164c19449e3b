package forecast

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// MaxRehearsals is how many of a migration's latest rehearsals Rehearsals combines: the median of
// three sets one slow or quick apply aside; older ones would let a change to the servers weigh
// too long.
const MaxRehearsals = 3

// The rehearsal basis's range for one run (singleRunSpread) and for several, which is widened by
// how far apart they were (dispersionSpread times their half range, as a fraction of their
// median). One apply of the same plan on the same quiet servers differs from the next by up to
// ±10–25% (the forecast bench's target server did 4–26% more CPU work in one apply than in the
// next for the same statements): one run cannot tell such an apply from a normal one; several can.
const (
	singleRunSpread  = 0.15
	dispersionSpread = 1.0
)

// Rehearsals prices every action of p from runs, the migration's latest Succeeded applies with
// their per-action detail, newest first (at most MaxRehearsals are read), for jobs workers.
//
// With one run it is Rehearsal's estimate, its range at least singleRunSpread. With several, each
// run that ran against the same target server as the newest is scaled to p as Rehearsal scales one
// (its sizes, its jobs), and each action's duration is the median of theirs, as are the time
// outside the graph, its prefetchable part and the confirmation delay: one rehearsal slowed by
// something else on the servers (a checkpoint, autovacuum, a backup, a neighbour on the host) no
// longer sets the forecast, and with two runs half its effect does. The range is
// baseRehearsalSpread widened by how far apart the runs' totals were, plus what Rehearsal widened
// it by for the newest (jobs, growth, unseen actions). The note names the runs. Run is the newest.
// A run that cannot be scaled to p, or did fewer of its actions than the newest, is left out;
// the newest must be scalable.
func Rehearsals(p *plan.Plan, jobs int, runs []*state.Run) (*Estimate, error) {
	return RehearsalsSampled(p, jobs, runs, nil)
}

// RehearsalsSampled is Rehearsals for a plan whose copy formats samples chose
// (snapshot.CopySamples): each run is scaled as RehearsalSampled scales it, and a copy that some
// of the runs sent in the plan's format and others not takes the median of the former only: a
// measure beats a conversion.
func RehearsalsSampled(p *plan.Plan, jobs int, runs []*state.Run, samples map[string]map[string]snapshot.CopySample) (*Estimate, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("no run to scale")
	}
	newest, err := rehearsal(p, jobs, runs[0], samples)
	if err != nil {
		return nil, err
	}
	ests := []*Estimate{newest}
	for _, run := range runs[1:min(len(runs), MaxRehearsals)] {
		if !SameTarget(runs[0].Target, run.Target) {
			continue
		}
		// A run that did less of this plan than the newest (an older plan) is left out: the newest
		// saw more of it.
		if e, err := rehearsal(p, jobs, run, samples); err == nil && e.unseen <= newest.unseen {
			ests = append(ests, e)
		}
	}
	if len(ests) == 1 {
		newest.Spread += singleRunSpread - baseRehearsalSpread
		return newest, nil
	}
	return combine(ests), nil
}

// SameTarget reports whether two runs' target identities, as each run recorded it, name the same
// server: a rehearsal against another server measures another server.
func SameTarget(x, y state.Identity) bool {
	if x.SystemIdentifier != "" && y.SystemIdentifier != "" && x.SystemIdentifier != y.SystemIdentifier {
		return false
	}
	return x.Host == y.Host && x.Port == y.Port && x.VersionNum == y.VersionNum
}

// combine is the per-action median of estimates of one plan, ests[0] the newest (see Rehearsals).
func combine(ests []*Estimate) *Estimate {
	first := ests[0]
	c := *first
	c.Durations = make([]time.Duration, len(first.Durations))
	vals := make([]time.Duration, len(ests))
	pick := func(f func(e *Estimate) time.Duration) time.Duration {
		for k, e := range ests {
			vals[k] = f(e)
		}
		return median(vals)
	}
	var measured []time.Duration
	c.reformatted = nil
	for i := range c.Durations {
		c.Durations[i] = pick(func(e *Estimate) time.Duration { return e.Durations[i] })
		// A copy some runs sent in the plan's format: theirs, not the others' conversions.
		measured = measured[:0]
		for _, e := range ests {
			if !e.isReformatted(i) {
				measured = append(measured, e.Durations[i])
			}
		}
		if len(measured) == 0 {
			if c.reformatted == nil {
				c.reformatted = make([]bool, len(c.Durations))
			}
			c.reformatted[i] = true
		} else if len(measured) < len(ests) {
			c.Durations[i] = median(measured)
		}
	}
	c.Fixed = pick(func(e *Estimate) time.Duration { return e.Fixed })
	c.Prefetchable = pick(func(e *Estimate) time.Duration { return e.Prefetchable })
	c.ConfirmDelay = pick(func(e *Estimate) time.Duration { return e.ConfirmDelay })

	// How far apart the runs were: their summed action time and fixed time, each scaled to this plan.
	sums := make([]time.Duration, len(ests))
	for k, e := range ests {
		sums[k] = e.Fixed
		for _, d := range e.Durations {
			sums[k] += d
		}
	}
	spread := 0.0
	if mid := median(sums); mid > 0 {
		spread = dispersionSpread * float64(slices.Max(sums)-slices.Min(sums)) / 2 / float64(mid)
	}
	c.Spread = first.Spread + spread

	ids := make([]string, len(ests))
	for k, e := range ests {
		ids[k] = fmt.Sprint(e.Run)
	}
	note := fmt.Sprintf("each action the median of runs %s, each scaled to this plan", strings.Join(ids, ", "))
	if len(ests) == 2 {
		note = fmt.Sprintf("each action the mean of runs %s, each scaled to this plan", strings.Join(ids, " and "))
	}
	if first.unseenNote != "" {
		note += "; " + first.unseenNote
	}
	if n := count(c.reformatted); n > 0 {
		note += fmt.Sprintf("; %s in a COPY format none of them sent, priced for this plan's", english.Count(n, "copy"))
	}
	c.Note = note
	return &c
}

// median is the middle of ds (the mean of the two middle ones for an even count); 0 for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return s[n/2-1] + (s[n/2]-s[n/2-1])/2
}

// isReformatted reports whether e priced action i from a copy in another format (formatChange).
func (e *Estimate) isReformatted(i int) bool { return i < len(e.reformatted) && e.reformatted[i] }

// count is how many of bs are true.
func count(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}
