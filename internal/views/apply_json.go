package views

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
)

// JSONLines writes line-delimited JSON events (Terraform's machine-readable UI).
type JSONLines struct {
	W  io.Writer
	mu sync.Mutex
	// Prog, when set, is fed the apply events; their apply_progress and apply_complete lines then
	// carry the table's and the whole apply's figures (ProgressLine).
	Prog *Progress
}

// setW makes w the writer of the lines to come.
func (j *JSONLines) setW(w io.Writer) {
	j.mu.Lock()
	j.W = w
	j.mu.Unlock()
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
	vb := verbsOf(plan.Create)
	if e.Action != nil {
		vb = verbsOf(e.Action.Kind)
	}
	switch e.Type {
	case apply.EventStart:
		msg = e.Address + ": " + vb.ing
	case apply.EventProgress:
		msg = fmt.Sprintf("%s: Still %s [%s elapsed]", e.Address, vb.still, Duration(e.Elapsed.Round(time.Second)))
	case apply.EventComplete:
		msg = fmt.Sprintf("%s: %s after %s", e.Address, vb.done, Duration(e.Elapsed))
	case apply.EventErrored:
		level, msg = "error", fmt.Sprintf("%s: %v", e.Address, e.Err)
		if e.Err != nil {
			f["diagnostic"] = Diagnose(e.Err, nil)
		}
	case apply.EventInterrupted:
		level, msg = "warn", fmt.Sprintf("%s: Interrupted after %s", e.Address, Duration(e.Elapsed))
	}
	j.Write(level, string(e.Type), msg, f)
}
