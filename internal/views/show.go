package views

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// showFormatVersion is the version of the `show --json` status document.
const showFormatVersion = "1.0"

// statusNotStarted is the status shown for a migration that has no state yet.
const statusNotStarted = "Not started"

// statusDestroyed is the status shown for a migration that destroy rolled back: the state keeps
// its history (lineage, serial, destroyed_at) but no status, so the next apply starts afresh.
const statusDestroyed = "Destroyed"

// displayStatus is the status show and list print.
func displayStatus(st *state.State) string {
	if st.Status == "" && !st.DestroyedAt.IsZero() {
		return statusDestroyed
	}
	return string(st.Status)
}

// settle returns st as show and list present it: an apply whose process died (the state says In
// progress, nobody holds the lock) is Interrupted, stopped at its last state write. Looking at
// the lock never takes it. An apply that ends between the read and the look writes its outcome
// before it unlocks, so the state is read again: only a state unchanged since (same serial) is

// ShowDoc is the `show --json` document of a migration's status.
type ShowDoc struct {
	FormatVersion   string             `json:"format_version"`
	Migration       string             `json:"migration"`
	Status          string             `json:"status"`
	Substatus       string             `json:"substatus"`
	Mode            string             `json:"mode"`
	Type            string             `json:"type"`
	Source          state.Identity     `json:"source"`
	Target          state.Identity     `json:"target"`
	Databases       []string           `json:"databases"`
	StartedAt       *time.Time         `json:"started_at"`
	FinishedAt      *time.Time         `json:"finished_at"`
	DurationSeconds *float64           `json:"duration_seconds"`
	Error           string             `json:"error"`
	Validations     []state.Validation `json:"validations"`
	Actions         []ShowAction       `json:"actions"`
	// LastRun is the migration's latest run (absent when the backend keeps none).
	LastRun *ShowRun `json:"last_run,omitempty"`
}

type ShowAction struct {
	Address    string             `json:"address"`
	Type       string             `json:"type"`
	Kind       state.ActionKind   `json:"kind"`
	Database   string             `json:"database"`
	Status     state.ActionStatus `json:"status"`
	Rows       int64              `json:"rows"`
	Bytes      int64              `json:"bytes"`
	DurationMS int64              `json:"duration_ms"`
	Error      string             `json:"error"`
	Attempt    int                `json:"attempt"`
}

func showDocument(st *state.State, last *state.RunSummary, now time.Time) ShowDoc {
	start, end, dur, ok, _ := migrationTimes(st, last, now)
	d := ShowDoc{
		FormatVersion: showFormatVersion, Migration: st.Migration, Status: displayStatus(st), Substatus: st.Substatus,
		Mode: st.MigrationMode, Type: st.MigrationType, Source: st.Source, Target: st.Target,
		Databases: st.Databases, StartedAt: start, FinishedAt: end, Error: st.Error,
		Validations: st.Validations, Actions: []ShowAction{}, LastRun: showRun(last),
	}
	if d.Databases == nil {
		d.Databases = []string{}
	}
	if d.Validations == nil {
		d.Validations = []state.Validation{}
	}
	if ok {
		secs := dur.Seconds()
		d.DurationSeconds = &secs
	}
	for _, a := range st.Actions {
		if a == nil {
			continue
		}
		d.Actions = append(d.Actions, ShowAction{
			Address: a.Address, Type: actionType(a), Kind: a.Kind, Database: a.Database, Status: a.Status,
			Rows: a.Rows, Bytes: a.Bytes, DurationMS: actionDuration(a, now).Milliseconds(), Error: a.Error, Attempt: a.Attempt,
		})
	}
	return d
}

// actionType derives an action's type (table, index, role, ...) from its address, which
// the state keeps instead of the type: database.DB.table["s"."t"] → table.
func actionType(a *state.Action) string {
	if a.Database == "" {
		if strings.Contains(a.Address, ".member_of[") {
			return plan.TypeMembership
		}
		if strings.HasPrefix(a.Address, "role.") || strings.HasPrefix(a.Address, "role[") {
			return plan.TypeRole
		}
		return ""
	}
	rest, ok := strings.CutPrefix(a.Address, plan.DatabaseAddr(a.Database))
	if !ok {
		return ""
	}
	if rest == "" {
		return plan.TypeDatabase
	}
	rest = strings.TrimPrefix(rest, ".")
	if i := strings.IndexByte(rest, '['); i >= 0 {
		rest = rest[:i]
	}
	return rest
}

// actionDuration is how long a finished action took, or how long a running one has been running.
func actionDuration(a *state.Action, now time.Time) time.Duration {
	if a.Status == state.ActionRunning && a.StartedAt != nil {
		return now.Sub(*a.StartedAt)
	}
	if a.DurationMS > 0 {
		return time.Duration(a.DurationMS) * time.Millisecond
	}
	if a.StartedAt != nil && a.FinishedAt != nil {
		return a.FinishedAt.Sub(*a.StartedAt)
	}
	return 0
}

// migrationDuration is the last run's duration (so far, when it is still in progress).
func migrationDuration(st *state.State, now time.Time) (time.Duration, bool) {
	switch {
	case st.StartedAt == nil:
		return 0, false
	case st.FinishedAt != nil:
		return st.FinishedAt.Sub(*st.StartedAt), true
	case st.Status == state.StatusInProgress:
		return now.Sub(*st.StartedAt), true
	}
	return 0, false
}

// FormatTime is a time as show prints it: to the second, in UTC; "-" for none.
func FormatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// serverLine renders a server without secrets: name host:port, version, type.
func serverLine(id state.Identity) string {
	if id.Name == "" && id.Host == "" {
		return "-"
	}
	parts := []string{fmt.Sprintf("%s %s:%d", id.Name, id.Host, id.Port)}
	if id.Version != "" {
		parts = append(parts, "PostgreSQL "+id.Version)
	}
	if id.Type != "" {
		parts = append(parts, id.Type)
	}
	return strings.Join(parts, ", ")
}

// actionStatuses is the order in which status counts are shown.
var actionStatuses = []state.ActionStatus{state.ActionApplied, state.ActionRunning, state.ActionInterrupted, state.ActionPending, state.ActionFailed, state.ActionTainted}

// showState renders a migration's status for people; last is its latest run (nil: none kept).
func showState(w io.Writer, st *state.State, last *state.RunSummary, now time.Time) {
	start, end, d, ok, soFar := migrationTimes(st, last, now)
	duration := "-"
	if ok {
		duration = Duration(d)
		if soFar {
			duration += " (so far)"
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, f := range [][2]string{
		{"Migration name", st.Migration},
		{"Status", orDash(displayStatus(st))},
		{"Substatus", orDash(st.Substatus)},
		{"Migration mode", orDash(st.MigrationMode)},
		{"Migration type", orDash(st.MigrationType)},
		{"Source server", serverLine(st.Source)},
		{"Target server", serverLine(st.Target)},
		{"Databases", orDash(strings.Join(st.Databases, ", "))},
		{"Start time", FormatTime(start)},
		{"End time", FormatTime(end)},
		{"Duration", duration},
		{"Error", orDash(st.Error)},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], f[1])
	}
	tw.Flush()
	if st.Status == state.StatusInterrupted {
		fmt.Fprintln(w, "\nThe apply stopped before it finished (interrupted, or its process ended): run pgferry apply to resume,\nor pgferry destroy to roll back what it did.")
	}
	fmt.Fprintln(w)

	LastRun(w, last)
	Validations(w, st.Validations)

	order, groups := actionGroups(st)
	var tables []*state.Action
	for _, db := range order {
		if acts := groups[db]; len(acts) > 0 {
			tables = append(tables, showDatabase(w, db, acts, now)...)
		}
	}
	slowestTables(w, tables, now)
}

// actionGroups groups a state's actions: instance-level ones (roles, memberships) first, then
// each database in the migration's order, then any database the state knows of but the list no
// longer names.
func actionGroups(st *state.State) (order []string, groups map[string][]*state.Action) {
	groups = map[string][]*state.Action{}
	for _, a := range st.Actions {
		if a != nil {
			groups[a.Database] = append(groups[a.Database], a)
		}
	}
	order = []string{""}
	seen := map[string]bool{"": true}
	for _, db := range st.Databases {
		if !seen[db] {
			order, seen[db] = append(order, db), true
		}
	}
	var extra []string
	for db := range groups {
		if !seen[db] {
			extra = append(extra, db)
		}
	}
	sort.Strings(extra)
	order = append(order, extra...)
	return order, groups
}

// showDatabase prints the actions of one group (db "" is the instance's) and returns its tables.
func showDatabase(w io.Writer, db string, acts []*state.Action, now time.Time) []*state.Action {
	if db == "" {
		fmt.Fprintln(w, "Instance (roles and memberships):")
	} else {
		fmt.Fprintf(w, "Database %q:\n", db)
	}
	var tbls, others []*state.Action
	for _, a := range acts {
		if actionType(a) == plan.TypeTable {
			tbls = append(tbls, a)
		} else {
			others = append(others, a)
		}
	}
	if len(tbls) > 0 {
		fmt.Fprintf(w, "  Tables (%d):\n", len(tbls))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "    Address\tStatus\tRows\tBytes\tDuration")
		for _, a := range tbls {
			rows, size, dur := "-", "-", "-"
			if a.Status == state.ActionApplied || a.Rows > 0 || a.Bytes > 0 {
				rows, size = Count(a.Rows), Bytes(a.Bytes)
			}
			if a.Status == state.ActionRunning {
				rows, size = runningFigures(a)
			}
			if d := actionDuration(a, now); d > 0 {
				dur = Duration(d)
				if a.Status == state.ActionRunning {
					dur += " (so far)"
				}
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t%s\n", a.Address, orDash(string(a.Status)), rows, size, dur)
		}
		tw.Flush()
	}
	if len(others) > 0 {
		label := "Other actions"
		if len(tbls) == 0 {
			label = "Actions"
		}
		fmt.Fprintf(w, "  %s (%d): %s\n", label, len(others), statusCounts(others))
		for _, a := range others {
			switch a.Status {
			case state.ActionRunning:
				fmt.Fprintf(w, "    running now: %s (for %s, attempt %d)\n", a.Address, Duration(actionDuration(a, now)), max(a.Attempt, 1))
			case state.ActionInterrupted:
				fmt.Fprintf(w, "    interrupted: %s (after %s, attempt %d)\n", a.Address, Duration(actionDuration(a, now)), max(a.Attempt, 1))
			}
		}
	}
	for _, a := range acts {
		if a.Error != "" && (a.Status == state.ActionFailed || a.Status == state.ActionTainted) {
			fmt.Fprintf(w, "  %s %s: %s\n", a.Status, a.Address, a.Error)
		}
	}
	fmt.Fprintln(w)
	return tbls
}

// slowestTables lists the five slowest of the finished table copies.
func slowestTables(w io.Writer, tables []*state.Action, now time.Time) {
	var timed []*state.Action
	for _, a := range tables {
		if a.Status != state.ActionRunning && a.Status != state.ActionInterrupted && actionDuration(a, now) > 0 {
			timed = append(timed, a)
		}
	}
	if len(timed) > 0 {
		sort.SliceStable(timed, func(i, j int) bool { return actionDuration(timed[i], now) > actionDuration(timed[j], now) })
		fmt.Fprintln(w, "Slowest tables:")
		for i, a := range timed {
			if i == 5 {
				break
			}
			fmt.Fprintf(w, "  %10s  %s  (%s, %s)\n", Duration(actionDuration(a, now)), a.Address, Rows(a.Rows), Bytes(a.Bytes))
		}
		fmt.Fprintln(w)
	}
}

// runningFigures are a running copy's rows and bytes so far against the plan's estimates, as
// apply last saved them: "~250.0k of ~1.0M", "25.0 MiB of 100.0 MiB (25%)". Rows are counted at
// the copy's end: until then they are the estimate's share of the bytes.
func runningFigures(a *state.Action) (rows, size string) {
	if a.BytesEstimate <= 0 {
		if a.Bytes > 0 {
			return "-", Bytes(a.Bytes) + " so far"
		}
		return "-", "-"
	}
	frac := min(float64(a.Bytes)/float64(a.BytesEstimate), 1)
	r := a.Rows
	if r == 0 {
		r = int64(frac * float64(a.RowsEstimate))
	}
	pct := min(int(frac*100), 99) // not done until apply says so
	return fmt.Sprintf("~%s of ~%s", Count(r), Count(a.RowsEstimate)),
		fmt.Sprintf("%s of %s (%d%%)", Bytes(a.Bytes), Bytes(max(a.BytesEstimate, a.Bytes)), pct)
}

// statusCounts renders "12 applied, 1 running, 3 pending".
func statusCounts(acts []*state.Action) string {
	n := map[state.ActionStatus]int{}
	for _, a := range acts {
		n[a.Status]++
	}
	var parts []string
	for _, s := range actionStatuses {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[s], s))
			delete(n, s)
		}
	}
	var rest []string
	for s := range n {
		rest = append(rest, string(s))
	}
	sort.Strings(rest)
	for _, s := range rest {
		parts = append(parts, fmt.Sprintf("%d %s", n[state.ActionStatus(s)], orDash(s)))
	}
	return strings.Join(parts, ", ")
}

// listRow is one migration in `list --json`; its keys are the grid's columns.
