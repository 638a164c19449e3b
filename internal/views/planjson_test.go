package views

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/internal/jsonschema"
	"github.com/pgferry/pgferry/plan"
)

var (
	schemaPath = filepath.Join("..", "..", "docs", "plan-json.schema.json")
	docPath    = filepath.Join("..", "..", "docs", "plan-json.md")
)

func loadSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	s, err := jsonschema.Load(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPlanJSONSchema validates every fixture's document against docs/plan-json.schema.json.
func TestPlanJSONSchema(t *testing.T) {
	s := loadSchema(t)
	for _, f := range append(fixtures, struct {
		name string
		plan func() *plan.Plan
	}{"big", func() *plan.Plan { return bigPlan(20) }}) {
		t.Run(f.name, func(t *testing.T) {
			b, err := PlanJSON(f.plan())
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range s.Check(decodeJSON(t, b)) {
				t.Error(e)
			}
		})
	}
}

// TestSchemaChecker makes sure the checker catches what it claims to.
func TestSchemaChecker(t *testing.T) {
	s := loadSchema(t)
	b, err := PlanJSON(failedPlan())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(doc map[string]any)
		want   string
	}{
		{"missing", func(d map[string]any) { delete(d, "status") }, `$: required member "status" is missing`},
		{"type", func(d map[string]any) { d["summary"].(map[string]any)["add"] = "1" }, "$.summary.add: want integer, got string"},
		{"float", func(d map[string]any) { d["state"].(map[string]any)["serial"] = json.Number("1.5") }, "$.state.serial: want integer, got number"},
		{"enum", func(d map[string]any) { d["status"] = "done" }, "$.status: done is not one of"},
		{"items", func(d map[string]any) {
			d["actions"].([]any)[1].(map[string]any)["actions"] = []any{"delete", "recreate"}
		}, "$.actions[1].actions[1]: recreate is not one of"},
		{"null array", func(d map[string]any) { d["databases"] = nil }, "$.databases: want array, got null"},
		{"undeclared", func(d map[string]any) { d["extra"] = true }, `$: member "extra" is not declared`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := decodeJSON(t, b).(map[string]any)
			tt.mutate(doc)
			errs := s.Check(doc)
			if !slices.ContainsFunc(errs, func(e string) bool { return strings.Contains(e, tt.want) }) {
				t.Errorf("errors %q lack %q", errs, tt.want)
			}
		})
	}
}

func TestPlanJSONActions(t *testing.T) {
	b, err := PlanJSON(failedPlan())
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		FormatVersion string `json:"format_version"`
		CreatedAt     string `json:"created_at"`
		Status        string `json:"status"`
		Actions       []struct {
			Address string   `json:"address"`
			Actions []string `json:"actions"`
		} `json:"actions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.FormatVersion != JSONFormatVersion || doc.CreatedAt != "2025-03-14T09:26:53Z" || doc.Status != StatusValidationFailed {
		t.Errorf("format_version %q, created_at %q, status %q", doc.FormatVersion, doc.CreatedAt, doc.Status)
	}
	want := map[string][]string{
		"role.billing":            {"update"},
		"database.billing":        {"delete", "create"},
		"database.billing.schema": {"create"},
	}
	for _, a := range doc.Actions {
		if w, ok := want[a.Address]; ok && !slices.Equal(a.Actions, w) {
			t.Errorf("%s: actions %q, want %q", a.Address, a.Actions, w)
		}
	}
	// forecast (and its run) are the only members that may be null: there is none here.
	if !bytes.Contains(b, []byte(`"forecast": null`)) || bytes.Contains(bytes.ReplaceAll(b, []byte(`"forecast": null`), nil), []byte("null")) {
		t.Error("the document holds a null other than its forecast")
	}
	if !bytes.HasSuffix(b, []byte("}\n")) {
		t.Error("the document does not end with a newline")
	}

	p := failedPlan()
	p.Actions[0].Kind = plan.Delete
	p.Actions[1].Kind = "explode"
	if _, err := PlanJSON(p); err == nil || !strings.Contains(err.Error(), `unknown action kind "explode"`) {
		t.Errorf("unknown kind: err = %v", err)
	}
}

func TestPlanJSONStatus(t *testing.T) {
	for name, want := range map[string]string{"full": StatusChanges, "no_changes": StatusNoChanges, "validation_failed": StatusValidationFailed} {
		for _, f := range fixtures {
			if f.name != name {
				continue
			}
			b, err := PlanJSON(f.plan())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(b, []byte(`"status": "`+want+`"`)) {
				t.Errorf("%s: status is not %q", name, want)
			}
		}
	}
}

// TestPlanJSONDocumented: every member the schema declares is described in docs/plan-json.md,
// and the document's example is valid.
func TestPlanJSONDocumented(t *testing.T) {
	s := loadSchema(t)
	doc, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	names, err := s.Members()
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	for _, n := range names {
		if !bytes.Contains(doc, []byte("`"+n+"`")) {
			t.Errorf("docs/plan-json.md does not describe `%s`", n)
		}
	}
	for _, st := range []string{StatusChanges, StatusNoChanges, StatusValidationFailed} {
		if !bytes.Contains(doc, []byte("`"+st+"`")) {
			t.Errorf("docs/plan-json.md does not describe status `%s`", st)
		}
	}

	m := regexp.MustCompile("(?s)```json\n(.*?)\n```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/plan-json.md has no ```json example")
	}
	for _, e := range s.Check(decodeJSON(t, m[1])) {
		t.Error(e)
	}
	if !bytes.Contains(doc, []byte(`"format_version": "`+JSONFormatVersion+`"`)) {
		t.Errorf("the example's format_version is not %s", JSONFormatVersion)
	}
}
