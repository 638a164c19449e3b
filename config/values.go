package config

import (
	"fmt"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// values are the evaluated arguments of one block. An argument whose evaluation
// failed, or whose value is unknown because it depends on something invalid, is in
// failed and not in vals: the getters then return the default and say nothing, so a
// problem is reported once. A null argument counts as absent.
type values struct {
	l      *loader
	block  *hclsyntax.Block
	attrs  map[string]*hclsyntax.Attribute
	vals   map[string]cty.Value // known, non-null, unmarked
	sens   map[string]bool      // the value derives from a sensitive variable
	failed map[string]bool
	ok     bool // false once anything in the block failed
}

// eval evaluates every argument of c in ctx, except those named in skip.
func (l *loader) eval(block *hclsyntax.Block, c content, ctx *hcl.EvalContext, skip ...string) *values {
	v := &values{
		l:      l,
		block:  block,
		attrs:  c.attrs,
		vals:   make(map[string]cty.Value),
		sens:   make(map[string]bool),
		failed: make(map[string]bool),
		ok:     true,
	}
	for _, a := range sortedAttrMap(c.attrs) {
		if slices.Contains(skip, a.Name) {
			continue
		}
		val, ok := l.evalExpr(a.Expr, ctx)
		if !ok {
			v.failed[a.Name] = true
			v.ok = false
			continue
		}
		if val.IsNull() {
			continue
		}
		unmarked, marks := val.UnmarkDeep()
		v.vals[a.Name] = unmarked
		v.sens[a.Name] = len(marks) > 0
	}
	return v
}

func sortedAttrMap(m map[string]*hclsyntax.Attribute) []*hclsyntax.Attribute {
	out := make([]*hclsyntax.Attribute, 0, len(m))
	for _, a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *hclsyntax.Attribute) int { return a.SrcRange.Start.Byte - b.SrcRange.Start.Byte })
	return out
}

// has reports whether argument name has a usable value.
func (v *values) has(name string) bool {
	_, ok := v.vals[name]
	return ok
}

// fail reports a problem with the value of argument name and forgets the value.
func (v *values) fail(name, summary, detail string, args ...any) {
	v.failAt(v.attrs[name].Expr.Range(), name, summary, detail, args...)
}

func (v *values) failAt(rng hcl.Range, name, summary, detail string, args ...any) {
	v.l.errorf(&rng, summary, detail, args...)
	delete(v.vals, name)
	v.failed[name] = true
	v.ok = false
}

// require reports argument name missing from the block; example shows how to set it.
func (v *values) require(name, example string) {
	if v.failed[name] || v.has(name) {
		return
	}
	if a := v.attrs[name]; a != nil {
		v.fail(name, "Missing value", "%s is null here; it is required. Set it, for example: %s.", name, example)
		return
	}
	what := v.block.Type
	if what == "backend" && len(v.block.Labels) == 1 {
		what = fmt.Sprintf("backend %q", v.block.Labels[0])
	}
	v.l.errorf(rangePtr(v.block.DefRange()), "Missing required argument",
		"A %s block needs the argument %q. Add it, for example: %s.", what, name, example)
	v.ok = false
}

// show renders a value for a message, unless it derives from a sensitive variable.
func (v *values) show(name, s string) string {
	if v.sens[name] {
		return "a sensitive value"
	}
	return fmt.Sprintf("%q", s)
}

// get converts argument name to ty; want describes ty for the message.
func (v *values) get(name string, ty cty.Type, want string) (cty.Value, bool) {
	val, ok := v.vals[name]
	if !ok {
		return cty.NilVal, false
	}
	out, err := convert.Convert(val, ty)
	if err != nil {
		v.fail(name, "Incorrect value type", "%s must be %s; got %s.", name, want, typeName(val.Type()))
		return cty.NilVal, false
	}
	return out, true
}

// str returns argument name as a string, or def when it is absent or invalid.
func (v *values) str(name, def string) string {
	val, ok := v.get(name, cty.String, "a string")
	if !ok {
		return def
	}
	return val.AsString()
}

// nonEmpty is str for an argument that must not be the empty string.
func (v *values) nonEmpty(name, def, hint string) string {
	s := v.str(name, def)
	if v.has(name) && strings.TrimSpace(s) == "" {
		v.fail(name, "Empty value", "%s must not be empty. %s", name, hint)
		return def
	}
	return s
}

// boolean returns argument name as a bool, or def.
func (v *values) boolean(name string, def bool) bool {
	val, ok := v.get(name, cty.Bool, "true or false")
	if !ok {
		return def
	}
	return val.True()
}

// integer returns argument name as a whole number from lo to hi, or def.
func (v *values) integer(name string, def, lo, hi int) int {
	val, ok := v.get(name, cty.Number, fmt.Sprintf("a whole number from %d to %d", lo, hi))
	if !ok {
		return def
	}
	bf := val.AsBigFloat()
	if !bf.IsInt() || bf.Cmp(big.NewFloat(float64(lo))) < 0 || bf.Cmp(big.NewFloat(float64(hi))) > 0 {
		shown := bf.Text('f', -1)
		if v.sens[name] {
			shown = "a sensitive value"
		}
		v.fail(name, fmt.Sprintf("Invalid %s", name), "%s must be a whole number from %d to %d; got %s.", name, lo, hi, shown)
		return def
	}
	i, _ := bf.Int64()
	return int(i)
}

// oneOf returns argument name, which must be one of allowed, or def.
func (v *values) oneOf(name, def string, allowed []string) string {
	if !v.has(name) {
		return def
	}
	s := v.str(name, def)
	if !v.has(name) || slices.Contains(allowed, s) {
		return s
	}
	detail := fmt.Sprintf("%s must be one of %s; got %s.", name, orList(allowed), v.show(name, s))
	if sug := suggest(s, allowed); sug != "" && !v.sens[name] {
		detail += fmt.Sprintf(" Did you mean %q?", sug)
	}
	v.fail(name, fmt.Sprintf("Invalid %s", name), "%s", detail)
	return def
}

// stringList returns argument name as a list of strings with the range of each
// element (the whole expression's range when the elements are not written out).
func (v *values) stringList(name string) ([]string, []hcl.Range, bool) {
	val, ok := v.vals[name]
	if !ok {
		return nil, nil, false
	}
	ty := val.Type()
	if !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType() {
		v.fail(name, "Incorrect value type", "%s must be a list of strings, such as [\"a\", \"b\"]; got %s.", name, typeName(ty))
		return nil, nil, false
	}
	var (
		out    []string
		ranges []hcl.Range
	)
	i := 0
	for it := val.ElementIterator(); it.Next(); i++ {
		_, e := it.Element()
		rng := v.elemRange(name, i)
		if e.IsNull() {
			v.failAt(rng, name, "Incorrect value type", "The elements of %s must be strings, not null.", name)
			return nil, nil, false
		}
		s, err := convert.Convert(e, cty.String)
		if err != nil {
			v.failAt(rng, name, "Incorrect value type", "The elements of %s must be strings; element %d is %s.", name, i+1, typeName(e.Type()))
			return nil, nil, false
		}
		out = append(out, s.AsString())
		ranges = append(ranges, rng)
	}
	return out, ranges, true
}

// elemRange is the range of element i of a list argument written as [a, b, ...].
func (v *values) elemRange(name string, i int) hcl.Range {
	expr := v.attrs[name].Expr
	if tuple, ok := expr.(*hclsyntax.TupleConsExpr); ok && i < len(tuple.Exprs) {
		return tuple.Exprs[i].Range()
	}
	return expr.Range()
}

// typeName describes a cty type for messages: "a string", "a list", ...
func typeName(ty cty.Type) string {
	switch {
	case ty == cty.String:
		return "a string"
	case ty == cty.Number:
		return "a number"
	case ty == cty.Bool:
		return "a bool"
	case ty.IsListType(), ty.IsTupleType():
		return "a list"
	case ty.IsSetType():
		return "a set"
	case ty.IsMapType(), ty.IsObjectType():
		return "an object"
	default:
		return ty.FriendlyName()
	}
}

// orList renders names as "a", "b" or "c".
func orList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// sizeUnits are the units of a size, PostgreSQL's (kB = 1024 bytes) and the IEC ones.
var sizeUnits = map[string]int64{"": 1, "B": 1, "kB": 1 << 10, "KB": 1 << 10, "KiB": 1 << 10, "MB": 1 << 20, "MiB": 1 << 20,
	"GB": 1 << 30, "GiB": 1 << 30, "TB": 1 << 40, "TiB": 1 << 40}

var sizeRE = regexp.MustCompile(`^\s*(\d+)\s*([A-Za-z]*)\s*$`)

// ParseSize reads a size such as "1GB", "512MB", "64 MiB" or "0" into bytes.
func ParseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("is not a size")
	}
	unit, ok := sizeUnits[m[2]]
	if !ok {
		return 0, fmt.Errorf("has an unknown unit %q", m[2])
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n > (1<<62)/unit {
		return 0, fmt.Errorf("is too large")
	}
	return n * unit, nil
}

// size returns argument name, a size string, in bytes, or def.
func (v *values) size(name string, def int64) int64 {
	if !v.has(name) {
		return def
	}
	s := v.str(name, "")
	n, err := ParseSize(s)
	if err != nil {
		v.fail(name, fmt.Sprintf("Invalid %s", name), "%s %v: got %s. Write a whole number with a unit, such as \"1GB\", \"512MB\" or \"64MiB\" (kB, MB, GB, TB are 1024-based, as in PostgreSQL); \"0\" never splits a table.", name, err, v.show(name, s))
		return def
	}
	return n
}

// stringMap reads a map of strings to strings, such as { postgres = "app_admin" }, with the
// range of each value for diagnostics.
func (v *values) stringMap(name string) (map[string]string, map[string]hcl.Range, bool) {
	val, ok := v.vals[name]
	if !ok {
		return nil, nil, false
	}
	ty := val.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		v.fail(name, "Incorrect value type", "%s must be a map of strings, such as { postgres = \"app_admin\" }; got %s.", name, typeName(ty))
		return nil, nil, false
	}
	ranges := map[string]hcl.Range{}
	if obj, ok := v.attrs[name].Expr.(*hclsyntax.ObjectConsExpr); ok {
		for _, it := range obj.Items {
			if k, diags := it.KeyExpr.Value(nil); !diags.HasErrors() && k.Type() == cty.String && !k.IsNull() {
				ranges[k.AsString()] = it.ValueExpr.Range()
			}
		}
	}
	out := map[string]string{}
	for it := val.ElementIterator(); it.Next(); {
		k, e := it.Element()
		key := k.AsString()
		rng, ok := ranges[key]
		if !ok {
			rng = v.attrs[name].Expr.Range()
		}
		if e.IsNull() {
			v.failAt(rng, name, "Incorrect value type", "The values of %s must be strings, not null.", name)
			return nil, nil, false
		}
		s, err := convert.Convert(e, cty.String)
		if err != nil {
			v.failAt(rng, name, "Incorrect value type", "The values of %s must be strings; the value of %q is %s.", name, key, typeName(e.Type()))
			return nil, nil, false
		}
		out[key] = s.AsString()
		ranges[key] = rng
	}
	return out, ranges, true
}
