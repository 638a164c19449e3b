package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// envVarPrefix prefixes the environment variables that set variables.
const envVarPrefix = "PGFERRY_VAR_"

var variableSchema = schema{
	where: "a variable block",
	attrs: []string{"type", "default", "description", "sensitive"},
	misplaced: map[string]string{
		"value":      "A variable's value is given with --var, --var-file or PGFERRY_VAR_<name>; use default for a fallback.",
		"validation": "pgferry does not support validation blocks in variables; remove it.",
		"nullable":   "pgferry variables are never null; remove it.",
	},
}

// decodeVariable decodes one variable block: its type, default, description and
// sensitivity. The value is resolved later, by applyInputs and finishVariables.
func (l *loader) decodeVariable(b *hclsyntax.Block) {
	name, diags := checkLabels(b, "name", `variable "NAME"`)
	l.add(diags)
	if diags.HasErrors() {
		return
	}
	if prev, dup := l.vars[name]; dup {
		l.duplicate(b, "variable", name, prev.v.DeclRange)
		return
	}
	vs := &varState{v: &Variable{Name: name, DeclRange: b.DefRange()}, ty: cty.DynamicPseudoType}
	l.vars[name] = vs
	l.varOrder = append(l.varOrder, name)
	if !identRe.MatchString(name) {
		l.errorf(&b.LabelRanges[0], "Invalid variable name",
			"%q cannot be referred to as var.NAME. A variable name starts with a letter and holds only letters, digits, '_' and '-', such as \"target_password\".", name)
		vs.bad = true
	}

	c, diags := decodeBody(b.Body, variableSchema)
	l.add(diags)
	constCtx := &hcl.EvalContext{Functions: l.funcs}

	if a := c.attrs["type"]; a != nil {
		kw := hcl.ExprAsKeyword(a.Expr)
		switch kw {
		case "string":
			vs.ty = cty.String
		case "number":
			vs.ty = cty.Number
		case "bool":
			vs.ty = cty.Bool
		case "any":
			vs.ty = cty.DynamicPseudoType
		default:
			detail := "A variable's type is string, number or bool, written as a keyword without quotes, for example: type = string."
			if lit, ok := a.Expr.(*hclsyntax.TemplateExpr); ok && lit.IsStringLiteral() {
				if s, _ := lit.Value(nil); s.Type() == cty.String && !s.IsNull() {
					detail = fmt.Sprintf("Remove the quotes: type = %s. ", s.AsString()) + detail
				}
			} else if kw != "" {
				if sug := suggest(kw, []string{"string", "number", "bool"}); sug != "" {
					detail = fmt.Sprintf("Did you mean %s? ", sug) + detail
				}
			}
			l.errorf(rangePtr(a.Expr.Range()), "Invalid variable type", "%s", detail)
			vs.bad = true
		}
		if kw != "any" && !vs.bad {
			vs.v.Type = kw
		}
	}
	v := l.eval(b, c, constCtx, "type")
	vs.v.Description = v.str("description", "")
	vs.v.Sensitive = v.boolean("sensitive", false)
	if v.has("default") && !vs.bad {
		val, err := convertVar(vs.ty, v.vals["default"])
		if err != nil {
			v.fail("default", "Invalid default value", "The default of variable %q %s.", name, err)
		} else {
			vs.val, vs.set = val, true
		}
	}
	if v.failed["default"] {
		vs.bad = true
	}
}

// convertVar converts val to the variable type ty; a variable without a type takes
// a string, number or bool.
func convertVar(ty cty.Type, val cty.Value) (cty.Value, error) {
	if ty == cty.DynamicPseudoType {
		switch val.Type() {
		case cty.String, cty.Number, cty.Bool:
			return val, nil
		}
		return cty.NilVal, fmt.Errorf("must be a string, a number or a bool; got %s", typeName(val.Type()))
	}
	out, err := convert.Convert(val, ty)
	if err != nil {
		return cty.NilVal, fmt.Errorf("must be %s; got %s", typeName(ty), typeName(val.Type()))
	}
	return out, nil
}

// parseVar turns a value given as text (--var, PGFERRY_VAR_*) into the variable's
// type. A variable without a type takes the text as a string.
func parseVar(ty cty.Type, raw string) (cty.Value, error) {
	switch ty {
	case cty.Number:
		n, err := cty.ParseNumberVal(strings.TrimSpace(raw))
		if err != nil {
			return cty.NilVal, errors.New("must be a number")
		}
		return n, nil
	case cty.Bool:
		switch strings.TrimSpace(raw) {
		case "true":
			return cty.True, nil
		case "false":
			return cty.False, nil
		}
		return cty.NilVal, errors.New("must be true or false")
	default:
		return cty.StringVal(raw), nil
	}
}

// applyInputs applies the values of PGFERRY_VAR_*, the automatic variables files
// autoVars, and the --var and --var-file options in command-line order, so that a
// later source overrides an earlier one.
func (l *loader) applyInputs(autoVars []string) {
	for _, name := range l.varOrder {
		vs := l.vars[name]
		raw, ok := l.env[envVarPrefix+name]
		if !ok || vs.bad {
			continue
		}
		val, err := parseVar(vs.ty, raw)
		if err != nil {
			l.errorf(rangePtr(vs.v.DeclRange), "Invalid value for variable",
				"The value of %s%s for variable %q %s. Fix the environment variable or unset it.", envVarPrefix, name, name, err)
			vs.bad = true
			continue
		}
		vs.val, vs.set = val, true
	}

	for _, path := range autoVars {
		l.applyVarFile(path, false)
	}

	for i, arg := range l.in.Args {
		if arg.File {
			l.applyVarFile(arg.Value, true)
		} else {
			l.applyVar(i, arg.Value)
		}
	}
}

// applyVar applies --var kv, the i-th option. A --var argument may be a secret
// (a password whose name was forgotten): messages quote its name only when it is a
// declared variable's or close to one (a typo), and never its value.
func (l *loader) applyVar(i int, kv string) {
	name, raw, ok := strings.Cut(kv, "=")
	name = strings.TrimSpace(name)
	if !ok {
		if _, declared := l.vars[name]; declared {
			l.errorf(nil, "Invalid --var option",
				"--var %s has no value: write --var %s=VALUE (or set it in a variables file, or with %s%s).",
				name, name, envVarPrefix, name)
			return
		}
		l.errorf(nil, "Invalid --var option",
			"--var takes NAME=VALUE, for example --var target_password=secret; the %s --var option has no '=' "+
				"(it is not shown, as it may be a secret). Put the variable's name and '=' before the value.", ordinal(l.varIndex(i)))
		return
	}
	if name == "" {
		l.errorf(nil, "Invalid --var option",
			"--var takes NAME=VALUE, for example --var target_password=secret; the %s --var option has no name before '='.",
			ordinal(l.varIndex(i)))
		return
	}
	vs, declared := l.vars[name]
	if !declared {
		// A name close to a declared one is a typo, shown with the suggestion. Any
		// other may be the start of a secret that holds '=' (--var "$PW", the name
		// forgotten): it is not shown.
		if identRe.MatchString(name) && suggest(name, l.varOrder) != "" {
			l.errorf(nil, "Value for undeclared variable", "%s", l.undeclaredVar(name, "--var "+name+"=..."))
			return
		}
		l.errorf(nil, "Value for undeclared variable",
			"The %s --var option sets a variable the configuration does not declare (%s). Its text is not shown, as it may be "+
				"a secret whose name was forgotten: write --var NAME=VALUE with a declared name, or declare the variable "+
				"with a variable \"NAME\" { ... } block.", ordinal(l.varIndex(i)), l.declaredList())
		return
	}
	if vs.bad {
		return
	}
	val, err := parseVar(vs.ty, raw)
	if err != nil {
		l.errorf(rangePtr(vs.v.DeclRange), "Invalid value for variable",
			"The value given with --var %s=... %s.", name, err)
		vs.bad = true
		return
	}
	vs.val, vs.set = val, true
}

// varIndex turns the index of an option in l.in.Args into its rank among the --var
// options (1-based).
func (l *loader) varIndex(i int) int {
	n := 0
	for _, a := range l.in.Args[:i+1] {
		if !a.File {
			n++
		}
	}
	return n
}

// declaredList names the declared variables for a message.
func (l *loader) declaredList() string {
	if len(l.varOrder) == 0 {
		return "it declares none"
	}
	return "declared: " + strings.Join(l.varOrder, ", ")
}

// ordinal renders n as "1st", "2nd", "3rd", "4th"...
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}

// undeclaredVar explains that a value was given for a variable no block declares.
func (l *loader) undeclaredVar(name, how string) string {
	detail := fmt.Sprintf("%s sets a variable named %q, but the configuration declares no such variable.", how, name)
	if sug := suggest(name, l.varOrder); sug != "" {
		return detail + fmt.Sprintf(" Did you mean %q?", sug)
	}
	return detail + fmt.Sprintf(" Declare it with a variable %q { ... } block, or remove the value.", name)
}

// applyVarFile applies one variables file: an HCL file of NAME = VALUE lines, given
// with --var-file (named) or found in the working directory. Its lines are quoted in
// diagnostics only where they set a declared variable that is not sensitive (see
// hideVarFileSnippets).
func (l *loader) applyVarFile(path string, named bool) {
	src, err := os.ReadFile(path)
	if err != nil {
		how := "Check the path given to --var-file."
		if !named {
			how = "pgferry reads it because of its name; make it readable, or rename it."
		}
		l.errorf(nil, "Cannot read variables file", "%v. %s", err, how)
		return
	}
	l.cfg.VarFiles[path] = src
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	if diags.HasErrors() {
		// Which variable a broken line belongs to is unknown: it is not quoted, and
		// neither is a message that would quote part of it.
		for _, d := range diags {
			if !fixedSyntaxDetail[d.Summary] {
				d.Detail = "The variables file does not parse."
			}
			d.Detail += " A variables file holds NAME = VALUE lines, strings in double quotes (target_password = \"...\"); " +
				"its lines are not shown, as they may hold secrets."
		}
		l.add(diags)
		return
	}
	l.add(diags)
	body := f.Body.(*hclsyntax.Body)
	for _, b := range body.Blocks {
		l.errorf(rangePtr(b.DefRange()), "Unexpected block in variables file",
			"A variables file holds only NAME = VALUE lines; remove the %s block.", b.Type)
	}
	constCtx := &hcl.EvalContext{Functions: l.funcs}
	for _, a := range sortedAttrs(body) {
		vs, declared := l.vars[a.Name]
		if !declared {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail:   l.undeclaredVar(a.Name, "The variables file"),
				Subject:  rangePtr(a.NameRange),
			})
			continue
		}
		if !vs.v.Sensitive {
			l.safeVarRanges[path] = append(l.safeVarRanges[path], a.SrcRange)
		}
		before := len(l.diags)
		val, ok := l.evalExpr(a.Expr, constCtx)
		if vs.v.Sensitive {
			// hcl's messages about an expression may quote parts of it (a function's
			// argument, say): hide the value's text in them.
			secrets := exprSecrets(a.Expr, src)
			for _, d := range l.diags[before:] {
				d.Summary, d.Detail = Redact(d.Summary, secrets), Redact(d.Detail, secrets)
			}
		}
		if !ok {
			vs.bad = true
			continue
		}
		if val.IsNull() || vs.bad {
			continue
		}
		val, err := convertVar(vs.ty, val)
		if err != nil {
			l.errorf(rangePtr(a.Expr.Range()), "Invalid value for variable", "The value of variable %q %s.", a.Name, err)
			vs.bad = true
			continue
		}
		vs.val, vs.set = val, true
	}
}

// fixedSyntaxDetail lists the summaries of hcl's syntax errors whose detail is a
// fixed text, never a quote of the file: the others' details are not shown for a
// variables file.
var fixedSyntaxDetail = map[string]bool{
	"Invalid multi-line string":                  true,
	"Unterminated template string":               true,
	"Unterminated string literal":                true,
	"Invalid character":                          true,
	"Invalid character encoding":                 true,
	"Missing newline after argument":             true,
	"Argument or block definition required":      true,
	"Missing key/value separator":                true,
	"Missing attribute value":                    true,
	"Missing attribute separator":                true,
	"Missing item separator":                     true,
	"Missing expression":                         true,
	"Invalid expression":                         true,
	"Invalid argument name":                      true,
	"Unclosed configuration block":               true,
	"Unterminated tuple constructor expression":  true,
	"Unterminated object constructor expression": true,
}

// exprSecrets returns the texts of expr that may be (part of) a secret: its source
// text, unquoted, and the string literals in it.
func exprSecrets(expr hclsyntax.Expression, src []byte) []string {
	var out []string
	add := func(s string) {
		if len(s) >= minSecretLen {
			out = append(out, s)
		}
	}
	rng := expr.Range()
	if rng.Start.Byte >= 0 && rng.End.Byte <= len(src) && rng.Start.Byte <= rng.End.Byte {
		text := strings.TrimSpace(string(src[rng.Start.Byte:rng.End.Byte]))
		add(text)
		add(strings.Trim(text, `"`))
	}
	_ = hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if lit, ok := n.(*hclsyntax.LiteralValueExpr); ok && lit.Val.Type() == cty.String && lit.Val.IsKnown() && !lit.Val.IsNull() {
			add(lit.Val.AsString())
		}
		return nil
	})
	return out
}

// hideVarFileSnippets marks every diagnostic about a variables file as one whose
// lines must not be quoted, unless it is about the line of a declared variable that
// is not sensitive. A line of a sensitive variable, of an undeclared one (a
// misspelt password variable) or of a file that does not parse may hold a secret.
func (l *loader) hideVarFileSnippets() {
	for _, d := range l.diags {
		if d.Subject == nil {
			continue
		}
		if _, isVarFile := l.cfg.VarFiles[d.Subject.Filename]; !isVarFile {
			continue
		}
		safe := false
		for _, r := range l.safeVarRanges[d.Subject.Filename] {
			if within(*d.Subject, r) && (d.Context == nil || within(*d.Context, r)) {
				safe = true
				break
			}
		}
		if !safe {
			hideSnippet(d)
		}
	}
}

// within reports whether inner lies inside outer.
func within(inner, outer hcl.Range) bool {
	return inner.Filename == outer.Filename && inner.Start.Byte >= outer.Start.Byte && inner.End.Byte <= outer.End.Byte
}

// finishVariables reports variables left without a value and returns the value of
// var in evaluation contexts. Invalid variables are unknown there, so expressions
// using them report nothing more.
func (l *loader) finishVariables() cty.Value {
	obj := make(map[string]cty.Value, len(l.varOrder))
	for _, name := range l.varOrder {
		vs := l.vars[name]
		if vs.bad {
			obj[name] = cty.DynamicVal
			continue
		}
		if !vs.set && l.in.TypesOnly {
			val := cty.UnknownVal(vs.ty)
			if vs.v.Sensitive {
				val = val.Mark(markSensitive)
			}
			obj[name] = val
			continue
		}
		if !vs.set && l.misplacedVars[name] {
			obj[name] = cty.DynamicVal
			continue
		}
		if !vs.set {
			l.errorf(rangePtr(vs.v.DeclRange), "No value for required variable",
				"Variable %q has no default and no value was given. Set it with --var %s=..., in pgferry.pgfvars or a --var-file, "+
					"or with the environment variable %s%s; or give the variable a default.", name, name, envVarPrefix, name)
			obj[name] = cty.DynamicVal
			continue
		}
		vs.v.Value = renderValue(vs.val)
		vs.v.Set = true
		val := vs.val
		if vs.v.Sensitive {
			val = val.Mark(markSensitive)
		}
		obj[name] = val
		l.cfg.Variables[name] = vs.v
	}
	if len(obj) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(obj)
}

// renderValue renders a string, number or bool in its HCL form (strings unquoted).
func renderValue(v cty.Value) string {
	switch v.Type() {
	case cty.String:
		return v.AsString()
	case cty.Number:
		return v.AsBigFloat().Text('f', -1)
	case cty.Bool:
		if v.True() {
			return "true"
		}
		return "false"
	}
	return ""
}
