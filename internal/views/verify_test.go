package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pgferry/pgferry/internal/verify"
)

func verifyReport(dbs ...VerifyDatabase) *VerifyReport {
	return &VerifyReport{Migration: "prod", Mode: "checksum", Source: onprem, Target: flex, At: planTime, Elapsed: 3200 * time.Millisecond, Databases: dbs}
}

func matching(name string, n int, rows int64) VerifyDatabase {
	d := VerifyDatabase{Name: name, Present: true, SourceTables: n}
	for i := 0; i < n; i++ {
		d.Tables = append(d.Tables, verify.TableResult{Table: fmt.Sprintf("public.t%02d", i), SourceRows: rows, TargetRows: rows, SourceChecksum: "42", TargetChecksum: "42"})
	}
	return d
}

// verifyOK: two databases, every table matching; the second has more tables than are listed.
func verifyOK() *VerifyReport {
	return verifyReport(matching("app", 3, 400_000), matching("shop", 45, 100))
}

// verifyFailed: a changed row, a table and an index missing, a sequence behind.
func verifyFailed() *VerifyReport {
	d := matching("app", 4, 1000)
	d.Tables[1].TargetChecksum = "43"
	d.Tables[2].TargetRows = 999
	d.Differences = []verify.Difference{
		{Database: "app", Object: "table public.gone", Kind: "missing"},
		{Database: "app", Object: "index public.gone_pkey", Kind: "missing"},
		{Database: "app", Object: "sequence public.s", Kind: "definition", Source: "last_value=10 is_called=true", Target: "last_value=1 is_called=false"},
		{Database: "app", Object: "table public.t01", Kind: "checksum", Source: "42", Target: "43", Rows: []string{"(id)=(7): differs"}, RowsDiffering: 1},
		{Database: "app", Object: "table public.t02", Kind: "row count", Source: "1000", Target: "999", Rows: []string{"(id)=(12): missing on the target"}, RowsDiffering: 1},
	}
	return verifyReport(d, matching("shop", 2, 5))
}

// verifyEmpty: the target database exists but holds nothing, and a second database is missing.
func verifyEmpty() *VerifyReport {
	d := VerifyDatabase{Name: "shop", Present: true, SourceTables: 48, Tables: []verify.TableResult{}}
	for i := 0; i < 48; i++ {
		d.Differences = append(d.Differences, verify.Difference{Database: "shop", Object: fmt.Sprintf("table public.t%02d", i), Kind: "missing"})
	}
	for i := 0; i < 60; i++ {
		d.Differences = append(d.Differences, verify.Difference{Database: "shop", Object: fmt.Sprintf("index public.i%02d", i), Kind: "missing"})
	}
	for i := 0; i < 12; i++ {
		d.Differences = append(d.Differences, verify.Difference{Database: "shop", Object: fmt.Sprintf("sequence public.s%02d", i), Kind: "missing"})
	}
	missing := VerifyDatabase{Name: "hr", SourceTables: 7, Differences: []verify.Difference{{Database: "hr", Object: "database hr", Kind: "missing"}}}
	return verifyReport(d, missing)
}

var verifyFixtures = []struct {
	name   string
	report func() *VerifyReport
}{
	{"verify_ok", verifyOK},
	{"verify_failed", verifyFailed},
	{"verify_empty_target", verifyEmpty},
}

func TestVerifyGolden(t *testing.T) {
	for _, f := range verifyFixtures {
		t.Run(f.name, func(t *testing.T) {
			var human, md bytes.Buffer
			Verify(&human, f.report(), false)
			golden(t, f.name+".human.golden", human.Bytes())
			VerifyMarkdown(&md, f.report())
			golden(t, f.name+".md.golden", md.Bytes())
		})
	}
}

func TestVerifyTotalLine(t *testing.T) {
	for _, c := range []struct {
		r    *VerifyReport
		want string
	}{
		{verifyOK(), "Verify: 48 tables in 2 databases, 1.2M rows: all match."},
		{verifyFailed(), "Verify failed: 3 of 7 tables differ (1 missing on the target), 1 index missing, 1 other object difference."},
		{verifyEmpty(), "Verify failed: 1 of 2 databases missing on the target, 48 of 48 tables missing on the target, 60 indexes, 12 sequences missing."},
		{verifyReport(VerifyDatabase{Name: "app", Present: true, Differences: []verify.Difference{{Database: "app", Object: "sequence public.s", Kind: "definition"}}}),
			"Verify failed: 1 object difference."},
		{verifyReport(VerifyDatabase{Name: "app", Present: true, Differences: []verify.Difference{{Database: "app", Object: "table public.new", Kind: "extra"}}}),
			"Verify failed: 1 table only on the target."},
	} {
		if got := c.r.VerifyTotal(); got != c.want {
			t.Errorf("got  %q\nwant %q", got, c.want)
		}
	}
}

// TestVerifyEmptyTargetIsShort: the 120 differences of an empty database are summarised first and
// listed capped; every one is still in the JSON.
func TestVerifyEmptyTargetIsShort(t *testing.T) {
	var b bytes.Buffer
	Verify(&b, verifyEmpty(), false)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) > 50 {
		t.Errorf("%d lines for an empty target:\n%s", len(lines), b.String())
	}
	if want := `database "shop": FAILED — 48 of 48 tables missing on the target, 60 indexes, 12 sequences missing`; !strings.HasPrefix(lines[0], want) {
		t.Errorf("first line %q, want it to start with %q", lines[0], want)
	}
	for _, want := range []string{"... and 38 more tables that differ", "... and 50 more: indexes missing on the target", "... and 2 more: sequences missing on the target", `database "hr": missing on the target (7 tables on the source)`} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	js, err := VerifyJSON(verifyEmpty())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OK          bool `json:"ok"`
		Differences int  `json:"differences"`
		Databases   []struct {
			Differences []verify.Difference `json:"differences"`
		} `json:"databases"`
		Summary map[string]any `json:"summary"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OK || doc.Differences != 121 || len(doc.Databases[0].Differences) != 120 {
		t.Errorf("json: ok %t, differences %d, listed %d", doc.OK, doc.Differences, len(doc.Databases[0].Differences))
	}
	if doc.Summary["tables_missing"] != 48.0 || doc.Summary["databases_missing"] != 1.0 {
		t.Errorf("json summary %v", doc.Summary)
	}
}

func TestVerifyAllTables(t *testing.T) {
	var some, all bytes.Buffer
	Verify(&some, verifyOK(), false)
	Verify(&all, verifyOK(), true)
	if strings.Contains(some.String(), "public.t44") || !strings.Contains(some.String(), "public.t02") {
		t.Errorf("without --all-tables: a few tables are listed, many are not:\n%s", some.String())
	}
	if !strings.Contains(all.String(), "public.t44") {
		t.Errorf("--all-tables lists every table:\n%s", all.String())
	}
}

// TestVerifyJSONCompatible: the document keeps the keys readers of 1.0 use, and gains the summary.
func TestVerifyJSONCompatible(t *testing.T) {
	js, err := VerifyJSON(verifyFailed())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"format_version", "migration", "mode", "ok", "differences", "databases", "summary"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("no %q in %s", k, js)
		}
	}
	db := doc["databases"].([]any)[0].(map[string]any)
	for _, k := range []string{"database", "present_on_target", "differences", "tables", "summary"} {
		if _, ok := db[k]; !ok {
			t.Errorf("no %q in database %v", k, db)
		}
	}
	tbl := db["tables"].([]any)[1].(map[string]any)
	if tbl["table"] != "public.t01" || tbl["source_rows"] != 1000.0 || tbl["target_checksum"] != "43" || tbl["result"] != "checksum differs (1 row)" {
		t.Errorf("table %v", tbl)
	}
	if doc["summary"].(map[string]any)["line"] != verifyFailed().VerifyTotal() {
		t.Errorf("summary line %v", doc["summary"])
	}
}

// TestVerifyMarkdownLimit: thousands of differing tables stay under the comment limit.
func TestVerifyMarkdownLimit(t *testing.T) {
	d := VerifyDatabase{Name: "big", Present: true}
	for i := 0; i < 5000; i++ {
		name := fmt.Sprintf("public.%s_%d", strings.Repeat("x", 60), i)
		d.Tables = append(d.Tables, verify.TableResult{Table: name, SourceRows: 10, TargetRows: 9})
		d.Differences = append(d.Differences, verify.Difference{Database: "big", Object: "table " + name, Kind: "row count", Source: "10", Target: "9",
			Rows: []string{"(id)=(1): missing on the target"}, RowsDiffering: 1})
		d.Differences = append(d.Differences, verify.Difference{Database: "big", Object: fmt.Sprintf("index public.%s_%d", strings.Repeat("i", 60), i), Kind: "missing"})
	}
	var b bytes.Buffer
	VerifyMarkdown(&b, verifyReport(d))
	if b.Len() >= MarkdownLimit {
		t.Errorf("%d bytes", b.Len())
	}
	for _, want := range []string{"<details><summary>Tables (5000)</summary>", "more tables", "… and 4990 more indexes missing on the target in big"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q", want)
		}
	}
}
