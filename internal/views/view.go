package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/fatih/color"
	"github.com/pgferry/pgferry/config"
)

// ViewType is the output a command was asked for, chosen once from its flags before it does
// anything: the command then talks to one implementation of its view interface.
type ViewType int

// The view types.
const (
	HumanView    ViewType = iota // Terraform-like text, coloured on a terminal
	JSONView                     // one JSON document, or line-delimited events (apply)
	MarkdownView                 // a pull-request comment or a change ticket's report
)

// TypeOf is the view type the --json and --markdown flags ask for (both false: HumanView).
func TypeOf(jsonOut, markdown bool) ViewType {
	switch {
	case jsonOut:
		return JSONView
	case markdown:
		return MarkdownView
	}
	return HumanView
}

// SetColor turns colour on or off for every view of the process (fatih/color keeps it global).
func SetColor(on bool) { color.NoColor = !on }

// View is what every command's view shares, as terraform's views.View: the output streams and
// whether colour is on. Errors and warnings go to Stderr, with the configuration's secrets removed
// by the caller (config.Redact) before they reach it.
type View struct {
	Stdout, Stderr io.Writer
	Color          bool
}

// Error prints "Error: msg" on Stderr, "Error:" in bold red.
func (v *View) Error(msg string) {
	red := color.New(color.FgRed, color.Bold).SprintFunc()
	fmt.Fprintf(v.Stderr, "%s %s\n", red("Error:"), msg)
}

// Warning prints a warning that stands apart from what came before it: "\nWarning: msg".
func (v *View) Warning(msg string) {
	fmt.Fprintf(v.Stderr, "\n%s %s\n", yellow(bold("Warning:")), msg)
}

// Notice prints a line on Stderr that is neither an error nor a warning: a cleanup that failed,
// a cancel request that arrived.
func (v *View) Notice(msg string) { fmt.Fprintln(v.Stderr, msg) }

// Diagnostics prints configuration diagnostics with their source snippets (files maps a file
// name to its bytes).
func (v *View) Diagnostics(diags config.Diagnostics, files map[string][]byte) {
	diags.Write(v.Stderr, files, v.Color, 100)
}

// Interrupted says that the first Ctrl-C (or SIGTERM) stops the command gracefully.
func (v *View) Interrupted() {
	fmt.Fprintln(v.Stderr, "\nInterrupt received. Gracefully shutting down...")
}

// InterruptedTwice says that the second one ends the process at once.
func (v *View) InterruptedTwice() {
	fmt.Fprintln(v.Stderr, "Two interrupts received. Exiting immediately.")
}

// Prompt asks question (its lines as given) and waits on the same line for the answer.
func (v *View) Prompt(question string) {
	fmt.Fprint(v.Stdout, question+"\n\n  Enter a value: ")
}

// Blank prints an empty line on Stdout: after the answer to a prompt.
func (v *View) Blank() { fmt.Fprintln(v.Stdout) }

// Command is one line of the command list in the usage text.
type Command struct{ Name, Usage string }

// Usage prints pgferry's usage: the commands and the global flags.
func Usage(w io.Writer, commands []Command) {
	fmt.Fprintln(w, "Usage: pgferry [--chdir DIR] [--no-color] <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.Name, c.Usage)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Global flags (before the command):")
	fmt.Fprintln(w, "  --chdir DIR   switch to DIR before anything else: the configuration, the state and every relative path are read there")
	fmt.Fprintln(w, "  --no-color    disable colour (NO_COLOR too)")
	fmt.Fprintln(w, "  --version     print the version")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'pgferry <command> --help' for a command's flags.")
}

// UsageError prints a mistake in the global flags or the command name, then the usage.
func (v *View) UsageError(msg string, commands []Command) {
	fmt.Fprintf(v.Stderr, "Error: %s\n\n", msg)
	Usage(v.Stderr, commands)
}

// Help prints a command's synopsis and flags (--help).
func (v *View) Help(synopsis, flags string) {
	fmt.Fprintf(v.Stdout, "Usage: pgferry %s\n\n%s", synopsis, flags)
}

// FlagError prints a command's flag parsing error, then its synopsis and flags.
func (v *View) FlagError(msg, synopsis, flags string) {
	fmt.Fprintf(v.Stderr, "Error: %s\n\nUsage: pgferry %s\n\n%s", msg, synopsis, flags)
}

// FlagLines lays out a command's flags, one a line: left (the flag and its value's name) padded
// to the widest, then its usage.
func FlagLines(lines [][2]string) string {
	width := 0
	for _, l := range lines {
		width = max(width, len(l[0]))
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%-*s   %s\n", width, l[0], l[1])
	}
	return b.String()
}
