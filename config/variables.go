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

// applyInputs applies the values of PGFERRY_VAR_*, --var-file and --var, in that
// order, so that a later source overrides an earlier one.
func (l *loader) applyInputs() {
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

	for _, path := range l.in.VarFiles {
		l.applyVarFile(path)
	}

	for _, kv := range l.in.Vars {
		name, raw, ok := strings.Cut(kv, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			l.errorf(nil, "Invalid --var option",
				"--var takes NAME=VALUE, for example --var target_password=secret; got %q.", redactedVarArg(kv, ok))
			continue
		}
		vs, declared := l.vars[name]
		if !declared {
			l.errorf(nil, "Value for undeclared variable", "%s", l.undeclaredVar(name, "--var "+name+"=..."))
			continue
		}
		if vs.bad {
			continue
		}
		val, err := parseVar(vs.ty, raw)
		if err != nil {
			l.errorf(rangePtr(vs.v.DeclRange), "Invalid value for variable",
				"The value given with --var %s=... %s.", name, err)
			vs.bad = true
			continue
		}
		vs.val, vs.set = val, true
	}
}

// redactedVarArg shows a malformed --var argument without the part after '=',
// which may be a secret.
func redactedVarArg(kv string, hasEq bool) string {
	if hasEq {
		return "=..."
	}
	return kv
}

// undeclaredVar explains that a value was given for a variable no block declares.
func (l *loader) undeclaredVar(name, how string) string {
	detail := fmt.Sprintf("%s sets a variable named %q, but the configuration declares no such variable.", how, name)
	if sug := suggest(name, l.varOrder); sug != "" {
		return detail + fmt.Sprintf(" Did you mean %q?", sug)
	}
	return detail + fmt.Sprintf(" Declare it with a variable %q { ... } block, or remove the value.", name)
}

// applyVarFile applies one --var-file: an HCL file of NAME = VALUE lines.
func (l *loader) applyVarFile(path string) {
	src, err := os.ReadFile(path)
	if err != nil {
		l.errorf(nil, "Cannot read variables file", "%v. Check the path given to --var-file.", err)
		return
	}
	l.cfg.VarFiles[path] = src
	f, diags := hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	l.add(diags)
	if diags.HasErrors() {
		return
	}
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
		val, ok := l.evalExpr(a.Expr, constCtx)
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
		if !vs.set {
			l.errorf(rangePtr(vs.v.DeclRange), "No value for required variable",
				"Variable %q has no default and no value was given. Set it with --var %s=..., in a --var-file, "+
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
