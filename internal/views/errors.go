package views

import (
	"errors"
	"strings"

	"github.com/pgferry/pgferry/apply"
)

// Diagnostic is an error of apply as the machine-readable output carries it: Terraform's
// severity, summary and detail, and for a statement the target refused, its parts.
type Diagnostic struct {
	Severity string `json:"severity"`
	// Summary is the error on one line.
	Summary string `json:"summary"`
	// Detail is the rest, one "label: text" a line: the statement, the server's detail and hints.
	Detail    string `json:"detail,omitempty"`
	Object    string `json:"object,omitempty"`
	Statement string `json:"statement,omitempty"`
	SQLState  string `json:"sqlstate,omitempty"`
	// Hint is pgferry's advice; ServerHint the server's.
	Hint       string `json:"hint,omitempty"`
	ServerHint string `json:"server_hint,omitempty"`
}

// Diagnose turns an error of apply into a Diagnostic; redact (nil: none) is applied to every text.
func Diagnose(err error, redact func(string) string) Diagnostic {
	if redact == nil {
		redact = func(s string) string { return s }
	}
	d := Diagnostic{Severity: "error", Summary: redact(err.Error())}
	var se *apply.StatementError
	if errors.As(err, &se) {
		d.Detail = redact(strings.Join(se.Lines(), "\n"))
		d.Object, d.Statement, d.SQLState = redact(se.Object), redact(se.Statement), se.PgErr.Code
		d.Hint, d.ServerHint = redact(se.Hint), redact(se.PgErr.Hint)
	}
	return d
}

// ErrorText is an error of apply as people read it: its one line, then what a statement the
// target refused adds (the statement, the server's detail, hints), indented, a line each:
//
//	database "shop": creating schema "public": must be able to SET ROLE "postgres" (SQLSTATE 42501)
//	  statement: ALTER SCHEMA public OWNER TO postgres;
//	  hint: the target login is not a member of role "postgres", ...
func ErrorText(err error) string {
	d := Diagnose(err, nil)
	if d.Detail == "" {
		return d.Summary
	}
	return d.Summary + "\n  " + strings.ReplaceAll(d.Detail, "\n", "\n  ")
}
