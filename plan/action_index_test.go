package plan

import (
	"fmt"
	"testing"
)

// TestPlanAction finds actions by address in small and large plans, also after appends and a
// reorder, and the first of two with the same address, as the linear search did.
func TestPlanAction(t *testing.T) {
	for _, n := range []int{3, 100} {
		p := &Plan{}
		for k := range n {
			p.Actions = append(p.Actions, &Action{Address: fmt.Sprintf("a%d", k)})
		}
		check := func(when string) {
			t.Helper()
			for _, a := range p.Actions {
				if got := p.Action(a.Address); got == nil || got.Address != a.Address {
					t.Fatalf("%d actions, %s: Action(%s) = %v", n, when, a.Address, got)
				}
			}
			if got := p.Action("missing"); got != nil {
				t.Fatalf("%d actions, %s: Action(missing) = %v", n, when, got)
			}
		}
		check("built")
		p.Actions = append(p.Actions, &Action{Address: "late"}, &Action{Address: "a1", Reason: "second"})
		check("after appends")
		if got := p.Action("a1"); got.Reason != "" {
			t.Errorf("%d actions: Action(a1) found the second of two", n)
		}
		for i, j := 0, len(p.Actions)-1; i < j; i, j = i+1, j-1 {
			p.Actions[i], p.Actions[j] = p.Actions[j], p.Actions[i]
		}
		check("after a reorder")
		p.Actions = p.Actions[:2]
		check("after a cut")
	}
}
