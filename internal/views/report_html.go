package views

import (
	_ "embed"
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/state"
)

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Parse(reportHTML))

// reportPage is what the HTML template shows, every figure already formatted.
type reportPage struct {
	Title        string
	Migration    string
	Run          int
	Operation    string
	Outcome      string
	OutcomeClass string
	Error        string
	Generated    string
	Figures      []reportFigure
	Environment  []reportFigure

	ValidationSummary string
	Validations       []reportValidation
	Phases            []reportPhaseRow
	Gantt             gantt
	Lanes             int
	ActionCount       int
	Critical          []reportCritical
	Failed            []reportFailed
	Tables            []reportTableRow
	Forecast          *reportForecastView
	History           historyChart
	Runs              []reportRunRow
}

type reportFigure struct{ Label, Value, Note string }

type reportValidation struct {
	Class, ID, Level, Database, Outcome, Message string
	Objects                                      []string
}

type reportPhaseRow struct{ Name, Wall, Share string }

type reportCritical struct{ Address, What, Lane, Start, End, Took string }

type reportFailed struct{ Address, Error string }

type reportTableRow struct {
	Address, Database, Parts, Rows, Size, Time, MBps, RowsPerSec string
}

type reportForecastView struct {
	Expected, Low, High, Basis, Actual, Error string
	CriticalPath                              []string
}

type reportRunRow struct {
	Class, ID, Operation, Started, Duration, Forecast, Error, Outcome string
}

func outcomeClass(s state.Status) string {
	switch s {
	case state.StatusSucceeded:
		return "ok"
	case state.StatusFailed, state.StatusValidationFailed:
		return "fail"
	}
	return "warn"
}

func validationClass(o state.Outcome) string {
	switch o {
	case state.Succeeded:
		return "ok"
	case state.Failed:
		return "fail"
	}
	return "warn"
}

func newReportPage(r *ReportData) reportPage {
	p := reportPage{
		Title:        fmt.Sprintf("pgferry report: %s, run %d (%s)", r.Migration, r.Run, r.Operation),
		Migration:    r.Migration,
		Run:          r.Run,
		Operation:    r.Operation,
		Outcome:      string(r.Outcome),
		OutcomeClass: outcomeClass(r.Outcome),
		Error:        r.Error,
		Lanes:        r.lanes(),
		ActionCount:  len(r.Actions),
		Gantt:        newGantt(r),
		History:      newHistoryChart(r),
	}
	if !r.GeneratedAt.IsZero() {
		p.Generated = stamp(r.GeneratedAt)
	}
	p.Figures = reportFigures(r)
	p.Environment = []reportFigure{
		{Label: "Source", Value: identity(r.Source)},
		{Label: "Target", Value: identity(r.Target)},
		{Label: "pgferry", Value: r.PgferryVersion},
		{Label: "Jobs", Value: fmt.Sprint(r.Jobs)},
		{Label: "Started", Value: stamp(r.StartedAt)},
		{Label: "Finished", Value: stamp(r.FinishedAt)},
	}
	p.ValidationSummary, p.Validations = reportValidations(r.Validations)
	total := r.Duration()
	for _, ph := range r.Phases {
		share := ""
		if total > 0 {
			share = fmt.Sprintf("%.0f%%", 100*ph.Wall.Seconds()/total.Seconds())
		}
		p.Phases = append(p.Phases, reportPhaseRow{Name: ph.Name, Wall: Duration(ph.Wall), Share: share})
	}
	for _, a := range criticalActions(r.Actions) {
		start, end := a.span()
		p.Critical = append(p.Critical, reportCritical{Address: a.Address, What: a.Type,
			Lane: fmt.Sprint(a.Lane + 1), Start: offset(start), End: offset(end), Took: Duration(end - start)})
	}
	for _, a := range failedActions(r.Actions) {
		p.Failed = append(p.Failed, reportFailed{Address: a.Address, Error: a.Error})
	}
	for _, t := range reportTables(r.Actions) {
		parts := ""
		if t.Parts > 0 {
			parts = fmt.Sprint(t.Parts)
		}
		p.Tables = append(p.Tables, reportTableRow{Address: t.Address, Database: t.Database, Parts: parts,
			Rows: Count(t.Rows), Size: Bytes(t.Bytes), Time: Duration(t.Wall()), MBps: rate(t.MBps()), RowsPerSec: rate(t.RowsPerSec())})
	}
	if f := r.Forecast; f != nil {
		v := &reportForecastView{Expected: Duration(f.Expected), Low: Duration(f.Low), High: Duration(f.High), Basis: forecastBasis(f),
			CriticalPath: f.CriticalPath}
		if r.Operation == "apply" && total > 0 {
			v.Actual, v.Error = Duration(total), formatForecastError(total, f.Expected)
		}
		p.Forecast = v
	}
	for _, h := range r.History {
		row := reportRunRow{Class: outcomeClass(h.Outcome), ID: fmt.Sprint(h.ID), Operation: h.Operation, Started: stamp(h.StartedAt),
			Duration: Duration(h.Duration), Outcome: string(h.Outcome)}
		if h.ID == r.Run {
			row.Class += " current"
		}
		if h.Forecast > 0 {
			row.Forecast, row.Error = Duration(h.Forecast), formatForecastError(h.Duration, h.Forecast)
		}
		p.Runs = append(p.Runs, row)
	}
	return p
}

// reportFigures are the header's key figures: wall time against forecast, what moved, how fast.
func reportFigures(r *ReportData) []reportFigure {
	total := r.Duration()
	bytes, rows := r.moved()
	figs := []reportFigure{{Label: "Wall time", Value: Duration(total)}}
	if f := r.Forecast; f != nil && r.Operation == "apply" {
		note := fmt.Sprintf("forecast %s (%s–%s)", Duration(f.Expected), Duration(f.Low), Duration(f.High))
		if e := formatForecastError(total, f.Expected); e != "" {
			note += ", " + e
		}
		figs[0].Note = note
	}
	figs = append(figs,
		reportFigure{Label: "Data moved", Value: Bytes(bytes), Note: Rows(rows)},
		reportFigure{Label: "Throughput", Value: rate(perSecond(float64(bytes)/1e6, total)) + " MB/s",
			Note: rate(perSecond(float64(rows), total)) + " rows/s"},
		reportFigure{Label: "Size", Value: Bytes(r.Sizes.Bytes), Note: fmt.Sprintf("%s, %s, %s",
			english.Count(r.Sizes.Databases, "database"), english.Count(r.Sizes.Tables, "table"), Rows(r.Sizes.Rows))},
		reportFigure{Label: "Actions", Value: fmt.Sprint(len(r.Actions)), Note: fmt.Sprintf("on %s", english.Count(r.lanes(), "lane"))},
	)
	return figs
}

func perSecond(v float64, d time.Duration) float64 {
	if s := d.Seconds(); s > 0 {
		return v / s
	}
	return 0
}

func forecastBasis(f *ReportForecast) string {
	switch {
	case f.Basis == "rehearsal" && f.BasisRun > 0:
		return fmt.Sprintf("rehearsal: run %d scaled to this plan's sizes and jobs", f.BasisRun)
	case f.Basis == "model":
		return "model of this plan measured against these servers"
	}
	return f.Basis
}

// reportValidations counts the outcomes and lists every validation, the ones to read first.
func reportValidations(vals []state.Validation) (string, []reportValidation) {
	counts := map[state.Outcome]int{}
	var rows, ok []reportValidation
	for _, v := range vals {
		counts[v.Outcome]++
		row := reportValidation{Class: validationClass(v.Outcome), ID: v.ID, Level: v.Level,
			Database: v.Database, Outcome: string(v.Outcome), Message: v.Message, Objects: v.Objects}
		if v.Outcome == state.Succeeded {
			ok = append(ok, row)
		} else {
			rows = append(rows, row)
		}
	}
	if len(vals) == 0 {
		return "No validations were recorded for this run.", nil
	}
	parts := []string{fmt.Sprintf("%d of %s succeeded", counts[state.Succeeded], english.Count(len(vals), "validation"))}
	if n := counts[state.Failed]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", n))
	}
	if n := counts[state.Warning]; n > 0 {
		parts = append(parts, english.Count(n, "warning"))
	}
	return strings.Join(parts, " · "), append(rows, ok...)
}
