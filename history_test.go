package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pgferry/pgferry/internal/views"
	"github.com/rogpeppe/go-internal/testscript"
)

// histcheck FILE OP:OUTCOME...: FILE (or stdout) is a `history --json` document whose runs, oldest
// first, are the operations and outcomes given, numbered 1, 2, … and listed newest first; every
// run's duration is its own (finished_at - started_at), runs follow one another without
// overlapping (a resumed or repeated apply's time is never summed with an earlier run's), and
// every apply that did something has wall time per phase.
func histcheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: histcheck FILE|stdout OP:OUTCOME...")
	}
	var doc views.HistoryDoc
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc); err != nil {
		ts.Fatalf("histcheck: %v", err)
	}
	if doc.FormatVersion != views.HistoryFormatVersion {
		ts.Fatalf("histcheck: format_version %q", doc.FormatVersion)
	}
	want := args[1:]
	if len(doc.Runs) != len(want) {
		ts.Fatalf("histcheck: %d runs, want %d (%s)", len(doc.Runs), len(want), strings.Join(want, " "))
	}
	var prevEnd time.Time
	for i := range doc.Runs {
		r := doc.Runs[len(doc.Runs)-1-i] // oldest first
		if got := fmt.Sprintf("%s:%s", r.Operation, r.Outcome); r.ID != i+1 || got != want[i] {
			ts.Fatalf("histcheck: run %d is #%d %s, want #%d %s", i+1, r.ID, got, i+1, want[i])
		}
		own := r.FinishedAt.Sub(r.StartedAt).Seconds()
		if own < 0 || math.Abs(own-r.DurationSeconds) > 0.002 {
			ts.Fatalf("histcheck: run %d lasted %.3fs from %s to %s but says %.3fs", r.ID, own, r.StartedAt, r.FinishedAt, r.DurationSeconds)
		}
		if r.StartedAt.Before(prevEnd) {
			ts.Fatalf("histcheck: run %d started at %s, before run %d finished (%s)", r.ID, r.StartedAt, r.ID-1, prevEnd)
		}
		prevEnd = r.FinishedAt
		if r.Operation == "apply" && r.Outcome == "Succeeded" && len(r.Phases) == 0 {
			ts.Fatalf("histcheck: run %d (a succeeded apply) has no phases", r.ID)
		}
		for ph, s := range r.Phases {
			if s < 0 || s > r.DurationSeconds+0.002 {
				ts.Fatalf("histcheck: run %d: phase %s took %.3fs of a %.3fs run", r.ID, ph, s, r.DurationSeconds)
			}
		}
		ts.Logf("run %d: %s %s %.3fs %v", r.ID, r.Operation, r.Outcome, r.DurationSeconds, r.Phases)
	}
}

// lastruncheck HISTORY LIST SHOW: the files hold `history --json`, `list --json` and `show --json`
// of one migration; list's start time and duration and show's are its newest run's, and show's
// last_run is that run with its phases.
func lastruncheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: lastruncheck HISTORY LIST SHOW")
	}
	var hist views.HistoryDoc
	var list []struct {
		Name            string     `json:"name"`
		DurationSeconds *float64   `json:"duration_seconds"`
		StartTime       *time.Time `json:"start_time"`
	}
	var show views.ShowDoc
	for i, doc := range []any{&hist, &list, &show} {
		if err := json.Unmarshal([]byte(ts.ReadFile(args[i])), doc); err != nil {
			ts.Fatalf("lastruncheck %s: %v", args[i], err)
		}
	}
	if len(hist.Runs) == 0 {
		ts.Fatalf("lastruncheck: no runs in %s", args[0])
	}
	newest := hist.Runs[0]
	near := func(a *float64) bool { return a != nil && math.Abs(*a-newest.DurationSeconds) < 0.002 }
	secs := func(a *float64) string {
		if a == nil {
			return "no duration"
		}
		return fmt.Sprintf("%.3fs", *a)
	}
	found := false
	for _, r := range list {
		if r.Name != hist.Migration {
			continue
		}
		found = true
		if r.StartTime == nil || !r.StartTime.Equal(newest.StartedAt) || !near(r.DurationSeconds) {
			ts.Fatalf("lastruncheck: list says %v, %s; run %d started %s and lasted %.3fs", r.StartTime, secs(r.DurationSeconds), newest.ID, newest.StartedAt, newest.DurationSeconds)
		}
	}
	if !found {
		ts.Fatalf("lastruncheck: list has no migration %q", hist.Migration)
	}
	if show.StartedAt == nil || !show.StartedAt.Equal(newest.StartedAt) || !near(show.DurationSeconds) {
		ts.Fatalf("lastruncheck: show says %v, %s; run %d started %s and lasted %.3fs", show.StartedAt, secs(show.DurationSeconds), newest.ID, newest.StartedAt, newest.DurationSeconds)
	}
	lr := show.LastRun
	if lr == nil || lr.ID != newest.ID || lr.Operation != newest.Operation || lr.Outcome != newest.Outcome ||
		!lr.StartedAt.Equal(newest.StartedAt) || !lr.FinishedAt.Equal(newest.FinishedAt) || len(lr.Phases) != len(newest.Phases) {
		ts.Fatalf("lastruncheck: show's last_run %+v is not run %+v", lr, newest)
	}
	for ph, s := range newest.Phases {
		if lr.Phases[ph] != s {
			ts.Fatalf("lastruncheck: show's last_run has %s %.3fs, history %.3fs", ph, lr.Phases[ph], s)
		}
	}
}

// runwithin FILE ID T0 T1: run ID of the `history --json` document in FILE (or stdout) lasted more
// than nothing, started at or after T0 and finished at or before T1 (files holding `date +%s.%N`):
// e.g. the run of an apply killed at T1 ends no later than the kill.
func runwithin(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: runwithin FILE|stdout ID T0FILE T1FILE")
	}
	var doc views.HistoryDoc
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &doc); err != nil {
		ts.Fatalf("runwithin: %v", err)
	}
	id, err := strconv.Atoi(args[1])
	ts.Check(err)
	instant := func(file string) time.Time {
		f, err := strconv.ParseFloat(strings.TrimSpace(ts.ReadFile(file)), 64)
		if err != nil {
			ts.Fatalf("runwithin: %s: %v", file, err)
		}
		return time.Unix(0, int64(f*1e9))
	}
	t0, t1 := instant(args[2]), instant(args[3])
	for _, r := range doc.Runs {
		if r.ID != id {
			continue
		}
		ts.Logf("run %d: %s to %s (%.3fs); window %s to %s", id, r.StartedAt, r.FinishedAt, r.DurationSeconds, t0.UTC(), t1.UTC())
		if r.DurationSeconds <= 0 || r.StartedAt.Before(t0) || r.FinishedAt.After(t1) {
			ts.Fatalf("runwithin: run %d from %s to %s (%.3fs) is not a positive time within %s to %s", id, r.StartedAt, r.FinishedAt, r.DurationSeconds, t0.UTC(), t1.UTC())
		}
		return
	}
	ts.Fatalf("runwithin: no run %d", id)
}

// forecastwithin FILE COLD FACTOR: the forecast.seconds of the plan --json document in FILE (or
// stdout) is within FACTOR times that of the one in COLD, either way.
func forecastwithin(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: forecastwithin FILE|stdout COLDFILE FACTOR")
	}
	seconds := func(file string) float64 {
		var doc struct {
			Forecast *struct {
				Seconds float64 `json:"seconds"`
			} `json:"forecast"`
		}
		if err := json.Unmarshal([]byte(ts.ReadFile(file)), &doc); err != nil {
			ts.Fatalf("forecastwithin: %s: %v", file, err)
		}
		if doc.Forecast == nil || doc.Forecast.Seconds <= 0 {
			ts.Fatalf("forecastwithin: %s has no forecast", file)
		}
		return doc.Forecast.Seconds
	}
	factor, err := strconv.ParseFloat(args[2], 64)
	ts.Check(err)
	got, cold := seconds(args[0]), seconds(args[1])
	ts.Logf("forecast %.3fs, cold %.3fs: %.2f×", got, cold, got/cold)
	if got > cold*factor || got < cold/factor {
		ts.Fatalf("forecastwithin: %.3fs is not within %g× of %.3fs", got, factor, cold)
	}
}
