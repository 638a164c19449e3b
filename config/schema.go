package config

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// schema says what a body may contain. Decoding walks hclsyntax bodies directly
// (every configuration file is native HCL) so that each message can name the block
// it is about and list what is accepted instead.
type schema struct {
	where  string   // for messages: "a source block", "the top level"
	attrs  []string // accepted arguments, in documentation order
	blocks []string // accepted nested block types
	// misplaced explains names that are valid elsewhere, e.g. fqdn in a source block.
	misplaced map[string]string
}

// content is a body's accepted arguments and blocks, in source order.
type content struct {
	attrs  map[string]*hclsyntax.Attribute
	blocks []*hclsyntax.Block
}

// decodeBody checks body against s and returns what it holds. Unknown arguments and
// blocks are reported (with a suggestion when a known name is close) and left out.
func decodeBody(body *hclsyntax.Body, s schema) (content, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	c := content{attrs: make(map[string]*hclsyntax.Attribute)}

	for _, attr := range sortedAttrs(body) {
		if slices.Contains(s.attrs, attr.Name) {
			c.attrs[attr.Name] = attr
			continue
		}
		detail := fmt.Sprintf("An argument named %q is not expected in %s.", attr.Name, s.where)
		switch {
		case s.misplaced[attr.Name] != "":
			detail += " " + s.misplaced[attr.Name]
		case slices.Contains(s.blocks, attr.Name):
			detail += fmt.Sprintf(" %s is a block: remove the equals sign and write %s { ... }.", attr.Name, attr.Name)
		default:
			if sug := suggest(attr.Name, s.attrs); sug != "" {
				detail += fmt.Sprintf(" Did you mean %q?", sug)
			} else if len(s.attrs) > 0 {
				detail += " Remove it; the arguments accepted here are: " + strings.Join(s.attrs, ", ") + "."
			} else {
				detail += " Only blocks are allowed here: " + strings.Join(s.blocks, ", ") + "."
			}
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported argument",
			Detail:   detail,
			Subject:  rangePtr(attr.NameRange),
		})
	}

	for _, block := range body.Blocks {
		if slices.Contains(s.blocks, block.Type) {
			c.blocks = append(c.blocks, block)
			continue
		}
		detail := fmt.Sprintf("Blocks of type %q are not expected in %s.", block.Type, s.where)
		switch {
		case s.misplaced[block.Type] != "":
			detail += " " + s.misplaced[block.Type]
		case slices.Contains(s.attrs, block.Type):
			detail += fmt.Sprintf(" %s is an argument: write %s = <value>.", block.Type, block.Type)
		default:
			if sug := suggest(block.Type, s.blocks); sug != "" {
				detail += fmt.Sprintf(" Did you mean %q?", sug)
			} else if len(s.blocks) > 0 {
				detail += " Remove it; the blocks accepted here are: " + strings.Join(s.blocks, ", ") + "."
			} else {
				detail += " No nested blocks are allowed here; remove it."
			}
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported block type",
			Detail:   detail,
			Subject:  rangePtr(block.TypeRange),
		})
	}
	return c, diags
}

// sortedAttrs returns the attributes of body in source order: diagnostics come out
// in the order a reader meets them.
func sortedAttrs(body *hclsyntax.Body) []*hclsyntax.Attribute {
	out := make([]*hclsyntax.Attribute, 0, len(body.Attributes))
	for _, a := range body.Attributes {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SrcRange.Start.Byte < out[j].SrcRange.Start.Byte })
	return out
}

// checkLabels verifies that block has exactly one label and returns it; ok is false
// (with a diagnostic) otherwise. what names the label in messages ("name", "type").
func checkLabels(block *hclsyntax.Block, what, example string) (string, hcl.Diagnostics) {
	switch len(block.Labels) {
	case 1:
		return block.Labels[0], nil
	case 0:
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Missing %s for %s block", what, block.Type),
			Detail:   fmt.Sprintf("A %s block needs a %s label, for example: %s { ... }.", block.Type, what, example),
			Subject:  rangePtr(block.DefRange()),
		}}
	default:
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Extraneous label",
			Detail:   fmt.Sprintf("A %s block has exactly one label, its %s, for example: %s { ... }. Remove the extra labels.", block.Type, what, example),
			Subject:  rangePtr(hcl.RangeBetween(block.LabelRanges[1], block.LabelRanges[len(block.LabelRanges)-1])),
		}}
	}
}

// noLabels reports labels on a block that takes none (such as options).
func noLabels(block *hclsyntax.Block) hcl.Diagnostics {
	if len(block.Labels) == 0 {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Extraneous label",
		Detail:   fmt.Sprintf("A %s block takes no label: write %s { ... }.", block.Type, block.Type),
		Subject:  rangePtr(hcl.RangeBetween(block.LabelRanges[0], block.LabelRanges[len(block.LabelRanges)-1])),
	}}
}

var (
	// identRe is what a source, target or variable name must match: the name is used
	// in references (source.NAME, var.NAME), so it must be an HCL identifier.
	identRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	// migrationNameRe: letters, digits and '-', not starting with '-', as the product
	// contract says (the name is used on command lines, in state paths and in lock keys).
	migrationNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)
)

// suggest returns the candidate closest to given when it is close enough to be a
// likely typo, else "".
func suggest(given string, candidates []string) string {
	best, bestDist := "", 3 // threshold used by hcl itself
	for _, c := range candidates {
		if strings.EqualFold(c, given) {
			return c
		}
		d := levenshtein(strings.ToLower(given), strings.ToLower(c))
		if d < bestDist && d < len([]rune(c)) {
			best, bestDist = c, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b, counted in runes.
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func rangePtr(r hcl.Range) *hcl.Range { return &r }
