package views

// The last run of a migration, as show and list present it (SPEC §7): its times are the
// migration's times once it is recorded, and show prints its phase table.

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// ShowRun is the migration's last run in `show --json`.
type ShowRun struct {
	ID              int                `json:"id"`
	Operation       state.Operation    `json:"operation"`
	Outcome         state.Status       `json:"outcome"`
	StartedAt       time.Time          `json:"started_at"`
	FinishedAt      time.Time          `json:"finished_at"`
	DurationSeconds float64            `json:"duration_seconds"`
	Phases          map[string]float64 `json:"phases"`
}

func showRun(r *state.RunSummary) *ShowRun {
	if r == nil {
		return nil
	}
	s := &ShowRun{ID: r.ID, Operation: r.Operation, Outcome: r.Outcome, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
		DurationSeconds: seconds(r.Duration().Milliseconds()), Phases: map[string]float64{}}
	for ph, ms := range r.PhasesMS {
		s.Phases[ph] = seconds(ms)
	}
	return s
}

// runPhases are a run's phases in the order apply runs them (plan.Phases), then any other
// (rollback) by name.
func runPhases(r *state.RunSummary) []string {
	var names, rest []string
	for _, ph := range plan.Phases {
		if _, ok := r.PhasesMS[ph]; ok {
			names = append(names, ph)
		}
	}
	for ph := range r.PhasesMS {
		if !slices.Contains(plan.Phases, ph) {
			rest = append(rest, ph)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

// LastRun prints the "Last run" block of show: the run and its wall time per phase.
func LastRun(w io.Writer, r *state.RunSummary) {
	if r == nil {
		return
	}
	fmt.Fprintf(w, "%s %d (%s, %s), started %s, %s\n", bold("Last run:"), r.ID, r.Operation, r.Outcome,
		FormatTime(&r.StartedAt), Duration(r.Duration()))
	if phases := runPhases(r); len(phases) > 0 {
		fmt.Fprintln(w, bold("Time per phase")+faint(" (wall clock):"))
		for _, ph := range phases {
			fmt.Fprintf(w, "  %-12s %10s\n", ph, Duration(time.Duration(r.PhasesMS[ph])*time.Millisecond))
		}
	}
	fmt.Fprintln(w)
}

// currentRun is last when it is the run the state's times belong to: nil when there is none (a
// backend that keeps no runs, state written by an older pgferry), when an apply is running (its
// run is recorded when it ends), or when the state was written after the run ended (an apply
// whose process died, an apply refused by its validations: no run recorded).
func currentRun(st *state.State, last *state.RunSummary) *state.RunSummary {
	switch {
	case last == nil || last.StartedAt.IsZero():
		return nil
	case st.Status == state.StatusInProgress:
		return nil
	case st.FinishedAt != nil && st.FinishedAt.After(last.FinishedAt.Add(time.Second)):
		return nil
	}
	return last
}

// migrationTimes are the migration's start, end and duration as show and list print them: the
// last run's when it is the current one, else the state's (soFar: still running).
func migrationTimes(st *state.State, last *state.RunSummary, now time.Time) (start, end *time.Time, dur time.Duration, ok, soFar bool) {
	if r := currentRun(st, last); r != nil {
		s, e := r.StartedAt, r.FinishedAt
		return &s, &e, r.Duration(), true, false
	}
	dur, ok = migrationDuration(st, now)
	return st.StartedAt, st.FinishedAt, dur, ok, ok && st.FinishedAt == nil
}

// StartOf is when the migration started as list shows it (and sorts by it): the last run's start
// when it is the current one, else the state's.
func StartOf(st *state.State, last *state.RunSummary) *time.Time {
	start, _, _, _, _ := migrationTimes(st, last, time.Time{})
	return start
}
