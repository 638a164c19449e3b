package forecast

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// The rehearsal basis's range: baseRehearsalSpread for the same plan at the same jobs, widened
// when jobs changed, when the data grew or shrank, and by the share of the time priced from
// medians (actions the rehearsal did not run).
const (
	baseRehearsalSpread = 0.10
	jobsSpread          = 0.10
	unseenSpread        = 0.5
	growthSpread        = 0.25
)

// An action whose size grew so much since the rehearsal that its measured time says little of
// its time now is outgrown, and priced by the model (WithModel). A rehearsal action's time is
// a fixed part (round trips, opening COPY, the commit, a statement's planning: a few to tens of
// milliseconds, and as much again of jitter on a busy host) and a part that grows with its size;
// the fixed part is known only from the run's quickest actions of the kind, the rest is what is
// left, and any error in that split is multiplied by the growth. Past maxGrowth (100×) an error
// of a single millisecond in a tiny action's split is a tenth of a second now, and the basis
// measured another regime altogether (its data fitted in memory, no checkpoint ran during it);
// past tinyGrowth (10×), an action whose basis was smaller than copyBuffer (1 MiB) measured a copy
// whose two sides ran one after the other (model.go), or an index over a table that fitted in a
// few pages: its time then was mostly the fixed part. The model's probe measures the servers'
// per-byte rates on a sample of a few MiB, which a tiny basis does not.
const (
	maxGrowth  = 100
	tinyGrowth = 10
)

// outgrown is how much an action of size then in the rehearsal, now now, grew when that is past
// what its measure says (maxGrowth, tinyGrowth); 0 otherwise.
func outgrown(now, then int64) float64 {
	if now <= 0 || then <= 0 {
		return 0
	}
	g := float64(now) / float64(then)
	if g > maxGrowth || (g > tinyGrowth && then < copyBuffer) {
		return g
	}
	return 0
}

// maxConfirmDelay bounds the measured wait for the state write that releases dependents: apply
// writes at least every 250 ms (apply/flush.go), at once when a worker is idle.
const maxConfirmDelay = 250 * time.Millisecond

// Rehearsal prices every action of p from run, the latest Succeeded apply of the migration with
// its per-action detail, for jobs workers:
//   - an action the run did: its measured duration, its size-dependent part scaled by the change
//     in its size (a copy: its bytes estimate now against the run's; an index or constraint: its
//     table's; verify: its database's data), its fixed part (the type's shortest durations in the
//     run: connecting, a round trip, an empty table's work) unchanged;
//   - an action the run did on far less data than it has now (outgrown: 100×, or 10× from under
//     1 MiB): scaled so, and marked for WithModel, which prices it by the model of these servers
//     (its measure was mostly its fixed part, and scaling multiplies any error in the split);
//   - data work (copies, indexes, constraints, ANALYZE, verify) scaled by the change in jobs: more
//     actions at once share the same cores and disks, and each takes longer (by the square root
//     of the change in how many run at once: half the gain of the extra lanes is taken to be lost
//     to contention, half kept);
//   - an action the run did not do: its type's fixed part plus its type's time per byte in the
//     run (all its actions' time over all their bytes) times its size, or its type's median
//     duration; a note says how many, and they widen the range.
//
// Fixed is calibrated on the run itself: its actions replayed with their own durations at its own
// jobs, and the difference to its wall time is apply's time outside the graph (connecting, the
// snapshot and schema dump, reading the catalog, each database's closing writes). Of that, the
// time the run spent opening its first database's source before that database's action is
// Prefetchable: an apply that asked for approval did all of it in its run, one that prefetched it
// while its plan was made (apply --auto-approve, apply PLANFILE) none, and Prefetched takes it out
// for such an apply.
func Rehearsal(p *plan.Plan, jobs int, run *state.Run) (*Estimate, error) {
	return rehearsal(p, jobs, run, nil)
}

// RehearsalSampled is Rehearsal for a plan whose copy formats samples chose (snapshot.CopySamples,
// by database and table key): a copy the run sent in another format than the plan's is priced in
// the plan's (formats.go), and the range widened by its share of the time.
func RehearsalSampled(p *plan.Plan, jobs int, run *state.Run, samples map[string]map[string]snapshot.CopySample) (*Estimate, error) {
	return rehearsal(p, jobs, run, samples)
}

func rehearsal(p *plan.Plan, jobs int, run *state.Run, samples map[string]map[string]snapshot.CopySample) (*Estimate, error) {
	if run == nil || run.Operation != state.OpApply || run.Outcome != state.StatusSucceeded {
		return nil, fmt.Errorf("the basis must be a Succeeded apply")
	}
	if len(run.Actions) == 0 {
		return nil, fmt.Errorf("run %d kept no per-action timings", run.ID)
	}
	jobs = max(jobs, 1)
	runJobs := max(run.Jobs, 1)
	b := newBasis(p, run)
	if len(samples) > 0 {
		b.samples, b.pace = samples, binaryPace(samples)
	}
	e := &Estimate{Basis: BasisRehearsal, Run: run.ID, Durations: make([]time.Duration, len(p.Actions)),
		ConfirmDelay: b.confirmDelay()}

	contention := contentionFactor(p, jobs, runJobs)
	var seenIdx []int
	var seenDur []time.Duration
	var unseen int
	var unseenTime, total, reformatTime time.Duration
	var reformatted int
	var bytesNow, bytesThen int64
	for i, a := range p.Actions {
		if ra, ok := b.then[a.Address]; ok {
			seenIdx, seenDur = append(seenIdx, i), append(seenDur, ra.End-ra.Start)
		}
		ra, seen := b.did(a)
		var d time.Duration
		if seen {
			d = ra.End - ra.Start
			now, then := b.sizeNow(a), b.sizeThen(a)
			fixed, scale := min(d, b.overhead(a.Type)), 1.0
			if now > 0 && then > 0 {
				scale = float64(now) / float64(then)
				d = fixed + time.Duration(float64(d-fixed)*scale)
			}
			g := outgrown(now, then)
			if g > 0 {
				if e.outgrown == nil {
					e.outgrown = make([]float64, len(p.Actions))
				}
				e.outgrown[i] = g
				// Its copy's bytes would say the data grew: the model prices it (WithModel).
				now, then = 0, 0
			}
			if nd, changed := b.formatChange(a, ra, d, fixed, scale); changed && g > 0 {
				// The model prices it in the plan's format; this is its price without one.
				d = nd
			} else if changed {
				if e.reformatted == nil {
					e.reformatted = make([]bool, len(p.Actions))
				}
				e.reformatted[i] = true
				reformatted++
				d = nd
				reformatTime += d
			}
			if isCopyType(a.Type) {
				bytesNow, bytesThen = bytesNow+now, bytesThen+then
			}
		} else {
			d = b.price(a)
			unseen++
			unseenTime += d
		}
		if heavy(a.Type) {
			d = time.Duration(float64(d) * contention)
		}
		e.Durations[i] = d
		total += d
	}

	// Calibration: the run's own actions at its own durations and jobs, against its wall time.
	// A run that used more lanes than its jobs had a slow link: apply gives small tables' work
	// extra connections there (apply.ExtraLanes), and will again.
	runExtra := runLanes(run) - runJobs
	if runExtra > 0 {
		e.Extra = apply.ExtraLanes(jobs, time.Second)
	}
	sim, err := replay(restrict(p.Actions, seenIdx), seenDur, replayOptions{jobs: runJobs, extra: max(runExtra, 0), confirm: e.ConfirmDelay})
	if err != nil {
		return nil, err
	}
	e.Fixed = max(run.Duration()-sim.total, -sim.total/2)
	e.Prefetchable = min(opening(run), max(e.Fixed, 0))

	e.Spread = baseRehearsalSpread
	if jobs != runJobs {
		e.Spread += jobsSpread
	}
	if bytesNow > 0 && bytesThen > 0 {
		e.Spread += growthSpread * math.Min(1, math.Abs(math.Log(float64(bytesNow)/float64(bytesThen))))
	}
	if unseen > 0 {
		share := 1.0
		if total > 0 {
			share = float64(unseenTime) / float64(total)
		}
		e.Spread += unseenSpread * share
		e.unseen = unseen
		e.Note = fmt.Sprintf("%s not in run %d, priced from its actions of the same kind", english.Count(unseen, "action"), run.ID)
		e.unseenNote = e.Note
	}
	if reformatted > 0 {
		if total > 0 {
			e.Spread += formatSpread * float64(reformatTime) / float64(total)
		}
		note := fmt.Sprintf("%s in another COPY format than run %d sent, priced for this plan's", english.Count(reformatted, "copy"), run.ID)
		if e.Note != "" {
			note = e.Note + "; " + note
		}
		e.Note = note
	}
	return e, nil
}

// opening is how long run spent before its first database's action, after what ran before it
// (roles): opening that database's source (snapshot, schema dump, catalog read). A few
// milliseconds when its apply had prefetched it; 0 when the run created no database.
func opening(run *state.Run) time.Duration {
	var first *state.RunAction
	for i, a := range run.Actions {
		if a.Type == plan.TypeDatabase && a.Outcome == state.ActionApplied && (first == nil || a.Start < first.Start) {
			first = &run.Actions[i]
		}
	}
	if first == nil {
		return 0
	}
	var before time.Duration
	for _, a := range run.Actions {
		if a.End <= first.Start {
			before = max(before, a.End)
		}
	}
	return first.Start - before
}

// restrict is the actions of list at indexes keep (ascending), each depending on what it depends on
// among them, through the actions left out: an index on a table split in parts now and copied
// whole then depends on the table's action.
func restrict(list []*plan.Action, keep []int) []*plan.Action {
	byAddr := map[string]*plan.Action{}
	for _, a := range list {
		byAddr[a.Address] = a
	}
	in := map[string]bool{}
	for _, i := range keep {
		in[list[i].Address] = true
	}
	var resolve func(addr string, seen map[string]bool, out *[]string)
	resolve = func(addr string, seen map[string]bool, out *[]string) {
		if seen[addr] {
			return
		}
		seen[addr] = true
		if in[addr] {
			*out = append(*out, addr)
			return
		}
		if a := byAddr[addr]; a != nil {
			for _, dep := range a.DependsOn {
				resolve(dep, seen, out)
			}
		}
	}
	out := make([]*plan.Action, len(keep))
	for k, i := range keep {
		a := *list[i]
		var deps []string
		seen := map[string]bool{}
		for _, dep := range a.DependsOn {
			resolve(dep, seen, &deps)
		}
		a.DependsOn = deps
		out[k] = &a
	}
	return out
}

// basis is what Rehearsal reads of its run.
type basis struct {
	p    *plan.Plan
	run  *state.Run
	then map[string]state.RunAction // applied actions by address
	// moved is how the run's moved bytes relate to its plan's estimates (for runs recorded
	// without per-action estimates).
	moved float64
	// perByte and median price unseen actions by type; over is each type's fixed part.
	perByte map[string]float64
	median  map[string]time.Duration
	over    map[string]time.Duration
	all     time.Duration // the median of every action
	// thenDB is each database's copied data in the run.
	thenDB map[string]int64
	// tableRate is each copied table's time per byte in the run (whole or in parts), by table
	// address; least is each type's quickest action.
	tableRate map[string]float64
	least     map[string]time.Duration
	// split holds the tables the run copied in parts (by table address).
	split map[string]bool
	// samples are the plan's copy-format samples (nil: formats are not compared), pace the
	// source's binary COPY pace they measured (binaryPace).
	samples map[string]map[string]snapshot.CopySample
	pace    float64
}

// did returns what the run did of a, if it did the same work: a table's action only empties a
// split table, so one split now and not then (or the other way round) is a different action.
func (b *basis) did(a *plan.Action) (state.RunAction, bool) {
	ra, ok := b.then[a.Address]
	if ok && a.Type == plan.TypeTable && (a.Parts > 0) != b.split[a.Address] {
		return ra, false
	}
	return ra, ok
}

func newBasis(p *plan.Plan, run *state.Run) *basis {
	b := &basis{p: p, run: run, then: map[string]state.RunAction{}, moved: 1, perByte: map[string]float64{},
		median: map[string]time.Duration{}, over: map[string]time.Duration{}, thenDB: map[string]int64{},
		tableRate: map[string]float64{}, least: map[string]time.Duration{}, split: map[string]bool{}}
	for _, ra := range run.Actions {
		if ra.Outcome == state.ActionApplied && ra.End >= ra.Start {
			b.then[ra.Address] = ra
		}
	}
	if run.Bytes > 0 && run.Planned.Bytes > 0 {
		b.moved = float64(run.Planned.Bytes) / float64(run.Bytes)
	}
	byType := map[string][]time.Duration{}
	timeOf, sizeOf := map[string]time.Duration{}, map[string]int64{}
	var all []time.Duration
	for _, ra := range b.then {
		d := ra.End - ra.Start
		byType[ra.Type] = append(byType[ra.Type], d)
		all = append(all, d)
		if isCopyType(ra.Type) {
			b.thenDB[databaseOf(p, ra.Address)] += b.copySize(ra)
		}
	}
	for _, ra := range b.then {
		if a := p.Action(ra.Address); a != nil {
			if s := b.sizeThen(a); s > 0 {
				timeOf[ra.Type] += ra.End - ra.Start
				sizeOf[ra.Type] += s
			}
		}
	}
	// Each table's own rate: a part of a table split differently now is priced from its parts then.
	split := b.split
	for _, ra := range b.then {
		if ra.Type == plan.TypeTablePart {
			split[tableOf(ra.Address)] = true
		}
	}
	work, size := map[string]time.Duration{}, map[string]int64{}
	for _, ra := range b.then {
		if !isCopyType(ra.Type) || (ra.Type == plan.TypeTable && split[ra.Address]) {
			continue
		}
		if s := b.copySize(ra); s > 0 {
			work[tableOf(ra.Address)] += ra.End - ra.Start
			size[tableOf(ra.Address)] += s
		}
	}
	for t, n := range size {
		b.tableRate[t] = float64(work[t]) / float64(n)
	}
	for t, ds := range byType {
		b.least[t] = quantile(ds, 0)
		b.median[t] = quantile(ds, 0.5)
		if len(ds) >= 4 {
			// The type's quickest quarter is mostly its fixed cost: small tables, empty indexes.
			b.over[t] = quantile(ds, 0.25)
		}
	}
	for t, n := range sizeOf {
		// Weighted by size: the time per byte of the type's data, which its largest objects
		// measure best (a small one's time is mostly its fixed part).
		b.perByte[t] = float64(timeOf[t]) / float64(n)
	}
	b.all = quantile(all, 0.5)
	return b
}

// databaseOf is the database of the plan's action at addr ("" when the plan has no such action).
func databaseOf(p *plan.Plan, addr string) string {
	if a := p.Action(addr); a != nil {
		return a.Database
	}
	return ""
}

// copySize is a run action's planned bytes, or its moved bytes in the plan's terms.
func (b *basis) copySize(ra state.RunAction) int64 {
	if ra.BytesEstimate > 0 {
		return ra.BytesEstimate
	}
	if ra.RowsEstimate > 0 || ra.Bytes == 0 {
		return 0
	}
	return int64(float64(ra.Bytes) * b.moved)
}

// sizeNow is what an action's duration grows with, in today's plan; 0: it does not.
func (b *basis) sizeNow(a *plan.Action) int64 {
	switch {
	case isCopyType(a.Type):
		return a.BytesEstimate
	case a.Type == plan.TypeIndex || a.Type == plan.TypeConstraint:
		if t := b.p.Action(plan.TableAddr(a.Database, a.Schema, a.Table)); t != nil && t.BytesEstimate > 0 {
			return t.BytesEstimate
		}
		return a.BytesEstimate
	case a.Type == plan.TypeVerify:
		var n int64
		for _, x := range b.p.Actions {
			if x.Database == a.Database && isCopyType(x.Type) && x.Type != plan.TypeTablePart {
				n += x.BytesEstimate
			}
		}
		return n
	}
	return 0
}

// sizeThen is sizeNow as the run saw it; 0 when it did not record it.
func (b *basis) sizeThen(a *plan.Action) int64 {
	switch {
	case isCopyType(a.Type):
		if ra, ok := b.then[a.Address]; ok {
			return b.copySize(ra)
		}
	case a.Type == plan.TypeIndex || a.Type == plan.TypeConstraint:
		if ra, ok := b.then[plan.TableAddr(a.Database, a.Schema, a.Table)]; ok {
			if s := b.copySize(ra); s > 0 {
				return s
			}
		}
		if ra, ok := b.then[a.Address]; ok {
			return ra.BytesEstimate
		}
	case a.Type == plan.TypeVerify:
		return b.thenDB[a.Database]
	}
	return 0
}

// overhead is the fixed part of an action of type t: what does not grow with its size.
func (b *basis) overhead(t string) time.Duration { return b.over[t] }

// price is an action the run did not do: a copy of a table the run copied otherwise (split in
// other parts) at that table's time per byte; else its type's fixed part and time per byte times
// its size, or its type's median duration, or the run's median duration.
func (b *basis) price(a *plan.Action) time.Duration {
	if a.Type == plan.TypeTable && a.Parts > 0 {
		// A split table's own action only empties it: the quickest table action's time.
		return b.least[plan.TypeTable]
	}
	if isCopyType(a.Type) && a.BytesEstimate > 0 {
		// The same table copied whole or in other parts then: its own time per byte.
		if r, ok := b.tableRate[tableOf(a.Address)]; ok {
			return time.Duration(r * float64(a.BytesEstimate))
		}
		if r, ok := b.perByte[plan.TypeTable]; ok && a.Type == plan.TypeTablePart {
			return b.over[plan.TypeTable] + time.Duration(r*float64(a.BytesEstimate))
		}
	}
	if s := b.sizeNow(a); s > 0 {
		if r, ok := b.perByte[a.Type]; ok {
			return b.over[a.Type] + time.Duration(r*float64(s))
		}
	}
	if d, ok := b.median[a.Type]; ok {
		return d
	}
	return b.all
}

// confirmDelay is the wait between an action's end and its dependents' start in the run: the
// quickest quarter of those waits (the others also waited for a free lane), at most
// maxConfirmDelay.
func (b *basis) confirmDelay() time.Duration {
	var gaps []time.Duration
	for _, a := range b.p.Actions {
		ra, ok := b.then[a.Address]
		if !ok || len(a.DependsOn) == 0 || a.Type == plan.TypeDatabase {
			continue
		}
		var last time.Duration = -1
		for _, dep := range a.DependsOn {
			if rd, ok := b.then[dep]; ok && b.p.Action(dep) != nil && b.p.Action(dep).Type != plan.TypeDatabase {
				last = max(last, rd.End)
			}
		}
		if last >= 0 && ra.Start >= last {
			gaps = append(gaps, ra.Start-last)
		}
	}
	if len(gaps) == 0 {
		return 0
	}
	return min(quantile(gaps, 0.25), maxConfirmDelay)
}

// contentionFactor is how much longer each data action takes at jobs than at runJobs: the
// square root of the change in how many run at once, which the widest database's data actions
// bound.
func contentionFactor(p *plan.Plan, jobs, runJobs int) float64 {
	if jobs == runJobs {
		return 1
	}
	width := map[string]int{}
	most := 1
	for _, a := range p.Actions {
		if heavy(a.Type) {
			width[a.Database]++
			most = max(most, width[a.Database])
		}
	}
	now, then := min(jobs, most), min(runJobs, most)
	return math.Sqrt(float64(now) / float64(then))
}

// heavy types do data work whose speed depends on how many run at once.
func heavy(t string) bool {
	switch t {
	case plan.TypeIndex, plan.TypeConstraint, plan.TypeAnalyze, plan.TypeVerify:
		return true
	}
	return isCopyType(t)
}

// isCopyType reports whether actions of type t move data (apply's copies).
func isCopyType(t string) bool {
	switch t {
	case plan.TypeTable, plan.TypeTablePart, plan.TypeLargeObj, plan.TypeExtData:
		return true
	}
	return false
}

// tableOf is the table address of a copy action's address: a part's without its .part[N].
func tableOf(addr string) string {
	if i := strings.LastIndex(addr, ".part["); i >= 0 {
		return addr[:i]
	}
	return addr
}

// quantile is the q-quantile (0..1) of ds, by the nearest rank below.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(q*float64(len(s)-1))]
}

// runLanes is how many lanes the run's actions used (the highest lane + 1).
func runLanes(run *state.Run) int {
	n := 0
	for _, a := range run.Actions {
		n = max(n, a.Lane+1)
	}
	return n
}
