package views

import (
	"reflect"
	"testing"
	"time"

	"github.com/pgferry/pgferry/state"
)

func TestCriticalChain(t *testing.T) {
	s := time.Second
	acts := state.RunActions{
		{Address: "role.app", Start: 0, End: s / 10},
		{Address: "database.shop", Start: s / 10, End: s / 5},
		{Address: "database.shop.schema", Start: s / 5, End: s},
		{Address: `database.shop.table["public"."big"]`, Lane: 0, Start: s, End: 7 * s},
		{Address: `database.shop.table["public"."small"]`, Lane: 1, Start: s, End: 2 * s},
		{Address: `database.shop.index["public"."small_pkey"]`, Lane: 1, Start: 2 * s, End: 3 * s},
		{Address: `database.shop.index["public"."big_pkey"]`, Lane: 0, Start: 7 * s, End: 9 * s},
		{Address: "database.shop.analyze", Lane: 1, Start: 9 * s, End: 10 * s},
	}
	got := CriticalChain(acts)
	want := []int{0, 1, 2, 3, 6, 7}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CriticalChain = %v, want %v", got, want)
	}
	if CriticalChain(nil) != nil {
		t.Fatal("CriticalChain(nil) is not nil")
	}
}

func TestReportOf(t *testing.T) {
	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	run := &state.Run{RunSummary: state.RunSummary{ID: 3, Migration: "shop", Operation: state.OpApply, Outcome: state.StatusSucceeded,
		StartedAt: at, FinishedAt: at.Add(10 * time.Second), Jobs: 2, PhasesMS: map[string]int64{"copy": 6000, "schema": 800},
		Planned: state.RunSizes{Databases: 1, Tables: 2, Bytes: 1 << 20, Rows: 1000}},
		Actions: state.RunActions{
			{Address: `database.shop.table["public"."big"]`, Type: "table", Start: time.Second, End: 7 * time.Second, Bytes: 1 << 20, Rows: 1000, Outcome: state.ActionApplied},
		}}
	hist := []state.RunSummary{run.RunSummary, {ID: 1, Operation: state.OpApply}, {ID: 2, Operation: state.OpDestroy}}
	r := ReportOf(run, hist, nil, at)
	if r.Run != 3 || r.Operation != "apply" || len(r.Actions) != 1 || !r.Actions[0].Critical || r.Actions[0].Database != "shop" {
		t.Fatalf("ReportOf: %+v", r)
	}
	if len(r.Phases) != 2 || r.Phases[0].Name != "schema" || r.Phases[1].Name != "copy" {
		t.Fatalf("phases in apply's order: %+v", r.Phases)
	}
	if len(r.History) != 3 || r.History[0].ID != 1 || r.History[2].ID != 3 {
		t.Fatalf("history oldest first: %+v", r.History)
	}
}
