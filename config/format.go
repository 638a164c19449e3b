package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	godiff "github.com/rogpeppe/go-internal/diff"
)

// Format returns src in canonical HCL layout (hclwrite.Format): aligned equals
// signs, normalised spacing and indentation. Comments and content are unchanged.
func Format(src []byte) []byte {
	return hclwrite.Format(src)
}

// FormatDir formats every *.hcl file of dir and returns the paths of the files whose
// formatting changed (or, with check, would change), in name order. With check the
// files are left alone; otherwise they are rewritten in place, keeping their mode.
// With diff a unified diff of each changed file is written to w.
//
// A file with syntax errors is skipped: err is then the Diagnostics describing them,
// and the other files are still processed.
func FormatDir(dir string, check, diff bool, w io.Writer) (changed []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading configuration directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)

	var diags Diagnostics
	for _, name := range names {
		path := filepath.Join(dir, name)
		fileChanged, err := formatFile(path, check, diff, w)
		if err != nil {
			diags.Append(err)
			continue
		}
		if fileChanged {
			changed = append(changed, path)
		}
	}
	if diags.HasErrors() {
		return changed, diags
	}
	return changed, nil
}

func formatFile(path string, check, showDiff bool, w io.Writer) (bool, error) {
	info, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	// hclwrite works on tokens and would happily "format" a broken file: refuse.
	if f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos); diags.HasErrors() {
		// A file without blocks is no configuration: it may be variable values (a
		// vars.hcl), and its lines are not quoted, as Load does not quote them.
		if f != nil {
			if body, ok := f.Body.(*hclsyntax.Body); ok && len(body.Blocks) == 0 {
				for _, d := range diags {
					hideSnippet(d)
				}
			}
		}
		return false, diags
	}
	out := Format(src)
	if bytes.Equal(src, out) {
		return false, nil
	}
	if showDiff && w != nil {
		slashed := filepath.ToSlash(path)
		diff := godiff.Diff("old/"+slashed, src, "new/"+slashed, out)
		if valuesOnly(src, path) {
			// Variable values (a file passed with --var-file) may be secrets: their lines are not shown.
			diff = fmt.Appendf(nil, "diff old/%s new/%s\n(the changes are not shown: the file holds only variable values, which may be secrets)\n", slashed, slashed)
		}
		if _, err := w.Write(diff); err != nil {
			return true, fmt.Errorf("writing diff: %w", err)
		}
	}
	if !check {
		if err := os.WriteFile(path, out, info.Mode().Perm()); err != nil {
			return true, fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return true, nil
}

// valuesOnly reports whether src, a file that parses, holds attributes and no block: variable
// values rather than configuration.
func valuesOnly(src []byte, path string) bool {
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() || f == nil {
		return false
	}
	body, ok := f.Body.(*hclsyntax.Body)
	return ok && len(body.Blocks) == 0 && len(body.Attributes) > 0
}
