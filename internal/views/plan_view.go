package views

import (
	"fmt"
	"io"

	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/plan"
)

// PlanView is the view of pgferry plan: the plan for people, as one JSON document, or as a
// pull-request comment in Markdown.
type PlanView interface {
	// Plan renders the plan.
	Plan(p *plan.Plan) error
	// Unreachable renders the plan of a migration whose servers could not all be reached (after
	// the connection error): a program or a pull request still gets its document.
	Unreachable(p *plan.Plan) error
	// Saved says where the plan was saved (--out); NotSaved that it was not, and what that means.
	Saved(path string)
	NotSaved()
	// ValidationFailed reports that validations failed (out: the --out file not written, or ""):
	// for people, an error; a document says it itself.
	ValidationFailed(p *plan.Plan, out string)
}

// NewPlan chooses the plan view.
func NewPlan(t ViewType, v *View) PlanView {
	switch t {
	case JSONView:
		return planJSON{v}
	case MarkdownView:
		return planMarkdown{v}
	}
	return planHuman{v}
}

type planHuman struct{ *View }

func (h planHuman) Plan(p *plan.Plan) error { Plan(h.Stdout, p); return nil }

func (h planHuman) Unreachable(*plan.Plan) error { ConnectivityFailed(h.View); return nil }

func (h planHuman) Saved(path string) {
	fmt.Fprintf(h.Stdout, "Saved the plan to: %s\n\nTo perform exactly these actions, run:\n    pgferry apply %q\n", path, path)
}

func (h planHuman) NotSaved() {
	fmt.Fprintln(h.Stdout, "Note: You didn't use the --out option to save this plan, so pgferry can't guarantee to take exactly these actions if you run \"pgferry apply\" now.")
}

func (h planHuman) ValidationFailed(p *plan.Plan, out string) {
	saved := ""
	if out != "" {
		saved = fmt.Sprintf(" The plan was not saved to %s.", out)
	}
	h.Error(fmt.Sprintf("Validation failed: %s failed; fix %s and plan again.%s", english.Count(p.Summary.Failed, "check"), english.Verb(p.Summary.Failed, "it", "them"), saved))
}

type planJSON struct{ *View }

func (j planJSON) Plan(p *plan.Plan) error {
	if err := WritePlanJSON(j.Stdout, p); err != nil {
		return fmt.Errorf("rendering the plan: %w", err)
	}
	_, err := io.WriteString(j.Stdout, "\n")
	return err
}

func (j planJSON) Unreachable(p *plan.Plan) error    { return j.Plan(p) }
func (planJSON) Saved(string)                        {}
func (planJSON) NotSaved()                           {}
func (planJSON) ValidationFailed(*plan.Plan, string) {}

type planMarkdown struct{ *View }

func (m planMarkdown) Plan(p *plan.Plan) error           { Markdown(m.Stdout, p); return nil }
func (m planMarkdown) Unreachable(p *plan.Plan) error    { return m.Plan(p) }
func (planMarkdown) Saved(string)                        {}
func (planMarkdown) NotSaved()                           {}
func (planMarkdown) ValidationFailed(*plan.Plan, string) {}
