package views

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/plan"
)

var (
	schemaPath = filepath.Join("..", "..", "docs", "plan-json.schema.json")
	docPath    = filepath.Join("..", "..", "docs", "plan-json.md")
)

// schema is a checker for the subset of JSON Schema (draft 2020-12) that plan-json.schema.json
// uses: type, required, properties, items, enum and local $ref. Any other assertion keyword is an
// error, so the schema cannot promise what this test does not check.
type schema struct {
	root map[string]any
	// strict also rejects object members the schema does not declare: our own output must be
	// fully documented, though readers must accept unknown members.
	strict bool
}

var annotations = map[string]bool{"$schema": true, "$id": true, "$defs": true, "title": true, "description": true, "format": true}

func loadSchema(t *testing.T) *schema {
	t.Helper()
	b, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(b, &root); err != nil {
		t.Fatalf("%s: %v", schemaPath, err)
	}
	if root["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("%s: $schema = %v, want draft 2020-12", schemaPath, root["$schema"])
	}
	return &schema{root: root, strict: true}
}

func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	return v
}

func (s *schema) resolve(node map[string]any) (map[string]any, error) {
	ref, ok := node["$ref"].(string)
	if !ok {
		return node, nil
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		return nil, fmt.Errorf("unsupported $ref %q", ref)
	}
	defs, _ := s.root["$defs"].(map[string]any)
	def, ok := defs[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("$ref %q: no such definition", ref)
	}
	return s.resolve(def)
}

// check returns every way v breaks node, each prefixed with its JSON path.
func (s *schema) check(path string, node map[string]any, v any) []string {
	node, err := s.resolve(node)
	if err != nil {
		return []string{path + ": " + err.Error()}
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, path+": "+fmt.Sprintf(format, args...)) }
	for k := range node {
		switch k {
		case "type", "required", "properties", "items", "enum", "$ref":
		default:
			if !annotations[k] {
				fail("schema keyword %q is not supported by this checker", k)
			}
		}
	}
	if typ, ok := node["type"].(string); ok {
		if !hasType(v, typ) {
			fail("want %s, got %s", typ, jsonType(v))
			return errs
		}
	} else if _, present := node["type"]; present {
		fail("type must be one string")
	}
	if enum, ok := node["enum"].([]any); ok {
		if !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) && jsonType(v) == jsonType(e) }) {
			fail("%v is not one of %v", v, enum)
		}
	}
	if obj, ok := v.(map[string]any); ok {
		props, _ := node["properties"].(map[string]any)
		if req, ok := node["required"].([]any); ok {
			for _, r := range req {
				if _, present := obj[r.(string)]; !present {
					fail("required member %q is missing", r)
				}
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub, declared := props[k].(map[string]any)
			if !declared {
				if s.strict {
					fail("member %q is not declared in the schema", k)
				}
				continue
			}
			errs = append(errs, s.check(path+"."+k, sub, obj[k])...)
		}
	}
	if arr, ok := v.([]any); ok {
		if items, ok := node["items"].(map[string]any); ok {
			for i, e := range arr {
				errs = append(errs, s.check(fmt.Sprintf("%s[%d]", path, i), items, e)...)
			}
		}
	}
	return errs
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func hasType(v any, typ string) bool {
	got := jsonType(v)
	return got == typ || (typ == "number" && got == "integer")
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
			for _, e := range s.check("$", s.root, decodeJSON(t, b)) {
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
			errs := s.check("$", s.root, doc)
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
	if bytes.Contains(b, []byte("null")) {
		t.Error("the document holds a null")
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
	var names []string
	var walk func(node map[string]any)
	seen := map[string]bool{}
	walk = func(node map[string]any) {
		node, err := s.resolve(node)
		if err != nil {
			t.Fatal(err)
		}
		props, _ := node["properties"].(map[string]any)
		for k, sub := range props {
			if !seen[k] {
				seen[k] = true
				names = append(names, k)
			}
			walk(sub.(map[string]any))
		}
		if items, ok := node["items"].(map[string]any); ok {
			walk(items)
		}
	}
	walk(s.root)
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
	for _, e := range s.check("example", s.root, decodeJSON(t, m[1])) {
		t.Error(e)
	}
	if !bytes.Contains(doc, []byte(`"format_version": "`+JSONFormatVersion+`"`)) {
		t.Errorf("the example's format_version is not %s", JSONFormatVersion)
	}
}
