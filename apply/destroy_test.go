package apply

import (
	"errors"
	"reflect"
	"testing"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

func TestRecordDestroy(t *testing.T) {
	created := []state.Change{
		{Type: "database", Name: "old", Op: "dropped"},
		{Type: "role", Name: "a", Op: "created"},
		{Type: "role", Name: "b", Op: "created"},
		{Type: "database", Name: "app", Op: "created"},
		{Type: "extension", Database: "app", Name: "pgcrypto", Op: "created"},
		{Type: "database", Name: "app", Op: "created"},
	}
	actions := []*state.Action{
		{Address: "role.a", Status: state.ActionApplied},
		{Address: "role.b", Status: state.ActionApplied},
		{Address: "database.app", Database: "app", Status: state.ActionApplied},
		{Address: `database.app.table["public"."t"]`, Database: "app", Status: state.ActionApplied},
	}
	run := func(outcome map[string]error, ran map[string]bool) (*state.State, []StepResult) {
		st := &state.State{Created: append([]state.Change(nil), created...), Actions: actions}
		p := plan.PlanDestroy(st)
		var results []StepResult
		for _, s := range p.Steps {
			r := StepResult{Step: s, Ran: ran == nil || ran[s.Address]}
			if r.Ran {
				r.Err = outcome[s.Address]
			}
			results = append(results, r)
		}
		return st, RecordDestroy(st, p, results)
	}

	t.Run("all undone", func(t *testing.T) {
		st, failed := run(nil, nil)
		if len(failed) != 0 || len(st.Created) != 0 || len(st.Actions) != 0 {
			t.Fatalf("failed %d, created %v, actions %d; want all empty", len(failed), st.Created, len(st.Actions))
		}
	})
	t.Run("a role that could not be dropped stays", func(t *testing.T) {
		st, failed := run(map[string]error{"role.b": errors.New("owns objects")}, nil)
		if len(failed) != 1 || failed[0].Step.Address != "role.b" {
			t.Fatalf("failed %v", failed)
		}
		if want := []state.Change{created[2]}; !reflect.DeepEqual(st.Created, want) {
			t.Fatalf("created %v, want %v", st.Created, want)
		}
		if len(st.Actions) != 1 || st.Actions[0].Address != "role.b" {
			t.Fatalf("actions %v", st.Actions)
		}
	})
	t.Run("a database that could not be dropped keeps its records and actions", func(t *testing.T) {
		st, failed := run(map[string]error{"database.app": errors.New("in use")}, nil)
		if len(failed) != 1 {
			t.Fatalf("failed %v", failed)
		}
		if want := []state.Change{created[3], created[4], created[5]}; !reflect.DeepEqual(st.Created, want) {
			t.Fatalf("created %v, want %v", st.Created, want)
		}
		if len(st.Actions) != 2 {
			t.Fatalf("actions %v, want the database's two", st.Actions)
		}
	})
	t.Run("interrupted: steps not run stay", func(t *testing.T) {
		st, failed := run(nil, map[string]bool{plan.DatabaseAddr("app"): true})
		if len(failed) != 2 {
			t.Fatalf("failed %v, want the two roles", failed)
		}
		if want := []state.Change{created[1], created[2]}; !reflect.DeepEqual(st.Created, want) {
			t.Fatalf("created %v, want %v", st.Created, want)
		}
	})
}

func TestSettingName(t *testing.T) {
	for in, want := range map[string]string{
		"work_mem":         `"work_mem"`,
		"azure.extensions": `"azure"."extensions"`,
	} {
		if got := settingName(in); got != want {
			t.Errorf("settingName(%q) = %s, want %s", in, got, want)
		}
	}
}
