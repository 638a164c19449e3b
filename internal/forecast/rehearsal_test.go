package forecast

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/internal/sched"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// runOf is a Succeeded apply of p (run 4) whose actions took durs at jobs, as apply runs them
// (instance and database actions alone, the rest through the scheduler), fixed spent outside.
func runOf(t *testing.T, p *plan.Plan, durs []time.Duration, jobs int, fixed time.Duration) *state.Run {
	t.Helper()
	r := &state.Run{RunSummary: state.RunSummary{ID: 4, Operation: state.OpApply, Outcome: state.StatusSucceeded, Jobs: jobs}}
	var at time.Duration
	var rest []int
	for i, a := range p.Actions {
		if a.Database == "" || a.Type == plan.TypeDatabase {
			r.Actions = append(r.Actions, runAction(a, at, at+durs[i]))
			at += durs[i]
			continue
		}
		rest = append(rest, i)
	}
	sub := make([]*plan.Action, len(rest))
	sd := make([]time.Duration, len(rest))
	for k, i := range rest {
		sub[k], sd[k] = p.Actions[i], durs[i]
	}
	tl, err := sched.Simulate(apply.GraphTasks(sub), sd, sched.SimOptions{Jobs: jobs})
	if err != nil {
		t.Fatal(err)
	}
	for k, i := range rest {
		r.Actions = append(r.Actions, runAction(p.Actions[i], at+tl.Slots[k].Start, at+tl.Slots[k].End))
	}
	start := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	r.StartedAt, r.FinishedAt = start, start.Add(at+tl.Finish+fixed)
	return r
}

func runAction(a *plan.Action, start, end time.Duration) state.RunAction {
	return state.RunAction{Address: a.Address, Type: a.Type, Phase: plan.PhaseOf(a.Type), Start: start, End: end,
		Outcome: state.ActionApplied, BytesEstimate: a.BytesEstimate, RowsEstimate: a.RowsEstimate, Bytes: a.BytesEstimate * 2}
}

func byAddr(p *plan.Plan, e *Estimate) map[string]time.Duration {
	out := map[string]time.Duration{}
	for i, a := range p.Actions {
		out[a.Address] = e.Durations[i]
	}
	return out
}

const (
	bigAddr   = `database.shop.table["public"."big"]`
	bigIxAddr = `database.shop.index["public"."big_pkey"]`
	fkAddr    = `database.shop.constraint["public"."small"."small_big_fkey"]`
)

func TestRehearsal(t *testing.T) {
	then := shop(4 << 30)
	run := runOf(t, then, shopDurations, 2, 3*sec) // 10s in the graph and before it, 3s outside: 13s
	for _, tc := range []struct {
		name  string
		plan  *plan.Plan
		jobs  int
		run   func(*state.Run)
		want  time.Duration // the forecast
		tol   time.Duration
		check func(t *testing.T, e *Estimate, d map[string]time.Duration)
	}{
		{
			// The same plan at the same jobs: the rehearsal's own wall time.
			name: "same plan", plan: shop(4 << 30), jobs: 2, want: 13 * sec,
			check: func(t *testing.T, e *Estimate, d map[string]time.Duration) {
				if e.Fixed != 3*sec || e.Spread != baseRehearsalSpread || e.Note != "" || e.Run != 4 || e.Basis != BasisRehearsal {
					t.Errorf("fixed %v spread %v note %q run %d basis %q", e.Fixed, e.Spread, e.Note, e.Run, e.Basis)
				}
				if d[bigAddr] != 6*sec || d[fkAddr] != sec {
					t.Errorf("durations changed: %v", d)
				}
			},
		},
		{
			// The largest table grew by half: its copy and its index take half as long again;
			// verify reads half as much again; the foreign key's table (small) did not grow.
			name: "big grew by half", plan: shop(6 << 30), jobs: 2, want: 13*sec + 3*sec + sec + ms(200), tol: ms(2),
			check: func(t *testing.T, e *Estimate, d map[string]time.Duration) {
				if d[bigAddr] != 9*sec || d[bigIxAddr] != 3*sec || d[fkAddr] != sec {
					t.Errorf("big %v, big_pkey %v, fk %v; want 9s, 3s, 1s", d[bigAddr], d[bigIxAddr], d[fkAddr])
				}
				if e.Spread <= baseRehearsalSpread || e.Spread > baseRehearsalSpread+growthSpread*math.Log(1.5)+0.001 {
					t.Errorf("spread %v", e.Spread)
				}
			},
		},
		{
			// A run recorded before the planned estimates were kept: its moved bytes, in the
			// plan's terms (the run moved twice its estimate overall).
			name: "run without estimates", plan: shop(6 << 30), jobs: 2, want: 13*sec + 3*sec + sec + ms(200), tol: ms(2),
			run: func(r *state.Run) {
				for k := range r.Actions {
					r.Actions[k].BytesEstimate, r.Actions[k].RowsEstimate = 0, 0
					r.Bytes += r.Actions[k].Bytes
				}
				r.Planned.Bytes = r.Bytes / 2
			},
		},
		{
			// One lane instead of two: the simulation runs everything in turn, and each data action
			// is quicker by the square root of the halved concurrency.
			name: "fewer jobs", plan: shop(4 << 30), jobs: 1, want: 3*sec + ms(600) + time.Duration(float64(11100*time.Millisecond)*math.Sqrt(0.5)), tol: ms(2),
			check: func(t *testing.T, e *Estimate, d map[string]time.Duration) {
				if e.Spread != baseRehearsalSpread+jobsSpread {
					t.Errorf("spread %v", e.Spread)
				}
				if d["database.shop.schema"] != ms(300) || d["role.app"] != ms(100) {
					t.Errorf("fixed-cost actions changed: %v", d)
				}
			},
		},
		{
			// A new table (8 GB) and its index, unseen in the run: priced at the run's time per
			// byte of their kind (tables: 7s for 4 GB + 1 MB; indexes 2.2s for the same).
			name: "unseen table", plan: withTable(shop(4<<30), "new", 8<<30), jobs: 2,
			check: func(t *testing.T, e *Estimate, d map[string]time.Duration) {
				newT, newIx := d[plan.TableAddr("shop", "public", "new")], d[plan.IndexAddr("shop", "public", "new_pkey")]
				ratio := float64(int64(8<<30)) / float64(int64(4<<30+1<<20))
				if want := time.Duration(7 * float64(sec) * ratio); absDur(newT-want) > ms(1) {
					t.Errorf("new table %v, want %v", newT, want)
				}
				if want := time.Duration(2.2 * float64(sec) * ratio); absDur(newIx-want) > ms(1) {
					t.Errorf("new index %v, want %v", newIx, want)
				}
				if e.Note != "2 actions not in run 4, priced from its actions of the same kind" {
					t.Errorf("note %q", e.Note)
				}
				if e.Spread < baseRehearsalSpread+0.2 {
					t.Errorf("spread %v: most of the time is priced from other actions", e.Spread)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := *run
			r.Actions = append(state.RunActions(nil), run.Actions...)
			if tc.run != nil {
				tc.run(&r)
			}
			e, err := Rehearsal(tc.plan, tc.jobs, &r)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Make(tc.plan, tc.jobs, e)
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(f.ExpectedMS) * time.Millisecond; tc.want > 0 && absDur(got-tc.want) > tc.tol {
				t.Errorf("forecast %v, want %v", got, tc.want)
			}
			if f.BasisRun != 4 || f.Basis != BasisRehearsal {
				t.Errorf("basis %q run %d", f.Basis, f.BasisRun)
			}
			if tc.check != nil {
				tc.check(t, e, byAddr(tc.plan, e))
			}
		})
	}
}

// withTable adds a table of size bytes, and its primary key, to p's database shop.
func withTable(p *plan.Plan, name string, size int64) *plan.Plan {
	schema := "database.shop.schema"
	addr := plan.TableAddr("shop", "public", name)
	p.Actions = append(p.Actions,
		&plan.Action{Address: addr, Type: plan.TypeTable, Kind: plan.Create, Database: "shop", Schema: "public", Name: name, BytesEstimate: size, DependsOn: []string{schema}},
		&plan.Action{Address: plan.IndexAddr("shop", "public", name+"_pkey"), Type: plan.TypeIndex, Kind: plan.Create, Database: "shop", Schema: "public", Name: name + "_pkey", Table: name, DependsOn: []string{addr}})
	return p
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// TestRehearsalOverhead: a type with enough actions has a fixed part (its quickest quarter) that
// does not grow with the size.
func TestRehearsalOverhead(t *testing.T) {
	then := shop(4 << 30)
	for _, n := range []string{"a", "b", "c"} {
		withTable(then, n, 1<<20)
	}
	durs := append(append([]time.Duration(nil), shopDurations...), sec, ms(100), sec, ms(100), sec, ms(100))
	run := runOf(t, then, durs, 2, 0)
	now := shop(8 << 30)
	for _, n := range []string{"a", "b", "c"} {
		withTable(now, n, 1<<20)
	}
	e, err := Rehearsal(now, 2, run)
	if err != nil {
		t.Fatal(err)
	}
	// The table copies took 6s, 1s, 1s, 1s, 1s: the quickest quarter is 1s, fixed; big's other 5s double.
	if got := byAddr(now, e)[bigAddr]; got != 11*sec {
		t.Errorf("big %v, want 11s (1s fixed + 5s × 2)", got)
	}
}

func TestRehearsalConfirmDelay(t *testing.T) {
	p := shop(4 << 30)
	run := runOf(t, p, shopDurations, 2, 0)
	// Every action waited 40ms for the state write after its dependencies ended.
	for k := range run.Actions {
		if a := p.Action(run.Actions[k].Address); a.Type != plan.TypeDatabase && a.Database != "" {
			run.Actions[k].Start += ms(40 * depth(p, a))
			run.Actions[k].End += ms(40 * depth(p, a))
		}
	}
	e, err := Rehearsal(p, 2, run)
	if err != nil {
		t.Fatal(err)
	}
	if e.ConfirmDelay != ms(40) {
		t.Errorf("confirm delay %v, want 40ms", e.ConfirmDelay)
	}
}

// depth is how many graph actions (not the database's) come before a on its longest chain.
func depth(p *plan.Plan, a *plan.Action) int {
	n := 0
	for _, dep := range a.DependsOn {
		if d := p.Action(dep); d != nil && d.Type != plan.TypeDatabase && d.Database != "" {
			n = max(n, depth(p, d)+1)
		}
	}
	return n
}

func TestRehearsalErrors(t *testing.T) {
	p := shop(1 << 20)
	ok := runOf(t, p, shopDurations, 2, 0)
	for _, tc := range []struct {
		name string
		run  func() *state.Run
		want string
	}{
		{"none", func() *state.Run { return nil }, "the basis must be a Succeeded apply"},
		{"failed", func() *state.Run { r := *ok; r.Outcome = state.StatusFailed; return &r }, "the basis must be a Succeeded apply"},
		{"destroy", func() *state.Run { r := *ok; r.Operation = state.OpDestroy; return &r }, "the basis must be a Succeeded apply"},
		{"no detail", func() *state.Run { r := *ok; r.Actions = nil; return &r }, "run 4 kept no per-action timings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Rehearsal(p, 2, tc.run()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestRehearsalSplitChanged: big, copied whole in the run, is split in 4 parts now: each part is
// priced at big's own time per byte (a quarter of its 6s), its own action (emptying it) at the
// quickest copy's time.
func TestRehearsalSplitChanged(t *testing.T) {
	then := shop(4 << 30)
	run := runOf(t, then, shopDurations, 4, 0)
	now := shop(4 << 30)
	big := now.Action(bigAddr)
	big.Parts = 4
	var parts []*plan.Action
	var partAddrs []string
	for i := 1; i <= 4; i++ {
		pa := &plan.Action{Address: plan.TablePartAddr("shop", "public", "big", i), Type: plan.TypeTablePart, Kind: plan.Create, Database: "shop",
			Schema: "public", Name: "big", BytesEstimate: big.BytesEstimate / 4, Part: i, Parts: 4, DependsOn: []string{bigAddr}}
		parts = append(parts, pa)
		partAddrs = append(partAddrs, pa.Address)
	}
	now.Action(bigIxAddr).DependsOn = partAddrs
	now.Actions = append(now.Actions[:4], append(parts, now.Actions[4:]...)...)
	e, err := Rehearsal(now, 4, run)
	if err != nil {
		t.Fatal(err)
	}
	d := byAddr(now, e)
	if d[bigAddr] != sec {
		t.Errorf("emptying big: %v, want 1s (small's copy, the quickest)", d[bigAddr])
	}
	for _, a := range partAddrs {
		if d[a] != ms(1500) {
			t.Errorf("%s: %v, want 1.5s", a, d[a])
		}
	}
	f, err := Make(now, 4, e)
	if err != nil {
		t.Fatal(err)
	}
	// 0.1 + 0.2 + 0.3, emptying big 1s; then small_pkey and ANALYZE go first (indexes before
	// copies) with two parts, the last part waits for ANALYZE's lane (1.8s to 3.3s); big_pkey 2s,
	// fk 1s, verify 0.4s: 7.2s, and no time outside the graph (the run's calibration).
	if f.ExpectedMS != 7200 || e.Fixed != 0 {
		t.Errorf("forecast %dms, fixed %v; want 7200ms, 0s", f.ExpectedMS, e.Fixed)
	}
}

// TestRehearsalOpening: a run of an apply that asked for approval opened its first database's
// source (snapshot, schema dump) in the run, before that database's action; an apply that
// prefetches it (plan's forecast, apply --auto-approve) does that before its run starts.
func TestRehearsalOpening(t *testing.T) {
	p := shop(4 << 30)
	for _, tc := range []struct {
		name    string
		opening time.Duration
	}{
		{"asked first: the dump in the run", 2 * sec},
		{"prefetched", ms(15)},
		{"none", 0},
	} {
		for _, fixed := range []time.Duration{3 * sec, -ms(500)} {
			t.Run(fmt.Sprintf("%s, %v outside", tc.name, fixed), func(t *testing.T) {
				// A negative time outside: the run was shorter than its replay (Rehearsal's calibration).
				run := runOf(t, p, shopDurations, 2, fixed)
				// Everything from the database action on started opening later, and the run was as much longer.
				for k := range run.Actions {
					if run.Actions[k].Type != plan.TypeRole {
						run.Actions[k].Start += tc.opening
						run.Actions[k].End += tc.opening
					}
				}
				run.FinishedAt = run.FinishedAt.Add(tc.opening)
				e, err := Rehearsal(p, 2, run)
				if err != nil {
					t.Fatal(err)
				}
				// What was spent opening is prefetchable, as far as the time outside the graph holds it.
				if want := min(tc.opening, max(fixed+tc.opening, 0)); e.Prefetchable != want {
					t.Errorf("prefetchable %v, want %v", e.Prefetchable, want)
				}
				asked, err := Make(p, 2, e)
				if err != nil {
					t.Fatal(err)
				}
				prefetched, err := Make(p, 2, e.Prefetched())
				if err != nil {
					t.Fatal(err)
				}
				wall := 10*sec + fixed + tc.opening
				if got := time.Duration(asked.ExpectedMS) * time.Millisecond; got != wall {
					t.Errorf("forecast of an apply that asks first %v, want the run's %v", got, wall)
				}
				if got, want := time.Duration(prefetched.ExpectedMS)*time.Millisecond, wall-e.Prefetchable; got != want {
					t.Errorf("forecast of an apply that prefetches %v, want %v (the run less its opening)", got, want)
				}
			})
		}
	}
}
