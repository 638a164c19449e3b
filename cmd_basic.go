package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/views"
	"github.com/spf13/pflag"
)

// varFlags are the flags every command that reads the configuration accepts.
type varFlags struct {
	// args are the --var and --var-file options in command-line order: a later one wins.
	args      []config.Arg
	migration string
}

// argFlag is --var or --var-file: each occurrence is appended to one shared list, so
// that the two keep their command-line order.
type argFlag struct {
	args *[]config.Arg
	file bool
}

func (a argFlag) String() string { return "" }

// Set records one occurrence; the value is never echoed back (it may be a secret).
func (a argFlag) Set(s string) error {
	*a.args = append(*a.args, config.Arg{File: a.file, Value: s})
	return nil
}

func (a argFlag) Type() string {
	if a.file {
		return "FILE"
	}
	return "NAME=VALUE"
}

func (v *varFlags) register(fs interface {
	Var(pflag.Value, string, string)
	StringVar(*string, string, string, string)
}, withMigration bool) {
	fs.Var(argFlag{args: &v.args}, "var", "set a variable (repeatable; a later --var or --var-file wins)")
	fs.Var(argFlag{args: &v.args, file: true}, "var-file", "read variables from a file such as prod.pgfvars (repeatable; "+
		config.AutoVarFile+" and *"+config.AutoVarSuffix+" are read without it)")
	if withMigration {
		fs.StringVar(&v.migration, "migration", "", "the migration to use when the configuration has several")
	}
}

// load reads the configuration and prints its diagnostics; ok is false on errors.
func (c *cli) load(v varFlags) (*config.Config, bool) {
	// The working directory is the configuration's (run changed to --chdir DIR), so --var-file
	// paths are relative to it.
	cfg, diags := config.Load(".", config.Inputs{Args: v.args, Env: c.env})
	if len(diags) > 0 {
		c.view().Diagnostics(diags, cfg.SnippetFiles())
		if c.diagLines {
			jl := &views.JSONLines{W: c.stdout}
			for _, d := range diags.JSON(cfg.SnippetFiles()).Diagnostics {
				level := "error"
				if d.Severity == "warning" {
					level = "warn"
				}
				jl.Write(level, "diagnostic", d.Summary, map[string]any{"diagnostic": d})
			}
		}
	}
	if cfg != nil {
		c.secrets = cfg.Secrets()
	}
	return cfg, !diags.HasErrors()
}

func cmdValidate(c *cli, args []string) error {
	p := newPreamble("validate", true)
	jsonOut := p.fs.Bool("json", false, "print the result as JSON")
	if done, err := p.parse(c, args, "validate [--json] [--migration NAME] [--var NAME=VALUE] [--var-file FILE]", 0, ""); done {
		return err
	}
	view := views.NewValidate(views.TypeOf(*jsonOut, false), c.view())
	// Like terraform validate: values not given are unknown, not errors (no connection is made).
	cfg, diags := config.Load(".", config.Inputs{Args: p.v.args, Env: c.env, TypesOnly: true})
	if p.v.migration != "" {
		// The other commands would refuse the name: so does validate.
		if err := cfg.CheckMigration(p.v.migration); err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown migration",
				Detail: fmt.Sprintf("%s. Pass one of them to --migration, or leave --migration out to validate every migration.", upperFirst(err.Error()))})
		}
	}
	view.Result(diags, cfg.SnippetFiles(), len(cfg.MigrationNames))
	if diags.HasErrors() {
		return errReported
	}
	return nil
}

func cmdFmt(c *cli, args []string) error {
	fs := newFlags("fmt")
	check := fs.Bool("check", false, "only check; exit 3 when files need formatting")
	diff := fs.Bool("diff", false, "print a unified diff of the changes")
	if code, done := c.parse(fs, args, "fmt [--check] [--diff]"); done {
		return fromCode(code)
	}
	if fs.NArg() > 0 {
		// terraform fmt takes files and directories; pgferry's configuration is one directory.
		return fmt.Errorf("fmt takes no arguments; got %q. It formats the *.hcl files of the working directory: use pgferry --chdir DIR fmt for another directory", fs.Arg(0))
	}
	view := views.Fmt{View: c.view()}
	changed, err := config.FormatDir(".", *check, *diff, c.stdout)
	var diags config.Diagnostics
	if errors.As(err, &diags) {
		// A file that does not parse: the diagnostics with their snippets, as validate prints them.
		files := map[string][]byte{}
		for _, d := range diags {
			if d.Subject != nil {
				if b, rerr := os.ReadFile(d.Subject.Filename); rerr == nil {
					files[d.Subject.Filename] = b
				}
			}
		}
		view.Diagnostics(diags, files)
		return errReported
	}
	if err != nil {
		return err
	}
	if !*diff {
		view.Changed(changed)
	}
	if *check && len(changed) > 0 {
		return exitStatus(3)
	}
	return nil
}

func cmdVersion(c *cli, args []string) error {
	fs := newFlags("version")
	if code, done := c.parse(fs, args, "version"); done {
		return fromCode(code)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("version takes no arguments; got %q", fs.Arg(0))
	}
	var tools []views.Tool
	for _, dir := range pgdump.Candidates("") {
		for _, tool := range []string{"pg_dump", "pg_restore"} {
			p := filepath.Join(dir, tool)
			if _, err := os.Stat(p); err != nil {
				continue
			}
			if v, _, err := pgdump.Version(p); err == nil {
				tools = append(tools, views.Tool{Name: tool, Version: v, Path: p})
			}
		}
	}
	views.Version{View: c.view()}.Versions(version, runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH, tools, pgdump.BinPathEnv)
	return nil
}

// upperFirst capitalises an error message that becomes a sentence of its own.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
