package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// LockPollInterval is how often a Lock with a timeout retries a held lock.
const LockPollInterval = 200 * time.Millisecond

// ErrLocked is matched (errors.Is) by every *LockedError.
var ErrLocked = errors.New("state is locked")

// LockedError is returned by Lock when another operation holds the migration's
// lock (after waiting, when a timeout was given). Info describes the holder as
// it recorded itself; its fields are empty when the holder left no record.
type LockedError struct {
	Migration string
	Info      LockInfo
	// Waited is how long Lock waited before giving up (0: it did not wait).
	Waited time.Duration
	// UnlockArgs are what the force-unlock command the error suggests needs after the lock ID
	// (" --migration NAME" where the configuration declares several migrations); "" for none.
	UnlockArgs string
}

// Error renders a Terraform-like Lock Info block and says how to proceed.
func (e *LockedError) Error() string {
	var b strings.Builder
	if e.Migration != "" {
		fmt.Fprintf(&b, "the state of migration %q is locked by another operation", e.Migration)
	} else {
		b.WriteString("the state is locked by another operation")
	}
	if e.Waited > 0 {
		fmt.Fprintf(&b, " (waited %s)", e.Waited.Round(time.Millisecond))
	}
	b.WriteString("\n\nLock Info:\n")
	field := func(name, value string) {
		if value == "" {
			value = "(unknown)"
		}
		fmt.Fprintf(&b, "  %-10s %s\n", name+":", value)
	}
	field("ID", e.Info.ID)
	field("Path", e.Info.Path)
	field("Operation", e.Info.Operation)
	field("Who", e.Info.Who)
	field("Version", e.Info.Version)
	created := ""
	if !e.Info.Created.IsZero() {
		created = e.Info.Created.UTC().Format("2006-01-02 15:04:05.000 MST")
		if age := time.Since(e.Info.Created); age >= time.Second {
			created += fmt.Sprintf(" (%s ago)", age.Round(time.Second))
		}
	}
	field("Created", created)
	b.WriteString("\npgferry locks the state so that only one apply, destroy or cancel runs per migration.\n")
	b.WriteString("Wait for the other operation to finish by retrying with --lock-timeout (e.g. --lock-timeout 10m),\n")
	if e.Info.ID != "" {
		fmt.Fprintf(&b, "or, if you are sure no operation is running, remove the lock with:\n  pgferry force-unlock %s%s", e.Info.ID, e.UnlockArgs)
	} else {
		fmt.Fprintf(&b, "or, if you are sure no operation is running, remove the lock with `pgferry force-unlock LOCK_ID%s`.", e.UnlockArgs)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Is(target error) bool { return target == ErrLocked }

// acquire calls try until it takes the lock, fails, or timeout passes (at once
// when timeout <= 0); holder describes the current holder for the LockedError.
func acquire(ctx context.Context, migration string, timeout time.Duration,
	try func(context.Context) (bool, error), holder func(context.Context) LockInfo) error {
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("waiting for the state lock of migration %q: %w", migration, context.Cause(ctx))
		}
		ok, err := try(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		wait := time.Until(deadline)
		if timeout <= 0 || wait <= 0 {
			e := &LockedError{Migration: migration, Info: holder(ctx)}
			if timeout > 0 {
				e.Waited = time.Since(start)
			}
			return e
		}
		t := time.NewTimer(min(wait, LockPollInterval))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the state lock of migration %q: %w", migration, context.Cause(ctx))
		case <-t.C:
		}
	}
}
