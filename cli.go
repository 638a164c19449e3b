package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/views"
	"github.com/pgferry/pgferry/state"
	"github.com/spf13/pflag"
)

// errReported is the error of a command that failed and has said why already (configuration
// diagnostics, a refused plan, a --json document that carries the failure): run exits 1 and
// prints nothing more.
var errReported = errors.New("the command failed; it said why")

// exitStatus is a command's outcome that is no error to print, only an exit status other than 0
// and 1: plan --detailed-exitcode's 2, fmt --check's 3.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// failure is an error message written for the user: a sentence, or several, that may start with
// a capital ("Saved plan is stale ...").
type failure string

func (f failure) Error() string { return string(f) }

// failf formats a failure.
func failf(format string, args ...any) error { return failure(fmt.Sprintf(format, args...)) }

// fromCode is the error of a step that printed its own error and returned an exit code.
func fromCode(code int) error {
	switch code {
	case 0:
		return nil
	case 1:
		return errReported
	}
	return exitStatus(code)
}

// exitCode is the exit status of a command that returned err, which it prints through the view
// (with the configuration's secrets removed) unless the command reported it already.
func (c *cli) exitCode(err error) int {
	var status exitStatus
	switch {
	case err == nil:
		return 0
	case errors.As(err, &status):
		return int(status)
	case !errors.Is(err, errReported):
		c.view().Error(redact(err.Error(), c.secrets))
	}
	return 1
}

// call runs a command and returns its exit status.
func (c *cli) call(cmd func(*cli, []string) error, args []string) int {
	return c.exitCode(cmd(c, args))
}

// jsonError repeats, under --json, the error a command ends with (and prints on stderr) as a
// diagnostic line on stdout, as terraform -json does: a program reading the lines sees why it
// failed. Errors the command reported already, and exit statuses, are not repeated.
func (c *cli) jsonError(err error) {
	var status exitStatus
	if err == nil || errors.Is(err, errReported) || errors.As(err, &status) {
		return
	}
	msg := redact(err.Error(), c.secrets)
	summary, detail, _ := strings.Cut(msg, "\n")
	(&views.JSONLines{W: c.stdout}).Write("error", "diagnostic", msg, map[string]any{
		"diagnostic": map[string]any{"severity": "error", "summary": summary, "detail": strings.TrimSpace(detail)}})
}

// view is the part of every command's view that the CLI itself talks to: errors, prompts, usage.
func (c *cli) view() *views.View {
	return &views.View{Stdout: c.stdout, Stderr: c.stderr, Color: c.color}
}

// errorf prints "Error: ..." on stderr at once, with secrets removed, for a failure the command
// reports while it goes on (or before it returns an exit code of its own).
func (c *cli) errorf(secrets []string, format string, args ...any) {
	c.view().Error(redact(fmt.Sprintf(format, args...), secrets))
}

// viewType is the view a command's --json and --markdown flags ask for; both together are refused.
func viewType(jsonOut, markdown bool, both string) (views.ViewType, error) {
	if jsonOut && markdown {
		return views.HumanView, errors.New(both)
	}
	return views.TypeOf(jsonOut, markdown), nil
}

// preamble is what the commands that act on one migration share: their flag set with --var,
// --var-file (and --migration), and once parsed, a context that Ctrl-C cancels and the session
// (configuration, migration, state backend).
type preamble struct {
	fs *pflag.FlagSet
	v  varFlags
}

// newPreamble makes the flag set of command name with the configuration's flags.
func newPreamble(name string, withMigration bool) *preamble {
	p := &preamble{fs: newFlags(name)}
	p.v.register(p.fs, withMigration)
	return p
}

// parse parses args; done is true when the command must return err now (--help, a bad flag, or
// more arguments than maxArgs, -1: any; argsAre says what the one argument is).
func (p *preamble) parse(c *cli, args []string, synopsis string, maxArgs int, argsAre string) (done bool, err error) {
	if code, done := c.parse(p.fs, args, synopsis); done {
		return true, fromCode(code)
	}
	switch {
	case maxArgs < 0 || p.fs.NArg() <= maxArgs:
		return false, nil
	case maxArgs == 0:
		return true, fmt.Errorf("%s takes no arguments; got %q", p.fs.Name(), p.fs.Arg(0))
	}
	return true, fmt.Errorf("%s takes at most one argument, %s; got %d", p.fs.Name(), argsAre, p.fs.NArg())
}

// checkJobs refuses a --jobs that options.jobs would refuse: set (given on the command line)
// and outside 1..config.MaxJobs.
func checkJobs(fs *pflag.FlagSet, jobs int) error {
	if fs.Changed("jobs") && (jobs < 1 || jobs > config.MaxJobs) {
		return fmt.Errorf("--jobs must be a whole number from 1 to %d; got %d", config.MaxJobs, jobs)
	}
	return nil
}

// checkDuration refuses a negative duration flag (--lock-timeout -5s waits for nothing).
func checkDuration(fs *pflag.FlagSet, name string, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("--%s must be a duration of zero or more, such as 30s or 5m; got %s", name, fs.Lookup(name).Value)
	}
	return nil
}

// begin starts a command on its migration: a context that Ctrl-C cancels and the session. end
// closes both.
func (c *cli) begin(v varFlags) (ctx context.Context, s *session, end func(), err error) {
	ctx, stop := c.signalContext()
	s, err = c.open(ctx, v)
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	c.secrets = s.secrets
	return ctx, s, func() { s.close(); stop() }, nil
}

// lock takes the state lock of the session's migration (info: who takes it, for what), waiting up
// to timeout.
func (c *cli) lock(ctx context.Context, s *session, info state.LockInfo, timeout time.Duration) (unlock func() error, err error) {
	unlock, err = s.backend.Lock(ctx, s.m.Name, info, timeout)
	if err != nil {
		return nil, failf("Error acquiring the state lock\n\n%v", s.lockHint(err))
	}
	return unlock, nil
}

// lockHint is err, a lock error naming the holder, with the force-unlock command it suggests
// completed: where the configuration declares several migrations, force-unlock needs --migration
// to know whose lock the ID is.
func (s *session) lockHint(err error) error {
	if le, ok := errors.AsType[*state.LockedError](err); ok && len(s.cfg.MigrationNames) > 1 {
		le.UnlockArgs = " --migration " + s.m.Name
	}
	return err
}

// signalContext cancels on the first SIGINT/SIGTERM (graceful stop) and exits at the second. At
// a prompt (c.prompting) the first one only cancels: the prompt says what happened.
func (c *cli) signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		n := 0
		for range ch {
			n++
			if n == 1 {
				if !c.prompting.Load() {
					c.view().Interrupted()
				}
				cancel()
				continue
			}
			c.view().InterruptedTwice()
			os.Exit(1)
		}
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

// confirmed asks prompt (its first line in bold is left to the view) and reports whether the
// answer was "yes". Ctrl-C at the prompt is a no, at once.
func (c *cli) confirmed(ctx context.Context, prompt string) bool {
	c.view().Prompt(prompt)
	answer, ok := c.readAnswer(ctx)
	return ok && strings.TrimSpace(answer) == "yes"
}

// readAnswer reads a line of the answer to a prompt. It gives up when ctx is done (Ctrl-C at the
// prompt: the read, which cannot be interrupted, is left behind) and then reports false.
func (c *cli) readAnswer(ctx context.Context) (string, bool) {
	c.prompting.Store(true)
	defer c.prompting.Store(false)
	got := make(chan string, 1)
	go func() {
		answer, _ := bufio.NewReader(c.stdin).ReadString('\n')
		got <- answer
	}()
	select {
	case answer := <-got:
		return answer, true
	case <-ctx.Done():
		return "", false
	}
}
