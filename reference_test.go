package main

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/pgferry/pgferry/checks"
	"github.com/spf13/pflag"
)

// The reference (docs/reference.md) documents every flag the commands accept and every
// validation: these tests enumerate them from the code, so a flag or a check added without
// documentation fails here. The configuration's arguments are checked in the config package.

const referencePath = "docs/reference.md"

func readReference(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("reading the reference: %v", err)
	}
	return string(b)
}

// docSection returns the part of doc under the heading line heading (e.g. "### `pgferry plan`"),
// up to the next heading of the same or a higher level; lines in code blocks are not headings.
func docSection(t *testing.T, doc, heading string) string {
	t.Helper()
	level := strings.IndexFunc(heading, func(r rune) bool { return r != '#' })
	lines := strings.Split(doc, "\n")
	start := -1
	inCode := false
	for i, l := range lines {
		if strings.HasPrefix(l, "```") {
			inCode = !inCode
			continue
		}
		if inCode {
			continue
		}
		if start < 0 {
			if strings.TrimSpace(l) == heading {
				start = i + 1
			}
			continue
		}
		if n := strings.IndexFunc(l, func(r rune) bool { return r != '#' }); n > 0 && n <= level && l[n] == ' ' {
			return strings.Join(lines[start:i], "\n")
		}
	}
	if start < 0 {
		t.Fatalf("%s has no section %q", referencePath, heading)
	}
	return strings.Join(lines[start:], "\n")
}

// checkFlagsDocumented asserts that every flag of fs appears in section as `--name` (and its
// shorthand as `-x`), in a table row or in the text.
func checkFlagsDocumented(t *testing.T, fs *pflag.FlagSet, section, where string) {
	t.Helper()
	n := 0
	fs.VisitAll(func(f *pflag.Flag) {
		n++
		if !strings.Contains(section, "`--"+f.Name+"`") && !strings.Contains(section, "`--"+f.Name+" ") {
			t.Errorf("%s: flag --%s is not documented in %s (add a row `--%s` to its flags table)", where, f.Name, referencePath, f.Name)
		}
		if f.Shorthand != "" && !strings.Contains(section, "`-"+f.Shorthand+"`") {
			t.Errorf("%s: shorthand -%s of --%s is not documented in %s", where, f.Shorthand, f.Name, referencePath)
		}
	})
	if n == 0 {
		t.Errorf("%s: no flags enumerated", where)
	}
}

func TestReferenceDocumentsEveryFlag(t *testing.T) {
	doc := readReference(t)

	global, _ := globalFlags()
	checkFlagsDocumented(t, global, docSection(t, doc, "### Global flags"), "pgferry (global flags)")

	for _, cmd := range commands() {
		t.Run(cmd.name, func(t *testing.T) {
			// Each command builds its flag set, then parses: --help stops it there, before any
			// file, state or server is read, and onFlags hands over the complete set.
			var got *pflag.FlagSet
			c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
				onFlags: func(fs *pflag.FlagSet) { got = fs }}
			if code := c.call(cmd.run, []string{"--help"}); code != 0 {
				t.Fatalf("pgferry %s --help exited %d", cmd.name, code)
			}
			if got == nil {
				t.Fatalf("pgferry %s does not parse its flags with cli.parse: the test cannot see them", cmd.name)
			}
			sec := docSection(t, doc, "### `pgferry "+cmd.name+"`")
			if !strings.Contains(sec, "pgferry "+cmd.name) {
				t.Errorf("the section of pgferry %s shows no synopsis", cmd.name)
			}
			checkFlagsDocumented(t, got, sec, "pgferry "+cmd.name)
		})
	}
}

func TestReferenceDocumentsEveryValidation(t *testing.T) {
	sec := docSection(t, readReference(t), "## Validations")
	for _, c := range checks.All {
		row := "| `" + c.ID + "` | " + c.Level + " |"
		if !strings.Contains(sec, row) {
			t.Errorf("validation %s (%s) is not documented in %s: add the row %q to the Validations table", c.ID, c.Level, referencePath, row+" what it checks |")
		}
	}
}

func TestReferenceLinkedFromReadme(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	if !strings.Contains(readme, "(docs/reference.md)") {
		t.Errorf("README.md does not link docs/reference.md")
	}
	anchors := headingAnchors(readReference(t))
	for _, m := range regexp.MustCompile(`\(docs/reference\.md#([^)]*)\)`).FindAllStringSubmatch(readme, -1) {
		if !anchors[m[1]] {
			t.Errorf("README.md links to docs/reference.md#%s, which is no heading of the reference", m[1])
		}
	}
	if !strings.Contains(readReference(t), "(plan-json.md)") {
		t.Errorf("%s does not link plan-json.md", referencePath)
	}
}

// TestReferenceLinks checks that every link to a section of the reference (#anchor) names a
// heading, with GitHub's anchors: lower case, punctuation other than '-' and '_' dropped, spaces
// as '-'; and that every relative file link names a file.
func TestReferenceLinks(t *testing.T) {
	doc := readReference(t)
	anchors := headingAnchors(doc)
	for _, m := range regexp.MustCompile(`\]\(([^)\s]*)\)`).FindAllStringSubmatch(doc, -1) {
		target := m[1]
		switch {
		case strings.HasPrefix(target, "#"):
			if !anchors[target[1:]] {
				t.Errorf("%s links to %s, which is no heading", referencePath, target)
			}
		case strings.Contains(target, "://"):
		default:
			file, _, _ := strings.Cut(target, "#")
			if _, err := os.Stat(filepath.Join(filepath.Dir(referencePath), file)); err != nil {
				t.Errorf("%s links to %s: %v", referencePath, target, err)
			}
		}
	}
}

// headingAnchors returns the anchors GitHub gives the headings of doc.
func headingAnchors(doc string) map[string]bool {
	anchors := map[string]bool{}
	inCode := false
	for _, l := range strings.Split(doc, "\n") {
		if strings.HasPrefix(l, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(l, "#") {
			continue
		}
		title := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var b strings.Builder
		for _, r := range strings.ToLower(title) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		anchors[b.String()] = true
	}
	return anchors
}
