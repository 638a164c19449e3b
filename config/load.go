package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Inputs are the variable values and the environment a configuration is loaded with.
type Inputs struct {
	// Args are the --var and --var-file options in command-line order: a later one
	// overrides an earlier one, whichever its kind (as terraform's -var and -var-file).
	Args []Arg
	// Env is the environment in os.Environ form. It supplies PGFERRY_VAR_<name>
	// values and what env() returns; the process environment is never read directly.
	Env []string
	// TypesOnly checks the configuration without its input values, as terraform validate
	// does: a variable without a value and env() of an unset variable are unknown values,
	// and the arguments that use them are checked no further.
	TypesOnly bool
}

// Arg is one --var or --var-file option.
type Arg struct {
	// File is true for --var-file FILE (Value is the path), false for --var NAME=VALUE.
	File  bool
	Value string
}

// Var returns the option --var kv.
func Var(kv string) Arg { return Arg{Value: kv} }

// VarFile returns the option --var-file path.
func VarFile(path string) Arg { return Arg{File: true, Value: path} }

// AutoVarFile is the variables file of the working directory that is loaded without
// being named, as terraform.tfvars; so is every *.auto.pgfvars file (AutoVarSuffix).
// VarFileExt is the extension of variables files: they are never configuration.
const (
	AutoVarFile   = "pgferry.pgfvars"
	AutoVarSuffix = ".auto.pgfvars"
	VarFileExt    = ".pgfvars"
)

// mark is the type of the cty marks this package puts on values.
type mark string

// markSensitive marks the values of sensitive variables, so that messages about
// values derived from them never quote them.
const markSensitive = mark("sensitive")

// Load reads every *.hcl file of dir (in name order) as one configuration and decodes
// it. Variables are decoded first and take their values from, lowest precedence
// first (as in Terraform): their default, PGFERRY_VAR_<name> in in.Env, dir's
// pgferry.pgfvars, dir's *.auto.pgfvars in name order, then in.Args in order
// (variables files, *.pgfvars, are never configuration). Then sources, targets, the
// backend and migrations are decoded with var.*, env() and the go-cty standard
// functions in scope (and, in migrations, source.NAME and target.NAME).
//
// Load always returns a non-nil Config whose SnippetFiles render the diagnostics; the
// rest of it is complete only when the diagnostics hold no error. Defaults are applied.
func Load(dir string, in Inputs) (*Config, Diagnostics) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		cfg := newConfig(dir)
		return cfg, Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read the configuration directory",
			Detail:   fmt.Sprintf("%v. Run pgferry in the directory that holds the *.hcl files, or pass --chdir DIR.", err),
		}}
	}
	var paths, autoVars []string
	hasDefaultVars := false
	varFiles := varFileSet(in.Args)
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "#") {
			continue
		}
		switch {
		case strings.HasSuffix(name, ".hcl") && varFiles[absPath(filepath.Join(dir, name))]:
			// --var-file takes a file of any name (SPEC §1): one named *.hcl that the user passed
			// as variable values is read as that, not as configuration.
		case strings.HasSuffix(name, ".hcl"):
			paths = append(paths, filepath.Join(dir, name))
		case name == AutoVarFile:
			hasDefaultVars = true
		case strings.HasSuffix(name, AutoVarSuffix):
			autoVars = append(autoVars, filepath.Join(dir, name))
		}
	}
	sort.Strings(paths)
	sort.Strings(autoVars)
	if hasDefaultVars {
		autoVars = append([]string{filepath.Join(dir, AutoVarFile)}, autoVars...)
	}
	if len(paths) == 0 {
		cfg := newConfig(dir)
		return cfg, Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No configuration files",
			Detail: fmt.Sprintf("pgferry reads every *.hcl file in %s and found none. Write the configuration (source, target "+
				"and migration blocks) in a file such as main.hcl, or pass --chdir DIR to use another directory.", dirName(dir)),
		}}
	}
	return loadFiles(dir, paths, autoVars, in)
}

// varFileSet is the set of the --var-file paths among args, made absolute.
func varFileSet(args []Arg) map[string]bool {
	set := map[string]bool{}
	for _, a := range args {
		if a.File {
			set[absPath(a.Value)] = true
		}
	}
	return set
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

func dirName(dir string) string {
	if dir == "" || dir == "." {
		return "the current directory"
	}
	return dir
}

func newConfig(dir string) *Config {
	return &Config{
		Dir:       dir,
		Files:     make(map[string][]byte),
		VarFiles:  make(map[string][]byte),
		Variables: make(map[string]*Variable),
		Sources:   make(map[string]*Server),
		Targets:   make(map[string]*Server),
	}
}

// loader holds the state of one Load.
type loader struct {
	cfg   *Config
	in    Inputs
	env   map[string]string
	funcs map[string]function.Function
	diags hcl.Diagnostics

	vars     map[string]*varState
	varOrder []string
	// servers maps "source" and "target" to the declared blocks of that kind,
	// including invalid ones (references to those stay silent: no follow-on errors).
	servers     map[string]map[string]*serverState
	serverOrder map[string][]string
	migrations  map[string]hcl.Range
	backendDecl *hcl.Range
	// safeVarRanges holds, per variables file, the ranges of its lines that set a
	// declared variable that is not sensitive: the only lines of it diagnostics quote.
	safeVarRanges map[string][]hcl.Range
	// misplacedVars are the variables a configuration file tried to give values
	// (reported there): no second error says they have none.
	misplacedVars map[string]bool
}

// varState is a declared variable while its value is being resolved.
type varState struct {
	v   *Variable
	ty  cty.Type  // cty.DynamicPseudoType when the declaration gives no type
	val cty.Value // meaningful when set
	set bool
	// bad: the declaration or a value given for it was invalid (and reported), so
	// references to it evaluate to an unknown value and report nothing more.
	bad bool
}

// serverState is a declared source or target block.
type serverState struct {
	srv *Server
	ok  bool // decoded without error
}

// loadFiles loads the configuration files paths; autoVars are the variables files
// loaded before in.Args.
func loadFiles(dir string, paths, autoVars []string, in Inputs) (*Config, Diagnostics) {
	cfg := newConfig(dir)
	l := &loader{
		cfg:         cfg,
		in:          in,
		env:         envMap(in.Env),
		vars:        make(map[string]*varState),
		servers:     map[string]map[string]*serverState{"source": {}, "target": {}},
		serverOrder: make(map[string][]string),
		migrations:  make(map[string]hcl.Range),

		safeVarRanges: make(map[string][]hcl.Range),
		misplacedVars: make(map[string]bool),
	}
	l.funcs = functions(l.env, l.in.TypesOnly)

	bodies := l.parseFiles(paths)
	// Decoding a file that did not parse would only report the consequences of the
	// syntax errors: stop here.
	if l.diags.HasErrors() {
		return cfg, Diagnostics(inReadingOrder(dedupe(l.diags)))
	}
	byType := l.blocksByType(bodies)

	// Stage 1: variables and their values.
	for _, b := range byType["variable"] {
		l.decodeVariable(b)
	}
	l.markSecretVariables(byType)
	l.applyInputs(autoVars)
	varObj := l.finishVariables()

	// Stage 2: servers and the backend, with var.* and the functions in scope.
	ctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{"var": varObj},
		Functions: l.funcs,
	}
	for _, b := range byType["source"] {
		l.decodeServer("source", b, ctx)
	}
	for _, b := range byType["target"] {
		l.decodeServer("target", b, ctx)
	}
	for _, b := range byType["backend"] {
		l.decodeBackend(b, ctx)
	}
	if l.backendDecl == nil {
		cfg.Backend = &Backend{Type: "local", Path: ".pgferry"}
	}

	// Stage 3: migrations, where source.NAME and target.NAME are in scope too.
	mctx := &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":    varObj,
			"source": l.serverObjects("source"),
			"target": l.serverObjects("target"),
		},
		Functions: l.funcs,
	}
	for _, b := range byType["migration"] {
		l.decodeMigration(b, mctx)
	}
	if len(byType["migration"]) == 0 {
		start := hcl.Range{Filename: paths[0], Start: hcl.InitialPos, End: hcl.InitialPos}
		l.diags = append(l.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No migration block",
			Detail: "The configuration declares no migration, so there is nothing to plan. Add one, for example:\n\n" +
				"  migration \"prod-to-flex\" {\n    source    = source.onprem\n    target    = target.flex\n    databases = [\"app\"]\n  }",
			Subject: &start,
		})
	}
	l.hideVarFileSnippets()
	return cfg, Diagnostics(inReadingOrder(dedupe(l.diags)))
}

// parseFiles reads and parses the configuration files paths, keeping their sources in
// l.cfg.Files and reporting what does not parse.
func (l *loader) parseFiles(paths []string) []*hclsyntax.Body {
	var bodies []*hclsyntax.Body
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read a configuration file",
				Detail:   fmt.Sprintf("%v. Check that the file exists and is readable.", err),
			})
			continue
		}
		l.cfg.Files[p] = src
		f, diags := hclsyntax.ParseConfig(src, p, hcl.InitialPos)
		var body *hclsyntax.Body
		if f != nil {
			body, _ = f.Body.(*hclsyntax.Body)
		}
		if diags.HasErrors() && body != nil && len(body.Blocks) == 0 {
			// Configuration is made of blocks: a file without any may be variable values
			// written as configuration, and its lines may hold secrets.
			for _, d := range diags {
				hideSnippet(d)
				if len(body.Attributes) > 0 && d.Severity == hcl.DiagError {
					d.Detail += " " + varsFileHint(filepath.Base(p))
				}
			}
		}
		l.diags = append(l.diags, diags...)
		if body != nil {
			bodies = append(bodies, body)
		}
	}
	return bodies
}

// blocksByType decodes the top level of bodies (a file of variable values written as
// configuration is reported and skipped) and returns its blocks by type.
func (l *loader) blocksByType(bodies []*hclsyntax.Body) map[string][]*hclsyntax.Block {
	declared := declaredVariables(bodies)
	byType := make(map[string][]*hclsyntax.Block)
	for _, body := range bodies {
		if l.varsFileAsConfig(body, declared) {
			continue
		}
		c, diags := decodeBody(body, topSchema)
		// A top-level argument is a mistake whatever its name, and its value may be a
		// secret (a password written outside its block, or a variable's value): say
		// where it is without quoting the line.
		for _, d := range diags {
			for _, a := range body.Attributes {
				if d.Subject != nil && *d.Subject == a.NameRange {
					hideSnippet(d)
					if declared[a.Name] {
						l.misplacedVars[a.Name] = true
						d.Detail += fmt.Sprintf(" To give variable %q a value, write the line in a variables file instead: %s",
							a.Name, varsFileHint(filepath.Base(a.NameRange.Filename)))
					}
				}
			}
		}
		l.diags = append(l.diags, diags...)
		for _, b := range c.blocks {
			byType[b.Type] = append(byType[b.Type], b)
		}
	}
	return byType
}

// declaredVariables returns the names of the variable blocks of bodies.
func declaredVariables(bodies []*hclsyntax.Body) map[string]bool {
	out := make(map[string]bool)
	for _, body := range bodies {
		for _, b := range body.Blocks {
			if b.Type == "variable" && len(b.Labels) == 1 {
				out[b.Labels[0]] = true
			}
		}
	}
	return out
}

// varsFileAsConfig reports a configuration file that holds only NAME = VALUE lines
// naming declared variables: a variables file given the configuration's extension
// (the habit of a vars.hcl). It is reported once, without its lines, and not decoded
// (which would quote each line as an unsupported argument).
func (l *loader) varsFileAsConfig(body *hclsyntax.Body, declared map[string]bool) bool {
	if len(body.Blocks) > 0 || len(body.Attributes) == 0 {
		return false
	}
	attrs := sortedAttrs(body)
	var names []string
	isVars := false
	for _, a := range attrs {
		names = append(names, a.Name)
		isVars = isVars || declared[a.Name]
		l.misplacedVars[a.Name] = true
	}
	if !isVars {
		return false
	}
	file := filepath.Base(attrs[0].NameRange.Filename)
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Variables file read as configuration",
		Detail: fmt.Sprintf("%s holds only variable values (%s), but every *.hcl file of the directory is configuration, "+
			"which cannot give variables values. %s Its lines are not shown: they may hold secrets.",
			file, strings.Join(names, ", "), varsFileHint(file)),
		Subject: rangePtr(attrs[0].NameRange),
	}
	hideSnippet(d)
	l.diags = append(l.diags, d)
	return true
}

// varsFileHint says how to turn file into a variables file.
func varsFileHint(file string) string {
	base := strings.TrimSuffix(file, filepath.Ext(file))
	return fmt.Sprintf("Rename it to %s (read automatically), to %s%s (read automatically too), "+
		"or to %s%s and pass --var-file %s%s.", AutoVarFile, base, AutoVarSuffix, base, VarFileExt, base, VarFileExt)
}

// inReadingOrder sorts diagnostics as a reader meets the problems: those about
// command-line inputs first, then by file and position. Decoding is staged
// (variables first), but a report in file order is easier to work through.
func inReadingOrder(diags hcl.Diagnostics) hcl.Diagnostics {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil && b.Subject == nil:
			return 0
		case a.Subject == nil:
			return -1
		case b.Subject == nil:
			return 1
		}
		if c := strings.Compare(a.Subject.Filename, b.Subject.Filename); c != 0 {
			return c
		}
		return a.Subject.Start.Byte - b.Subject.Start.Byte
	})
	return diags
}

// markSecretVariables treats as sensitive every variable used in a password or a
// backend conn_str, even when not declared sensitive: passwords never reach output,
// plans or state, whichever way they are written.
func (l *loader) markSecretVariables(byType map[string][]*hclsyntax.Block) {
	mark := func(b *hclsyntax.Block, attr string) {
		a := b.Body.Attributes[attr]
		if a == nil {
			return
		}
		for _, tr := range a.Expr.Variables() {
			if tr.RootName() != "var" || len(tr) < 2 {
				continue
			}
			if step, ok := tr[1].(hcl.TraverseAttr); ok && l.vars[step.Name] != nil {
				l.vars[step.Name].v.Sensitive = true
			}
		}
	}
	for _, kind := range []string{"source", "target"} {
		for _, b := range byType[kind] {
			mark(b, "password")
		}
	}
	for _, b := range byType["backend"] {
		mark(b, "conn_str")
	}
}

var topSchema = schema{
	where:  "the top level of a configuration file",
	blocks: []string{"variable", "source", "target", "migration", "backend"},
	misplaced: map[string]string{
		"options":   "An options block belongs inside a migration block.",
		"host":      "host belongs inside a source or target block.",
		"port":      "port belongs inside a source or target block.",
		"user":      "user belongs inside a source or target block.",
		"password":  "password belongs inside a source or target block.",
		"databases": "databases belongs inside a migration block.",
		"locals":    "pgferry has no locals; declare a variable block instead.",
		"terraform": "This is a pgferry configuration, not a Terraform one; remove the block.",
		"provider":  "pgferry has no providers; declare source and target blocks instead.",
	},
}

func (l *loader) add(diags hcl.Diagnostics) { l.diags = append(l.diags, diags...) }

// errorf reports an error about subject (nil for command-line inputs).
func (l *loader) errorf(subject *hcl.Range, summary, detail string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detail, args...),
		Subject:  subject,
	})
}

// duplicate reports a second declaration of kind NAME.
func (l *loader) duplicate(b *hclsyntax.Block, kind, name string, prev hcl.Range) {
	l.errorf(rangePtr(b.DefRange()), fmt.Sprintf("Duplicate %s block", kind),
		"A %s named %q was previously declared at %s. Names must be unique: rename or remove one of them.",
		kind, name, posString(prev))
}

func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v // later entries win, as in the exec environment
		}
	}
	return m
}

// evalExpr evaluates expr in ctx. ok is false when evaluation failed (reported) or
// the value is not known because it depends on something already reported as
// invalid (reported nothing: a follow-on).
func (l *loader) evalExpr(expr hclsyntax.Expression, ctx *hcl.EvalContext) (cty.Value, bool) {
	if !l.checkRefs(expr, ctx) {
		return cty.NilVal, false
	}
	val, diags := expr.Value(ctx)
	l.add(diags)
	if diags.HasErrors() || !val.IsWhollyKnown() {
		return cty.NilVal, false
	}
	return val, true
}

// checkRefs reports references to undeclared variables, sources and targets with a
// clearer message than "unsupported attribute". References to declared but invalid
// ones evaluate to unknown values and are not reported again.
func (l *loader) checkRefs(expr hclsyntax.Expression, ctx *hcl.EvalContext) bool {
	ok := true
	for _, tr := range expr.Variables() {
		root := tr.RootName()
		if len(tr) < 2 {
			continue
		}
		step, isAttr := tr[1].(hcl.TraverseAttr)
		if !isAttr {
			continue
		}
		rng := tr.SourceRange()
		if root != "var" && root != "source" && root != "target" {
			continue
		}
		if _, inScope := ctx.Variables[root]; !inScope {
			what := "Variable defaults and --var-file values must be constants."
			if root != "var" {
				what = fmt.Sprintf("%s.%s can only be referred to inside a migration block.", root, step.Name)
			}
			l.errorf(&rng, "Reference not allowed here", "%s Write the value itself here.", what)
			ok = false
			continue
		}
		switch root {
		case "var":
			if _, declared := l.vars[step.Name]; declared {
				continue
			}
			detail := fmt.Sprintf("No variable named %q is declared.", step.Name)
			if sug := suggest(step.Name, l.varOrder); sug != "" {
				detail += fmt.Sprintf(" Did you mean var.%s?", sug)
			} else {
				detail += fmt.Sprintf(" Declare it with a block such as:\n\n  variable %q {\n    type = string\n  }", step.Name)
			}
			l.errorf(&rng, "Reference to undeclared variable", "%s", detail)
			ok = false
		case "source", "target":
			if _, declared := l.servers[root][step.Name]; declared {
				continue
			}
			l.errorf(&rng, fmt.Sprintf("Reference to undeclared %s", root), "%s", l.undeclaredServer(root, step.Name))
			ok = false
		}
	}
	return ok
}

// undeclaredServer explains that no kind block NAME exists, suggesting what might be meant.
func (l *loader) undeclaredServer(kind, name string) string {
	detail := fmt.Sprintf("No %s block named %q is declared.", kind, name)
	names := l.serverOrder[kind]
	other := otherKind(kind)
	switch {
	case suggest(name, names) != "":
		detail += fmt.Sprintf(" Did you mean %s.%s?", kind, suggest(name, names))
	case l.servers[other][name] != nil:
		detail += fmt.Sprintf(" %q is a %s; declare a %s block, or refer to an existing one.", name, other, kind)
	case len(names) > 0:
		detail += fmt.Sprintf(" Declared %ss: %s.", kind, strings.Join(names, ", "))
	default:
		detail += fmt.Sprintf(" Declare it with a %s %q { ... } block.", kind, name)
	}
	return detail
}

func otherKind(kind string) string {
	if kind == "source" {
		return "target"
	}
	return "source"
}

// serverObjects is the value of source or target in a migration's evaluation
// context: one object per declared server, without its password. An invalid server
// is unknown, so expressions that use it report nothing more.
func (l *loader) serverObjects(kind string) cty.Value {
	objs := make(map[string]cty.Value, len(l.servers[kind]))
	for name, st := range l.servers[kind] {
		if !st.ok {
			objs[name] = cty.DynamicVal
			continue
		}
		s := st.srv
		objs[name] = cty.ObjectVal(map[string]cty.Value{
			"name":    cty.StringVal(s.Name),
			"host":    cty.StringVal(s.Host),
			"port":    cty.NumberIntVal(int64(s.Port)),
			"user":    cty.StringVal(s.User),
			"dbname":  cty.StringVal(s.DBName),
			"sslmode": cty.StringVal(s.SSLMode),
			"type":    cty.StringVal(s.Type),
			"fqdn":    cty.StringVal(s.FQDN),
		})
	}
	if len(objs) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(objs)
}
