package plan

import (
	"fmt"

	"github.com/pgferry/pgferry/catalog"
)

// serverParameters plans, with server_parameters = "apply", an ALTER SYSTEM for each server
// parameter whose value on the target differs from the source's (catalog.CompareSettings).
func (b *builder) serverParameters() {
	diffs, _ := catalog.CompareSettings(b.in.Source, b.in.Target)
	for _, d := range diffs {
		if d.Missing {
			continue // the check reports it: there is nothing to set
		}
		a := &Action{Address: ParameterAddr(d.Name), Type: TypeParameter, Kind: Update, Name: d.Name,
			Reason:  fmt.Sprintf("set %s = %s as on the source (ALTER SYSTEM; destroy resets it)", d.Name, catalog.ShowSetting(d.Source)),
			Details: []string{fmt.Sprintf("%s: %s → %s", d.Name, catalog.ShowSetting(d.Target), catalog.ShowSetting(d.Source))},
			Hazards: []Hazard{{"ALTERS_SERVER_PARAMETER", fmt.Sprintf("changes %s for every database of the target", d.Name)}}}
		if d.Target.Context == "postmaster" {
			a.Details = append(a.Details, "takes effect only after a restart of the target")
		}
		b.add(a)
	}
}
