package state

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// Operation is what a run did: an apply, a destroy or a cancel (stop and roll back).
type Operation string

// The operations.
const (
	OpApply   Operation = "apply"
	OpDestroy Operation = "destroy"
	OpCancel  Operation = "cancel"
)

// RunFormatVersion is the version of a stored run document written by this build.
const RunFormatVersion = 1

// RunDetailKept is how many of a migration's latest runs keep their per-action timings; older
// runs keep their summary only (sizes, phases, outcome), except the latest Succeeded apply, which
// a forecast scales. 20 runs are ten rehearsals (apply, destroy): enough to compare timelines and
// look back, while thousands of actions × every run ever would grow without bound.
const RunDetailKept = 20

// RunSummary is a run without its per-action timings: what history lists.
type RunSummary struct {
	FormatVersion int       `json:"format_version"`
	ID            int       `json:"id"` // 1, 2, 3, … per migration
	Migration     string    `json:"migration"`
	Operation     Operation `json:"operation"`
	// Outcome: Succeeded, Failed, Interrupted or Canceled.
	Outcome    Status    `json:"outcome"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	// Error is why the run failed, redacted: never a secret.
	Error       string   `json:"error,omitempty"`
	ToolVersion string   `json:"tool_version"`
	Jobs        int      `json:"jobs,omitempty"`
	Source      Identity `json:"source"`
	Target      Identity `json:"target"`
	// Planned is the size of what the run's plan covered (catalog estimates).
	Planned RunSizes `json:"planned"`
	// Bytes and Rows are what the run's actions moved.
	Bytes int64 `json:"bytes"`
	Rows  int64 `json:"rows"`
	// PhasesMS is the wall time of each phase in milliseconds: the union of its actions'
	// intervals (parallel work counts once).
	PhasesMS map[string]int64 `json:"phases_ms,omitempty"`
	// ActionCount is how many actions the run did; Actions is empty for a run whose detail was
	// dropped (RunDetailKept).
	ActionCount int  `json:"action_count"`
	Detailed    bool `json:"detailed"`
	// Forecast is what the run's plan expected (nil: the plan made none).
	Forecast *Forecast `json:"forecast,omitempty"`
}

// Duration is the run's wall time.
func (r *RunSummary) Duration() time.Duration { return r.FinishedAt.Sub(r.StartedAt) }

// RunSizes are a plan's sizes.
type RunSizes struct {
	Databases int   `json:"databases"`
	Tables    int   `json:"tables"`
	Bytes     int64 `json:"bytes"`
	Rows      int64 `json:"rows"`
}

// Forecast is a plan's expectation of an apply's wall time.
type Forecast struct {
	ExpectedMS int64 `json:"expected_ms"`
	LowMS      int64 `json:"low_ms"`
	HighMS     int64 `json:"high_ms"`
	// Basis is "rehearsal" (scaled from run BasisRun) or "model" (measured on the servers).
	Basis        string   `json:"basis"`
	BasisRun     int      `json:"basis_run,omitempty"`
	CriticalPath []string `json:"critical_path,omitempty"`
	// CriticalMS is each CriticalPath step's predicted duration in milliseconds.
	CriticalMS []int64 `json:"critical_ms,omitempty"`
	// Jobs is the number of parallel workers forecast; BasisRunMS the basis run's wall time.
	Jobs       int   `json:"jobs,omitempty"`
	BasisRunMS int64 `json:"basis_run_ms,omitempty"`
	// Note says in one line what the basis could not see ("" when nothing).
	Note string `json:"note,omitempty"`
	// Unavailable, set only on a plan, says why no forecast could be made (the other fields are
	// then zero): a plan never fails for want of a forecast. A run records no such forecast.
	Unavailable string `json:"unavailable,omitempty"`
}

// Run is one apply, destroy or cancel of a migration: its summary and every action it did.
type Run struct {
	RunSummary
	Actions RunActions `json:"actions"`
}

// RunAction is what a run did of one action; Start and End are offsets from the run's start.
type RunAction struct {
	Address string
	Type    string
	Phase   string
	Lane    int
	Start   time.Duration
	End     time.Duration
	Bytes   int64
	Rows    int64
	Outcome ActionStatus
	// BytesEstimate and RowsEstimate are the plan's estimates for the action (what a forecast
	// scales the action's duration by against a later plan's).
	BytesEstimate int64
	RowsEstimate  int64
	// CopyFormat is the COPY format a copy (a table or a part of one) sent its rows in, "binary"
	// or "text"; "" for other actions, a table without columns (no COPY), and runs recorded
	// before it was kept (a forecast then infers it from the copy's bytes a row).
	CopyFormat string
}

// RunActions are a run's actions, stored in columns (one array per field, times in integer
// milliseconds): thousands of actions stay small, and gzip packs the repeated strings.
type RunActions []RunAction

type runColumns struct {
	Address []string       `json:"address"`
	Type    []string       `json:"type"`
	Phase   []string       `json:"phase"`
	Lane    []int          `json:"lane"`
	StartMS []int64        `json:"start_ms"`
	EndMS   []int64        `json:"end_ms"`
	Bytes   []int64        `json:"bytes"`
	Rows    []int64        `json:"rows"`
	Outcome []ActionStatus `json:"outcome"`
	// Planned estimates (absent from runs recorded before they were kept).
	BytesEstimate []int64 `json:"bytes_estimate,omitempty"`
	RowsEstimate  []int64 `json:"rows_estimate,omitempty"`
	// Copies' COPY formats (absent from runs recorded before they were kept, and from runs that
	// copied nothing).
	CopyFormat []string `json:"copy_format,omitempty"`
}

// MarshalJSON writes the actions as columns (runColumns).
func (as RunActions) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := as.writeJSON(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// UnmarshalJSON reads the columns MarshalJSON writes; columns of unequal length are an error.
func (as *RunActions) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*as = nil
		return nil
	}
	var c runColumns
	if err := json.Unmarshal(data, &c); err != nil {
		return err
	}
	n := len(c.Address)
	for _, l := range []int{len(c.Type), len(c.Phase), len(c.Lane), len(c.StartMS), len(c.EndMS), len(c.Bytes), len(c.Rows), len(c.Outcome)} {
		if l != n {
			return fmt.Errorf("run actions: columns of %d and %d values", n, l)
		}
	}
	for _, l := range []int{len(c.BytesEstimate), len(c.RowsEstimate), len(c.CopyFormat)} {
		if l != 0 && l != n {
			return fmt.Errorf("run actions: columns of %d and %d values", n, l)
		}
	}
	out := make(RunActions, n)
	for i := range out {
		out[i] = RunAction{Address: c.Address[i], Type: c.Type[i], Phase: c.Phase[i], Lane: c.Lane[i],
			Start: time.Duration(c.StartMS[i]) * time.Millisecond, End: time.Duration(c.EndMS[i]) * time.Millisecond,
			Bytes: c.Bytes[i], Rows: c.Rows[i], Outcome: c.Outcome[i]}
		if len(c.BytesEstimate) == n {
			out[i].BytesEstimate = c.BytesEstimate[i]
		}
		if len(c.RowsEstimate) == n {
			out[i].RowsEstimate = c.RowsEstimate[i]
		}
		if len(c.CopyFormat) == n {
			out[i].CopyFormat = c.CopyFormat[i]
		}
	}
	*as = out
	return nil
}

// RunStore is implemented by backends that keep a migration's runs beside its state (never in
// the state document, which every save rewrites). Both Local and PG implement it. Writes happen
// under the migration's lock, which the command recording a run holds.
type RunStore interface {
	// AppendRun stores r as the migration's next run: it sets r.ID (1 for the first), r.Migration
	// and r.FormatVersion, and returns the ID. Runs older than the RunDetailKept latest lose
	// their per-action timings (except the latest Succeeded apply).
	AppendRun(ctx context.Context, migration string, r *Run) (int, error)
	// Runs returns the summaries of every run of the migration, oldest first.
	Runs(ctx context.Context, migration string) ([]RunSummary, error)
	// Run returns one run with its actions, or (nil, nil) when there is no run of that ID.
	Run(ctx context.Context, migration string, id int) (*Run, error)
}

var (
	_ RunStore = (*Local)(nil)
	_ RunStore = (*PG)(nil)
)

// encodeRun is a run's stored form: its JSON, gzipped.
func encodeRun(r *Run) ([]byte, error) {
	return gzipWritten(func(w io.Writer) error { return writeRunJSON(w, r) })
}

// decodeRun reads a run encodeRun wrote; what names it in errors.
func decodeRun(what string, data []byte) (*Run, error) {
	var r Run
	if err := decodeRunInto(what, data, &r, &r.RunSummary); err != nil {
		return nil, err
	}
	return &r, nil
}

// decodeRunSummary reads only the summary of a run encodeRun wrote: its actions (tens of
// thousands at 20,000 tables) are skipped, not decoded.
func decodeRunSummary(what string, data []byte) (*RunSummary, error) {
	var r struct{ RunSummary }
	if err := decodeRunInto(what, data, &r, &r.RunSummary); err != nil {
		return nil, err
	}
	return &r.RunSummary, nil
}

// decodeRunInto decodes a run's JSON into v, whose summary is sum.
func decodeRunInto(what string, data []byte, v any, sum *RunSummary) error {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: not a gzipped run: %w", what, err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("%s: %s", what, jsonErrorDetail(plain, err))
	}
	if sum.FormatVersion > RunFormatVersion {
		return fmt.Errorf("%s has format version %d, newer than this pgferry reads (%d): %w", what, sum.FormatVersion, RunFormatVersion, ErrNewerFormat)
	}
	return nil
}

// prepareRun fills what AppendRun owns before r is stored as run id.
func prepareRun(migration string, id int, r *Run) {
	r.ID, r.Migration, r.FormatVersion = id, migration, RunFormatVersion
	r.ActionCount, r.Detailed = len(r.Actions), true
}

// trimmable returns the IDs of runs (summaries, oldest first) that lose their detail once the
// latest has been appended: detailed ones older than the RunDetailKept latest, except the latest
// Succeeded apply.
func trimmable(runs []RunSummary) []int {
	keepApply := 0
	for _, r := range runs {
		if r.Operation == OpApply && r.Outcome == StatusSucceeded && r.Detailed {
			keepApply = r.ID
		}
	}
	var out []int
	for i, r := range runs {
		if r.Detailed && i < len(runs)-RunDetailKept && r.ID != keepApply {
			out = append(out, r.ID)
		}
	}
	return out
}

// Clone returns a deep copy of f (nil for nil).
func (f *Forecast) Clone() *Forecast {
	if f == nil {
		return nil
	}
	c := *f
	c.CriticalPath = slices.Clone(f.CriticalPath)
	c.CriticalMS = slices.Clone(f.CriticalMS)
	return &c
}
