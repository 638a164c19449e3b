package views

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

func renderMarkdown(p *plan.Plan) string {
	var b bytes.Buffer
	Markdown(&b, p)
	return b.String()
}

// bigPlan has n table actions in database app.
func bigPlan(n int) *plan.Plan {
	p := fullPlan()
	p.Actions = nil
	for i := range n {
		name := fmt.Sprintf("events_%05d", i)
		p.Actions = append(p.Actions, &plan.Action{Address: plan.TableAddr("app", "public", name), Type: plan.TypeTable,
			Kind: plan.Create, Database: "app", Schema: "public", Name: name, Reason: "copy rows",
			RowsEstimate: int64(1000 + i), BytesEstimate: int64(8192 * (i + 1))})
	}
	p.Summary = plan.Summarize(p.Actions, p.Validations)
	return p
}

var moreLine = regexp.MustCompile(`(?m)^\.\.\. and (\d+) more actions \(run pgferry plan locally for the full list\)$`)

func TestMarkdownLongPlanStaysUnderLimit(t *testing.T) {
	const n = 5000
	out := renderMarkdown(bigPlan(n))
	if len(out) >= MarkdownLimit || utf8.RuneCountInString(out) >= 65000 {
		t.Fatalf("markdown is %d bytes (%d characters), want under 65,000", len(out), utf8.RuneCountInString(out))
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	last := lines[len(lines)-1]
	m := moreLine.FindStringSubmatch(last)
	if m == nil {
		t.Fatalf("last line = %q, want the \"... and N more actions\" line", last)
	}
	shown := strings.Count(out, "\n+ database.app.table[")
	if fmt.Sprint(n-shown) != m[1] {
		t.Errorf("%d actions listed and %s more announced, want %d in all", shown, m[1], n)
	}
	if shown < 500 {
		t.Errorf("only %d actions listed: the budget is badly used", shown)
	}
	// The list is cut between actions and the block is still closed.
	if !strings.Contains(out, "```\n\n</details>\n") {
		t.Error("the diff block or <details> is not closed")
	}
	if !strings.Contains(out, "<details><summary>5000 actions</summary>") {
		t.Error("the summary does not count every action")
	}
	// The validation table is still there, above the fold.
	if strings.Index(out, "| | Check | Level | Database | Outcome | Message |") > strings.Index(out, "<details>") {
		t.Error("the validation table is not above the action list")
	}
}

func TestMarkdownFitsExactlyWithoutMoreLine(t *testing.T) {
	out := renderMarkdown(bigPlan(100))
	if moreLine.MatchString(out) {
		t.Error("a plan that fits says some actions were left out")
	}
	if got := strings.Count(out, "\n+ database.app.table["); got != 100 {
		t.Errorf("%d actions listed, want 100", got)
	}
}

// TestMarkdownPathological: many huge validations and hazards still leave the output in budget.
func TestMarkdownPathological(t *testing.T) {
	p := bigPlan(3000)
	long := strings.Repeat("very long message | with pipes\n", 100)
	for i := range 500 {
		p.Validations = append(p.Validations, state.Validation{ID: fmt.Sprintf("check_%d", i), Level: "database", Database: "app",
			Outcome: "Warning", Message: long, Objects: []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"}})
	}
	for _, a := range p.Actions {
		a.Hazards = []plan.Hazard{{Code: "LONG_LOCK", Message: "the table is locked for a long time"}}
	}
	p.Summary = plan.Summarize(p.Actions, p.Validations)
	out := renderMarkdown(p)
	if len(out) >= MarkdownLimit {
		t.Fatalf("markdown is %d bytes, want under %d", len(out), MarkdownLimit)
	}
	for _, want := range []string{"more checks: run pgferry plan locally", "more hazards: run pgferry plan locally", "more actions (run pgferry plan locally"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestMarkdownShape(t *testing.T) {
	tests := []struct {
		name    string
		plan    func() *plan.Plan
		want    []string
		notWant []string
	}{
		{"full", fullPlan, []string{
			"<!-- pgferry plan: prod-to-flex -->\n### pgferry plan: prod-to-flex\n",
			"**Plan: 3 roles, 1 database, 3 tables",
			"#### Validations\n\n6 of 9 validations succeeded · ⚠️ 3 warnings\n\n| | Check | Level | Database | Outcome | Message |\n|---|---|---|---|---|---|\n| ⚠️ | `version` | instance |  | Warning | source 13.16",
			"<details><summary>All 9 validations</summary>\n\n| | Check | Level | Database | Outcome | Message |\n|---|---|---|---|---|---|\n| ✅ | `connectivity.source` | instance |  | Succeeded |",
			"- ⚠️ `STRIPS_SUPERUSER` on `role.ops`: ",
			"<details><summary>18 actions</summary>\n\n```diff\n+ role.app_owner\n",
			"+ database.app.table[\"public\".\"orders\"]  (~9.4M rows, 1.1 GiB)\n",
			"+ database.app.index[\"public\".\"orders_pkey\"]  (211.0 MiB)\n",
		}, []string{"No changes", "Validation failed", "more actions"}},
		{"no changes", noChangesPlan, []string{
			"**No changes. The target matches the source.**\n",
			"✅ All 3 validations succeeded.\n\n<details><summary>All 3 validations</summary>\n\n",
			"| ✅ | `connectivity.source` | instance |  | Succeeded |",
		}, []string{"actions</summary>", "Hazards", "Plan:"}},
		{"validation failed", failedPlan, []string{
			"**❌ Validation failed: 1 check failed. Fix it and plan again; apply does nothing until then.**\n",
			"Once fixed: Plan: 0 roles, 1 database, 1 table (2.5 GiB, ~2.8M rows), 1 index to create; 1 to change; 1 to destroy.\n",
			"2 of 4 validations succeeded · ❌ 1 failed · ⚠️ 1 warning\n",
			"| ❌ | `extensions.preload` | database | billing | Failed |",
			"<br>Objects: pg_cron",
			"- ⚠️ `DROPS_DATABASE` on `database.billing`: ",
			"~ role.billing\n    # role attributes differ from the source\n    login: false → true\n",
			"-/+ database.billing  (3.0 GiB)\n",
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := renderMarkdown(tt.plan())
			// Above the fold (before the collapsed list of all validations), no green validation.
			if fold, _, ok := strings.Cut(out, "<details><summary>All "); !ok {
				t.Errorf("output lacks the collapsed list of all validations:\n%s", out)
			} else if strings.Contains(fold, "| ✅ |") {
				t.Errorf("a succeeded validation is listed above the fold:\n%s", fold)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestMarkdownTableCells: every validation row keeps exactly the table's columns, whatever the text.
func TestMarkdownTableCells(t *testing.T) {
	p := noChangesPlan()
	p.Validations = []state.Validation{
		{ID: "weird|id", Level: "database", Database: "a|b\nc", Outcome: "Warning", Message: "x | y\r\nz <b>bold</b> \\| w",
			Objects: []string{"t|1", "t\n2"}},
		{ID: "`tick`", Level: "instance", Outcome: "Succeeded", Message: strings.Repeat("é", 2*maxCellMessage)},
	}
	p.Summary = plan.Summarize(p.Actions, p.Validations)
	out := renderMarkdown(p)
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| ") && !strings.HasPrefix(l, "| | Check") {
			rows = append(rows, l)
		}
	}
	// The warning above the fold and among all validations, the success only among all.
	if len(rows) != 3 {
		t.Fatalf("want 3 validation rows, got %d:\n%s", len(rows), out)
	}
	if rows[0] != rows[1] {
		t.Errorf("the warning differs above the fold and among all validations:\n%s\n%s", rows[0], rows[1])
	}
	rows = rows[1:]
	unescaped := regexp.MustCompile(`(^|[^\\])(\\\\)*\|`)
	for _, r := range rows {
		if n := len(unescaped.FindAllString(r, -1)); n != 7 {
			t.Errorf("row has %d cell separators, want 7: %s", n, r)
		}
		if strings.Contains(r, "<b>") {
			t.Errorf("row lets HTML through: %s", r)
		}
	}
	if !strings.Contains(rows[0], "x \\| y<br>z &lt;b&gt;bold&lt;/b&gt; \\\\\\| w") {
		t.Errorf("message not escaped as expected: %s", rows[0])
	}
	if !strings.Contains(rows[1], "``` `tick` ```") && !strings.Contains(rows[1], "`` `tick` ``") {
		t.Errorf("id with backticks not in a longer code span: %s", rows[1])
	}
	if n := utf8.RuneCountInString(rows[1]); n > maxCellMessage+100 {
		t.Errorf("a long message is not clipped: row is %d characters", n)
	}
}

func TestMarkdownFenceOutlastsBackticks(t *testing.T) {
	p := noChangesPlan()
	p.Actions = []*plan.Action{{Address: plan.TableAddr("app", "public", "odd```name"), Type: plan.TypeTable, Kind: plan.Create, Database: "app"}}
	p.Summary = plan.Summarize(p.Actions, p.Validations)
	out := renderMarkdown(p)
	if !strings.Contains(out, "````diff\n+ database.app.table[\"public\".\"odd```name\"]") || !strings.Contains(out, "\n````\n") {
		t.Errorf("the fence can be closed by the content:\n%s", out)
	}
}

func TestMarkdownMarkerIsFirstLine(t *testing.T) {
	for _, f := range fixtures {
		p := f.plan()
		out := renderMarkdown(p)
		first, _, _ := strings.Cut(out, "\n")
		if first != MarkdownMarker(p.Migration) || first != "<!-- pgferry plan: "+p.Migration+" -->" {
			t.Errorf("%s: first line = %q", f.name, first)
		}
	}
}
