package views

// history: every run of a migration (SPEC §7), newest first.

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/pgferry/pgferry/state"
)

// HistoryFormatVersion is the version of the `history --json` document.
const HistoryFormatVersion = "1.0"

// HistoryDoc is `history --json`: one document, runs newest first.
type HistoryDoc struct {
	FormatVersion string       `json:"format_version"`
	Migration     string       `json:"migration"`
	Runs          []HistoryRun `json:"runs"`
}

// HistoryRun is one run in `history --json`.
type HistoryRun struct {
	ID              int                `json:"id"`
	Operation       state.Operation    `json:"operation"`
	StartedAt       time.Time          `json:"started_at"`
	FinishedAt      time.Time          `json:"finished_at"`
	DurationSeconds float64            `json:"duration_seconds"`
	Outcome         state.Status       `json:"outcome"`
	Error           string             `json:"error,omitempty"`
	Jobs            int                `json:"jobs,omitempty"`
	ToolVersion     string             `json:"pgferry_version"`
	Bytes           int64              `json:"bytes"`
	Rows            int64              `json:"rows"`
	Phases          map[string]float64 `json:"phases"`
	ForecastSeconds *float64           `json:"forecast_seconds"`
	// ForecastErrorPercent is how far the actual duration was from the forecast (+: slower).
	ForecastErrorPercent *float64 `json:"forecast_error_percent"`
}

// NewHistoryDoc is the history document of a migration's runs (as the backend lists them,
// oldest first).
func NewHistoryDoc(migration string, runs []state.RunSummary) HistoryDoc {
	doc := HistoryDoc{FormatVersion: HistoryFormatVersion, Migration: migration, Runs: []HistoryRun{}}
	for _, r := range slices.Backward(runs) {
		h := HistoryRun{ID: r.ID, Operation: r.Operation, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
			DurationSeconds: seconds(r.Duration().Milliseconds()), Outcome: r.Outcome, Error: r.Error, Jobs: r.Jobs,
			ToolVersion: r.ToolVersion, Bytes: r.Bytes, Rows: r.Rows, Phases: map[string]float64{}}
		for ph, ms := range r.PhasesMS {
			h.Phases[ph] = seconds(ms)
		}
		if f := r.Forecast; f != nil && f.ExpectedMS > 0 {
			fs := seconds(f.ExpectedMS)
			h.ForecastSeconds = &fs
			e := math.Round(1000*(float64(r.Duration().Milliseconds())-float64(f.ExpectedMS))/float64(f.ExpectedMS)) / 10
			h.ForecastErrorPercent = &e
		}
		doc.Runs = append(doc.Runs, h)
	}
	return doc
}

func seconds(ms int64) float64 { return float64(ms) / 1000 }

// HistoryJSON writes `history --json`.
func HistoryJSON(w io.Writer, migration string, runs []state.RunSummary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(NewHistoryDoc(migration, runs))
}

// History writes the human history: one line per run, newest first, then the errors of failed runs.
func History(w io.Writer, migration string, runs []state.RunSummary) {
	if len(runs) == 0 {
		fmt.Fprintf(w, "Migration %q has no runs yet: every apply, destroy and cancel is recorded here once it ran.\n", migration)
		return
	}
	fmt.Fprintf(w, "Runs of migration %q, newest first:\n\n", migration)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Run\tOperation\tStarted (UTC)\tDuration\tOutcome\tData\tThroughput\tForecast\tForecast error")
	doc := NewHistoryDoc(migration, runs)
	for _, r := range doc.Runs {
		data, rate := "-", "-"
		if r.Bytes > 0 || r.Rows > 0 {
			data = Bytes(r.Bytes) + ", " + Rows(r.Rows)
			if r.DurationSeconds > 0 {
				rate = Bytes(int64(float64(r.Bytes)/r.DurationSeconds)) + "/s"
			}
		}
		forecast, ferr := "-", "-"
		if r.ForecastSeconds != nil {
			forecast = Duration(time.Duration(*r.ForecastSeconds * float64(time.Second)))
			ferr = fmt.Sprintf("%+.0f%%", *r.ForecastErrorPercent)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Operation, r.StartedAt.UTC().Format("2006-01-02 15:04:05"),
			Duration(time.Duration(r.DurationSeconds*float64(time.Second))), r.Outcome, data, rate, forecast, ferr)
	}
	tw.Flush()
	for _, r := range doc.Runs {
		if r.Error != "" {
			fmt.Fprintf(w, "\nRun %d (%s, %s): %s\n", r.ID, r.Operation, r.Outcome, r.Error)
		}
	}
}

// RunNotRecorded warns that a run could not be kept in the history (the command itself went on).
func RunNotRecorded(w io.Writer, err error) {
	fmt.Fprintf(w, "\n%s %v: pgferry history will not list this run.\n", yellow(bold("Warning:")), err)
}

// DeadRunRecorded says that the run of an apply whose process died (r) was recorded now, by the
// next command to take the migration's lock.
func DeadRunRecorded(w io.Writer, r *state.Run) {
	fmt.Fprintf(w, "The apply started %s UTC stopped without recording its run: its process was killed or its machine stopped. Recorded it as run %d, Interrupted, ending at its last state write %s later (pgferry history).\n",
		r.StartedAt.UTC().Format("2006-01-02 15:04:05"), r.ID, Duration(r.Duration()))
}

// HistoryView renders `pgferry history`.
type HistoryView interface {
	// Runs renders the runs of migration, oldest first as the backend keeps them.
	Runs(migration string, runs []state.RunSummary) error
}

// NewHistory chooses the history view: JSONView or HumanView.
func NewHistory(t ViewType, v *View) HistoryView {
	if t == JSONView {
		return historyJSON{v}
	}
	return historyHuman{v}
}

type historyHuman struct{ *View }

func (h historyHuman) Runs(migration string, runs []state.RunSummary) error {
	History(h.Stdout, migration, runs)
	return nil
}

type historyJSON struct{ *View }

func (j historyJSON) Runs(migration string, runs []state.RunSummary) error {
	return HistoryJSON(j.Stdout, migration, runs)
}
