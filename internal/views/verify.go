package views

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/pgferry/pgferry/internal/verify"

	"github.com/pgferry/pgferry/state"
)

// VerifyReport is what `pgferry verify` found: per database the differences and the per-table
// comparison, with what is needed to attach it to a change ticket (servers, mode, time).
type VerifyReport struct {
	Migration      string
	Mode           string // count | checksum
	Source, Target state.Identity
	At             time.Time
	Elapsed        time.Duration
	Databases      []VerifyDatabase
}

// VerifyDatabase is the comparison of one database.
type VerifyDatabase struct {
	Name    string
	Present bool // on the target
	// SourceTables is how many tables the source has to compare; shown for a database missing on
	// the target, whose tables were not compared one by one.
	SourceTables int
	Differences  []verify.Difference
	Tables       []verify.TableResult
}

// Caps of the human and Markdown listings; `verify --json` always has everything.
const (
	// fewTables: a database with at most this many tables lists every table, matching or not.
	fewTables = 10
	// maxTableRows: tables that differ listed per database before "... and N more".
	maxTableRows = 10
	// maxPerKind: differences of one kind (e.g. missing indexes) listed before "... and N more".
	maxPerKind = 10
	// Longest table or object name in a Markdown cell, in runes.
	maxMdName = 200
)

// DifferenceCount is the number of differences over all databases; verify exits 1 when it is not 0.
func (r *VerifyReport) DifferenceCount() int {
	n := 0
	for _, d := range r.Databases {
		n += len(d.Differences)
	}
	return n
}

// verifyTable is one row of the per-table summary.
type verifyTable struct {
	Database string
	Table    string
	Source   int64
	Target   int64
	// OnSource and OnTarget: whether the table exists there (its rows were counted there).
	OnSource, OnTarget bool
	Counted            bool   // its rows were counted on both sides (tables missing on one side are not)
	Checksum           string // match | differs | "" (not compared: count mode or a side missing)
	Result             string // match, or what differs
	OK                 bool
}

// verifySummary counts what one database, or the whole run, found.
type verifySummary struct {
	Databases        int
	DatabasesMissing int
	Tables           int // tables of the source compared (present on the target or missing there)
	TablesDiffer     int // of those, the ones that do not match (missing ones included)
	TablesMissing    int
	RowsSource       int64
	RowsTarget       int64
	Missing          typeCounts // objects other than tables missing on the target
	Extra            typeCounts // objects, tables too, only on the target
	Other            int        // every other difference: definitions, sequences, counts, large objects
	Differences      int
}

// typeCounts counts objects by type, in the order the types were first seen.
type typeCounts struct {
	order []string
	n     map[string]int
}

func (t *typeCounts) add(typ string, n int) {
	if n == 0 {
		return
	}
	if t.n == nil {
		t.n = map[string]int{}
	}
	if _, ok := t.n[typ]; !ok {
		t.order = append(t.order, typ)
	}
	t.n[typ] += n
}

func (t typeCounts) total() int {
	s := 0
	for _, n := range t.n {
		s += n
	}
	return s
}

// String renders "60 indexes, 2 constraints".
func (t typeCounts) String() string {
	var parts []string
	for _, typ := range t.order {
		parts = append(parts, fmt.Sprintf("%d %s", t.n[typ], objectNoun(typ, t.n[typ])))
	}
	return strings.Join(parts, ", ")
}

// objectType is the kind of object a difference is about: the first word of its object ("table
// public.t" → table), or the whole object when it has no name ("large objects", "functions").
func objectType(d verify.Difference) (typ, name string) {
	switch {
	case strings.HasPrefix(d.Object, "large objects"):
		return "large objects", ""
	case d.Kind == "count":
		return d.Object, ""
	}
	if i := strings.IndexByte(d.Object, ' '); i > 0 {
		return d.Object[:i], d.Object[i+1:]
	}
	return d.Object, ""
}

func objectNoun(typ string, n int) string {
	if n == 1 {
		return typ
	}
	switch typ {
	case "index":
		return "indexes"
	case "table", "constraint", "sequence", "extension", "database":
		return typ + "s"
	}
	return typ
}

// tableRows is the per-table comparison of d: every compared table with its result, the tables
// missing on the target and those only on the target, by name.
func tableRows(mode string, d VerifyDatabase) []verifyTable {
	byName := map[string]*verifyTable{}
	var rows []*verifyTable
	for _, t := range d.Tables {
		v := &verifyTable{Database: d.Name, Table: t.Table, Source: t.SourceRows, Target: t.TargetRows, OnSource: true, OnTarget: true, Counted: true, OK: true, Result: "match"}
		if mode == "checksum" {
			v.Checksum = "match"
			if t.SourceChecksum != t.TargetChecksum || t.SourceRows != t.TargetRows {
				v.Checksum = "differs"
			}
		}
		byName[t.Table] = v
		rows = append(rows, v)
	}
	for _, df := range d.Differences {
		typ, name := objectType(df)
		if typ != "table" {
			continue
		}
		v := byName[name]
		if v == nil {
			v = &verifyTable{Database: d.Name, Table: name, OnSource: df.Kind != "extra", OnTarget: df.Kind != "missing"}
			byName[name] = v
			rows = append(rows, v)
		}
		var what string
		switch df.Kind {
		case "missing":
			what = "missing on the target"
		case "extra":
			what = "only on the target"
		case "definition":
			what = "columns differ"
		default:
			what = df.Kind + " differs"
			if df.RowsDiffering > 0 {
				what += fmt.Sprintf(" (%d %s)", df.RowsDiffering, pl(df.RowsDiffering, "row", "rows"))
			}
		}
		if v.OK || v.Result == "" {
			v.Result = what
		} else {
			v.Result += "; " + what
		}
		v.OK = false
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Table < rows[j].Table })
	out := make([]verifyTable, len(rows))
	for i, v := range rows {
		out[i] = *v
	}
	return out
}

func summarize(mode string, d VerifyDatabase) verifySummary {
	s := verifySummary{Databases: 1, Differences: len(d.Differences)}
	if !d.Present {
		s.DatabasesMissing = 1
		return s
	}
	for _, t := range tableRows(mode, d) {
		if !t.OnSource {
			continue
		}
		s.Tables++
		if !t.OK {
			s.TablesDiffer++
		}
		if !t.OnTarget {
			s.TablesMissing++
		}
		s.RowsSource += t.Source
		s.RowsTarget += t.Target
	}
	for _, df := range d.Differences {
		typ, _ := objectType(df)
		switch {
		case df.Kind == "extra":
			s.Extra.add(typ, 1)
		case typ == "table":
		case df.Kind == "missing":
			s.Missing.add(typ, 1)
		default:
			s.Other++
		}
	}
	return s
}

func (s *verifySummary) addUp(o verifySummary) {
	s.Databases += o.Databases
	s.DatabasesMissing += o.DatabasesMissing
	s.Tables += o.Tables
	s.TablesDiffer += o.TablesDiffer
	s.TablesMissing += o.TablesMissing
	s.RowsSource += o.RowsSource
	s.RowsTarget += o.RowsTarget
	for _, typ := range o.Missing.order {
		s.Missing.add(typ, o.Missing.n[typ])
	}
	for _, typ := range o.Extra.order {
		s.Extra.add(typ, o.Extra.n[typ])
	}
	s.Other += o.Other
	s.Differences += o.Differences
}

func (r *VerifyReport) total() verifySummary {
	var s verifySummary
	for _, d := range r.Databases {
		s.addUp(summarize(r.Mode, d))
	}
	return s
}

// problems says what differs: "3 of 48 tables differ (1 missing on the target), 2 indexes missing".
func (s verifySummary) problems() []string {
	var parts []string
	if s.DatabasesMissing > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d %s missing on the target", s.DatabasesMissing, s.Databases, pl(s.Databases, "database", "databases")))
	}
	switch {
	case s.TablesMissing > 0 && s.TablesMissing == s.TablesDiffer && s.TablesMissing == s.Tables:
		parts = append(parts, fmt.Sprintf("%d of %d %s missing on the target", s.TablesMissing, s.Tables, pl(s.Tables, "table", "tables")))
	case s.TablesDiffer > 0:
		p := fmt.Sprintf("%d of %d %s %s", s.TablesDiffer, s.Tables, pl(s.Tables, "table", "tables"), pl(s.TablesDiffer, "differs", "differ"))
		if s.TablesMissing > 0 {
			p += fmt.Sprintf(" (%d missing on the target)", s.TablesMissing)
		}
		parts = append(parts, p)
	}
	if s.Missing.total() > 0 {
		parts = append(parts, s.Missing.String()+" missing")
	}
	if s.Extra.total() > 0 {
		parts = append(parts, s.Extra.String()+" only on the target")
	}
	if s.Other > 0 {
		other := ""
		if len(parts) > 0 {
			other = "other "
		}
		parts = append(parts, fmt.Sprintf("%d %sobject %s", s.Other, other, pl(s.Other, "difference", "differences")))
	}
	return parts
}

// VerifyTotal is the closing line: "Verify: 48 tables in 2 databases, 1.2M rows: all match." or
// "Verify failed: 3 of 48 tables differ, 2 indexes missing."
func (r *VerifyReport) VerifyTotal() string {
	return r.total().line()
}

func (s verifySummary) line() string {
	if s.Differences == 0 {
		return fmt.Sprintf("Verify: %d %s in %d %s, %s rows: all match.", s.Tables, pl(s.Tables, "table", "tables"),
			s.Databases, pl(s.Databases, "database", "databases"), Count(s.RowsSource))
	}
	return "Verify failed: " + strings.Join(s.problems(), ", ") + "."
}

// dbLine is a database's line in the human output.
func dbLine(mode string, d VerifyDatabase, s verifySummary) string {
	switch {
	case !d.Present:
		return fmt.Sprintf("database %q: missing on the target (%d %s on the source)", d.Name, d.SourceTables, pl(d.SourceTables, "table", "tables"))
	case len(d.Differences) == 0:
		return fmt.Sprintf("database %q: OK — %d %s, %d rows, objects and sequences match (%s)", d.Name, s.Tables, pl(s.Tables, "table", "tables"), s.RowsSource, mode)
	}
	return fmt.Sprintf("database %q: FAILED — %s; rows: source %d, target %d (%s)", d.Name, strings.Join(s.problems(), ", "), s.RowsSource, s.RowsTarget, mode)
}

// Verify renders the report for a terminal: a line per database, its tables (those that differ;
// all of them when few or allTables), its differences capped per kind, and the total line.
func Verify(w io.Writer, r *VerifyReport, allTables bool) {
	for _, d := range r.Databases {
		s := summarize(r.Mode, d)
		fmt.Fprintln(w, dbLine(r.Mode, d, s))
		if !d.Present {
			continue
		}
		rows := tableRows(r.Mode, d)
		var shown []verifyTable
		hidden := 0
		all := allTables || len(rows) <= fewTables
		for _, t := range rows {
			switch {
			case t.OK && !all:
			case !all && len(shown) >= maxTableRows:
				hidden++
			default:
				shown = append(shown, t)
			}
		}
		if len(shown) > 0 {
			textTable(w, r.Mode, shown)
			if hidden > 0 {
				fmt.Fprintf(w, "  ... and %d more %s that differ (--all-tables lists every table, --json too)\n", hidden, pl(hidden, "table", "tables"))
			}
		}
		// Tables missing on the target or only there are rows of the table above.
		var listed []verify.Difference
		for _, df := range d.Differences {
			if typ, _ := objectType(df); typ != "table" || (df.Kind != "missing" && df.Kind != "extra") {
				listed = append(listed, df)
			}
		}
		for _, g := range groupDifferences(listed) {
			for _, df := range g.shown {
				fmt.Fprintf(w, "  - %s\n", df)
				for _, row := range df.Rows {
					fmt.Fprintf(w, "      row %s\n", row)
				}
				if more := df.RowsDiffering - len(df.Rows); more > 0 {
					fmt.Fprintf(w, "      ... and %d more row(s)\n", more)
				}
			}
			if g.more > 0 {
				fmt.Fprintf(w, "  ... and %d more: %s (verify --json lists every difference)\n", g.more, g.label(g.more))
			}
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, bold(r.VerifyTotal()))
}

func textTable(w io.Writer, mode string, rows []verifyTable) {
	head := []string{"TABLE", "SOURCE ROWS", "TARGET ROWS", "CHECKSUM", "RESULT"}
	cells := [][]string{head}
	for _, t := range rows {
		cells = append(cells, []string{t.Table, rowCount(t.Source, t.Counted), rowCount(t.Target, t.Counted), checksumCell(mode, t), t.Result})
	}
	width := make([]int, len(head))
	for _, c := range cells {
		for i, s := range c {
			width[i] = max(width[i], len([]rune(s)))
		}
	}
	for _, c := range cells {
		var b strings.Builder
		b.WriteString("  ")
		for i, s := range c {
			pad := strings.Repeat(" ", width[i]-len([]rune(s)))
			if i == 1 || i == 2 {
				b.WriteString(pad + s)
			} else if i < len(c)-1 {
				b.WriteString(s + pad)
			} else {
				b.WriteString(s)
			}
			if i < len(c)-1 {
				b.WriteString("  ")
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func rowCount(n int64, exists bool) string {
	if !exists {
		return "-"
	}
	return fmt.Sprint(n)
}

func checksumCell(mode string, t verifyTable) string {
	switch {
	case mode != "checksum":
		return "not compared"
	case t.Checksum == "":
		return "-"
	}
	return t.Checksum
}

// diffGroup is the differences of one kind of one type of object, e.g. missing indexes.
type diffGroup struct {
	typ, kind string
	shown     []verify.Difference
	more      int
}

func (g diffGroup) label(n int) string {
	switch g.kind {
	case "missing":
		return objectNoun(g.typ, n) + " missing on the target"
	case "extra":
		return objectNoun(g.typ, n) + " only on the target"
	}
	return g.typ + " " + g.kind + " " + pl(n, "difference", "differences")
}

// groupDifferences groups diffs by object type and kind, in order of first appearance, each with at
// most maxPerKind shown.
func groupDifferences(diffs []verify.Difference) []diffGroup {
	var groups []*diffGroup
	index := map[[2]string]*diffGroup{}
	for _, d := range diffs {
		typ, _ := objectType(d)
		k := [2]string{typ, d.Kind}
		g := index[k]
		if g == nil {
			g = &diffGroup{typ: typ, kind: d.Kind}
			index[k] = g
			groups = append(groups, g)
		}
		if len(g.shown) < maxPerKind {
			g.shown = append(g.shown, d)
		} else {
			g.more++
		}
	}
	out := make([]diffGroup, len(groups))
	for i, g := range groups {
		out[i] = *g
	}
	return out
}

// VerifyMarkdown renders the report for a change ticket or a pull request: the outcome, a table
// per database, the per-table table (collapsed when long), the differences capped per kind, the
// mode, both servers and the time. It stays under MarkdownLimit bytes.
func VerifyMarkdown(w io.Writer, r *VerifyReport) {
	io.WriteString(w, verifyMarkdown(r))
}

func verifyMarkdown(r *VerifyReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### pgferry verify: %s\n\n", mdText(r.Migration))
	total := r.total()
	if total.Differences == 0 {
		fmt.Fprintf(&b, "**✅ %s**\n\n", mdText(total.line()))
	} else {
		fmt.Fprintf(&b, "**❌ %s**\n\n", mdText(total.line()))
	}
	fmt.Fprintf(&b, "| | |\n|---|---|\n")
	fmt.Fprintf(&b, "| Source | %s |\n", cell(clip(identity(r.Source), 300)))
	fmt.Fprintf(&b, "| Target | %s |\n", cell(clip(identity(r.Target), 300)))
	fmt.Fprintf(&b, "| Mode | %s |\n", cell(modeText(r.Mode)))
	fmt.Fprintf(&b, "| Verified at | %s (took %s) |\n\n", r.At.UTC().Format("2006-01-02 15:04:05 UTC"), Duration(r.Elapsed))

	b.WriteString("| Database | Tables | Rows (source) | Rows (target) | Differences | Result |\n|---|---:|---:|---:|---:|---|\n")
	var tables []verifyTable
	for _, d := range r.Databases {
		s := summarize(r.Mode, d)
		result := "✅ match"
		switch {
		case !d.Present:
			result = "❌ missing on the target"
		case len(d.Differences) > 0:
			result = "❌ " + mdText(strings.Join(s.problems(), ", "))
		}
		ntables := s.Tables
		if !d.Present {
			ntables = d.SourceTables
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %d | %s |\n", mdText(clip(d.Name, maxMdName)), ntables, rowsCell(s.RowsSource, d.Present), rowsCell(s.RowsTarget, d.Present), len(d.Differences), result)
		if d.Present {
			tables = append(tables, tableRows(r.Mode, d)...)
		}
	}
	b.WriteString("\n")

	if len(tables) > 0 {
		var t strings.Builder
		t.WriteString("| Database | Table | Rows (source) | Rows (target) | Checksum | Result |\n|---|---|---:|---:|---|---|\n")
		budget := MarkdownLimit / 2
		for i, row := range tables {
			icon := "✅"
			if !row.OK {
				icon = "❌"
			}
			line := fmt.Sprintf("| %s | %s | %s | %s | %s | %s %s |\n", mdText(clip(row.Database, maxMdName)), mdText(clip(row.Table, maxMdName)),
				rowsCell(row.Source, row.Counted), rowsCell(row.Target, row.Counted), checksumCell(r.Mode, row), icon, cell(row.Result))
			if t.Len()+len(line) > budget {
				fmt.Fprintf(&t, "\n… and %d more tables (`pgferry verify --json` lists every table)\n", len(tables)-i)
				break
			}
			t.WriteString(line)
		}
		if len(tables) > fewTables {
			fmt.Fprintf(&b, "<details><summary>Tables (%d)</summary>\n\n%s\n</details>\n\n", len(tables), t.String())
		} else {
			b.WriteString(t.String() + "\n")
		}
	}

	if n := r.DifferenceCount(); n > 0 {
		fmt.Fprintf(&b, "#### Differences (%d)\n\n", n)
		budget := MarkdownLimit - b.Len() - 1000
		var dl strings.Builder
		left := n
		stop := false
		for _, d := range r.Databases {
			for _, g := range groupDifferences(d.Differences) {
				var gb strings.Builder
				for _, df := range g.shown {
					fmt.Fprintf(&gb, "- %s\n", mdText(clip(df.String(), 2*maxMdName)))
					for _, row := range df.Rows {
						fmt.Fprintf(&gb, "  - row %s\n", mdText(clip(row, maxMdName)))
					}
					if more := df.RowsDiffering - len(df.Rows); more > 0 {
						fmt.Fprintf(&gb, "  - … and %d more %s\n", more, pl(more, "row", "rows"))
					}
				}
				if g.more > 0 {
					fmt.Fprintf(&gb, "- … and %d more %s in %s\n", g.more, mdText(g.label(g.more)), mdText(d.Name))
				}
				if dl.Len()+gb.Len() > budget {
					stop = true
					break
				}
				dl.WriteString(gb.String())
				left -= len(g.shown) + g.more
			}
			if stop {
				break
			}
		}
		if left > 0 {
			fmt.Fprintf(&dl, "- … and %d more %s\n", left, pl(left, "difference", "differences"))
		}
		b.WriteString(dl.String())
		b.WriteString("\n`pgferry verify --json` lists every difference.\n")
	}
	return b.String()
}

func modeText(mode string) string {
	if mode == "count" {
		return "count (row counts and objects)"
	}
	return mode + " (row counts, content checksums and objects)"
}

func rowsCell(n int64, exists bool) string {
	if !exists {
		return "—"
	}
	return fmt.Sprint(n)
}

// verifySummaryDoc is the summary object of `verify --json`, for the run and per database.
type verifySummaryDoc struct {
	Line             string         `json:"line,omitempty"`
	Databases        int            `json:"databases,omitempty"`
	DatabasesMissing int            `json:"databases_missing,omitempty"`
	Tables           int            `json:"tables"`
	TablesDiffering  int            `json:"tables_differing"`
	TablesMissing    int            `json:"tables_missing"`
	SourceRows       int64          `json:"source_rows"`
	TargetRows       int64          `json:"target_rows"`
	ObjectsMissing   map[string]int `json:"objects_missing"`
	ObjectsExtra     map[string]int `json:"objects_extra"`
	OtherDifferences int            `json:"other_differences"`
}

func (s verifySummary) doc() verifySummaryDoc {
	m := func(t typeCounts) map[string]int {
		out := map[string]int{}
		for k, v := range t.n {
			out[k] = v
		}
		return out
	}
	return verifySummaryDoc{Tables: s.Tables, TablesDiffering: s.TablesDiffer, TablesMissing: s.TablesMissing, SourceRows: s.RowsSource,
		TargetRows: s.RowsTarget, ObjectsMissing: m(s.Missing), ObjectsExtra: m(s.Extra), OtherDifferences: s.Other}
}

type verifyTableDoc struct {
	verify.TableResult
	Result string `json:"result"`
}

type verifyDatabaseDoc struct {
	Database    string              `json:"database"`
	Present     bool                `json:"present_on_target"`
	Differences []verify.Difference `json:"differences"`
	Tables      []verifyTableDoc    `json:"tables"`
	Summary     verifySummaryDoc    `json:"summary"`
}

// VerifyJSON is the `verify --json` document: format_version, migration, mode, ok, differences (their
// number) and databases as before 1.1, plus a summary object for the run and for each database and a
// result for each table.
func VerifyJSON(r *VerifyReport) ([]byte, error) {
	var dbs []verifyDatabaseDoc
	for _, d := range r.Databases {
		doc := verifyDatabaseDoc{Database: d.Name, Present: d.Present, Differences: d.Differences, Summary: summarize(r.Mode, d).doc()}
		if doc.Differences == nil {
			doc.Differences = []verify.Difference{}
		}
		if d.Tables != nil {
			result := map[string]string{}
			for _, t := range tableRows(r.Mode, d) {
				result[t.Table] = t.Result
			}
			doc.Tables = []verifyTableDoc{}
			for _, t := range d.Tables {
				doc.Tables = append(doc.Tables, verifyTableDoc{TableResult: t, Result: result[t.Table]})
			}
		}
		if !d.Present {
			doc.Summary.Tables = d.SourceTables
		}
		dbs = append(dbs, doc)
	}
	total := r.total()
	sum := total.doc()
	sum.Line = total.line()
	sum.Databases, sum.DatabasesMissing = total.Databases, total.DatabasesMissing
	return json.MarshalIndent(map[string]any{
		"format_version": "1.0",
		"migration":      r.Migration,
		"mode":           r.Mode,
		"ok":             r.DifferenceCount() == 0,
		"differences":    r.DifferenceCount(),
		"databases":      dbs,
		"summary":        sum,
		"verified_at":    r.At.UTC().Format(time.RFC3339),
	}, "", "  ")
}
