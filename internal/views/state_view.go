package views

import (
	"cmp"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// Show is the view of pgferry show: a saved plan, or a migration's status, for people or as one
// JSON document.
type Show interface {
	// PlanFile renders the saved plan read from path.
	PlanFile(path string, p *plan.Plan) error
	// NotStarted says the state backend holds no state for migration.
	NotStarted(migration string) error
	// State renders a migration's status as of now, with its latest run (last; nil when the
	// backend keeps none for it).
	State(st *state.State, last *state.RunSummary, now time.Time) error
}

// NewShow chooses the show view: JSONView or HumanView.
func NewShow(t ViewType, v *View) Show {
	if t == JSONView {
		return showJSON{v}
	}
	return showHuman{v}
}

type showHuman struct{ *View }

func (h showHuman) PlanFile(path string, p *plan.Plan) error {
	fmt.Fprintf(h.Stdout, "Saved plan %s (migration %q, made %s by pgferry %s)\n\n", path, p.Migration, FormatTime(&p.CreatedAt), p.ToolVersion)
	Plan(h.Stdout, p)
	return nil
}

func (h showHuman) NotStarted(migration string) error {
	fmt.Fprintf(h.Stdout, "Migration %q has not been applied yet: the state backend holds no state for it.\n\n", migration)
	fmt.Fprintf(h.Stdout, "Status: %s\n\nRun \"pgferry plan\" to see what apply would do, then \"pgferry apply\" to migrate.\n", statusNotStarted)
	return nil
}

func (h showHuman) State(st *state.State, last *state.RunSummary, now time.Time) error {
	showState(h.Stdout, st, last, now)
	return nil
}

type showJSON struct{ *View }

func (j showJSON) PlanFile(_ string, p *plan.Plan) error {
	b, err := PlanJSON(p)
	if err != nil {
		return fmt.Errorf("encoding the plan: %w", err)
	}
	j.Stdout.Write(b)
	return nil
}

func (j showJSON) NotStarted(migration string) error {
	return writeJSON(j.View, map[string]string{"format_version": showFormatVersion, "migration": migration, "status": statusNotStarted})
}

func (j showJSON) State(st *state.State, last *state.RunSummary, now time.Time) error {
	return writeJSON(j.View, showDocument(st, last, now))
}

// writeJSON writes doc as one indented JSON document.
func writeJSON(v *View, doc any) error {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	v.Stdout.Write(append(b, '\n'))
	return nil
}

// List is the view of pgferry list: every migration in the state backend, as a grid or as one
// JSON document (an array). states are sorted as listed; last holds each migration's latest run
// by name (none for a migration whose backend keeps no runs); now measures running ones.
type List interface {
	List(states []*state.State, last map[string]*state.RunSummary, now time.Time) error
}

// NewList chooses the list view: JSONView or HumanView.
func NewList(t ViewType, v *View) List {
	if t == JSONView {
		return listJSON{v}
	}
	return listHuman{v}
}

type listHuman struct{ *View }

func (h listHuman) List(states []*state.State, last map[string]*state.RunSummary, now time.Time) error {
	if len(states) == 0 {
		fmt.Fprintln(h.Stdout, "No migrations in the state backend yet: run pgferry apply to start one.")
		return nil
	}
	writeListGrid(h.Stdout, listRows(states, last, now))
	return nil
}

type listJSON struct{ *View }

func (j listJSON) List(states []*state.State, last map[string]*state.RunSummary, now time.Time) error {
	return writeJSON(j.View, listRows(states, last, now))
}

// listRows are the rows of list, a migration each: its times are its latest run's (last).
func listRows(states []*state.State, last map[string]*state.RunSummary, now time.Time) []listRow {
	rows := make([]listRow, 0, len(states))
	for _, st := range states {
		start, end, d, ok, _ := migrationTimes(st, last[st.Migration], now)
		r := listRow{
			Name: st.Migration, Status: displayStatus(st), Substatus: st.Substatus, MigrationMode: st.MigrationMode,
			MigrationType: st.MigrationType, SourceServerType: st.Source.Type, Databases: st.Databases, StartTime: start,
			EndTime: end,
		}
		if r.Databases == nil {
			r.Databases = []string{}
		}
		if st.Source.Name != "" || st.Source.Host != "" {
			r.SourceServer = fmt.Sprintf("%s (%s:%d)", st.Source.Name, st.Source.Host, st.Source.Port)
		}
		if st.Target.Name != "" || st.Target.Host != "" {
			r.TargetServer = fmt.Sprintf("%s (%s:%d)", st.Target.Name, st.Target.Host, st.Target.Port)
		}
		r.sourceName, r.targetName = cmp.Or(st.Source.Name, st.Source.Host), cmp.Or(st.Target.Name, st.Target.Host)
		if ok {
			secs := d.Seconds()
			r.DurationSeconds, r.Duration = &secs, Duration(d)
		}
		rows = append(rows, r)
	}
	return rows
}

// ForceUnlock is the view of pgferry force-unlock (people only).
type ForceUnlock struct{ *View }

// Prompt is the question asked on a terminal before the lock id of migration is removed.
func (f ForceUnlock) Prompt(id, migration string) string {
	return fmt.Sprintf("Do you really want to force-unlock?\n"+
		"  pgferry will remove the lock %s on the state of migration %q.\n"+
		"  This will allow pgferry commands to modify this state, even though it\n"+
		"  may still be in use. Only 'yes' will be accepted to confirm.", id, migration)
}

// Unlocked says the lock is gone.
func (f ForceUnlock) Unlocked(migration string) {
	fmt.Fprintf(f.Stdout, "pgferry state has been successfully unlocked!\n\n"+
		"The state of migration %q has been unlocked, and pgferry commands should now be able to obtain a new lock on it.\n", migration)
}

// StatusOf is a migration's status as show and list print it ("-" for none); an apply nobody
// runs any more (In progress, unlocked) is Interrupted.
func StatusOf(st *state.State) string {
	if st.Status == state.StatusInProgress {
		return string(state.StatusInterrupted)
	}
	return orDash(displayStatus(st)) // Destroyed, as show and list say, not "-"
}
