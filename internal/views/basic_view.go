package views

import (
	"fmt"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/english"
)

// Validate is the view of pgferry validate: the diagnostics and the verdict, for people or as
// one JSON document.
type Validate interface {
	// Result reports the diagnostics (files: the configuration's, for snippets) and, when there
	// are no errors, that the configuration's migrations are valid.
	Result(diags config.Diagnostics, files map[string][]byte, migrations int)
}

// NewValidate chooses the validate view: JSONView or HumanView.
func NewValidate(t ViewType, v *View) Validate {
	if t == JSONView {
		return validateJSON{v}
	}
	return validateHuman{v}
}

type validateHuman struct{ *View }

func (h validateHuman) Result(diags config.Diagnostics, files map[string][]byte, migrations int) {
	if len(diags) > 0 {
		h.Diagnostics(diags, files)
	}
	if !diags.HasErrors() {
		fmt.Fprintf(h.Stdout, "Success! The configuration is valid (%s).\n", english.Count(migrations, "migration"))
	}
}

type validateJSON struct{ *View }

func (j validateJSON) Result(diags config.Diagnostics, files map[string][]byte, _ int) {
	diags.WriteJSON(j.Stdout, files)
}

// Fmt is the view of pgferry fmt (people only; --diff is config.FormatDir's own output).
type Fmt struct{ *View }

// Changed lists the files fmt rewrote, or would rewrite (--check).
func (f Fmt) Changed(files []string) {
	for _, name := range files {
		fmt.Fprintln(f.Stdout, name)
	}
}

// Version is the view of pgferry version.
type Version struct{ *View }

// Tool is a PostgreSQL client tool found: its name, version and path.
type Tool struct{ Name, Version, Path string }

// Versions prints pgferry's version, Go's and the platform, and the client tools found (binPathEnv:
// the environment variable that names their directory).
func (v Version) Versions(pgferry, goVersion, platform string, tools []Tool, binPathEnv string) {
	fmt.Fprintf(v.Stdout, "pgferry %s\n%s %s\n", pgferry, goVersion, platform)
	for _, t := range tools {
		fmt.Fprintf(v.Stdout, "%s %s (%s)\n", t.Name, t.Version, t.Path)
	}
	if len(tools) == 0 {
		fmt.Fprintln(v.Stdout, "pg_dump/pg_restore: not found on PATH, in "+binPathEnv+" or in /usr/lib/postgresql/*/bin (install the PostgreSQL client, or set options.pg_bin_dir or "+binPathEnv+")")
	}
}

// VerifyView is the view of pgferry verify: the report for people, as one JSON document, or in
// Markdown for a change ticket.
type VerifyView interface {
	// Report renders the report (allTables: every table, also those that match, in text).
	Report(r *VerifyReport, allTables bool) error
	// Differences follows a report that found n differences: for people, an error; the JSON
	// document says it itself.
	Differences(n int)
}

// NewVerify chooses the verify view.
func NewVerify(t ViewType, v *View) VerifyView {
	switch t {
	case JSONView:
		return verifyJSON{v}
	case MarkdownView:
		return verifyMD{v}
	}
	return verifyHuman{v}
}

type verifyHuman struct{ *View }

func (h verifyHuman) Report(r *VerifyReport, allTables bool) error {
	Verify(h.Stdout, r, allTables)
	return nil
}

func (h verifyHuman) Differences(n int) {
	h.Error(fmt.Sprintf("verification found %s between source and target", english.Count(n, "difference")))
}

type verifyMD struct{ *View }

func (m verifyMD) Report(r *VerifyReport, _ bool) error {
	VerifyMarkdown(m.Stdout, r)
	return nil
}

func (m verifyMD) Differences(n int) { verifyHuman(m).Differences(n) }

type verifyJSON struct{ *View }

func (j verifyJSON) Report(r *VerifyReport, _ bool) error {
	b, err := VerifyJSON(r)
	if err != nil {
		return err
	}
	j.Stdout.Write(append(b, '\n'))
	return nil
}

func (verifyJSON) Differences(int) {}
