package views

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// JSONFormatVersion is the version of the document PlanJSON writes (`plan --json`), described in
// docs/plan-json.md and docs/plan-json.schema.json. It is versioned apart from the saved plan file:
// a minor bump only adds fields (readers ignore unknown ones); a major bump renames, removes or
// retypes one.
const JSONFormatVersion = "1.2"

// Plan statuses in the JSON document.
const (
	StatusChanges          = "changes"
	StatusNoChanges        = "no_changes"
	StatusValidationFailed = "validation_failed"
)

// planDoc is the `plan --json` document. Every field is always present (empty arrays, never
// null) so that readers need no presence checks; field order is the declaration order.
type planDoc struct {
	FormatVersion string          `json:"format_version"`
	ToolVersion   string          `json:"tool_version"`
	Migration     string          `json:"migration"`
	CreatedAt     string          `json:"created_at"`
	Source        identityDoc     `json:"source"`
	Target        identityDoc     `json:"target"`
	Fingerprints  fingerprintsDoc `json:"fingerprints"`
	State         stateDoc        `json:"state"`
	Databases     []string        `json:"databases"`
	Actions       []actionDoc     `json:"actions"`
	Validations   []validationDoc `json:"validations"`
	Summary       summaryDoc      `json:"summary"`
	// Forecast is null when there is none: nothing to apply, a failed validation, or none could
	// be made (the human form says why).
	Forecast *forecastDoc `json:"forecast"`
	Status   string       `json:"status"`
}

// forecastDoc is the plan's forecast of apply's wall time (SPEC §7).
type forecastDoc struct {
	Seconds      float64  `json:"seconds"`
	LowSeconds   float64  `json:"low_seconds"`
	HighSeconds  float64  `json:"high_seconds"`
	Basis        string   `json:"basis"`
	Run          *int     `json:"run"`
	CriticalPath []string `json:"critical_path"`
	// Note is what the human plan prints under the forecast (since 1.2): what its basis could not
	// see and how it priced it; "" when nothing.
	Note string `json:"note"`
}

// forecastJSON is f in the document, or nil when the plan has no forecast.
func forecastJSON(f *state.Forecast) *forecastDoc {
	if f == nil || f.Unavailable != "" {
		return nil
	}
	d := &forecastDoc{Seconds: float64(f.ExpectedMS) / 1000, LowSeconds: float64(f.LowMS) / 1000, HighSeconds: float64(f.HighMS) / 1000,
		Basis: f.Basis, CriticalPath: strs(f.CriticalPath), Note: f.Note}
	if f.BasisRun > 0 {
		run := f.BasisRun
		d.Run = &run
	}
	return d
}

type identityDoc struct {
	Name             string `json:"name"`
	Host             string `json:"host"`
	Port             int    `json:"port"`
	User             string `json:"user"`
	Type             string `json:"type"`
	SystemIdentifier string `json:"system_identifier"`
	Version          string `json:"version"`
	VersionNum       int    `json:"version_num"`
}

type fingerprintsDoc struct {
	Source string `json:"source"`
	Target string `json:"target"`
	Config string `json:"config"`
}

type stateDoc struct {
	Lineage string `json:"lineage"`
	Serial  int64  `json:"serial"`
}

type actionDoc struct {
	Address       string      `json:"address"`
	Type          string      `json:"type"`
	Database      string      `json:"database"`
	Actions       []string    `json:"actions"`
	Reason        string      `json:"reason"`
	RowsEstimate  int64       `json:"rows_estimate"`
	BytesEstimate int64       `json:"bytes_estimate"`
	DependsOn     []string    `json:"depends_on"`
	Details       []string    `json:"details"`
	Hazards       []hazardDoc `json:"hazards"`
	CopyFormat    string      `json:"copy_format,omitempty"`
}

type hazardDoc struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type validationDoc struct {
	ID       string   `json:"id"`
	Level    string   `json:"level"`
	Database string   `json:"database"`
	Outcome  string   `json:"outcome"`
	Message  string   `json:"message"`
	Objects  []string `json:"objects"`
}

type summaryDoc struct {
	Add                  int   `json:"add"`
	Change               int   `json:"change"`
	Destroy              int   `json:"destroy"`
	Actions              int   `json:"actions"`
	Roles                int   `json:"roles"`
	Databases            int   `json:"databases"`
	Tables               int   `json:"tables"`
	Indexes              int   `json:"indexes"`
	Constraints          int   `json:"constraints"`
	RowsEstimate         int64 `json:"rows_estimate"`
	BytesEstimate        int64 `json:"bytes_estimate"`
	ValidationsFailed    int   `json:"validations_failed"`
	ValidationsWarning   int   `json:"validations_warning"`
	ValidationsSucceeded int   `json:"validations_succeeded"`
}

// PlanJSON renders p as the versioned `plan --json` document: indented, ending in a newline, and
// byte-for-byte the same for the same plan (it holds no maps). It fails only for an action whose
// kind it does not know, so that no reader ever sees an action list it cannot interpret.
func PlanJSON(p *plan.Plan) ([]byte, error) {
	var buf bytes.Buffer
	if err := WritePlanJSON(&buf, p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WritePlanJSON writes PlanJSON's document to w, the actions one at a time as they are encoded:
// at 100,000 tables the document is about 100 MB, which is never held whole. An action whose kind
// it does not know fails it before anything is written.
func WritePlanJSON(w io.Writer, p *plan.Plan) error {
	for _, a := range p.Actions {
		if _, err := changeActions(a.Kind); err != nil {
			return fmt.Errorf("action %s: %w", a.Address, err)
		}
	}
	d := planDoc{
		FormatVersion: JSONFormatVersion,
		ToolVersion:   p.ToolVersion,
		Migration:     p.Migration,
		CreatedAt:     p.CreatedAt.UTC().Format(time.RFC3339),
		Source:        identityJSON(p.Source),
		Target:        identityJSON(p.Target),
		Fingerprints:  fingerprintsDoc{Source: p.SourceFingerprint, Target: p.TargetFingerprint, Config: p.ConfigFingerprint},
		State:         stateDoc{Lineage: p.StateLineage, Serial: p.StateSerial},
		Databases:     strs(p.Databases),
		Actions:       []actionDoc{},
		Validations:   make([]validationDoc, 0, len(p.Validations)),
		Status:        planStatus(p),
	}
	if !p.ValidationFailed() {
		d.Forecast = forecastJSON(p.Forecast)
	}
	for _, v := range p.Validations {
		d.Validations = append(d.Validations, validationDoc{ID: v.ID, Level: v.Level, Database: v.Database,
			Outcome: string(v.Outcome), Message: v.Message, Objects: strs(v.Objects)})
	}
	s := p.Summary
	d.Summary = summaryDoc{Add: s.Add, Change: s.Change, Destroy: s.Destroy, Actions: len(p.Actions),
		Roles: s.Roles, Databases: s.Databases, Tables: s.Tables, Indexes: s.Indexes, Constraints: s.Constraints,
		RowsEstimate: s.Rows, BytesEstimate: s.Bytes, ValidationsFailed: s.Failed, ValidationsWarning: s.Warnings,
		ValidationsSucceeded: succeeded(p.Validations)}

	// The document without its actions, split where they go: a top-level key at the start of its
	// line (a string value holds no newline), then the actions written between, indented as the
	// encoder indents an array's elements at that depth.
	var buf bytes.Buffer
	if err := newJSONEncoder(&buf, "").Encode(d); err != nil {
		return err
	}
	const empty = "\n  \"actions\": [],\n"
	head, tail, ok := bytes.Cut(buf.Bytes(), []byte(empty))
	if !ok {
		return fmt.Errorf("encoding the plan: no actions in the document")
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(head)
	bw.WriteString("\n  \"actions\": [")
	var ab bytes.Buffer
	enc := newJSONEncoder(&ab, "    ")
	for k, a := range p.Actions {
		acts, _ := changeActions(a.Kind)
		hz := make([]hazardDoc, 0, len(a.Hazards))
		for _, h := range a.Hazards {
			hz = append(hz, hazardDoc{Code: h.Code, Message: h.Message})
		}
		ab.Reset()
		if err := enc.Encode(actionDoc{
			Address: a.Address, Type: a.Type, Database: a.Database, Actions: acts, Reason: a.Reason,
			RowsEstimate: a.RowsEstimate, BytesEstimate: a.BytesEstimate,
			DependsOn: strs(a.DependsOn), Details: strs(a.Details), Hazards: hz, CopyFormat: a.CopyFormat,
		}); err != nil {
			return err
		}
		if k > 0 {
			bw.WriteByte(',')
		}
		bw.WriteString("\n    ")
		bw.Write(bytes.TrimSuffix(ab.Bytes(), []byte("\n")))
	}
	if len(p.Actions) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("],\n")
	bw.Write(tail)
	return bw.Flush()
}

// newJSONEncoder is the documents' encoder: indented by two spaces after prefix, and keeping <, >
// and & as they are (messages and addresses are read by people too).
func newJSONEncoder(w io.Writer, prefix string) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	return enc
}

func succeeded(vals []state.Validation) int {
	n := 0
	for _, v := range vals {
		if v.Outcome == "Succeeded" {
			n++
		}
	}
	return n
}

// changeActions is Terraform's change.actions: a replace is a delete followed by a create.
func changeActions(k plan.Kind) ([]string, error) {
	switch k {
	case plan.Create:
		return []string{"create"}, nil
	case plan.Update:
		return []string{"update"}, nil
	case plan.Replace:
		return []string{"delete", "create"}, nil
	case plan.Delete:
		return []string{"delete"}, nil
	}
	return nil, fmt.Errorf("unknown action kind %q", k)
}

func planStatus(p *plan.Plan) string {
	switch {
	case p.ValidationFailed():
		return StatusValidationFailed
	case p.HasChanges():
		return StatusChanges
	}
	return StatusNoChanges
}

func identityJSON(id state.Identity) identityDoc {
	return identityDoc{Name: id.Name, Host: id.Host, Port: id.Port, User: id.User, Type: id.Type,
		SystemIdentifier: id.SystemIdentifier, Version: id.Version, VersionNum: int(id.VersionNum)}
}

// strs turns nil into an empty list: the document never holds null arrays.
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
