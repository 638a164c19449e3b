package snapshot

import (
	"testing"

	"github.com/pgferry/pgferry/state"
)

func TestFirstUnfinished(t *testing.T) {
	applied := func(db string) *state.Action {
		return &state.Action{Address: "database." + db, Database: db, Status: state.ActionApplied}
	}
	pending := func(db string) *state.Action {
		return &state.Action{Address: "database." + db + ".verify", Database: db, Status: state.ActionPending}
	}
	for _, tc := range []struct {
		name string
		st   *state.State
		want string
	}{
		{"no state", nil, "a"},
		{"nothing recorded of a", &state.State{Actions: []*state.Action{applied("b")}}, "a"},
		{"a done", &state.State{Actions: []*state.Action{applied("a")}}, "b"},
		{"a partly done", &state.State{Actions: []*state.Action{applied("a"), pending("a")}}, "a"},
		{"all done", &state.State{Actions: []*state.Action{applied("a"), applied("b")}}, ""},
	} {
		if got := (&Snapshot{State: tc.st, Databases: []string{"a", "b"}}).FirstUnfinished(); got != tc.want {
			t.Errorf("%s: FirstUnfinished = %q, want %q", tc.name, got, tc.want)
		}
	}
}
