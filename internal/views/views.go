// Package views renders plans, validation reports and apply events for people (Terraform-like
// text, coloured on a TTY) and for programs (JSON). It is the only package that knows colour.
package views

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fatih/color"
	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

var (
	green  = color.New(color.FgGreen).SprintFunc()
	yellow = color.New(color.FgYellow).SprintFunc()
	red    = color.New(color.FgRed).SprintFunc()
	bold   = color.New(color.Bold).SprintFunc()
	faint  = color.New(color.Faint).SprintFunc()
)

// Bytes renders a size the way people read it: 1.2 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Rows renders a number of rows compactly with its noun: "1 row", "12.3k rows".
func Rows(n int64) string {
	return Count(n) + " " + english.Noun(n, "row")
}

// Count renders a row count compactly: 9.4M, 12.3k, 512.
func Count(n int64) string {
	switch {
	case n >= 1_000_000_000:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func symbol(k plan.Kind) string {
	switch k {
	case plan.Create:
		return green("+")
	case plan.Update:
		return yellow("~")
	case plan.Replace:
		return red("-") + "/" + green("+")
	case plan.Delete:
		return red("-")
	}
	return "?"
}

func verb(k plan.Kind) string {
	switch k {
	case plan.Create:
		return "will be created"
	case plan.Update:
		return "will be updated in-place"
	case plan.Replace:
		return "must be replaced"
	case plan.Delete:
		return "will be destroyed"
	}
	return ""
}

// compactAbove is the number of actions of one compact type in a database above which they
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
	Validations(w, p.Validations)
}

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

func identity(id state.Identity) string {
	v := ""
	if id.Version != "" {
		v = ", PostgreSQL " + id.Version
	}
	return fmt.Sprintf("%s (%s:%d%s)", id.Name, id.Host, id.Port, v)
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

func pl(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
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

// Applier prints apply events for people, Terraform style.
type Applier struct {
	W        io.Writer
	mu       sync.Mutex
	lastTick map[string]time.Time
	timings  map[string]time.Duration
	tables   map[string]*tableTiming // by table address: the parts of a table are one entry
	// added, changed and destroyed count finished actions as the plan's ActionsLine does.
	added     int
	changed   int
	destroyed int
	// clock is time.Now, or a test's clock.
	clock func() time.Time
}

// tableTiming is one table's copy: from its (first part's) start to its (last part's) end.
type tableTiming struct {
	addr       string
	start, end time.Time
	rows       int64
	bytes      int64
	parts      int
}

// tablesListed is how many tables the closing timing table lists at most, the slowest first.
const tablesListed = 20

func (v *Applier) now() time.Time {
	if v.clock != nil {
		return v.clock()
	}
	return time.Now()
}

func ing(k plan.Kind) (string, string) {
	switch k {
	case plan.Update:
		return "Modifying...", "Modifications complete"
	case plan.Replace:
		return "Replacing...", "Replacement complete"
	case plan.Delete:
		return "Destroying...", "Destruction complete"
	}
	return "Creating...", "Creation complete"
}

// Event prints one event.
func (v *Applier) Event(e apply.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.lastTick == nil {
		v.lastTick, v.timings = map[string]time.Time{}, map[string]time.Duration{}
	}
	switch e.Type {
	case apply.EventPhase:
		fmt.Fprintln(v.W, bold(e.Message))
	case apply.EventStart:
		start, _ := ing(e.Action.Kind)
		fmt.Fprintf(v.W, "%s: %s\n", bold(e.Address), start)
		v.lastTick[e.Address] = v.now()
	case apply.EventProgress:
		// Progress of its own (copies, large objects) is printed every 10 s; apply emits the
		// Still events of the other actions every 10 s already.
		if !e.Still && v.now().Sub(v.lastTick[e.Address]) < apply.StillEvery {
			return
		}
		v.lastTick[e.Address] = v.now()
		extra := ""
		if e.Bytes > 0 {
			extra = fmt.Sprintf(", %s, %s/s", Bytes(e.Bytes), Bytes(int64(float64(e.Bytes)/max(e.Elapsed.Seconds(), 0.001))))
		}
		fmt.Fprintf(v.W, "%s: Still %s [%s elapsed%s]\n", bold(e.Address), stillVerb(e.Action.Kind), e.Elapsed.Round(time.Second), extra)
	case apply.EventComplete:
		_, done := ing(e.Action.Kind)
		extra := ""
		if e.Action.Type == plan.TypeTablePart || (e.Action.Type == plan.TypeTable && e.Action.Parts == 0) {
			extra = fmt.Sprintf(" [%s, %s]", Rows(e.Rows), Bytes(e.Bytes))
		}
		fmt.Fprintf(v.W, "%s: %s after %s%s\n", bold(e.Address), done, round(e.Elapsed), extra)
		work := e.Elapsed
		if e.Work > 0 {
			work = e.Work
		}
		v.timings[phaseOf(e.Action.Type)] += work
		switch e.Action.Kind {
		case plan.Update:
			v.changed++
		case plan.Replace:
			v.added++
			v.destroyed++
		case plan.Delete:
			v.destroyed++
		default:
			v.added++
		}
		if e.Action.Type == plan.TypeTablePart || (e.Action.Type == plan.TypeTable && e.Action.Parts == 0) {
			v.addTable(e)
		}
	case apply.EventErrored:
		fmt.Fprintf(v.W, "%s: %s %v\n", bold(e.Address), red("Error:"), e.Err)
	case apply.EventInterrupted:
		fmt.Fprintf(v.W, "%s: Interrupted after %s\n", bold(e.Address), round(e.Elapsed))
	case apply.EventMessage:
		fmt.Fprintln(v.W, e.Message)
	}
}

// addTable records a finished table copy, or one part of it.
func (v *Applier) addTable(e apply.Event) {
	if v.tables == nil {
		v.tables = map[string]*tableTiming{}
	}
	end := v.now()
	start := end.Add(-e.Elapsed)
	addr := e.Address
	if e.Action.Type == plan.TypeTablePart {
		addr = plan.TableAddr(e.Action.Database, e.Action.Schema, e.Action.Name)
	}
	t := v.tables[addr]
	if t == nil {
		t = &tableTiming{addr: addr, start: start, end: end}
		v.tables[addr] = t
	}
	t.start, t.end = minTime(t.start, start), maxTime(t.end, end)
	t.rows += e.Rows
	t.bytes += e.Bytes
	if e.Action.Type == plan.TypeTablePart {
		t.parts++
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func stillVerb(k plan.Kind) string {
	switch k {
	case plan.Update:
		return "modifying..."
	case plan.Delete:
		return "destroying..."
	}
	return "creating..."
}

func round(d time.Duration) string {
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

func phaseOf(t string) string {
	switch t {
	case plan.TypeRole, plan.TypeMembership, plan.TypeLoginMembership, plan.TypeParameter:
		return "roles"
	case plan.TypeDatabase, plan.TypeExtension, plan.TypeSchema:
		return "schema"
	case plan.TypeTable, plan.TypeTablePart, plan.TypeLargeObj, plan.TypeExtData:
		return "copy"
	case plan.TypeIndex:
		return "indexes"
	case plan.TypeConstraint:
		return "constraints"
	case plan.TypeSequences, plan.TypePostData, plan.TypeOwnership:
		return "post-data"
	case plan.TypeAnalyze:
		return "analyze"
	case plan.TypeVerify:
		return "verify"
	}
	return t
}

// Finish prints the closing summary: counts, time per phase (summed over workers) and per table.
func (v *Applier) Finish(total time.Duration, err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	fmt.Fprintln(v.W)
	if len(v.timings) > 0 {
		fmt.Fprintln(v.W, bold("Time per phase")+faint(" (work time, summed over parallel workers):"))
		for _, ph := range []string{"roles", "schema", "copy", "indexes", "constraints", "post-data", "analyze", "verify"} {
			if d, ok := v.timings[ph]; ok {
				fmt.Fprintf(v.W, "  %-12s %10s\n", ph, round(d))
			}
		}
		fmt.Fprintf(v.W, "  %-12s %10s\n", "wall clock", round(total))
		if len(v.tables) > 0 {
			// Every table when there are a few; the slowest otherwise (show lists each).
			tables := make([]*tableTiming, 0, len(v.tables))
			for _, t := range v.tables {
				tables = append(tables, t)
			}
			sort.Slice(tables, func(i, j int) bool {
				if di, dj := tables[i].end.Sub(tables[i].start), tables[j].end.Sub(tables[j].start); di != dj {
					return di > dj
				}
				return tables[i].addr < tables[j].addr
			})
			fmt.Fprintln(v.W, bold("Time per table")+faint(" (wall clock, slowest first):"))
			for i, t := range tables {
				if i == tablesListed {
					fmt.Fprintf(v.W, "  … and %d more tables (pgferry show lists every table)\n", len(tables)-tablesListed)
					break
				}
				parts := ""
				if t.parts > 0 {
					parts = fmt.Sprintf(", %d parts", t.parts)
				}
				fmt.Fprintf(v.W, "  %10s  %s  (%s, %s%s)\n", round(t.end.Sub(t.start)), t.addr, Rows(t.rows), Bytes(t.bytes), parts)
			}
		}
		fmt.Fprintln(v.W)
	}
	if err == nil {
		fmt.Fprintln(v.W, green(bold(fmt.Sprintf("Apply complete! Resources: %d added, %d changed, %d destroyed.", v.added, v.changed, v.destroyed))))
	}
}

// JSONLines writes line-delimited JSON events (Terraform's machine-readable UI).
type JSONLines struct {
	W  io.Writer
	mu sync.Mutex
	// Prog, when set, is fed the apply events; their apply_progress and apply_complete lines then
	// carry the table's and the whole apply's figures (ProgressLine).
	Prog *Progress
}

// Write emits one event line.
func (j *JSONLines) Write(level, typ, msg string, fields map[string]any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	m := map[string]any{"@level": level, "@message": msg, "@timestamp": time.Now().UTC().Format(time.RFC3339Nano), "type": typ}
	for k, v := range fields {
		m[k] = v
	}
	b, _ := json.Marshal(m)
	j.W.Write(append(b, '\n'))
}

// Planned writes what Terraform's machine-readable apply starts with: a planned_change line per
// action and a change_summary line for the plan.
func (j *JSONLines) Planned(p *plan.Plan) {
	for _, a := range p.Actions {
		j.Write("info", "planned_change", fmt.Sprintf("%s: Plan to %s", a.Address, a.Kind), map[string]any{
			"change": map[string]any{"resource": map[string]any{"addr": a.Address, "type": a.Type, "database": a.Database},
				"action": string(a.Kind), "reason": a.Reason}})
	}
	j.Write("info", "change_summary", SummaryLine(p.Summary), map[string]any{
		"changes": map[string]any{"add": p.Summary.Add, "change": p.Summary.Change, "remove": p.Summary.Destroy, "operation": "plan"},
		"summary": p.Summary})
}

func jsonOverall(o Overall) map[string]any {
	m := map[string]any{"percent": float64(int(o.Percent*10)) / 10, "bytes": o.Bytes, "bytes_estimate": o.BytesEstimate,
		"elapsed_seconds": o.Elapsed.Seconds()}
	if o.ETA > 0 {
		m["eta_seconds"] = o.ETA.Seconds()
	}
	return m
}

// ProgressLine writes an apply_progress line for the whole apply (no hook): the overall figures
// and those of the copies running. apply --json writes one every second and one at the end.
func (j *JSONLines) ProgressLine() {
	if j.Prog == nil {
		return
	}
	o := j.Prog.Overall()
	tables := j.Prog.Running()
	if tables == nil {
		tables = []TableProgress{}
	}
	j.Write("info", "apply_progress", fmt.Sprintf("%.0f%% done, %s of %s copied", math.Floor(o.Percent), Bytes(o.Bytes), Bytes(o.BytesEstimate)),
		map[string]any{"overall": jsonOverall(o), "tables": tables})
}

// Warnings writes the plan's validations that warned as diagnostic lines (severity warning).
func (j *JSONLines) Warnings(p *plan.Plan) {
	for _, v := range p.Validations {
		if v.Outcome != "Warning" {
			continue
		}
		d := map[string]any{"severity": "warning", "summary": v.Message, "check": v.ID}
		if len(v.Objects) > 0 {
			d["detail"] = strings.Join(v.Objects, "\n")
		}
		if v.Database != "" {
			d["database"] = v.Database
		}
		j.Write("warn", "diagnostic", "Warning: "+v.Message, map[string]any{"diagnostic": d})
	}
}

// Applied writes the change_summary line that ends a successful apply.
func (j *JSONLines) Applied(s plan.Summary) {
	j.Write("info", "change_summary", fmt.Sprintf("Apply complete! Resources: %d added, %d changed, %d destroyed.", s.Add, s.Change, s.Destroy),
		map[string]any{"changes": map[string]any{"add": s.Add, "change": s.Change, "remove": s.Destroy, "operation": "apply"}})
}

// Errored writes the lines that end a failed apply: Terraform's diagnostic line, then
// apply_errored; both carry the error as a Diagnostic, with redact (the configuration's secrets)
// applied to its texts.
func (j *JSONLines) Errored(err error, redact func(string) string) {
	d := Diagnose(err, redact)
	j.Write("error", "diagnostic", "Error: "+d.Summary, map[string]any{"diagnostic": d})
	j.Write("error", "apply_errored", d.Summary, map[string]any{"diagnostic": d})
}

// Event writes an apply event.
func (j *JSONLines) Event(e apply.Event) {
	f := map[string]any{}
	if e.Action != nil {
		f["hook"] = map[string]any{"resource": map[string]any{"addr": e.Address, "type": e.Action.Type, "database": e.Action.Database},
			"action": string(e.Action.Kind), "elapsed_seconds": e.Elapsed.Seconds(), "rows": e.Rows, "bytes": e.Bytes}
	}
	if j.Prog != nil {
		j.Prog.Event(e)
		if e.Type == apply.EventProgress || e.Type == apply.EventComplete {
			t, ok := j.Prog.Table(e.Address)
			if ok {
				f["table"] = t
			}
			f["overall"] = jsonOverall(j.Prog.Overall())
			if ok && e.Type == apply.EventComplete {
				// A copy's last progress line, at 100%: one done between two reports (a second)
				// still has its bytes and rows in an apply_progress line.
				j.Write("info", "apply_progress", fmt.Sprintf("%s: %s copied, %s rows", e.Address, Bytes(t.Bytes), Count(t.Rows)), f)
			}
		}
	}
	level, msg := "info", e.Message
	switch e.Type {
	case apply.EventStart:
		msg = e.Address + ": Creating..."
	case apply.EventProgress:
		verb := "creating..."
		if e.Action != nil {
			verb = stillVerb(e.Action.Kind)
		}
		msg = fmt.Sprintf("%s: Still %s [%s elapsed]", e.Address, verb, e.Elapsed.Round(time.Second))
	case apply.EventComplete:
		msg = fmt.Sprintf("%s: Creation complete after %s", e.Address, round(e.Elapsed))
	case apply.EventErrored:
		level, msg = "error", fmt.Sprintf("%s: %v", e.Address, e.Err)
		if e.Err != nil {
			f["diagnostic"] = Diagnose(e.Err, nil)
		}
	case apply.EventInterrupted:
		level, msg = "warn", fmt.Sprintf("%s: Interrupted after %s", e.Address, round(e.Elapsed))
	}
	j.Write(level, string(e.Type), msg, f)
}
