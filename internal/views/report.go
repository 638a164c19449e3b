package views

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// ReportData is everything `pgferry report` shows about one run of a migration (SPEC §7): plain
// data, filled by the caller from the state's runs. Times are absolute; an action's Start and End
// are offsets from the run's StartedAt so that thousands of them stay small.
type ReportData struct {
	Migration string
	// Run is the run's id (1, 2, 3, … per migration); Operation is apply, destroy or cancel.
	Run       int
	Operation string
	// Outcome is how the run ended: Succeeded, Failed, Interrupted or Canceled.
	Outcome    state.Status
	Error      string
	StartedAt  time.Time
	FinishedAt time.Time
	// GeneratedAt is when the report was written (zero: not shown).
	GeneratedAt time.Time

	PgferryVersion string
	Source, Target state.Identity
	Jobs           int

	Validations []state.Validation
	Sizes       ReportSizes
	// Phases is the wall time of each phase, in the order they ran.
	Phases  []ReportPhase
	Actions []ReportAction
	// Forecast is what the run's plan forecast (nil: none was made).
	Forecast *ReportForecast
	// History is every run of the migration, oldest first, this one included.
	History []ReportRun
}

// ReportSizes is how much the run had to move.
type ReportSizes struct {
	Databases int
	Tables    int
	Bytes     int64
	Rows      int64
}

// ReportPhase is one phase's wall time (first start to last end of its actions).
type ReportPhase struct {
	Name string
	Wall time.Duration
}

// ReportAction is one action as it ran: on which lane (0 to jobs-1), from when to when
// (offsets from the run's start; an action the run left running ends with the run), what it
// moved. Actions are drawn in the order given; their order is the tooltips' and bars' order.
type ReportAction struct {
	Address  string
	Type     string // plan.Type*: table, table_part, index, constraint, …
	Kind     state.ActionKind
	Database string
	Lane     int
	Start    time.Duration
	End      time.Duration
	Bytes    int64
	Rows     int64
	// Critical: the action is on the critical path, the chain of actions that bounded the run.
	Critical bool
	Error    string
}

// ReportForecast is a plan's forecast of the apply's wall time.
type ReportForecast struct {
	Expected, Low, High time.Duration
	Basis               string // rehearsal | model
	// BasisRun is the run the forecast was scaled from (0: none, a model).
	BasisRun     int
	CriticalPath []string
}

// ReportRun is one line of the migration's history.
type ReportRun struct {
	ID        int
	Operation string
	StartedAt time.Time
	Duration  time.Duration
	// Forecast is the forecast wall time (0: none).
	Forecast time.Duration
	Outcome  state.Status
}

// Duration is the run's wall time.
func (r *ReportData) Duration() time.Duration {
	if r.FinishedAt.Before(r.StartedAt) {
		return 0
	}
	return r.FinishedAt.Sub(r.StartedAt)
}

// span is an action's interval, never negative.
func (a ReportAction) span() (time.Duration, time.Duration) {
	start := max(a.Start, 0)
	return start, max(a.End, start)
}

// reportTable is one table's copy: its table action and its parts together.
type reportTable struct {
	Address    string
	Database   string
	Parts      int
	Bytes      int64
	Rows       int64
	Start, End time.Duration
}

func (t reportTable) Wall() time.Duration { return t.End - t.Start }

// MBps is the table's throughput in MB (10⁶ bytes) per second of wall time; 0 when unmeasurable.
func (t reportTable) MBps() float64 {
	if s := t.Wall().Seconds(); s > 0 {
		return float64(t.Bytes) / 1e6 / s
	}
	return 0
}

// RowsPerSec is the table's rows per second of wall time.
func (t reportTable) RowsPerSec() float64 {
	if s := t.Wall().Seconds(); s > 0 {
		return float64(t.Rows) / s
	}
	return 0
}

// tableOf is the address of the table whose rows a data action copies ("" for other actions).
func tableOf(a ReportAction) string {
	switch a.Type {
	case plan.TypeTable:
		return a.Address
	case plan.TypeTablePart:
		if i := strings.LastIndex(a.Address, ".part["); i > 0 {
			return a.Address[:i]
		}
		return a.Address
	}
	return ""
}

// reportTables groups the data actions by table, slowest first (then by address).
func reportTables(actions []ReportAction) []reportTable {
	byAddr := map[string]*reportTable{}
	var order []*reportTable
	for _, a := range actions {
		addr := tableOf(a)
		if addr == "" {
			continue
		}
		start, end := a.span()
		t := byAddr[addr]
		if t == nil {
			t = &reportTable{Address: addr, Database: a.Database, Start: start, End: end}
			byAddr[addr] = t
			order = append(order, t)
		}
		t.Start, t.End = min(t.Start, start), max(t.End, end)
		t.Bytes += a.Bytes
		t.Rows += a.Rows
		if a.Type == plan.TypeTablePart {
			t.Parts++
		}
	}
	tables := make([]reportTable, len(order))
	for i, t := range order {
		tables[i] = *t
	}
	sort.SliceStable(tables, func(i, j int) bool {
		if wi, wj := tables[i].Wall(), tables[j].Wall(); wi != wj {
			return wi > wj
		}
		return tables[i].Address < tables[j].Address
	})
	return tables
}

// criticalActions are the actions on the critical path, in the order they ran.
func criticalActions(actions []ReportAction) []ReportAction {
	var crit []ReportAction
	for _, a := range actions {
		if a.Critical {
			crit = append(crit, a)
		}
	}
	sort.SliceStable(crit, func(i, j int) bool { return crit[i].Start < crit[j].Start })
	return crit
}

// failedActions are the actions that ended in an error, in plan order.
func failedActions(actions []ReportAction) []ReportAction {
	var failed []ReportAction
	for _, a := range actions {
		if a.Error != "" {
			failed = append(failed, a)
		}
	}
	return failed
}

// lanes is how many lanes the timeline draws: the jobs, or more if an action ran on a higher one.
func (r *ReportData) lanes() int {
	n := max(r.Jobs, 1)
	for _, a := range r.Actions {
		n = max(n, a.Lane+1)
	}
	return n
}

// moved is what the run's actions moved in all.
func (r *ReportData) moved() (bytes, rows int64) {
	for _, a := range r.Actions {
		bytes += a.Bytes
		rows += a.Rows
	}
	return bytes, rows
}

// forecastError is how far the actual wall time is from the forecast, as a signed share: +0.1 is
// 10% slower than forecast. ok is false without a forecast.
func forecastError(actual, forecast time.Duration) (share float64, ok bool) {
	if forecast <= 0 || actual <= 0 {
		return 0, false
	}
	return (actual.Seconds() - forecast.Seconds()) / forecast.Seconds(), true
}

func formatForecastError(actual, forecast time.Duration) string {
	share, ok := forecastError(actual, forecast)
	if !ok {
		return ""
	}
	return fmt.Sprintf("%+.0f%%", share*100)
}

// offset renders an instant of the run, finer than dur so that neighbours stay apart: 1.97s.
func offset(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// rate renders a throughput compactly: 12.3, 1.2k, 3.4M.
func rate(v float64) string {
	switch {
	case v <= 0:
		return "–"
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// Report writes r as one self-contained HTML5 file: CSS and SVG inline, nothing loaded from
// anywhere (its Content-Security-Policy forbids it), readable printed.
func Report(w io.Writer, r ReportData) error {
	return reportTemplate.Execute(w, newReportPage(&r))
}
