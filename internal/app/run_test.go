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
			{Address: "t1", Type: plan.TypeTable, CopyFormat: "text"},
			{Address: "t2", Type: plan.TypeTable, CopyFormat: "binary"},
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
	// Each copy's COPY format, as its plan chose (and apply followed); none for other actions.
	for i, want := range []string{"text", "binary", "", ""} {
		if got := interrupted.Actions[i].CopyFormat; got != want {
			t.Errorf("%s: copy format %q, want %q", interrupted.Actions[i].Address, got, want)
		}
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

func TestDeadRun(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(s float64) *time.Time { v := t0.Add(time.Duration(s * float64(time.Second))); return &v }
	big, small := plan.TableAddr("app", "public", "big"), plan.TableAddr("app", "public", "small")
	part := func(i int) string { return plan.TablePartAddr("app", "public", "big", i) }
	// The migration started at -100 (a first apply that failed, run 1); the dead apply resumed it
	// at 0 with 2 jobs, wrote the state last at 9 and was killed while copying.
	dead := &state.State{Migration: "m", ToolVersion: "1.2", Status: state.StatusInProgress, Substatus: state.SubMigratingData,
		Databases: []string{"app"}, StartedAt: at(-100), UpdatedAt: at(9),
		Run: &state.RunStart{StartedAt: *at(0), Jobs: 2, Forecast: &state.Forecast{ExpectedMS: 20000, Basis: "model"}},
		Actions: []*state.Action{
			{Address: "database.app", Status: state.ActionApplied, StartedAt: at(-100), FinishedAt: at(-99)}, // run 1's
			{Address: "database.app.schema", Status: state.ActionApplied, StartedAt: at(0.5), FinishedAt: at(1.5)},
			{Address: big, Status: state.ActionPending, RowsEstimate: 1000, BytesEstimate: 100000},
			{Address: part(1), Status: state.ActionApplied, StartedAt: at(2), FinishedAt: at(6), Rows: 500, Bytes: 50000, Lane: 0},
			{Address: part(2), Status: state.ActionRunning, StartedAt: at(3), Rows: 100, Bytes: 10000, Lane: 1},
			{Address: small, Status: state.ActionPending, RowsEstimate: 10, BytesEstimate: 800},
		}}
	run1 := state.RunSummary{ID: 1, Operation: state.OpApply, Outcome: state.StatusFailed, StartedAt: *at(-100), FinishedAt: *at(-90), Error: "boom"}

	r := DeadRun(dead, []state.RunSummary{run1})
	if r == nil {
		t.Fatal("no run for a dead apply")
	}
	if r.Operation != state.OpApply || r.Outcome != state.StatusInterrupted || r.Error != DiedError ||
		!r.StartedAt.Equal(*at(0)) || !r.FinishedAt.Equal(*at(9)) || r.Jobs != 2 || r.Forecast == nil || r.Forecast.ExpectedMS != 20000 || r.ToolVersion != "1.2" {
		t.Errorf("dead run: %+v", r.RunSummary)
	}
	if r.Planned.Databases != 1 || r.Planned.Tables != 2 || r.Planned.Rows != 1010 || r.Planned.Bytes != 100800 {
		t.Errorf("planned sizes: %+v", r.Planned)
	}
	// Its own actions only, typed by their addresses; the running part ends at the last write.
	want := []state.RunAction{
		{Address: "database.app.schema", Type: plan.TypeSchema, Phase: "schema", Start: 500 * time.Millisecond, End: 1500 * time.Millisecond, Outcome: state.ActionApplied},
		{Address: part(1), Type: plan.TypeTablePart, Phase: "copy", Lane: 0, Start: 2 * time.Second, End: 6 * time.Second, Rows: 500, Bytes: 50000, Outcome: state.ActionApplied},
		{Address: part(2), Type: plan.TypeTablePart, Phase: "copy", Lane: 1, Start: 3 * time.Second, End: 9 * time.Second, Rows: 100, Bytes: 10000, Outcome: state.ActionInterrupted},
	}
	if !reflect.DeepEqual([]state.RunAction(r.Actions), want) {
		t.Errorf("actions:\n got %+v\nwant %+v", r.Actions, want)
	}
	if r.Rows != 600 || r.Bytes != 60000 {
		t.Errorf("moved %d rows, %d bytes; want 600, 60000", r.Rows, r.Bytes)
	}
	if want := map[string]int64{"schema": 1000, "copy": 7000}; !reflect.DeepEqual(r.PhasesMS, want) {
		t.Errorf("phases = %v, want %v", r.PhasesMS, want)
	}
	if dead.Status != state.StatusInProgress || dead.Action(part(2)).Status != state.ActionRunning {
		t.Error("DeadRun changed the state it read")
	}

	// Exactly once: with its run recorded (as AppendRun keeps it), nothing more to record; nor
	// for a state that is not In progress.
	recorded := r.RunSummary
	recorded.ID = 2
	if again := DeadRun(dead, []state.RunSummary{run1, recorded}); again != nil {
		t.Errorf("recorded twice: %+v", again.RunSummary)
	}
	for _, st := range []state.Status{state.StatusSucceeded, state.StatusFailed, state.StatusInterrupted, state.StatusCanceled, ""} {
		c := dead.Clone()
		c.Status = st
		if DeadRun(c, nil) != nil {
			t.Errorf("a run for a state %q", st)
		}
	}
	if DeadRun(nil, nil) != nil {
		t.Error("a run for no state")
	}
	// A later dead apply (after its predecessor's run was recorded) is a run of its own.
	later := dead.Clone()
	later.Run.StartedAt, later.UpdatedAt = *at(60), at(70)
	if r := DeadRun(later, []state.RunSummary{run1, recorded}); r == nil || !r.StartedAt.Equal(*at(60)) || r.Duration() != 10*time.Second {
		t.Errorf("a later dead apply: %+v", r)
	}

	// A state of an older pgferry (no Run): the apply started after the latest run finished, or at
	// the migration's start; and is still recorded once.
	old := dead.Clone()
	old.Run = nil
	r = DeadRun(old, []state.RunSummary{run1})
	if r == nil || !r.StartedAt.Equal(*at(-90)) || !r.FinishedAt.Equal(*at(9)) || r.Jobs != 0 || r.Forecast != nil {
		t.Fatalf("older state's dead run: %+v", r)
	}
	recorded = r.RunSummary
	if DeadRun(old, []state.RunSummary{run1, recorded}) != nil {
		t.Error("older state's dead run recorded twice")
	}
	if r := DeadRun(old, nil); r == nil || !r.StartedAt.Equal(*at(-100)) {
		t.Errorf("older state's first apply: %+v", r)
	}
}
