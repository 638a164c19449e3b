package main

// A developer's tool, not a test of the bench: the apply runs a state directory kept, side by side
// (why two applies of one plan differ). FORECAST_RUNS_CONFIG is a configuration's directory, such
// as a kept bench's DIR/work/forecast:
//
//	FORECAST_RUNS_CONFIG=/var/tmp/pgferry-bench/work/forecast go test -run TestForecastRuns -count=1 -v ./bench
//
// It prints each apply's wall time, its actions' span and what was outside it, the time summed
// per kind of action, and the actions whose times differ most between the first and the last run.

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/app"
	"github.com/pgferry/pgferry/state"
)

func TestForecastRuns(t *testing.T) {
	dir := os.Getenv("FORECAST_RUNS_CONFIG")
	if dir == "" {
		t.Skip("FORECAST_RUNS_CONFIG names a configuration directory with kept runs (a developer's tool)")
	}
	cfg, diags := config.Load(dir, config.Inputs{Env: os.Environ()})
	if diags.HasErrors() {
		t.Fatalf("%s: %v", dir, diags)
	}
	s, err := app.Open(t.Context(), cfg, "", "dev")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sums, err := s.Backend.Runs(t.Context(), s.Migration.Name)
	if err != nil {
		t.Fatal(err)
	}
	var runs []*state.Run
	for _, sum := range sums {
		if sum.Operation != state.OpApply || sum.Outcome != state.StatusSucceeded {
			continue
		}
		r, err := s.Backend.Run(t.Context(), s.Migration.Name, sum.ID)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	fmt.Print(runsTable(runs))
}

// runsTable is the runs side by side: totals, time per kind of action (summed, and first start to
// last end), and the actions that differ most between the first run and the last.
func runsTable(runs []*state.Run) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-28s", "")
	for _, r := range runs {
		fmt.Fprintf(&b, " %16s", fmt.Sprintf("run %d", r.ID))
	}
	b.WriteString("\n")
	row := func(name string, f func(r *state.Run) string) {
		fmt.Fprintf(&b, "%-28s", name)
		for _, r := range runs {
			fmt.Fprintf(&b, " %16s", f(r))
		}
		b.WriteString("\n")
	}
	row("started", func(r *state.Run) string { return r.StartedAt.Format("15:04:05") })
	row("wall", func(r *state.Run) string { return dms(r.Duration()) })
	row("actions' span", func(r *state.Run) string { first, last := span(r.Actions); return dms(last - first) })
	row("before first action", func(r *state.Run) string { first, _ := span(r.Actions); return dms(first) })
	row("after last action", func(r *state.Run) string { _, last := span(r.Actions); return dms(r.Duration() - last) })
	var kinds []string
	for _, r := range runs {
		for _, a := range r.Actions {
			if !slices.Contains(kinds, a.Type) {
				kinds = append(kinds, a.Type)
			}
		}
	}
	for _, k := range kinds {
		row(k+" sum", func(r *state.Run) string {
			var d time.Duration
			n := 0
			for _, a := range r.Actions {
				if a.Type == k {
					d += a.End - a.Start
					n++
				}
			}
			return fmt.Sprintf("%s/%d", dms(d), n)
		})
		row(k+" span", func(r *state.Run) string {
			var kind state.RunActions
			for _, a := range r.Actions {
				if a.Type == k {
					kind = append(kind, a)
				}
			}
			first, last := span(kind)
			return fmt.Sprintf("%s-%s", dms(first), dms(last))
		})
	}
	if len(runs) < 2 {
		return b.String()
	}
	first, last := runs[0], runs[len(runs)-1]
	then := map[string]state.RunAction{}
	for _, a := range first.Actions {
		then[a.Address] = a
	}
	type diff struct {
		addr      string
		then, now state.RunAction
	}
	var ds []diff
	for _, a := range last.Actions {
		if t, ok := then[a.Address]; ok {
			ds = append(ds, diff{a.Address, t, a})
		}
	}
	abs := func(d time.Duration) time.Duration { return max(d, -d) }
	slices.SortFunc(ds, func(x, y diff) int {
		return int(abs((y.now.End-y.now.Start)-(y.then.End-y.then.Start)) - abs((x.now.End-x.now.Start)-(x.then.End-x.then.Start)))
	})
	fmt.Fprintf(&b, "largest differences, run %d against run %d (start+duration):\n", last.ID, first.ID)
	for _, d := range ds[:min(25, len(ds))] {
		fmt.Fprintf(&b, "  %-78s %7s+%-7s %7s+%-7s\n", clip(d.addr, 78), dms(d.then.Start), dms(d.then.End-d.then.Start), dms(d.now.Start), dms(d.now.End-d.now.Start))
	}
	return b.String()
}

// span is the first start and last end of actions.
func span(actions state.RunActions) (first, last time.Duration) {
	first = -1
	for _, a := range actions {
		if first < 0 || a.Start < first {
			first = a.Start
		}
		last = max(last, a.End)
	}
	return max(first, 0), last
}
