package views

import (
	"fmt"
	"sort"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// ReportOf is the report of run as it was recorded: its actions on their lanes, its phases, the
// migration's history (every run, in any order) and the validations of the plan it carried out
// (nil when they are not known: only the state's latest apply keeps them).
func ReportOf(run *state.Run, history []state.RunSummary, vals []state.Validation, generated time.Time) ReportData {
	r := ReportData{
		Migration: run.Migration, Run: run.ID, Operation: string(run.Operation), Outcome: run.Outcome, Error: run.Error,
		StartedAt: run.StartedAt, FinishedAt: run.FinishedAt, GeneratedAt: generated,
		PgferryVersion: run.ToolVersion, Source: run.Source, Target: run.Target, Jobs: run.Jobs,
		Validations: vals,
		Sizes:       ReportSizes{Databases: run.Planned.Databases, Tables: run.Planned.Tables, Bytes: run.Planned.Bytes, Rows: run.Planned.Rows},
	}
	for _, ph := range plan.Phases {
		if ms, ok := run.PhasesMS[ph]; ok {
			r.Phases = append(r.Phases, ReportPhase{Name: ph, Wall: time.Duration(ms) * time.Millisecond})
		}
	}
	for _, a := range run.Actions {
		r.Actions = append(r.Actions, ReportAction{Address: a.Address, Type: a.Type, Database: plan.AddrDatabase(a.Address),
			Lane: a.Lane, Start: a.Start, End: a.End, Bytes: a.Bytes, Rows: a.Rows, Error: failed(a.Outcome)})
	}
	for _, i := range CriticalChain(run.Actions) {
		r.Actions[i].Critical = true
	}
	if f := run.Forecast; f != nil {
		r.Forecast = &ReportForecast{Expected: millis(f.ExpectedMS), Low: millis(f.LowMS), High: millis(f.HighMS), Basis: f.Basis,
			BasisRun: f.BasisRun, CriticalPath: f.CriticalPath}
	}
	hist := append([]state.RunSummary(nil), history...)
	sort.Slice(hist, func(i, j int) bool { return hist[i].ID < hist[j].ID })
	for _, h := range hist {
		var forecast time.Duration
		if h.Forecast != nil {
			forecast = millis(h.Forecast.ExpectedMS)
		}
		r.History = append(r.History, ReportRun{ID: h.ID, Operation: string(h.Operation), StartedAt: h.StartedAt,
			Duration: h.Duration(), Forecast: forecast, Outcome: h.Outcome})
	}
	return r
}

func millis(n int64) time.Duration { return time.Duration(n) * time.Millisecond }

// failed is the report's error text of an action that did not succeed.
func failed(s state.ActionStatus) string {
	switch s {
	case state.ActionFailed, state.ActionTainted, state.ActionInterrupted:
		return string(s)
	}
	return ""
}

// criticalSlack is how far apart an action's start and the end that let it start may be, in a
// recorded run: the state write that confirms an action and the next one's start take a few
// milliseconds, more on a loaded machine.
const criticalSlack = 250 * time.Millisecond

// CriticalChain is the measured critical path of a run, as indexes into actions in the order they
// ran: from the action that finished last, back through the action whose end let each start (the
// one that ended last at or before its start: a dependency, or the lane it waited for), to the
// first. A chain of what bounded the run's wall time: shortening any of them shortens the run.
func CriticalChain(actions state.RunActions) []int {
	if len(actions) == 0 {
		return nil
	}
	last := 0
	for i, a := range actions {
		if a.End > actions[last].End {
			last = i
		}
	}
	chain := []int{last}
	on := map[int]bool{last: true}
	for cur := last; ; {
		prev := -1
		for i, a := range actions {
			if on[i] || a.End > actions[cur].Start+criticalSlack || a.End == 0 {
				continue
			}
			if prev < 0 || a.End > actions[prev].End {
				prev = i
			}
		}
		if prev < 0 || actions[prev].End >= actions[cur].End {
			break
		}
		chain = append(chain, prev)
		on[prev] = true
		cur = prev
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain
}

// ReportWritten says where `pgferry report` wrote a report.
func (v *View) ReportWritten(path string, r ReportData) {
	fmt.Fprintf(v.Stdout, "Wrote the report of run %d (%s, %s) of migration %q to %s\n", r.Run, r.Operation, r.Outcome, r.Migration, path)
}
