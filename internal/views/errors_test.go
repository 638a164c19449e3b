package views

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgferry/pgferry/apply"
	"github.com/pgferry/pgferry/plan"
)

func schemaError() error {
	se := &apply.StatementError{Op: "creating", Object: `schema "public"`, Statement: "ALTER SCHEMA public OWNER TO postgres;",
		PgErr: &pgconn.PgError{Code: "42501", Message: `must be able to SET ROLE "postgres"`, Detail: "a detail\non two lines"},
		Hint:  "map it with options.owner_map"}
	return fmt.Errorf("database %q: %w", "shop", se)
}

func TestErrorText(t *testing.T) {
	want := `database "shop": creating schema "public": must be able to SET ROLE "postgres" (SQLSTATE 42501)
  statement: ALTER SCHEMA public OWNER TO postgres;
  detail: a detail on two lines
  hint: map it with options.owner_map`
	if got := ErrorText(schemaError()); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if got := ErrorText(errors.New("plain")); got != "plain" {
		t.Errorf("a plain error: %q", got)
	}
}

func TestJSONErrored(t *testing.T) {
	var out bytes.Buffer
	j := &JSONLines{W: &out}
	a := &plan.Action{Address: "database.shop.schema", Type: plan.TypeSchema, Kind: plan.Create, Database: "shop"}
	j.Event(apply.Event{Type: "apply_errored", Address: a.Address, Action: a, Err: schemaError()})
	j.Errored(schemaError(), func(s string) string { return strings.ReplaceAll(s, "owner_map", "[redacted]") })
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), out.String())
	}
	for i, typ := range []string{"apply_errored", "diagnostic", "apply_errored"} {
		var m struct {
			Type       string     `json:"type"`
			Level      string     `json:"@level"`
			Diagnostic Diagnostic `json:"diagnostic"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &m); err != nil {
			t.Fatal(err)
		}
		d := m.Diagnostic
		if m.Type != typ || m.Level != "error" || d.Severity != "error" || d.SQLState != "42501" || d.Object != `schema "public"` ||
			d.Statement != "ALTER SCHEMA public OWNER TO postgres;" || !strings.HasPrefix(d.Summary, `database "shop": creating schema "public": must be able`) ||
			!strings.Contains(d.Detail, "statement: ALTER SCHEMA public OWNER TO postgres;\n") {
			t.Errorf("line %d: %s", i, lines[i])
		}
		if i > 0 && (strings.Contains(lines[i], "owner_map") || d.Hint != "map it with options.[redacted]") {
			t.Errorf("line %d is not redacted: %s", i, lines[i])
		}
	}
}
