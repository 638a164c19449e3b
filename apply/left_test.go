package apply

import (
	"slices"
	"testing"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// TestActionsLeft: a new attempt at a database runs what is not applied, and a split table whole
// when one of its parts is not applied (a part may have committed unrecorded).
func TestActionsLeft(t *testing.T) {
	big := &plan.Action{Address: plan.TableAddr("app", "public", "big"), Type: plan.TypeTable, Database: "app", Schema: "public", Name: "big", Parts: 3}
	var parts []*plan.Action
	for i := 1; i <= 3; i++ {
		parts = append(parts, &plan.Action{Address: plan.TablePartAddr("app", "public", "big", i), Type: plan.TypeTablePart, Database: "app", Schema: "public", Name: "big", Part: i, Parts: 3})
	}
	small := &plan.Action{Address: plan.TableAddr("app", "public", "small"), Type: plan.TypeTable, Database: "app", Schema: "public", Name: "small"}
	other := &plan.Action{Address: plan.TableAddr("app", "public", "other"), Type: plan.TypeTable, Database: "app", Schema: "public", Name: "other", Parts: 2}
	otherParts := []*plan.Action{
		{Address: plan.TablePartAddr("app", "public", "other", 1), Type: plan.TypeTablePart, Database: "app", Schema: "public", Name: "other", Part: 1, Parts: 2},
		{Address: plan.TablePartAddr("app", "public", "other", 2), Type: plan.TypeTablePart, Database: "app", Schema: "public", Name: "other", Part: 2, Parts: 2},
	}
	idx := &plan.Action{Address: "database.app.index[\"public\".\"big_pkey\"]", Type: plan.TypeIndex, Database: "app"}
	actions := append(append(append([]*plan.Action{big}, parts...), small, other), otherParts...)
	actions = append(actions, idx)

	addrs := func(as []*plan.Action) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.Address)
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		applied []*plan.Action
		want    []*plan.Action
	}{
		{"nothing applied", nil, actions},
		{"a part of big unapplied: big whole again", []*plan.Action{big, parts[0], parts[2], small, other, otherParts[0], otherParts[1]},
			append(append([]*plan.Action{big}, parts...), idx)},
		{"every part of big applied, one of other not", []*plan.Action{big, parts[0], parts[1], parts[2], small, other, otherParts[0]},
			[]*plan.Action{other, otherParts[0], otherParts[1], idx}},
		{"all copies applied", []*plan.Action{big, parts[0], parts[1], parts[2], small, other, otherParts[0], otherParts[1]},
			[]*plan.Action{idx}},
		{"only the table action of other applied", []*plan.Action{big, parts[0], parts[1], parts[2], small, other},
			[]*plan.Action{other, otherParts[0], otherParts[1], idx}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := state.New("m")
			st.Upsert(&state.Action{Address: parts[1].Address, Status: state.ActionRunning})
			for _, a := range tc.applied {
				st.Upsert(&state.Action{Address: a.Address, Status: state.ActionApplied})
			}
			got := addrs(actionsLeft(actions, st))
			if want := addrs(tc.want); !slices.Equal(got, want) {
				t.Errorf("actionsLeft:\n got %q\nwant %q", got, want)
			}
		})
	}
}
