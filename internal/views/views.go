// Package views renders everything pgferry shows: plans, validation reports, apply and destroy
// events, state, errors and prompts, for people (Terraform-like text, coloured on a TTY) and for
// programs (JSON) or pull requests (Markdown). As terraform's internal/command/views, each command
// has a view interface (PlanView, Apply, Destroy, Show, List, VerifyView, Validate; Fmt, Version
// and ForceUnlock have a human form only) whose implementation the command chooses once, from its
// flags (NewPlan, NewApply, ...); View is what they share. It is the only package that prints to
// the terminal or knows colour.
package views

import (
	"fmt"
	"time"

	"github.com/fatih/color"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

var (
	green  = color.New(color.FgGreen).SprintFunc()
	yellow = color.New(color.FgYellow).SprintFunc()
	red    = color.New(color.FgRed).SprintFunc()
	bold   = color.New(color.Bold).SprintFunc()
	faint  = color.New(color.Faint).SprintFunc()
)

// Bytes renders a size the way people read it: 1.2 GiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Rows renders a number of rows compactly with its noun: "1 row", "12.3k rows".
func Rows(n int64) string {
	return Count(n) + " " + english.Noun(n, "row")
}

// Count renders a row count compactly: 9.4M, 12.3k, 512.
func Count(n int64) string {
	switch {
	case n >= 1_000_000_000:
		return fmt.Sprintf("%.1fG", float64(n)/1e9)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

func symbol(k plan.Kind) string {
	switch k {
	case plan.Create:
		return green("+")
	case plan.Update:
		return yellow("~")
	case plan.Replace:
		return red("-") + "/" + green("+")
	case plan.Delete:
		return red("-")
	}
	return "?"
}

func verb(k plan.Kind) string {
	switch k {
	case plan.Create:
		return "will be created"
	case plan.Update:
		return "will be updated in-place"
	case plan.Replace:
		return "must be replaced"
	case plan.Delete:
		return "will be destroyed"
	}
	return ""
}

// compactAbove is the number of actions of one compact type in a database above which they

func identity(id state.Identity) string {
	v := ""
	if id.Version != "" {
		v = ", PostgreSQL " + id.Version
	}
	return fmt.Sprintf("%s (%s:%d%s)", id.Name, id.Host, id.Port, v)
}

func pl(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// Duration is how every view writes a duration: 350ms, 4.2s, 3m12s, 2h5m0s (to the millisecond
// under a second, the tenth of a second under a minute, the second above).
func Duration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// verbs are the words of an action's progress lines, as Terraform's: "ADDR: Creating...",
// "ADDR: Still creating... [10s elapsed]", "ADDR: Creation complete after 2.1s".
type verbs struct{ ing, still, done string }

// verbsOf is the one set of progress verbs of apply and destroy, by action kind.
func verbsOf(k plan.Kind) verbs {
	switch k {
	case plan.Update:
		return verbs{"Modifying...", "modifying...", "Modifications complete"}
	case plan.Replace:
		return verbs{"Replacing...", "creating...", "Replacement complete"}
	case plan.Delete:
		return verbs{"Destroying...", "destroying...", "Destruction complete"}
	}
	return verbs{"Creating...", "creating...", "Creation complete"}
}
