package views

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/state"
)

func lastRunFixture() *state.RunSummary {
	start := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)
	return &state.RunSummary{ID: 3, Migration: "m", Operation: state.OpApply, Outcome: state.StatusSucceeded,
		StartedAt: start, FinishedAt: start.Add(20400 * time.Millisecond),
		PhasesMS: map[string]int64{"copy": 12300, "roles": 40, "indexes": 5100, "schema": 900, "constraints": 1200, "analyze": 800}}
}

// TestShowLastRun: show's "Last run" block (golden), its JSON object, and the run's times as the
// migration's (show and list) unless the state is newer than the run.
func TestShowLastRun(t *testing.T) {
	run := lastRunFixture()
	var b bytes.Buffer
	LastRun(&b, run)
	golden(t, "show_last_run.golden", b.Bytes())
	b.Reset()
	LastRun(&b, &state.RunSummary{ID: 4, Operation: state.OpDestroy, Outcome: state.StatusSucceeded, StartedAt: run.FinishedAt,
		FinishedAt: run.FinishedAt.Add(1500 * time.Millisecond), PhasesMS: map[string]int64{"rollback": 1500}})
	if got := b.String(); !strings.Contains(got, "Last run: 4 (destroy, Succeeded), started 2026-12-05 07:00:20 UTC, 1.5s") ||
		!strings.Contains(got, "  rollback           1.5s") {
		t.Errorf("destroy run:\n%s", got)
	}
	b.Reset()
	LastRun(&b, nil)
	if b.Len() != 0 {
		t.Errorf("no run printed %q", b.String())
	}

	// The cancelled run's start stayed in the state (an apply after a cancel resumes its clock):
	// show and list take the latest run's start and duration.
	old := run.StartedAt.Add(-10 * time.Minute)
	st := state.New("m")
	st.Status, st.StartedAt, st.FinishedAt = state.StatusSucceeded, &old, &run.FinishedAt
	doc := showDocument(st, run, run.FinishedAt)
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"last_run":{"id":3,"operation":"apply","outcome":"Succeeded","started_at":"2026-12-05T07:00:00Z","finished_at":"2026-12-05T07:00:20.4Z","duration_seconds":20.4,"phases":{`,
		`"copy":12.3`, `"started_at":"2026-12-05T07:00:00Z","finished_at":"2026-12-05T07:00:20.4Z","duration_seconds":20.4,`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("show --json lacks %s:\n%s", want, js)
		}
	}
	if js, _ := json.Marshal(showDocument(st, nil, run.FinishedAt)); strings.Contains(string(js), "last_run") {
		t.Errorf("show --json without runs has last_run:\n%s", js)
	}

	for _, c := range []struct {
		name  string
		st    func() *state.State
		last  *state.RunSummary
		start time.Time
		secs  float64
	}{
		{"latest run", func() *state.State { return st }, run, run.StartedAt, 20.4},
		{"no runs kept", func() *state.State { return st }, nil, old, 620.4},
		{"apply running", func() *state.State {
			s := state.New("m")
			s.Status, s.StartedAt = state.StatusInProgress, &old
			return s
		}, run, old, 660},
		{"died after the run", func() *state.State {
			s := state.New("m")
			later := run.FinishedAt.Add(time.Minute)
			s.Status, s.StartedAt, s.FinishedAt = state.StatusInterrupted, &old, &later
			return s
		}, run, old, 680.4},
	} {
		rows := listRows([]*state.State{c.st()}, map[string]*state.RunSummary{"m": c.last}, old.Add(11*time.Minute))
		r := rows[0]
		if r.StartTime == nil || !r.StartTime.Equal(c.start) || r.DurationSeconds == nil || *r.DurationSeconds != c.secs {
			t.Errorf("%s: list start %v, duration %v; want %s, %.1fs", c.name, r.StartTime, r.DurationSeconds, c.start, c.secs)
		}
		if got := StartOf(c.st(), c.last); !got.Equal(c.start) {
			t.Errorf("%s: StartOf %s, want %s", c.name, got, c.start)
		}
	}
}
