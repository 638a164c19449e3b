package views

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// TestDuration: the one duration formatter of every view (apply, destroy, show, list, verify).
func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                           "0s",
		0:                                      "0s",
		350*time.Millisecond + 400:             "350ms",
		4249 * time.Millisecond:                "4.2s",
		59*time.Second + 960*time.Millisecond:  "1m0s",
		3*time.Minute + 12400*time.Millisecond: "3m12s",
		2*time.Hour + 5*time.Minute:            "2h5m0s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestVerbs: one set of progress verbs for apply's and destroy's lines.
func TestVerbs(t *testing.T) {
	for k, want := range map[plan.Kind]verbs{
		plan.Create:  {"Creating...", "creating...", "Creation complete"},
		plan.Update:  {"Modifying...", "modifying...", "Modifications complete"},
		plan.Replace: {"Replacing...", "creating...", "Replacement complete"},
		plan.Delete:  {"Destroying...", "destroying...", "Destruction complete"},
	} {
		if got := verbsOf(k); got != want {
			t.Errorf("verbsOf(%s) = %+v, want %+v", k, got, want)
		}
	}
}

// TestViewsChosenOnce: each command's constructor returns the implementation of the view type
// asked for.
func TestViewsChosenOnce(t *testing.T) {
	v := &View{Stdout: io.Discard, Stderr: io.Discard}
	for name, c := range map[string]struct {
		got, want any
	}{
		"plan human":      {NewPlan(HumanView, v), planHuman{}},
		"plan json":       {NewPlan(JSONView, v), planJSON{}},
		"plan markdown":   {NewPlan(MarkdownView, v), planMarkdown{}},
		"verify human":    {NewVerify(HumanView, v), verifyHuman{}},
		"verify json":     {NewVerify(JSONView, v), verifyJSON{}},
		"verify markdown": {NewVerify(MarkdownView, v), verifyMD{}},
		"show json":       {NewShow(JSONView, v), showJSON{}},
		"list human":      {NewList(HumanView, v), listHuman{}},
		"apply json":      {NewApply(JSONView, v, true), &applyJSON{}},
		"apply human":     {NewApply(HumanView, v, false), &applyHuman{}},
	} {
		if got, want := typeName(c.got), typeName(c.want); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if TypeOf(true, false) != JSONView || TypeOf(false, true) != MarkdownView || TypeOf(false, false) != HumanView {
		t.Error("TypeOf")
	}
}

func typeName(v any) string { return fmt.Sprintf("%T", v) }

// TestDestroyView: the rollback's plan, progress and outcome; quiet (apply --json) writes nothing.
func TestDestroyView(t *testing.T) {
	SetColor(false)
	dp := &plan.DestroyPlan{Steps: []*plan.UndoStep{
		{Address: "database.app", Kind: plan.Delete, Reason: "created by the migration"},
		{Address: "role.app_owner", Kind: plan.Update, Reason: "put back its attributes", Details: []string{"LOGIN"}},
	}}
	var out bytes.Buffer
	d := NewDestroy(&View{Stdout: &out, Stderr: io.Discard}, false)
	d.Plan("m", state.Identity{Name: "flex", Host: "10.0.0.2", Port: 5432}, dp)
	emit := d.Event(func(s string) string { return strings.ReplaceAll(s, "secret", "***") })
	emit(apply.DestroyEvent{Type: apply.StepStart, Step: dp.Steps[0]})
	emit(apply.DestroyEvent{Type: apply.StepComplete, Step: dp.Steps[0], Elapsed: 1234 * time.Millisecond})
	emit(apply.DestroyEvent{Type: apply.StepErrored, Step: dp.Steps[1], Err: errors.New("password secret refused")})
	d.Complete(1, 1, "m")
	for _, want := range []string{
		`pgferry will destroy what migration "m" created on flex (10.0.0.2:5432) and put back what it changed:`,
		"  # database.app will be destroyed\n  - created by the migration\n",
		"  # role.app_owner will be updated in-place\n  ~ put back its attributes\n      LOGIN\n",
		"Plan: 0 to add, 1 to change, 1 to destroy.",
		"database.app: Destroying...\ndatabase.app: Destruction complete after 1.2s\n",
		"role.app_owner: Error: password *** refused\n",
		"\nDestroy complete! Resources: 1 destroyed.\n1 changed object(s) put back as they were before the migration.\n" +
			`Migration "m" canceled: the target is back where it was before the migration.`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %q:\n%s", want, out.String())
		}
	}
	var stdout bytes.Buffer
	q := NewDestroy(&View{Stdout: &stdout, Stderr: io.Discard}, true)
	q.Plan("m", state.Identity{}, dp)
	q.Complete(1, 0, "")
	if stdout.Len() != 0 {
		t.Errorf("a quiet rollback wrote %q", stdout.String())
	}
}

// TestJSONVerbs: apply --json's messages use the same verbs as the text: an action that changes
// an object is "Modifying...", not "Creating...".
func TestJSONVerbs(t *testing.T) {
	var out bytes.Buffer
	j := &JSONLines{W: &out}
	a := &plan.Action{Address: "role.app", Type: plan.TypeRole, Kind: plan.Update}
	j.Event(apply.Event{Type: apply.EventStart, Address: a.Address, Action: a})
	j.Event(apply.Event{Type: apply.EventComplete, Address: a.Address, Action: a, Elapsed: 1500 * time.Millisecond})
	for _, want := range []string{`"@message":"role.app: Modifying..."`, `"@message":"role.app: Modifications complete after 1.5s"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("lacks %s:\n%s", want, out.String())
		}
	}
}

// TestStatusOf: what cancel says of a migration no apply runs: as show and list say it, a dead
// apply Interrupted, a rolled back one Destroyed, never "-" for a state that has a status.
func TestStatusOf(t *testing.T) {
	at := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		st   state.State
		want string
	}{
		{state.State{Status: state.StatusInProgress}, "Interrupted"},
		{state.State{Status: state.StatusSucceeded}, "Succeeded"},
		{state.State{DestroyedAt: at}, "Destroyed"},
		{state.State{}, "-"},
	} {
		if got := StatusOf(&tc.st); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.st, got, tc.want)
		}
	}
}
