package views

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// MarkdownLimit bounds what Markdown writes: always fewer bytes (so also characters) than this.
// GitHub refuses comments over 65,536 characters, and CI appends a footer of its own.
const MarkdownLimit = 65000

// Share of MarkdownLimit the validation table and the hazard list may take at most; the action
// list gets what is left. Real plans never reach these caps, pathological ones must not crowd out
// the actions entirely.
const (
	validationBudget = MarkdownLimit / 2
	hazardBudget     = MarkdownLimit / 8
	// Longest message shown in a validation table cell, in runes.
	maxCellMessage = 1000
)

// MarkdownMarker is the hidden first line of the pull-request comment for a migration; CI finds
// the comment to update by it.
func MarkdownMarker(migration string) string {
	return fmt.Sprintf("<!-- pgferry plan: %s -->", migration)
}

// Markdown renders p as a pull-request comment: the hidden marker, the outcome and the validation
// table above the fold, hazards, then the action list collapsed in <details>. The output never
// exceeds MarkdownLimit bytes: actions that do not fit are counted in a closing
// "... and N more actions" line.
func Markdown(w io.Writer, p *plan.Plan) {
	io.WriteString(w, markdown(p))
}

func markdown(p *plan.Plan) string {
	var head strings.Builder
	fmt.Fprintln(&head, MarkdownMarker(p.Migration))
	fmt.Fprintf(&head, "### pgferry plan: %s\n\n", mdText(p.Migration))
	fmt.Fprintf(&head, "%s → %s\n\n", mdText(clip(identity(p.Source), 300)), mdText(clip(identity(p.Target), 300)))
	switch {
	case p.ValidationFailed():
		n := p.Summary.Failed
		fmt.Fprintf(&head, "**❌ Validation failed: %d %s failed. Fix %s and plan again; apply does nothing until then.**\n\n",
			n, pl(n, "check", "checks"), pl(n, "it", "them"))
		if p.HasChanges() {
			fmt.Fprintf(&head, "Once fixed: %s\n\n", SummaryLine(p.Summary))
		}
	case !p.HasChanges():
		head.WriteString("**No changes. The target matches the source.**\n\n")
	default:
		// Written as is, so that it reads (and greps) the same as in the terminal; its one ~
		// cannot pair into a strikethrough.
		fmt.Fprintf(&head, "**%s**\n\n%s\n\n", SummaryLine(p.Summary), ActionsLine(p.Summary))
		if p.Forecast != nil {
			head.WriteString(mdForecast(p.Forecast))
		}
	}
	vals := mdValidations(p.Validations)
	hazards := mdHazards(p.Actions)

	if len(p.Actions) == 0 {
		return head.String() + vals + hazards
	}
	open := fmt.Sprintf("<details><summary>%d %s</summary>\n\n", len(p.Actions), pl(len(p.Actions), "action", "actions"))
	blocks := make([]string, len(p.Actions))
	for i, a := range p.Actions {
		blocks[i] = mdAction(a)
	}
	fence := codeFence(blocks)
	fenceOpen, fenceClose := fence+"diff\n", fence+"\n"
	const closeDetails = "\n</details>\n"
	more := func(n int) string {
		return fmt.Sprintf("\n... and %d more %s (run pgferry plan locally for the full list)\n", n, pl(n, "action", "actions"))
	}
	fixed := head.Len() + len(vals) + len(hazards) + len(open) + len(fenceOpen) + len(fenceClose) + len(closeDetails)
	// Strictly under the limit, whatever the count in the closing line turns out to be.
	room := MarkdownLimit - 1 - fixed - len(more(len(p.Actions)))
	var list strings.Builder
	shown := 0
	for _, b := range blocks {
		if list.Len()+len(b) > room {
			break
		}
		list.WriteString(b)
		shown++
	}
	if shown == len(p.Actions) {
		return head.String() + vals + hazards + open + fenceOpen + list.String() + fenceClose + closeDetails
	}
	if shown == 0 {
		// Not even one action fits: say how many there are instead of an empty block.
		return head.String() + vals + hazards + more(len(p.Actions))[1:]
	}
	return head.String() + vals + hazards + open + fenceOpen + list.String() + fenceClose + closeDetails + more(len(p.Actions)-shown)
}

// mdAction is one action of the diff block: `+ address  (estimates)`, and for the few
// non-compact actions the reason and details, indented so that only the first line is coloured.
func mdAction(a *plan.Action) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s%s\n", a.Kind.Symbol(), oneLine(a.Address), estimates(a))
	if !compact(a) {
		fmt.Fprintf(&b, "    # %s\n", oneLine(a.Reason))
		for _, d := range a.Details {
			fmt.Fprintf(&b, "    %s\n", oneLine(d))
		}
	}
	return b.String()
}

func estimates(a *plan.Action) string {
	if a.Type == plan.TypeExtension {
		return oneLine(extensionNote(a))
	}
	var parts []string
	if a.Type == plan.TypeTable {
		parts = append(parts, "~"+Rows(a.RowsEstimate))
	}
	if a.BytesEstimate > 0 || a.Type == plan.TypeTable {
		parts = append(parts, Bytes(a.BytesEstimate))
	}
	if len(parts) == 0 {
		return ""
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}

// mdValidations is the count line, a table of the validations that did not succeed (those a
// reviewer must read), and every validation in plan order inside a collapsed <details>.
func mdValidations(vals []state.Validation) string {
	if len(vals) == 0 {
		return ""
	}
	var failed, warned, ok int
	var notOK []state.Validation
	for _, v := range vals {
		switch v.Outcome {
		case "Failed":
			failed++
		case "Warning":
			warned++
		case "Succeeded":
			ok++
		}
		if v.Outcome != "Succeeded" {
			notOK = append(notOK, v)
		}
	}
	var b strings.Builder
	b.WriteString("#### Validations\n\n")
	if ok == len(vals) {
		fmt.Fprintf(&b, "✅ All %s succeeded.\n\n", english.Count(ok, "validation"))
	} else {
		counts := []string{fmt.Sprintf("%d of %s succeeded", ok, english.Count(len(vals), "validation"))}
		if failed > 0 {
			counts = append(counts, fmt.Sprintf("❌ %d failed", failed))
		}
		if warned > 0 {
			counts = append(counts, fmt.Sprintf("⚠️ %s", english.Count(warned, "warning")))
		}
		if other := len(vals) - failed - warned - ok; other > 0 {
			counts = append(counts, fmt.Sprintf("❔ %d other", other))
		}
		fmt.Fprintf(&b, "%s\n\n", strings.Join(counts, " · "))
		// The ones to read, above the fold; half the budget, the full table gets the rest.
		b.WriteString(mdValidationTable(notOK, validationBudget/2))
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "<details><summary>All %s</summary>\n\n", english.Count(len(vals), "validation"))
	b.WriteString(mdValidationTable(vals, validationBudget-b.Len()))
	b.WriteString("\n</details>\n\n")
	return b.String()
}

// mdValidationTable is a table of vals that fits in budget bytes: the rows that do not fit are
// counted in a closing row.
func mdValidationTable(vals []state.Validation, budget int) string {
	var b strings.Builder
	b.WriteString("| | Check | Level | Database | Outcome | Message |\n|---|---|---|---|---|---|\n")
	for i, v := range vals {
		// Inside a table an unescaped | splits the row even in code.
		row := fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n", outcomeIcon(v.Outcome), strings.ReplaceAll(codeSpan(v.ID), "|", "\\|"), cell(v.Level),
			cell(v.Database), cell(string(v.Outcome)), validationMessage(v))
		if rest := len(vals) - i; b.Len()+len(row) > budget-200 {
			fmt.Fprintf(&b, "| | … | | | | and %d more %s: run pgferry plan locally for the full report |\n", rest, pl(rest, "check", "checks"))
			break
		}
		b.WriteString(row)
	}
	return b.String()
}

func outcomeIcon(outcome state.Outcome) string {
	switch outcome {
	case "Succeeded":
		return "✅"
	case "Warning":
		return "⚠️"
	case "Failed":
		return "❌"
	}
	return "❔"
}

func validationMessage(v state.Validation) string {
	msg := cell(clip(v.Message, maxCellMessage))
	if len(v.Objects) > 0 {
		objs, more := v.Objects, ""
		if len(objs) > 10 {
			objs, more = objs[:10], fmt.Sprintf(" and %d more", len(v.Objects)-10)
		}
		msg += "<br>Objects: " + cell(clip(strings.Join(objs, ", "), maxCellMessage)) + more
	}
	return msg
}

// mdHazards lists every action's hazards, in plan order.
func mdHazards(actions []*plan.Action) string {
	var items []string
	for _, a := range actions {
		for _, h := range a.Hazards {
			items = append(items, fmt.Sprintf("- ⚠️ %s on %s: %s\n", codeSpan(h.Code), codeSpan(a.Address), mdText(oneLine(h.Message))))
		}
	}
	if len(items) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("#### Hazards\n\n")
	for i, it := range items {
		if rest := len(items) - i; b.Len()+len(it) > hazardBudget-200 {
			fmt.Fprintf(&b, "- … and %d more %s: run pgferry plan locally for the full list\n", rest, pl(rest, "hazard", "hazards"))
			break
		}
		b.WriteString(it)
	}
	b.WriteString("\n")
	return b.String()
}

// cell makes s safe inside a table cell: a newline or an unescaped | would end the cell or the
// row, and a < could open an HTML tag.
func cell(s string) string {
	s = strings.NewReplacer("\\", "\\\\", "|", "\\|", "<", "&lt;", ">", "&gt;").Replace(s)
	return strings.NewReplacer("\r\n", "<br>", "\n", "<br>", "\r", "<br>").Replace(s)
}

// mdText escapes Markdown punctuation in running text so that names render as written.
func mdText(s string) string {
	return strings.NewReplacer(
		"\\", "\\\\", "*", "\\*", "_", "\\_", "~", "\\~", "`", "\\`", "[", "\\[", "]", "\\]",
		"|", "\\|", "<", "&lt;", ">", "&gt;", "\r\n", " ", "\n", " ", "\r", " ",
	).Replace(s)
}

// codeSpan renders s as inline code, with a backtick run longer than any in s, so that any name
// survives (CommonMark strips one space on each side when the content touches a backtick).
func codeSpan(s string) string {
	s = oneLine(s)
	ticks := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		s = " " + s + " "
	}
	return ticks + s + ticks
}

// codeFence picks a fence that none of the lines can close.
func codeFence(blocks []string) string {
	n := 3
	for _, b := range blocks {
		n = max(n, longestRun(b, '`')+1)
	}
	return strings.Repeat("`", n)
}

func longestRun(s string, c byte) int {
	best, run := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// clip shortens s to at most n runes, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// mdForecast is the plan's forecast in the summary: expected time and range, basis, critical path
// (its longest steps, addresses as code), note; or why there is none.
func mdForecast(f *state.Forecast) string {
	if f.Unavailable != "" {
		return fmt.Sprintf("**Forecast:** unavailable: %s\n\n", mdText(clip(f.Unavailable, 500)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "**Forecast:** apply will take about **%s** (%s to %s); basis: %s.", msDuration(f.ExpectedMS), msDuration(f.LowMS), msDuration(f.HighMS), mdText(ForecastBasis(f)))
	if path := CriticalPath(f, func(a string) string { return codeSpan(clip(a, 300)) }); path != "" {
		fmt.Fprintf(&b, " Bounded by %s.", path)
	}
	if f.Note != "" {
		fmt.Fprintf(&b, " Note: %s.", mdText(clip(f.Note, 300)))
	}
	b.WriteString("\n\n")
	return b.String()
}
