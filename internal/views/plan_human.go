package views

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// print on one line each.
const compactAbove = 30

// compact action types print on one line each when there are many: there can be thousands.
func compact(a *plan.Action) bool {
	switch a.Type {
	case plan.TypeExtension, plan.TypeTable, plan.TypeTablePart, plan.TypeIndex, plan.TypeConstraint:
		return true
	}
	return false
}

// Plan renders a plan for people.
func Plan(w io.Writer, p *plan.Plan) {
	if !p.HasChanges() {
		if p.ValidationFailed() {
			fmt.Fprintln(w, bold("No actions can be planned until the failed validations are fixed."))
		} else {
			fmt.Fprintln(w, green(bold("No changes.")+" The target matches the source."))
		}
		fmt.Fprintln(w)
		Validations(w, p.Validations)
		return
	}
	fmt.Fprintf(w, "pgferry will perform the following actions (migration %q, %s → %s):\n\n", p.Migration, identity(p.Source), identity(p.Target))
	// Extensions, tables, indexes and constraints get a block each, as Terraform prints every
	// resource, unless a database has more than compactAbove of one kind: then a line each.
	groupSize := map[string]int{}
	for _, a := range p.Actions {
		if compact(a) {
			groupSize[groupOf(a.Type)+a.Database]++
		}
	}
	var lastCompact string
	for _, a := range p.Actions {
		if compact(a) && groupSize[groupOf(a.Type)+a.Database] > compactAbove {
			if lastCompact != groupOf(a.Type)+a.Database {
				fmt.Fprintf(w, "  %s\n", faint(fmt.Sprintf("# %s %s", a.Database, plural(a.Type))))
				lastCompact = groupOf(a.Type) + a.Database
			}
			fmt.Fprintf(w, "  %s %s%s\n", symbol(a.Kind), a.Address, faint(dataNote(a)))
			continue
		}
		if lastCompact != "" {
			fmt.Fprintln(w)
			lastCompact = ""
		}
		fmt.Fprintf(w, "  %s\n", bold(fmt.Sprintf("# %s %s", a.Address, verb(a.Kind))))
		details := a.Details
		if compact(a) {
			// The object's address and size on the symbol's line; its reason below, unless the
			// note says it already (an index's reason, an extension's details).
			fmt.Fprintf(w, "  %s %s%s\n", symbol(a.Kind), a.Address, faint(dataNote(a)))
			if a.Type != plan.TypeIndex {
				fmt.Fprintf(w, "      %s\n", a.Reason)
			}
			if a.Type == plan.TypeExtension {
				details = nil
			}
		} else {
			fmt.Fprintf(w, "  %s %s\n", symbol(a.Kind), a.Reason)
		}
		for _, d := range details {
			fmt.Fprintf(w, "      %s\n", d)
		}
		for _, h := range a.Hazards {
			fmt.Fprintf(w, "      %s %s\n", yellow(h.Code+":"), h.Message)
		}
		fmt.Fprintln(w)
	}
	if lastCompact != "" {
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w, bold(SummaryLine(p.Summary)))
	fmt.Fprintln(w, ActionsLine(p.Summary))
	fmt.Fprintln(w)
	if p.Forecast != nil && !p.ValidationFailed() {
		Forecast(w, p.Forecast)
		fmt.Fprintln(w)
	}
	Validations(w, p.Validations)
}

// forecastSteps is how many steps of the critical path the human and Markdown forms name: the
// longest ones, in their order; the JSON document has them all.
const forecastSteps = 5

// Forecast renders a plan's forecast for people (SPEC §7): the expected wall time of apply with
// its range, its basis, and the critical path that bounds it; or why there is none.
func Forecast(w io.Writer, f *state.Forecast) {
	if f.Unavailable != "" {
		fmt.Fprintf(w, "%s unavailable: %s\n", bold("Forecast:"), f.Unavailable)
		return
	}
	fmt.Fprintf(w, "%s apply will take about %s (%s to %s)\n", bold("Forecast:"), msDuration(f.ExpectedMS), msDuration(f.LowMS), msDuration(f.HighMS))
	fmt.Fprintf(w, "  basis: %s\n", ForecastBasis(f))
	if path := CriticalPath(f, func(s string) string { return s }); path != "" {
		fmt.Fprintf(w, "  bounded by %s\n", path)
	}
	if f.Note != "" {
		fmt.Fprintf(w, "  %s\n", faint("note: "+f.Note))
	}
}

// ForecastBasis says what a forecast is based on, in one line.
func ForecastBasis(f *state.Forecast) string {
	switch {
	case f.Basis == "rehearsal" && f.BasisRun > 0:
		took := ""
		if f.BasisRunMS > 0 {
			took = ", " + msDuration(f.BasisRunMS)
		}
		return fmt.Sprintf("rehearsal: run %d (Succeeded%s) scaled to today's sizes and jobs = %d", f.BasisRun, took, f.Jobs)
	case f.Basis == "model":
		return fmt.Sprintf("model of these servers measured now, for jobs = %d", f.Jobs)
	}
	return f.Basis
}

// CriticalPath is the forecast's critical path in one line, "ADDR 6.1s → ADDR 2.3s → …": its
// forecastSteps longest steps in their order, "…" where shorter ones were left out. addr formats
// each address (Markdown: as code).
func CriticalPath(f *state.Forecast, addr func(string) string) string {
	n := len(f.CriticalPath)
	if n == 0 {
		return ""
	}
	keep := make([]bool, n)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(x, y int) bool { return stepMS(f, order[x]) > stepMS(f, order[y]) })
	for _, i := range order[:min(n, forecastSteps)] {
		keep[i] = true
	}
	var parts []string
	gap := false
	for i, a := range f.CriticalPath {
		if !keep[i] {
			gap = true
			continue
		}
		if gap {
			parts = append(parts, "…")
		}
		gap = false
		parts = append(parts, addr(a)+" "+msDuration(stepMS(f, i)))
	}
	if gap {
		parts = append(parts, "…")
	}
	return strings.Join(parts, " → ")
}

func stepMS(f *state.Forecast, i int) int64 {
	if i < len(f.CriticalMS) {
		return f.CriticalMS[i]
	}
	return 0
}

func msDuration(ms int64) string { return Duration(time.Duration(ms) * time.Millisecond) }

// groupOf puts table parts under their tables.
func groupOf(t string) string {
	if t == plan.TypeTablePart {
		return plan.TypeTable
	}
	return t
}

func plural(t string) string {
	switch t {
	case plan.TypeIndex:
		return "indexes"
	}
	return t + "s"
}

func dataNote(a *plan.Action) string {
	switch a.Type {
	case plan.TypeTable:
		if a.Parts > 0 {
			return fmt.Sprintf("  (~%s, %s, in %d parts)", Rows(a.RowsEstimate), Bytes(a.BytesEstimate), a.Parts)
		}
		return fmt.Sprintf("  (~%s, %s)", Rows(a.RowsEstimate), Bytes(a.BytesEstimate))
	case plan.TypeTablePart:
		return fmt.Sprintf("  (part %d of %d)", a.Part, a.Parts)
	case plan.TypeIndex:
		return "  (" + a.Reason + ")"
	case plan.TypeExtension:
		return extensionNote(a)
	}
	return ""
}

// extensionNote is an extension action's details on its one line: version and schema.
func extensionNote(a *plan.Action) string {
	if len(a.Details) == 0 {
		return ""
	}
	return "  (" + strings.Join(a.Details, "; ") + ")"
}

// SummaryLine is the plan's closing line.
func SummaryLine(s plan.Summary) string {
	create := fmt.Sprintf("%d %s, %d %s, %d %s (%s, ~%s), %d %s",
		s.Roles, pl(s.Roles, "role", "roles"), s.Databases, pl(s.Databases, "database", "databases"),
		s.Tables, pl(s.Tables, "table", "tables"), Bytes(s.Bytes), Rows(s.Rows), s.Indexes, pl(s.Indexes, "index", "indexes"))
	// The line has the form of the product contract's example; foreign keys are counted in the
	// JSON summary and listed among the actions.
	return fmt.Sprintf("Plan: %s to create; %d to change; %d to destroy.", create, s.Change, s.Destroy)
}

// ActionsLine counts every action of the plan as apply's closing line counts the ones it carried
// out ("Apply complete! Resources: 83 added, 0 changed, 0 destroyed."): a replacement is one to
// add and one to destroy, as in Terraform.
func ActionsLine(s plan.Summary) string {
	return fmt.Sprintf("Actions: %d to add, %d to change, %d to destroy.", s.Add, s.Change, s.Destroy)
}

// Validations renders the validation report grouped by instance and database.
func Validations(w io.Writer, vals []state.Validation) {
	if len(vals) == 0 {
		return
	}
	fmt.Fprintln(w, bold("Validations:"))
	groups := map[string][]state.Validation{}
	var order []string
	for _, v := range vals {
		g := "instance"
		if v.Level == "database" && v.Database != "" {
			g = fmt.Sprintf("database %q", v.Database)
		}
		if _, ok := groups[g]; !ok {
			order = append(order, g)
		}
		groups[g] = append(groups[g], v)
	}
	width := 0
	for _, v := range vals {
		width = max(width, len(v.ID))
	}
	for _, g := range order {
		fmt.Fprintf(w, "  %s\n", g)
		for _, v := range groups[g] {
			mark := green("✓")
			switch v.Outcome {
			case "Warning":
				mark = yellow("!")
			case "Failed":
				mark = red("✗")
			}
			fmt.Fprintf(w, "    %s %-*s  %-9s  %s\n", mark, width, v.ID, v.Outcome, v.Message)
			if len(v.Objects) > 0 {
				objs := v.Objects
				more := ""
				if len(objs) > 10 {
					more = fmt.Sprintf(" and %d more", len(objs)-10)
					objs = objs[:10]
				}
				fmt.Fprintf(w, "      %s\n", faint(strings.Join(objs, ", ")+more))
			}
		}
	}
	fmt.Fprintln(w)
}
