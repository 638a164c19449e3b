package config

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// docs/reference.md documents every block and argument the configuration accepts: the schemas
// decodeBody checks bodies against are enumerated here, so an argument added to one of them
// without a row in its block's table fails this test.

const referencePath = "../docs/reference.md"

// referenceSection returns the part of doc under the heading line heading, up to the next
// heading of the same or a higher level (lines in code blocks are not headings); ok is false
// when there is no such heading.
func referenceSection(doc, heading string) (string, bool) {
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
			return strings.Join(lines[start:i], "\n"), true
		}
	}
	if start < 0 {
		return "", false
	}
	return strings.Join(lines[start:], "\n"), true
}

func TestReferenceDocumentsEveryArgument(t *testing.T) {
	b, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("reading the reference: %v", err)
	}
	doc := string(b)

	// Every block type a configuration may contain, with its schema and the heading of its
	// section. backend blocks have one schema per type, below.
	blocks := map[string]schema{
		"variable":  variableSchema,
		"source":    serverSchemas["source"],
		"target":    serverSchemas["target"],
		"migration": migrationSchema,
		"options":   optionsSchema,
	}
	var nested []string
	nested = append(nested, topSchema.blocks...)
	for _, s := range blocks {
		nested = append(nested, s.blocks...)
	}
	sort.Strings(nested)
	for _, name := range nested {
		if _, known := blocks[name]; !known && name != "backend" {
			t.Errorf("block %q is accepted by the configuration but unknown to this test: add its schema to the blocks table here and a section \"### `%s` block\" to %s", name, name, referencePath)
		}
	}

	checkArgs := func(heading string, s schema) {
		sec, ok := referenceSection(doc, heading)
		if !ok {
			t.Errorf("%s has no section %q", referencePath, heading)
			return
		}
		for _, a := range s.attrs {
			if !strings.Contains(sec, "| `"+a+"` |") {
				t.Errorf("argument %q of %s is not documented under %q in %s: add a row | `%s` | type | default | meaning |",
					a, s.where, heading, referencePath, a)
			}
		}
		for _, nb := range s.blocks {
			if !strings.Contains(sec, "| `"+nb+"` |") {
				t.Errorf("nested block %q of %s is not listed under %q in %s", nb, s.where, heading, referencePath)
			}
		}
	}
	for name, s := range blocks {
		checkArgs("### `"+name+"` block", s)
	}
	if _, ok := referenceSection(doc, "### `backend` block"); !ok {
		t.Errorf("%s has no section \"### `backend` block\"", referencePath)
	}
	for _, typ := range backendTypes {
		checkArgs("#### `backend \""+typ+"\"`", backendSchema[typ])
	}
	if len(backendTypes) != len(backendSchema) {
		t.Errorf("backendTypes and backendSchema disagree: %v", backendTypes)
	}
}
