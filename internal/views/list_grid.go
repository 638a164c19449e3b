package views

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// listWidth is the width `pgferry list` cuts its values to fit, as far as the columns that are
// never cut allow: the contract's column headers alone take 139 columns.
const listWidth = 160

// listColumn is one column of the list grid.
type listColumn struct {
	head  string
	cells []string
	// least is the width below which the column's values are never cut; 0: never cut.
	least int
	// short is the cells' shorter form (a server's name without its address), used first when the
	// grid is too wide.
	short []string
}

// writeListGrid prints the migrations as a grid with the contract's columns (SPEC §2: Name,
// Status, Migration mode, Migration type, Source server, Source server type, Databases, Duration,
// Start time) and the target server, as narrow as their values allow: a server is
// "name (host:port)", or its name alone when the grid is wider than listWidth, and then the
// longest values are cut with "…". The headers alone take more than listWidth; they are kept
// whole, as scripts match them.
func writeListGrid(w io.Writer, rows []listRow) {
	cols := []*listColumn{
		{head: "Name", least: 30}, // the name is what show and apply take: cut only very long ones
		{head: "Status"},
		{head: "Migration mode"},
		{head: "Migration type", least: 14},
		{head: "Source server", least: 13},
		{head: "Source server type"},
		{head: "Target server", least: 13},
		{head: "Databases", least: 12},
		{head: "Duration"},
		{head: "Start time (UTC)"},
	}
	for _, r := range rows {
		cells := []string{r.Name, orDash(r.Status), orDash(r.MigrationMode), orDash(r.MigrationType), orDash(r.SourceServer), orDash(r.SourceServerType), orDash(r.TargetServer),
			orDash(strings.Join(r.Databases, ", ")), orDash(r.Duration), listTime(r.StartTime)}
		for i, c := range cells {
			cols[i].cells = append(cols[i].cells, c)
		}
		cols[4].short = append(cols[4].short, orDash(r.sourceName))
		cols[6].short = append(cols[6].short, orDash(r.targetName))
	}
	const gap = 2
	width := func() (sum int, widths []int) {
		for _, c := range cols {
			n := utf8.RuneCountInString(c.head)
			for _, v := range c.cells {
				n = max(n, utf8.RuneCountInString(v))
			}
			widths = append(widths, n)
			sum += n
		}
		return sum + gap*(len(cols)-1), widths
	}
	// The headers are kept whole: the budget is listWidth or their own width, the wider.
	budget := listWidth
	if heads := gap * (len(cols) - 1); true {
		for _, c := range cols {
			heads += utf8.RuneCountInString(c.head)
		}
		budget = max(budget, heads)
	}
	// Servers by name alone, the widest first, until the grid fits.
	for {
		sum, widths := width()
		if sum <= budget {
			break
		}
		widest := -1
		for i, c := range cols {
			if c.short != nil && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		cols[widest].cells, cols[widest].short = cols[widest].short, nil
	}
	// Then cut the widest cuttable column by one until the grid fits (or nothing can be cut).
	for {
		sum, widths := width()
		if sum <= budget {
			break
		}
		widest := -1
		for i, c := range cols {
			if c.least > 0 && widths[i] > c.least && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		for k, v := range cols[widest].cells {
			cols[widest].cells[k] = cut(v, widths[widest]-1)
		}
	}
	_, widths := width()
	line := func(get func(c *listColumn) string) {
		var b strings.Builder
		for i, c := range cols {
			v := get(c)
			b.WriteString(v)
			if i < len(cols)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-utf8.RuneCountInString(v)+gap))
			}
		}
		fmt.Fprintln(w, b.String())
	}
	line(func(c *listColumn) string { return c.head })
	for k := range rows {
		line(func(c *listColumn) string { return c.cells[k] })
	}
}

// cut shortens s to n runes, the last one "…".
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// listTime is a start time in the grid: to the minute, in UTC (the header says so).
func listTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}
