package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/state"
)

// ReportMarkdown writes the facts of Report as GitHub Markdown for a change ticket: tables and
// lists, no HTML. It stays under MarkdownLimit bytes: the validations and the per-table throughput
// rows that do not fit are counted in a closing row (the HTML report lists them all).
func ReportMarkdown(w io.Writer, r ReportData) error {
	_, err := io.WriteString(w, reportMarkdown(&r))
	return err
}

func reportMarkdown(r *ReportData) string {
	var head strings.Builder
	fmt.Fprintf(&head, "### pgferry report: %s, run %d (%s)\n\n", mdText(r.Migration), r.Run, mdText(r.Operation))
	fmt.Fprintf(&head, "**%s %s** in %s", statusIcon(r.Outcome), mdText(string(r.Outcome)), Duration(r.Duration()))
	if f := r.Forecast; f != nil && r.Operation == "apply" {
		fmt.Fprintf(&head, " (forecast %s, range %s to %s", Duration(f.Expected), Duration(f.Low), Duration(f.High))
		if e := formatForecastError(r.Duration(), f.Expected); e != "" {
			fmt.Fprintf(&head, ", %s", e)
		}
		head.WriteString(")")
	}
	head.WriteString("\n\n")
	if r.Error != "" {
		fmt.Fprintf(&head, "> %s\n\n", mdText(clip(r.Error, maxCellMessage)))
	}
	bytes, rows := r.moved()
	head.WriteString("| | |\n|---|---|\n")
	for _, f := range [][2]string{
		{"Started", stamp(r.StartedAt)},
		{"Finished", stamp(r.FinishedAt)},
		{"Source", identity(r.Source)},
		{"Target", identity(r.Target)},
		{"pgferry", r.PgferryVersion},
		{"Jobs", fmt.Sprint(r.Jobs)},
		{"Size", fmt.Sprintf("%s, %s, %s, %s", english.Count(r.Sizes.Databases, "database"), english.Count(r.Sizes.Tables, "table"),
			Bytes(r.Sizes.Bytes), Rows(r.Sizes.Rows))},
		{"Moved", fmt.Sprintf("%s, %s in %s", Bytes(bytes), Rows(rows), english.Count(len(r.Actions), "action"))},
		{"Throughput", fmt.Sprintf("%s MB/s, %s rows/s", rate(perSecond(float64(bytes)/1e6, r.Duration())), rate(perSecond(float64(rows), r.Duration())))},
	} {
		fmt.Fprintf(&head, "| %s | %s |\n", f[0], mdCell(f[1]))
	}
	head.WriteString("\n")
	head.WriteString(mdReportValidations(r.Validations))
	head.WriteString(mdReportPhases(r))
	head.WriteString(mdReportCritical(r))
	tail := mdReportForecast(r) + mdReportHistory(r)
	tables := mdReportTables(r, MarkdownLimit-head.Len()-len(tail))
	return head.String() + tables + tail
}

func statusIcon(s state.Status) string {
	switch outcomeClass(s) {
	case "ok":
		return "✅"
	case "fail":
		return "❌"
	}
	return "⚠️"
}

// mdCell makes s one safe table cell: no newline, no unescaped |, no tag.
func mdCell(s string) string {
	return strings.NewReplacer("\\", "\\\\", "|", "\\|", "<", "&lt;", ">", "&gt;", "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// mdCode is s as inline code inside a table cell.
func mdCode(s string) string {
	return strings.ReplaceAll(codeSpan(s), "|", "\\|")
}

func mdReportValidations(vals []state.Validation) string {
	summary, rows := reportValidations(vals)
	var b strings.Builder
	fmt.Fprintf(&b, "#### Validations\n\n%s\n\n", summary)
	if len(rows) == 0 {
		return b.String()
	}
	b.WriteString("| | Check | Level | Database | Outcome | Message |\n|---|---|---|---|---|---|\n")
	for i, v := range rows {
		msg := mdCell(clip(v.Message, maxCellMessage))
		if len(v.Objects) > 0 {
			objs, more := v.Objects, ""
			if len(objs) > 10 {
				objs, more = objs[:10], fmt.Sprintf(" and %d more", len(v.Objects)-10)
			}
			msg += " (objects: " + mdCell(clip(strings.Join(objs, ", "), maxCellMessage)) + more + ")"
		}
		row := fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n", outcomeIcon(state.Outcome(v.Outcome)), mdCode(v.ID), mdCell(v.Level), mdCell(v.Database), mdCell(v.Outcome), msg)
		if rest := len(rows) - i; b.Len()+len(row) > validationBudget-200 {
			fmt.Fprintf(&b, "| | … | | | | and %d more %s: the HTML report lists them all |\n", rest, pl(rest, "check", "checks"))
			break
		}
		b.WriteString(row)
	}
	b.WriteString("\n")
	return b.String()
}

func mdReportPhases(r *ReportData) string {
	if len(r.Phases) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("#### Time per phase\n\n| Phase | Wall time | Share of the run |\n|---|--:|--:|\n")
	total := r.Duration()
	for _, ph := range r.Phases {
		share := ""
		if total > 0 {
			share = fmt.Sprintf("%.0f%%", 100*ph.Wall.Seconds()/total.Seconds())
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", mdCell(ph.Name), Duration(ph.Wall), share)
	}
	b.WriteString("\n")
	return b.String()
}

// mdReportCritical is the critical path and the actions that failed, at most a few dozen each.
func mdReportCritical(r *ReportData) string {
	const most = 50
	var b strings.Builder
	if crit := criticalActions(r.Actions); len(crit) > 0 {
		b.WriteString("#### Critical path\n\nThe chain of actions that bounded the run:\n\n")
		for i, a := range crit {
			if i == most {
				fmt.Fprintf(&b, "%d. … and %d more\n", i+1, len(crit)-most)
				break
			}
			start, end := a.span()
			fmt.Fprintf(&b, "%d. %s (%s) %s (lane %d, %s → %s)\n", i+1, codeSpan(a.Address), mdText(a.Type),
				Duration(end-start), a.Lane+1, offset(start), offset(end))
		}
		b.WriteString("\n")
	}
	if failed := failedActions(r.Actions); len(failed) > 0 {
		b.WriteString("#### Failed actions\n\n| Action | Error |\n|---|---|\n")
		for i, a := range failed {
			if i == most {
				fmt.Fprintf(&b, "| … | and %d more |\n", len(failed)-most)
				break
			}
			fmt.Fprintf(&b, "| %s | %s |\n", mdCode(a.Address), mdCell(clip(a.Error, maxCellMessage)))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// mdReportTables is the per-table throughput, slowest first, in budget bytes.
func mdReportTables(r *ReportData, budget int) string {
	tables := reportTables(r.Actions)
	if len(tables) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("#### Throughput per table\n\nSlowest first; MB are 10⁶ bytes.\n\n| Table | Parts | Rows | Size | Time | MB/s | rows/s |\n|---|--:|--:|--:|--:|--:|--:|\n")
	for i, t := range tables {
		parts := ""
		if t.Parts > 0 {
			parts = fmt.Sprint(t.Parts)
		}
		row := fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s |\n", mdCode(clip(t.Address, 300)), parts, Count(t.Rows), Bytes(t.Bytes),
			Duration(t.Wall()), rate(t.MBps()), rate(t.RowsPerSec()))
		if rest := len(tables) - i; b.Len()+len(row) > budget-200 {
			fmt.Fprintf(&b, "| … and %d more %s: the HTML report lists them all | | | | | | |\n", rest, pl(rest, "table", "tables"))
			break
		}
		b.WriteString(row)
	}
	b.WriteString("\n")
	return b.String()
}

func mdReportForecast(r *ReportData) string {
	f := r.Forecast
	if f == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#### Forecast\n\nExpected %s (range %s to %s); basis: %s.\n", Duration(f.Expected), Duration(f.Low), Duration(f.High), mdText(forecastBasis(f)))
	if len(f.CriticalPath) > 0 {
		path := f.CriticalPath
		more := ""
		if len(path) > 20 {
			path, more = path[:20], fmt.Sprintf(" → … %d more", len(f.CriticalPath)-20)
		}
		parts := make([]string, len(path))
		for i, a := range path {
			parts[i] = codeSpan(clip(a, 300))
		}
		fmt.Fprintf(&b, "Forecast critical path: %s%s\n", strings.Join(parts, " → "), more)
	}
	b.WriteString("\n")
	return b.String()
}

// mdReportHistory is the migration's last runs (dozens at most fit any ticket).
func mdReportHistory(r *ReportData) string {
	const most = 50
	if len(r.History) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("#### History\n\n| Run | Operation | Started | Duration | Forecast | Error | Outcome |\n|--:|---|---|--:|--:|--:|---|\n")
	runs := r.History
	if len(runs) > most {
		fmt.Fprintf(&b, "| … | %d earlier runs | | | | | |\n", len(runs)-most)
		runs = runs[len(runs)-most:]
	}
	for _, h := range runs {
		id := fmt.Sprint(h.ID)
		if h.ID == r.Run {
			id = "**" + id + "**"
		}
		forecast, e := "", ""
		if h.Forecast > 0 {
			forecast, e = Duration(h.Forecast), formatForecastError(h.Duration, h.Forecast)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s %s |\n", id, mdCell(h.Operation), stamp(h.StartedAt), Duration(h.Duration), forecast, e,
			statusIcon(h.Outcome), mdCell(string(h.Outcome)))
	}
	return b.String()
}
