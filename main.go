// Command pgferry migrates whole PostgreSQL databases from one server to another, offline,
// the way Terraform changes infrastructure: validate, plan, apply, verify.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"

	"github.com/mattn/go-isatty"
	"github.com/pgferry/pgferry/internal/views"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() { os.Exit(profiled(os.Args[1:])) }

// cli is one invocation's environment.
type cli struct {
	// onFlags, when set, is given each command's complete flag set once parsed: the
	// documentation test enumerates every flag with it.
	onFlags func(*pflag.FlagSet)

	color   bool
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	env     []string
	isTTYIn bool
	// secrets are the configuration's secret values, removed from every error printed (set once
	// the configuration is loaded).
	secrets []string
	// prompting is set while a prompt waits for an answer: a Ctrl-C then cancels the prompt
	// rather than announcing a graceful shutdown.
	prompting atomic.Bool
	// diagLines (apply --json) repeats the configuration's diagnostics as JSON lines on stdout.
	diagLines bool
}

type command struct {
	name  string
	usage string
	run   func(c *cli, args []string) error
}

func commands() []command {
	return []command{
		{"validate", "parse and type-check the configuration; no connections", cmdValidate},
		{"fmt", "rewrite the configuration in canonical HCL format", cmdFmt},
		{"plan", "connect to both servers, validate, and show what apply will do", cmdPlan},
		{"apply", "validate and migrate: execute the plan", cmdApply},
		{"verify", "compare source and target: objects and data", cmdVerify},
		{"show", "show a saved plan, or the migration's status and progress", cmdShow},
		{"list", "list every migration in the state backend", cmdList},
		{"destroy", "roll back: remove what the migration created on the target, revert what it changed", cmdDestroy},
		{"cancel", "stop a running apply of the migration, then roll back as destroy does", cmdCancel},
		{"history", "list every run (apply, destroy, cancel) of the migration", cmdHistory},
		{"report", "write a self-contained HTML report (or --markdown) of a run", cmdReport},
		{"force-unlock", "remove a stuck state lock", cmdForceUnlock},
		{"version", "print versions of pgferry, Go, pg_dump and pg_restore", cmdVersion},
	}
}

// usageCommands are the commands as the usage text lists them.
func usageCommands() []views.Command {
	var out []views.Command
	for _, c := range commands() {
		out = append(out, views.Command{Name: c.name, Usage: c.usage})
	}
	return out
}

// globalOnly are the flags pgferry takes before the command name and no command takes after it.
var globalOnly = map[string]bool{"chdir": true, "version": true}

// unknownFlagHint says, when a command was given a global flag, that it goes before the command,
// with the command line it meant.
func unknownFlagHint(err error, command string, args []string) string {
	msg := err.Error()
	for name := range globalOnly {
		if !strings.HasPrefix(msg, "unknown flag: --"+name) {
			continue
		}
		given := "--" + name
		for i, a := range args {
			if a == "--"+name && name == "chdir" && i+1 < len(args) {
				given += " " + args[i+1]
			} else if strings.HasPrefix(a, "--"+name+"=") {
				given = a
			}
		}
		return fmt.Sprintf("\n\n--%s is a global flag: put it before the command, as in: pgferry %s %s", name, given, command)
	}
	return ""
}

// flagUsages lists a command's flags with value names that read right: "--out FILE",
// "--jobs N", "--json" (pflag 1.1 prints bools as --json[=true|false]).
func flagUsages(fs *pflag.FlagSet) string {
	var lines [][2]string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		left := "      --" + f.Name
		if f.Shorthand != "" {
			left = "  -" + f.Shorthand + ", --" + f.Name
		}
		name, usage := pflag.UnquoteUsage(f)
		if f.Value.Type() != "bool" {
			if !strings.Contains(f.Usage, "`") {
				name = valueName(f)
			}
			left += " " + name
		}
		if f.Value.Type() != "bool" && f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" && f.DefValue != "[]" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, [2]string{left, usage})
	})
	return views.FlagLines(lines)
}

// valueName is the placeholder of a flag's value in help: what the user types, in capitals.
func valueName(f *pflag.Flag) string {
	switch f.Name {
	case "var":
		return "NAME=VALUE"
	case "var-file", "out":
		return "FILE"
	case "migration":
		return "NAME"
	case "chdir":
		return "DIR"
	}
	switch f.Value.Type() {
	case "int", "int64", "uint":
		return "N"
	case "duration":
		return "DUR"
	}
	return strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr, env: os.Environ()}
	fs, g := globalFlags()
	chdir, noColor, help, showVersion := &g.chdir, &g.noColor, &g.help, &g.version
	if err := fs.Parse(args); err != nil {
		c.view().UsageError(scrubArgs(err.Error(), args)+singleDashHint(fs, args), usageCommands())
		return 1
	}
	c.color = !*noColor && os.Getenv("NO_COLOR") == "" && isTerminal(stdout)
	views.SetColor(c.color)
	if *chdir != "" {
		// As terraform -chdir: every relative path given afterwards (--var-file, plan --out, apply
		// PLANFILE, the local state directory) is relative to DIR. The directory is restored when
		// run returns, for the tests that call run in-process.
		restore, err := changeDir(*chdir)
		if err != nil {
			return c.exitCode(failf("Cannot change to directory %q: %v", *chdir, err))
		}
		defer restore()
	}
	if f, ok := stdin.(*os.File); ok {
		c.isTTYIn = isatty.IsTerminal(f.Fd())
	}
	if *showVersion {
		return c.call(cmdVersion, nil)
	}
	rest := fs.Args()
	if *help || len(rest) == 0 {
		views.Usage(stdout, usageCommands())
		if len(rest) == 0 && !*help {
			return 1
		}
		return 0
	}
	cmdArgs := rest[1:]
	if rest[0] == "help" && len(rest) <= 2 {
		// As terraform help [COMMAND] and git help: the usage, or the command's own help.
		if len(rest) == 1 || rest[1] == "--help" || rest[1] == "-h" {
			views.Usage(stdout, usageCommands())
			return 0
		}
		rest, cmdArgs = rest[1:], []string{"--help"}
	}
	for _, cmd := range commands() {
		if cmd.name == rest[0] {
			return c.call(cmd.run, cmdArgs)
		}
	}
	c.view().UsageError(fmt.Sprintf("unknown command %q", rest[0]), usageCommands())
	return 1
}

// globalOptions are the flags given before the command name.
type globalOptions struct {
	chdir                  string
	noColor, help, version bool
}

// globalFlags makes the flag set of the flags given before the command name.
func globalFlags() (*pflag.FlagSet, *globalOptions) {
	g := &globalOptions{}
	fs := pflag.NewFlagSet("pgferry", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SetInterspersed(false)
	fs.StringVar(&g.chdir, "chdir", "", "switch to DIR before anything else: the configuration, the state and every relative path are read there")
	fs.BoolVar(&g.noColor, "no-color", false, "disable colour")
	fs.BoolVarP(&g.help, "help", "h", false, "show help")
	fs.BoolVar(&g.version, "version", false, "print the version")
	return fs, g
}

// changeDir makes dir the working directory and returns the function that goes back.
func changeDir(dir string) (func(), error) {
	prev, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	if err := os.Chdir(dir); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // "no such file or directory", without "chdir DIR:" again
		}
		return nil, err
	}
	return func() { os.Chdir(prev) }, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// flags makes a command's flag set; parse reports help and errors the same way for every command.
func newFlags(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	return fs
}

// parse parses flags; it returns (exit code, done). done is true when the caller must return.
func (c *cli) parse(fs *pflag.FlagSet, args []string, synopsis string) (int, bool) {
	// --no-color after the command name too, as terraform takes -no-color per command.
	noColor := fs.Bool("no-color", false, "disable colour (the same as pgferry --no-color COMMAND)")
	help := fs.BoolP("help", "h", false, "show this help")
	if err := fs.Parse(args); err != nil {
		c.view().FlagError(scrubArgs(err.Error(), args)+singleDashHint(fs, args)+unknownFlagHint(err, fs.Name(), args), synopsis, flagUsages(fs))
		return 1, true
	}
	if *noColor {
		c.color = false
		views.SetColor(false)
	}
	if c.onFlags != nil {
		c.onFlags(fs)
	}
	if *help {
		c.view().Help(synopsis, flagUsages(fs))
		return 0, true
	}
	return 0, false
}

// scrubArgs removes from a flag parser's message what follows '=' in the arguments
// it quotes: "-var=target_password=secret" is shown as "-var=...".
func scrubArgs(msg string, args []string) string {
	for _, a := range args {
		if i := strings.IndexByte(a, '='); i >= 0 && i+1 < len(a) {
			msg = strings.ReplaceAll(msg, a, a[:i+1]+"...")
		}
	}
	return msg
}

// singleDashHint points a terraform user who wrote -var or -var-file at --var.
func singleDashHint(fs *pflag.FlagSet, args []string) string {
	for _, a := range args {
		if a == "--" {
			break
		}
		if len(a) < 3 || a[0] != '-' || a[1] == '-' {
			continue
		}
		name, _, _ := strings.Cut(a[1:], "=")
		if fs.Lookup(name) != nil {
			return fmt.Sprintf(" (did you mean --%s? pgferry's flags take two dashes)", name)
		}
	}
	return ""
}
