package main

// The state commands: show (a saved plan, or a migration's status), list (every migration in the
// backend) and force-unlock. They read the state backend only: no connection to the migration's
// servers.

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/views"
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
// the dead one's.
func settle(ctx context.Context, b state.Backend, st *state.State) (*state.State, error) {
	for range 3 {
		if st == nil || st.Status != state.StatusInProgress {
			return st, nil
		}
		held, err := b.Locked(ctx, st.Migration)
		if err != nil {
			return nil, err
		}
		if held {
			return st, nil
		}
		again, err := b.Read(ctx, st.Migration)
		if err != nil {
			return nil, err
		}
		if again != nil && again.Lineage == st.Lineage && again.Serial == st.Serial {
			return st.AsInterrupted(), nil
		}
		st = again
	}
	return st, nil
}

// openBackend opens the state backend the configuration declares (local ./.pgferry by default).
func (c *cli) openBackend(ctx context.Context, cfg *config.Config) (state.Backend, bool) {
	b := cfg.Backend
	path := b.Path
	if path == "" {
		path = ".pgferry"
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(cfg.Dir, path)
	}
	backend, err := state.Open(ctx, b.Type, path, b.ConnStr, b.Schema)
	if err != nil {
		c.errorf(cfg.Secrets(), "opening the state backend: %v", err)
		return nil, false
	}
	return backend, true
}

func cmdShow(c *cli, args []string) int {
	fs := newFlags("show")
	var v varFlags
	v.register(fs, true)
	jsonOut := fs.Bool("json", false, "print one JSON document")
	if code, done := c.parse(fs, args, "show [PLANFILE] [--json] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]"); done {
		return code
	}
	if fs.NArg() > 1 {
		c.errorf(nil, "show takes at most one argument, a saved plan file; got %d", fs.NArg())
		return 1
	}
	if fs.NArg() == 1 {
		return c.showPlanFile(fs.Arg(0), v.migration, *jsonOut)
	}
	ctx, stop := c.signalContext()
	defer stop()
	s, code := c.open(ctx, v)
	if s == nil {
		return code
	}
	defer s.close()
	st, err := s.backend.Read(ctx, s.m.Name)
	if err == nil {
		st, err = settle(ctx, s.backend, st)
	}
	if err != nil {
		c.errorf(s.secrets, "reading the state: %v", err)
		return 1
	}
	if st == nil {
		if *jsonOut {
			return c.writeJSON(map[string]string{"format_version": showFormatVersion, "migration": s.m.Name, "status": statusNotStarted})
		}
		fmt.Fprintf(c.stdout, "Migration %q has not been applied yet: the state backend holds no state for it.\n\n", s.m.Name)
		fmt.Fprintf(c.stdout, "Status: %s\n\nRun \"pgferry plan\" to see what apply would do, then \"pgferry apply\" to migrate.\n", statusNotStarted)
		return 0
	}
	now := time.Now()
	if *jsonOut {
		return c.writeJSON(showDocument(st, now))
	}
	showState(c.stdout, st, now)
	return 0
}

// showPlanFile renders a saved plan. It needs no configuration: a plan file is self-contained.
func (c *cli) showPlanFile(path, migration string, jsonOut bool) int {
	p, err := readPlanFile(path)
	if err != nil {
		c.errorf(nil, "%v", err)
		return 1
	}
	if migration != "" && migration != p.Migration {
		c.errorf(nil, "the saved plan %s is for migration %q, not %q", path, p.Migration, migration)
		return 1
	}
	if jsonOut {
		b, err := views.PlanJSON(p)
		if err != nil {
			c.errorf(nil, "encoding the plan: %v", err)
			return 1
		}
		c.stdout.Write(b)
		return 0
	}
	fmt.Fprintf(c.stdout, "Saved plan %s (migration %q, made %s by pgferry %s)\n\n", path, p.Migration, formatTime(&p.CreatedAt), p.ToolVersion)
	views.Plan(c.stdout, p)
	return 0
}

func (c *cli) writeJSON(v any) int {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		c.errorf(nil, "encoding JSON: %v", err)
		return 1
	}
	c.stdout.Write(append(b, '\n'))
	return 0
}

// showDoc is the `show --json` document of a migration's status.
type showDoc struct {
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
	Actions         []showAction       `json:"actions"`
}

type showAction struct {
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

func showDocument(st *state.State, now time.Time) showDoc {
	d := showDoc{
		FormatVersion: showFormatVersion, Migration: st.Migration, Status: displayStatus(st), Substatus: st.Substatus,
		Mode: st.MigrationMode, Type: st.MigrationType, Source: st.Source, Target: st.Target,
		Databases: st.Databases, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt, Error: st.Error,
		Validations: st.Validations, Actions: []showAction{},
	}
	if d.Databases == nil {
		d.Databases = []string{}
	}
	if d.Validations == nil {
		d.Validations = []state.Validation{}
	}
	if dur, ok := migrationDuration(st, now); ok {
		secs := dur.Seconds()
		d.DurationSeconds = &secs
	}
	for _, a := range st.Actions {
		if a == nil {
			continue
		}
		d.Actions = append(d.Actions, showAction{
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

func formatTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 MST")
}

// humanDuration renders durations the way the apply summary does: 350ms, 4.2s, 3m12s, 2h5m0s.
func humanDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
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

// showState renders a migration's status for people.
func showState(w io.Writer, st *state.State, now time.Time) {
	duration := "-"
	if d, ok := migrationDuration(st, now); ok {
		duration = humanDuration(d)
		if st.FinishedAt == nil {
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
		{"Start time", formatTime(st.StartedAt)},
		{"End time", formatTime(st.FinishedAt)},
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

	views.Validations(w, st.Validations)

	// Group actions: instance-level ones (roles, memberships) first, then each database in the
	// migration's order, then any database the state knows of but the list no longer names.
	groups := map[string][]*state.Action{}
	for _, a := range st.Actions {
		if a != nil {
			groups[a.Database] = append(groups[a.Database], a)
		}
	}
	order := []string{""}
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

	var tables []*state.Action
	for _, db := range order {
		acts := groups[db]
		if len(acts) == 0 {
			continue
		}
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
		tables = append(tables, tbls...)
		if len(tbls) > 0 {
			fmt.Fprintf(w, "  Tables (%d):\n", len(tbls))
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "    Address\tStatus\tRows\tBytes\tDuration")
			for _, a := range tbls {
				rows, size, dur := "-", "-", "-"
				if a.Status == state.ActionApplied || a.Rows > 0 || a.Bytes > 0 {
					rows, size = views.Count(a.Rows), views.Bytes(a.Bytes)
				}
				if a.Status == state.ActionRunning {
					rows, size = runningFigures(a)
				}
				if d := actionDuration(a, now); d > 0 {
					dur = humanDuration(d)
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
					fmt.Fprintf(w, "    running now: %s (for %s, attempt %d)\n", a.Address, humanDuration(actionDuration(a, now)), max(a.Attempt, 1))
				case state.ActionInterrupted:
					fmt.Fprintf(w, "    interrupted: %s (after %s, attempt %d)\n", a.Address, humanDuration(actionDuration(a, now)), max(a.Attempt, 1))
				}
			}
		}
		for _, a := range acts {
			if a.Error != "" && (a.Status == state.ActionFailed || a.Status == state.ActionTainted) {
				fmt.Fprintf(w, "  %s %s: %s\n", a.Status, a.Address, a.Error)
			}
		}
		fmt.Fprintln(w)
	}

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
			fmt.Fprintf(w, "  %10s  %s  (%s, %s)\n", humanDuration(actionDuration(a, now)), a.Address, views.Rows(a.Rows), views.Bytes(a.Bytes))
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
			return "-", views.Bytes(a.Bytes) + " so far"
		}
		return "-", "-"
	}
	frac := min(float64(a.Bytes)/float64(a.BytesEstimate), 1)
	r := a.Rows
	if r == 0 {
		r = int64(frac * float64(a.RowsEstimate))
	}
	pct := min(int(frac*100), 99) // not done until apply says so
	return fmt.Sprintf("~%s of ~%s", views.Count(r), views.Count(a.RowsEstimate)),
		fmt.Sprintf("%s of %s (%d%%)", views.Bytes(a.Bytes), views.Bytes(max(a.BytesEstimate, a.Bytes)), pct)
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
type listRow struct {
	Name             string     `json:"name"`
	Status           string     `json:"status"`
	Substatus        string     `json:"substatus"`
	MigrationMode    string     `json:"migration_mode"`
	MigrationType    string     `json:"migration_type"`
	SourceServer     string     `json:"source_server"`
	SourceServerType string     `json:"source_server_type"`
	TargetServer     string     `json:"target_server"`
	Databases        []string   `json:"databases"`
	Duration         string     `json:"duration"`
	DurationSeconds  *float64   `json:"duration_seconds"`
	StartTime        *time.Time `json:"start_time"`
	// EndTime is when the last run ended: for an Interrupted one whose process died, its last
	// state write.
	EndTime *time.Time `json:"end_time"`
	// sourceName and targetName are the servers' names alone, for a narrow grid.
	sourceName, targetName string
}

func cmdList(c *cli, args []string) int {
	fs := newFlags("list")
	var v varFlags
	v.register(fs, false)
	jsonOut := fs.Bool("json", false, "print one JSON document (an array)")
	if code, done := c.parse(fs, args, "list [--json] [--var NAME=VALUE] [--var-file FILE]"); done {
		return code
	}
	if fs.NArg() > 0 {
		c.errorf(nil, "list takes no arguments; got %q", fs.Args())
		return 1
	}
	cfg, ok := c.load(v)
	if !ok {
		return 1
	}
	ctx, stop := c.signalContext()
	defer stop()
	backend, ok := c.openBackend(ctx, cfg)
	if !ok {
		return 1
	}
	defer backend.Close()
	states, err := backend.List(ctx)
	for i := 0; err == nil && i < len(states); i++ {
		states[i], err = settle(ctx, backend, states[i])
	}
	if err != nil {
		c.errorf(cfg.Secrets(), "listing the migrations in the state backend: %v", err)
		return 1
	}
	states = slices.DeleteFunc(states, func(st *state.State) bool { return st == nil })
	// Newest start first; never-started states last, by name.
	sort.SliceStable(states, func(i, j int) bool {
		a, b := states[i].StartedAt, states[j].StartedAt
		switch {
		case a != nil && b != nil && !a.Equal(*b):
			return a.After(*b)
		case (a == nil) != (b == nil):
			return a != nil
		}
		return states[i].Migration < states[j].Migration
	})
	now := time.Now()
	rows := make([]listRow, 0, len(states))
	for _, st := range states {
		r := listRow{
			Name: st.Migration, Status: displayStatus(st), Substatus: st.Substatus, MigrationMode: st.MigrationMode,
			MigrationType: st.MigrationType, SourceServerType: st.Source.Type, Databases: st.Databases, StartTime: st.StartedAt,
			EndTime: st.FinishedAt,
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
		if d, ok := migrationDuration(st, now); ok {
			secs := d.Seconds()
			r.DurationSeconds, r.Duration = &secs, humanDuration(d)
		}
		rows = append(rows, r)
	}
	if *jsonOut {
		return c.writeJSON(rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(c.stdout, "No migrations in the state backend yet: run pgferry apply to start one.")
		return 0
	}
	writeListGrid(c.stdout, rows) // list_grid.go
	return 0
}

func cmdForceUnlock(c *cli, args []string) int {
	fs := newFlags("force-unlock")
	var v varFlags
	v.register(fs, true)
	force := fs.Bool("force", false, "do not ask for confirmation")
	synopsis := "force-unlock LOCK_ID [--force] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]"
	if code, done := c.parse(fs, args, synopsis); done {
		return code
	}
	if fs.NArg() != 1 || strings.TrimSpace(fs.Arg(0)) == "" {
		c.errorf(nil, "force-unlock takes exactly one argument, the lock ID (shown as ID in the Lock Info of the error that reported the lock)\n\nUsage: pgferry %s", synopsis)
		return 1
	}
	id := strings.TrimSpace(fs.Arg(0))
	ctx, stop := c.signalContext()
	defer stop()
	s, code := c.open(ctx, v)
	if s == nil {
		return code
	}
	defer s.close()
	// On a terminal, ask (as Terraform does). Without one (a pipeline) there is nobody to ask: the
	// lock ID, which must match the lock held, is the confirmation.
	if !*force && c.isTTYIn {
		yes := c.confirmed(ctx, fmt.Sprintf("Do you really want to force-unlock?\n"+
			"  pgferry will remove the lock %s on the state of migration %q.\n"+
			"  This will allow pgferry commands to modify this state, even though it\n"+
			"  may still be in use. Only 'yes' will be accepted to confirm.", id, s.m.Name))
		fmt.Fprintln(c.stdout)
		if !yes {
			c.errorf(nil, "force-unlock cancelled.")
			return 1
		}
	}
	if err := s.backend.ForceUnlock(ctx, s.m.Name, id); err != nil {
		c.errorf(s.secrets, "Failed to unlock state: %s", strings.TrimPrefix(err.Error(), "force-unlock: "))
		return 1
	}
	fmt.Fprintf(c.stdout, "pgferry state has been successfully unlocked!\n\n"+
		"The state of migration %q has been unlocked, and pgferry commands should now be able to obtain a new lock on it.\n", s.m.Name)
	return 0
}
