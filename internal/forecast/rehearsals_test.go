package forecast

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/state"
)

// scaledDurations are shopDurations times f.
func scaledDurations(f float64) []time.Duration {
	out := make([]time.Duration, len(shopDurations))
	for i, d := range shopDurations {
		out[i] = time.Duration(float64(d) * f)
	}
	return out
}

// TestRehearsals: several rehearsals of the same plan are combined per action by their median, so
// one apply slowed by something else on the servers does not set the forecast.
func TestRehearsals(t *testing.T) {
	p := shop(4 << 30)
	run := func(id int, f float64, fixed time.Duration) *state.Run {
		r := runOf(t, p, scaledDurations(f), 2, fixed)
		r.ID = id
		r.Target = state.Identity{Host: "db", Port: 5432, VersionNum: 150000, SystemIdentifier: "7"}
		return r
	}
	// What one normal rehearsal forecasts: 13 s (10 s of actions, 3 s outside them).
	normal, err := Make(p, 2, mustRehearsal(t, run(1, 1, 3*sec)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		runs   []*state.Run
		want   time.Duration // the forecast
		tol    time.Duration
		spread [2]float64 // the range's half-width, at least and at most
		note   string     // "" : none
	}{
		{
			// One run: its own forecast, its range singleRunSpread (one run cannot tell a slow apply).
			name: "one run", runs: []*state.Run{run(5, 1, 3*sec)},
			want: time.Duration(normal.ExpectedMS) * time.Millisecond, tol: 10 * time.Millisecond,
			spread: [2]float64{singleRunSpread, singleRunSpread},
		},
		{
			// One slow run (every action +40%, twice the time outside) among three: the median is the
			// normal runs'; the range says they differed.
			name: "median of three sets a slow one aside",
			runs: []*state.Run{run(5, 1, 3*sec), run(3, 1.4, 6*sec), run(1, 1.02, 3*sec)},
			want: time.Duration(normal.ExpectedMS) * time.Millisecond, tol: 250 * time.Millisecond,
			spread: [2]float64{baseRehearsalSpread + 0.15, baseRehearsalSpread + 0.35},
			note:   "each action the median of runs 5, 3, 1, each scaled to this plan",
		},
		{
			// The newest run was the slow one: the two others still set the forecast.
			name: "a slow newest run",
			runs: []*state.Run{run(5, 1.4, 6*sec), run(3, 1, 3*sec), run(1, 1, 3*sec)},
			want: time.Duration(normal.ExpectedMS) * time.Millisecond, tol: 10 * time.Millisecond,
			spread: [2]float64{baseRehearsalSpread + 0.15, baseRehearsalSpread + 0.35},
			note:   "median of runs 5, 3, 1",
		},
		{
			// Two runs: half of the slow one's effect.
			name: "mean of two", runs: []*state.Run{run(3, 1.4, 3*sec), run(1, 1, 3*sec)},
			want: 13*sec + 2*sec, tol: 500 * time.Millisecond,
			spread: [2]float64{baseRehearsalSpread + 0.1, baseRehearsalSpread + 0.2},
			note:   "each action the mean of runs 3 and 1, each scaled to this plan",
		},
		{
			// A run against another target server measured another server: left out.
			name: "another target",
			runs: []*state.Run{run(5, 1, 3*sec), func() *state.Run { r := run(3, 2, 9*sec); r.Target.Host = "old"; return r }()},
			want: time.Duration(normal.ExpectedMS) * time.Millisecond, tol: 10 * time.Millisecond,
			spread: [2]float64{singleRunSpread, singleRunSpread},
		},
		{
			// Another cluster at the same address (a new initdb): left out too.
			name: "another cluster at the same address",
			runs: []*state.Run{run(5, 1, 3*sec), func() *state.Run { r := run(3, 2, 9*sec); r.Target.SystemIdentifier = "8"; return r }()},
			want: time.Duration(normal.ExpectedMS) * time.Millisecond, tol: 10 * time.Millisecond,
			spread: [2]float64{singleRunSpread, singleRunSpread},
		},
		{
			// An older run that cannot be scaled (no detail) is left out.
			name: "an older run without detail",
			runs: []*state.Run{run(5, 1, 3*sec), func() *state.Run { r := run(3, 2, 9*sec); r.Actions = nil; return r }()},
			want: time.Duration(normal.ExpectedMS) * time.Millisecond, tol: 10 * time.Millisecond,
			spread: [2]float64{singleRunSpread, singleRunSpread},
		},
		{
			// An older run of a plan without the small table did less of this one: left out.
			name: "an older run of a smaller plan",
			runs: []*state.Run{run(5, 1, 3*sec), func() *state.Run {
				r := run(3, 2, 9*sec)
				r.Actions = slices.DeleteFunc(r.Actions, func(a state.RunAction) bool { return strings.Contains(a.Address, `"small"`) })
				return r
			}()},
			want: time.Duration(normal.ExpectedMS) * time.Millisecond, tol: 10 * time.Millisecond,
			spread: [2]float64{singleRunSpread, singleRunSpread},
		},
		{
			// Only the newest MaxRehearsals count: a fourth, slower one is not read.
			name: "at most MaxRehearsals",
			runs: []*state.Run{run(7, 1, 3*sec), run(5, 1, 3*sec), run(3, 1, 3*sec), run(1, 3, 9*sec)},
			want: time.Duration(normal.ExpectedMS) * time.Millisecond, tol: 10 * time.Millisecond,
			spread: [2]float64{baseRehearsalSpread, baseRehearsalSpread},
			note:   "each action the median of runs 7, 5, 3, each scaled to this plan",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Rehearsals(p, 2, tc.runs)
			if err != nil {
				t.Fatal(err)
			}
			if e.Run != tc.runs[0].ID || e.Basis != BasisRehearsal {
				t.Errorf("run %d basis %q, want the newest run %d", e.Run, e.Basis, tc.runs[0].ID)
			}
			f, err := Make(p, 2, e)
			if err != nil {
				t.Fatal(err)
			}
			if got := time.Duration(f.ExpectedMS) * time.Millisecond; absDur(got-tc.want) > tc.tol {
				t.Errorf("forecast %v, want %v ± %v", got, tc.want, tc.tol)
			}
			if e.Spread < tc.spread[0]-1e-9 || e.Spread > tc.spread[1]+1e-9 {
				t.Errorf("spread %.3f, want %.2f–%.2f", e.Spread, tc.spread[0], tc.spread[1])
			}
			if (tc.note == "") != (e.Note == "") || !strings.Contains(e.Note, tc.note) {
				t.Errorf("note %q, want %q", e.Note, tc.note)
			}
		})
	}
}

func mustRehearsal(t *testing.T, run *state.Run) *Estimate {
	t.Helper()
	e, err := Rehearsal(shop(4<<30), 2, run)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRehearsalsNewestFails: the newest run must be scalable; its error is the error.
func TestRehearsalsNewestFails(t *testing.T) {
	p := shop(1 << 20)
	ok := runOf(t, p, shopDurations, 2, 0)
	bad := *ok
	bad.Actions = nil
	if _, err := Rehearsals(p, 2, []*state.Run{&bad, ok}); err == nil || !strings.Contains(err.Error(), "kept no per-action timings") {
		t.Errorf("error %v, want the newest run's", err)
	}
	if _, err := Rehearsals(p, 2, nil); err == nil {
		t.Error("no runs: want an error")
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []time.Duration
		want time.Duration
	}{
		{nil, 0},
		{[]time.Duration{5}, 5},
		{[]time.Duration{9, 1}, 5},
		{[]time.Duration{9, 1, 4}, 4},
		{[]time.Duration{100, 1, 4, 6}, 5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
