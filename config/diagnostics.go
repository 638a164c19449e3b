package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcled"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Diagnostics is the list of problems found in a configuration. Load returns them in
// reading order: those about command-line inputs first, then by file and position.
// Every diagnostic produced by Load has a Summary and a Detail that says
// what to do; those about a place in a file carry its Subject range. Diagnostics about
// command-line inputs (--var, --var-file) have no Subject.
type Diagnostics hcl.Diagnostics

// HasErrors reports whether any diagnostic is an error (warnings do not count).
func (d Diagnostics) HasErrors() bool {
	return hcl.Diagnostics(d).HasErrors()
}

// ErrorCount returns the number of error diagnostics.
func (d Diagnostics) ErrorCount() int { return d.count(hcl.DiagError) }

// WarningCount returns the number of warning diagnostics.
func (d Diagnostics) WarningCount() int { return d.count(hcl.DiagWarning) }

func (d Diagnostics) count(sev hcl.DiagnosticSeverity) int {
	n := 0
	for _, diag := range d {
		if diag.Severity == sev {
			n++
		}
	}
	return n
}

// Append adds err to d: hcl.Diagnostics, Diagnostics and *hcl.Diagnostic are added
// as they are, any other error becomes an error diagnostic whose summary is its
// message. A nil err adds nothing.
func (d *Diagnostics) Append(err error) {
	if err == nil {
		return
	}
	var (
		hd   hcl.Diagnostics
		cd   Diagnostics
		diag *hcl.Diagnostic
	)
	switch {
	case errors.As(err, &cd):
		*d = append(*d, cd...)
	case errors.As(err, &hd):
		*d = append(*d, hd...)
	case errors.As(err, &diag):
		*d = append(*d, diag)
	default:
		*d = append(*d, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: err.Error()})
	}
}

// Error implements error so that Diagnostics can travel as one; it summarises the
// first error. Use Err to get a nil error when there are only warnings.
func (d Diagnostics) Error() string {
	var errs hcl.Diagnostics
	for _, diag := range d {
		if diag.Severity == hcl.DiagError {
			errs = append(errs, diag)
		}
	}
	if len(errs) == 0 {
		return hcl.Diagnostics(d).Error()
	}
	first := errs[0]
	msg := first.Summary
	if first.Subject != nil {
		msg = fmt.Sprintf("%s: %s", posString(*first.Subject), msg)
	}
	if first.Detail != "" {
		msg += ": " + first.Detail
	}
	if len(errs) > 1 {
		msg += fmt.Sprintf(" (and %d more errors)", len(errs)-1)
	}
	return msg
}

// Err returns d as an error when it holds at least one error, else nil.
func (d Diagnostics) Err() error {
	if d.HasErrors() {
		return d
	}
	return nil
}

// noSnippet is the Extra of a diagnostic whose source lines must not be quoted: they
// may hold a secret (a line of a variables file, a value written where configuration
// was expected). Such a diagnostic still names its file:line:col.
type noSnippet struct{}

// hideSnippet marks d as one whose source lines are never quoted.
func hideSnippet(d *hcl.Diagnostic) { d.Extra = noSnippet{} }

// SnippetHidden reports whether d's source lines must not be quoted, because they
// may hold a secret. Write and JSON leave them out.
func SnippetHidden(d *hcl.Diagnostic) bool {
	_, ok := d.Extra.(noSnippet)
	return ok
}

// Write renders d for a terminal with hcl's diagnostic text writer: severity and
// summary, the location as file:line:col, the source snippet with the subject
// highlighted, and the detail wrapped to width (0: no wrapping). files maps file
// names to their bytes (Config.SnippetFiles; a file missing from it is read from
// disk). With color the subject is highlighted with
// VT100 codes; without, a line of carets underlines it. A diagnostic whose snippet
// is hidden (SnippetHidden) gets its location only.
func (d Diagnostics) Write(w io.Writer, files map[string][]byte, color bool, width uint) error {
	parsed := d.parsedFiles(files)
	for _, diag := range d {
		var buf bytes.Buffer
		hidden := SnippetHidden(diag)
		srcFiles := parsed
		if hidden {
			srcFiles = nil
		}
		tw := hcl.NewDiagnosticTextWriter(&buf, srcFiles, width, color)
		if err := tw.WriteDiagnostic(diag); err != nil {
			return err
		}
		out := buf.Bytes()
		if hidden {
			out = bytes.Replace(out, []byte("(source code not available)"), []byte("(the line is not shown: it may hold a secret)"), 1)
		}
		if diag.Subject != nil {
			var src []byte
			if f := parsed[diag.Subject.Filename]; f != nil && !hidden {
				src = f.Bytes
			}
			out = decorate(out, diag.Subject, src, color)
		}
		if _, err := w.Write(out); err != nil {
			return err
		}
	}
	return nil
}

// decorate turns hcl's "on FILE line N" into "on FILE:N:C" (a location editors and
// terminals recognise) and, without colour, underlines the subject with carets.
func decorate(out []byte, subject *hcl.Range, src []byte, color bool) []byte {
	lines := strings.SplitAfter(string(out), "\n")
	onPrefix := fmt.Sprintf("  on %s line %d", subject.Filename, subject.Start.Line)
	snipPrefix := fmt.Sprintf("%4d: ", subject.Start.Line)
	var b strings.Builder
	underlined := color || src == nil
	for _, line := range lines {
		if strings.HasPrefix(line, onPrefix) {
			line = fmt.Sprintf("  on %s:%d:%d", subject.Filename, subject.Start.Line, subject.Start.Column) + line[len(onPrefix):]
		}
		b.WriteString(line)
		if !underlined && strings.HasPrefix(line, snipPrefix) {
			underlined = true
			if u := underline(src, subject); u != "" {
				b.WriteString(strings.Repeat(" ", len(snipPrefix)) + u + "\n")
			}
		}
	}
	return []byte(b.String())
}

// underline returns the carets that mark subject on its first line, indented with the
// same tabs as the source so that they line up.
func underline(src []byte, subject *hcl.Range) string {
	start, end := subject.Start.Byte, subject.End.Byte
	if start < 0 || start > len(src) {
		return ""
	}
	lineStart := bytes.LastIndexByte(src[:start], '\n') + 1
	lineEnd := len(src)
	if i := bytes.IndexByte(src[start:], '\n'); i >= 0 {
		lineEnd = start + i
	}
	if end > lineEnd || end < start {
		end = lineEnd
	}
	var b strings.Builder
	for _, r := range string(src[lineStart:start]) {
		if r == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	n := utf8.RuneCount(src[start:end])
	if n == 0 {
		n = 1
	}
	b.WriteString(strings.Repeat("^", n))
	return b.String()
}

// parsedFiles re-parses the sources so that the text writer can name the enclosing
// block ("in source "onprem"") as well as quote the snippet. A file a diagnostic
// is about but files lacks (such as a --var-file when given Config.Files) is read
// from disk.
func (d Diagnostics) parsedFiles(files map[string][]byte) map[string]*hcl.File {
	all := make(map[string][]byte, len(files))
	for name, src := range files {
		all[name] = src
	}
	for _, diag := range d {
		if diag.Subject == nil || diag.Subject.Filename == "" {
			continue
		}
		if _, ok := all[diag.Subject.Filename]; !ok {
			if src, err := os.ReadFile(diag.Subject.Filename); err == nil {
				all[diag.Subject.Filename] = src
			}
		}
	}
	out := make(map[string]*hcl.File, len(all))
	for name, src := range all {
		f, _ := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
		if f == nil {
			f = &hcl.File{}
		}
		f.Bytes = src
		out[name] = f
	}
	return out
}

// JSONReport is the document `validate --json` prints.
type JSONReport struct {
	Valid        bool             `json:"valid"`
	ErrorCount   int              `json:"error_count"`
	WarningCount int              `json:"warning_count"`
	Diagnostics  []JSONDiagnostic `json:"diagnostics"`
}

// JSONDiagnostic is one diagnostic of a JSONReport. Range and Snippet are absent for
// diagnostics about command-line inputs; Snippet also where the lines may hold a
// secret.
type JSONDiagnostic struct {
	Severity string       `json:"severity"` // "error" or "warning"
	Summary  string       `json:"summary"`
	Detail   string       `json:"detail"`
	Range    *JSONRange   `json:"range,omitempty"`
	Snippet  *JSONSnippet `json:"snippet,omitempty"`
}

// JSONRange is a source range; lines and columns count from 1, bytes from 0.
type JSONRange struct {
	Filename string  `json:"filename"`
	Start    JSONPos `json:"start"`
	End      JSONPos `json:"end"`
}

// JSONPos is one position in a file.
type JSONPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// JSONSnippet is the source around a diagnostic: the whole lines its range covers.
// The highlight offsets are byte offsets of the subject within Code.
type JSONSnippet struct {
	Context              *string `json:"context"` // enclosing block, e.g. `source "onprem"`; null at top level
	Code                 string  `json:"code"`
	StartLine            int     `json:"start_line"`
	HighlightStartOffset int     `json:"highlight_start_offset"`
	HighlightEndOffset   int     `json:"highlight_end_offset"`
}

// JSON returns the `validate --json` document for d; files (Config.SnippetFiles)
// supply the snippets, as for Write.
func (d Diagnostics) JSON(files map[string][]byte) JSONReport {
	parsed := d.parsedFiles(files)
	rep := JSONReport{
		Valid:        !d.HasErrors(),
		ErrorCount:   d.ErrorCount(),
		WarningCount: d.WarningCount(),
		Diagnostics:  make([]JSONDiagnostic, 0, len(d)),
	}
	for _, diag := range d {
		jd := JSONDiagnostic{Severity: "error", Summary: diag.Summary, Detail: diag.Detail}
		if diag.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if s := diag.Subject; s != nil {
			jd.Range = &JSONRange{
				Filename: s.Filename,
				Start:    JSONPos{Line: s.Start.Line, Column: s.Start.Column, Byte: s.Start.Byte},
				End:      JSONPos{Line: s.End.Line, Column: s.End.Column, Byte: s.End.Byte},
			}
			if f := parsed[s.Filename]; f != nil && f.Bytes != nil && !SnippetHidden(diag) {
				jd.Snippet = snippet(f, *s, diag.Context)
			}
		}
		rep.Diagnostics = append(rep.Diagnostics, jd)
	}
	return rep
}

// WriteJSON writes the JSON report of d, indented, followed by a newline.
func (d Diagnostics) WriteJSON(w io.Writer, files map[string][]byte) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(d.JSON(files))
}

func snippet(f *hcl.File, subject hcl.Range, context *hcl.Range) *JSONSnippet {
	src := f.Bytes
	rng := subject
	if context != nil {
		rng = hcl.RangeOver(rng, *context)
	}
	start := clamp(rng.Start.Byte, 0, len(src))
	end := clamp(rng.End.Byte, start, len(src))
	codeStart := bytes.LastIndexByte(src[:start], '\n') + 1
	codeEnd := len(src)
	if i := bytes.IndexByte(src[end:], '\n'); i >= 0 {
		codeEnd = end + i
	}
	code := strings.TrimSuffix(string(src[codeStart:codeEnd]), "\r")
	sn := &JSONSnippet{
		Code:                 code,
		StartLine:            rng.Start.Line,
		HighlightStartOffset: clamp(subject.Start.Byte-codeStart, 0, len(code)),
		HighlightEndOffset:   clamp(subject.End.Byte-codeStart, 0, len(code)),
	}
	if c := hcled.ContextString(f, subject.Start.Byte); c != "" {
		sn.Context = &c
	}
	return sn
}

func clamp(v, lo, hi int) int {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// posString renders the start of r as file:line.
func posString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line)
}

// dedupe drops diagnostics identical to an earlier one (same severity, summary,
// detail and subject): evaluating one expression twice must not report twice.
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		sev             hcl.DiagnosticSeverity
		summary, detail string
		subject         hcl.Range
	}
	seen := make(map[key]bool, len(diags))
	out := diags[:0:0]
	for _, d := range diags {
		k := key{sev: d.Severity, summary: d.Summary, detail: d.Detail}
		if d.Subject != nil {
			k.subject = *d.Subject
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, d)
	}
	return out
}
