package app

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

func TestApplyRunBuild(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(s float64) *time.Time { v := t0.Add(time.Duration(s * float64(time.Second))); return &v }
	p := &plan.Plan{ToolVersion: "1.0", Databases: []string{"app"},
		Summary: plan.Summary{Tables: 2, Bytes: 1000, Rows: 100},
		Actions: []*plan.Action{
			{Address: "database.app", Type: plan.TypeDatabase},
			{Address: "t1", Type: plan.TypeTable},
			{Address: "t2", Type: plan.TypeTable},
			{Address: "i1", Type: plan.TypeIndex},
			{Address: "i2", Type: plan.TypeIndex},
		}}
	st := &state.State{Actions: []*state.Action{
		// done by an earlier, interrupted run: not this run's
		{Address: "database.app", Status: state.ActionApplied, StartedAt: at(-100), FinishedAt: at(-99)},
		{Address: "t1", Status: state.ActionApplied, StartedAt: at(0), FinishedAt: at(4), Rows: 60, Bytes: 600, Lane: 0},
		{Address: "t2", Status: state.ActionApplied, StartedAt: at(1), FinishedAt: at(3), Rows: 40, Bytes: 400, Lane: 1},
		{Address: "i1", Status: state.ActionApplied, StartedAt: at(6), FinishedAt: at(7), Lane: 0},
		{Address: "i2", Status: state.ActionRunning, StartedAt: at(8), Lane: 1}, // running at the interrupt
	}}
	interrupted := ApplyRun{State: st, Plan: p, Start: t0, Jobs: 2, Err: errors.New("context canceled"), Interrupted: true}.Build(t0.Add(10 * time.Second))
	if interrupted.Outcome != state.StatusInterrupted || interrupted.Error != "" || interrupted.Duration() != 10*time.Second {
		t.Errorf("interrupted run: %+v", interrupted.RunSummary)
	}
	if len(interrupted.Actions) != 4 {
		t.Fatalf("%d actions, want the 4 this run started", len(interrupted.Actions))
	}
	// copy: [0,4] ∪ [1,3] = 4s; indexes: [6,7] ∪ [8,10] = 3s
	if want := map[string]int64{"copy": 4000, "indexes": 3000}; !reflect.DeepEqual(interrupted.PhasesMS, want) {
		t.Errorf("phases = %v, want %v", interrupted.PhasesMS, want)
	}
	if interrupted.Rows != 100 || interrupted.Bytes != 1000 || interrupted.Planned.Tables != 2 || interrupted.Jobs != 2 {
		t.Errorf("sizes: %+v", interrupted.RunSummary)
	}
	last := interrupted.Actions[3]
	if last.Address != "i2" || last.Lane != 1 || last.Start != 8*time.Second || last.End != 10*time.Second || last.Phase != "indexes" {
		t.Errorf("running action: %+v", last)
	}
	for _, tc := range []struct {
		in   ApplyRun
		want state.Status
		err  string
	}{
		{ApplyRun{}, state.StatusSucceeded, ""},
		{ApplyRun{Err: errors.New("boom")}, state.StatusFailed, "boom"},
		{ApplyRun{Err: errors.New("canceled"), Canceled: true}, state.StatusCanceled, ""},
	} {
		r := tc.in.Build(t0)
		if r.Outcome != tc.want || r.Error != tc.err {
			t.Errorf("%+v: outcome %s %q, want %s %q", tc.in, r.Outcome, r.Error, tc.want, tc.err)
		}
	}
}

func TestRollbackRunBuild(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC)
	steps := []*plan.UndoStep{
		{Address: "database.app", Kind: plan.Delete, Change: state.Change{Type: plan.ChangeDatabase, Name: "app"}},
		{Address: "role.app", Kind: plan.Delete, Change: state.Change{Type: plan.ChangeRole, Name: "app"}},
	}
	dp := &plan.DestroyPlan{Steps: steps}
	ok := RollbackRun{Plan: dp, Results: []apply.StepResult{
		{Step: steps[0], Ran: true, Started: t0, Finished: t0.Add(2 * time.Second)},
		{Step: steps[1], Ran: true, Started: t0.Add(2 * time.Second), Finished: t0.Add(2500 * time.Millisecond)},
	}}.Build(t0.Add(3 * time.Second))
	if ok.Operation != state.OpDestroy || ok.Outcome != state.StatusSucceeded || ok.Duration() != 3*time.Second || !ok.StartedAt.Equal(t0) {
		t.Errorf("destroy run: %+v", ok.RunSummary)
	}
	if ok.PhasesMS[PhaseRollback] != 2500 || len(ok.Actions) != 2 || ok.Actions[1].Start != 2*time.Second {
		t.Errorf("destroy run actions: %v %+v", ok.PhasesMS, ok.Actions)
	}
	failed := RollbackRun{Plan: dp, Cancel: true, Failures: []string{"role.app: still owns objects"}, Results: []apply.StepResult{
		{Step: steps[0], Ran: true, Started: t0, Finished: t0.Add(time.Second)},
		{Step: steps[1], Ran: true, Started: t0.Add(time.Second), Finished: t0.Add(time.Second), Err: errors.New("still owns objects")},
	}}.Build(t0.Add(2 * time.Second))
	if failed.Operation != state.OpCancel || failed.Outcome != state.StatusFailed || failed.Error == "" || failed.Actions[1].Outcome != state.ActionFailed {
		t.Errorf("failed cancel run: %+v", failed)
	}
	if (RollbackRun{Plan: &plan.DestroyPlan{}}).Build(t0) != nil {
		t.Error("a rollback with nothing to undo made a run")
	}
}
