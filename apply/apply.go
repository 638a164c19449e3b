package apply

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// Event is one thing that happened during apply, for views and --json.
type Event struct {
	Type    EventType
	Address string        // the action's address
	Action  *plan.Action  // the action, when the event is about one
	Elapsed time.Duration // since the action started
	// Work is the action's work time summed over the connections it used, when it is not Elapsed
	// (analyze: its parallel ANALYZEs and those run table by table before it started); 0 otherwise.
	Work    time.Duration
	Rows    int64
	Bytes   int64
	Message string
	Err     error
	// Still marks the apply_progress event the apply view adds for a running action that reported
	// nothing for views.StillEvery (Rows and Bytes are its last progress, if any): "Still creating...".
	Still bool
}

// EventType is what an Event reports; the apply_* types are also the names of apply --json's
// messages (SPEC §6).
type EventType string

// The event types.
const (
	EventStart       EventType = "apply_start"       // an action started
	EventProgress    EventType = "apply_progress"    // a running action moved rows or bytes, or is Still running
	EventComplete    EventType = "apply_complete"    // an action finished
	EventErrored     EventType = "apply_errored"     // an action failed
	EventInterrupted EventType = "apply_interrupted" // an action was stopped by an interrupt
	EventPhase       EventType = "phase"             // a step of a database's migration that is no action
	EventMessage     EventType = "message"           // something worth saying: a retry, a recreated database
)

// Options configure a run.
type Options struct {
	Migration *config.Migration
	Plan      *plan.Plan
	Tools     *pgdump.Tools
	Backend   state.Backend
	// State is the migration's state; Run updates and writes it.
	State *state.State
	Jobs  int
	// Emit receives events; it must not block for long. May be nil.
	Emit func(Event)
	// Prefetch, when not nil, holds the first database's source opened while the plan was made
	// (StartPrefetch); the caller closes it after Run.
	Prefetch *Prefetch
	// TempDir is where the run keeps its temporary files (the process's work directory, see
	// internal/workdir); "" means os.TempDir().
	TempDir string
}

// Runner executes one plan.
type Runner struct {
	opt     Options
	m       *config.Migration
	mu      sync.Mutex // guards state and its writes
	emitMu  sync.Mutex
	tmp     string
	floatDg int
	// progressSaved is when recordProgress last wrote the state (guarded by mu).
	progressSaved time.Time
	// gen counts changes to the in-memory state (guarded by mu); saveGen reports which it wrote.
	gen int64
	// unconfirmed are actions that succeeded on asynchronously committing sessions and wait for
	// confirmDurable before they are recorded as applied (guarded by mu).
	unconfirmed []*state.Action
}

// Run executes the plan. It returns nil when every action succeeded.
func Run(ctx context.Context, opt Options) error {
	if opt.Jobs < 1 {
		opt.Jobs = 1
	}
	r := &Runner{opt: opt, m: opt.Migration, floatDg: FloatDigits(opt.Plan.Source.VersionNum, opt.Plan.Target.VersionNum)}
	tmp, err := os.MkdirTemp(opt.TempDir, "pgferry-")
	if err != nil {
		return err
	}
	r.tmp = tmp
	defer os.RemoveAll(tmp)

	st := opt.State
	now := time.Now().UTC()
	r.mu.Lock()
	if st.StartedAt == nil || st.Status == state.StatusSucceeded || st.Status == "" {
		st.StartedAt = &now
	}
	st.FinishedAt = nil
	st.Status, st.Substatus, st.Error = state.StatusInProgress, state.SubPrerequisites, ""
	st.Source, st.Target = opt.Plan.Source, opt.Plan.Target
	st.Databases = opt.Plan.Databases
	st.Validations = opt.Plan.Validations
	st.ConfigFingerprint = opt.Plan.ConfigFingerprint
	for _, a := range opt.Plan.Actions {
		if sa := st.Action(a.Address); sa == nil || sa.Status != state.ActionApplied {
			st.Upsert(&state.Action{Address: a.Address, Kind: state.ActionKind(a.Kind.Symbol()), Database: a.Database, Status: state.ActionPending,
				RowsEstimate: a.RowsEstimate, BytesEstimate: a.BytesEstimate})
		}
	}
	r.mu.Unlock()
	if err := r.save(ctx); err != nil {
		return err
	}

	runErr := r.run(ctx)
	end := time.Now().UTC()
	r.mu.Lock()
	st.FinishedAt = &end
	switch {
	case runErr == nil:
		st.Status, st.Substatus = state.StatusSucceeded, state.SubCompleted
	case Interrupted(ctx, runErr):
		st.Status, st.Error = state.StatusInterrupted, ""
	default:
		st.Status, st.Error = state.StatusFailed, runErr.Error()
	}
	if runErr != nil {
		// What was still running when the run stopped (a success waiting for its commit to be
		// confirmed durable, say) is not recorded as running on.
		for _, sa := range st.Actions {
			if sa != nil && sa.Status == state.ActionRunning {
				sa.Status, sa.FinishedAt = state.ActionInterrupted, &end
			}
		}
	}
	r.mu.Unlock()
	// Save even when ctx is done: the state must say where the run stopped.
	if err := r.save(context.WithoutCancel(ctx)); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// Interrupted reports whether err ended a run because ctx was cancelled (Ctrl-C, SIGTERM, pgferry
// cancel) rather than because something failed. Cancelled statements may fail with a closed
// connection instead of context.Canceled: once ctx is done, every error is the interruption's.
func Interrupted(ctx context.Context, err error) bool {
	return err != nil && (errors.Is(err, context.Canceled) || ctx.Err() != nil)
}

func (r *Runner) emit(e Event) {
	if r.opt.Emit == nil {
		return
	}
	r.emitMu.Lock()
	defer r.emitMu.Unlock()
	r.opt.Emit(e)
}

func (r *Runner) save(ctx context.Context) error {
	_, err := r.saveGen(ctx)
	return err
}

// saveGen writes the state and returns the generation of in-memory changes it holds.
func (r *Runner) saveGen(ctx context.Context) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.opt.Backend.Write(ctx, r.opt.State); err != nil {
		return 0, fmt.Errorf("saving state: %w", err)
	}
	return r.gen, nil
}

func (r *Runner) setSubstatus(ctx context.Context, sub string) error {
	r.mu.Lock()
	r.opt.State.Substatus = sub
	r.mu.Unlock()
	return r.save(ctx)
}

func (r *Runner) recordChange(c state.Change) {
	r.mu.Lock()
	c.At = time.Now().UTC()
	r.opt.State.Created = append(r.opt.State.Created, c)
	r.mu.Unlock()
}

// markBegin marks an action running in memory.
func (r *Runner) markBegin(a *plan.Action) time.Time {
	start := time.Now()
	r.mu.Lock()
	sa := r.opt.State.Action(a.Address)
	if sa == nil {
		sa = &state.Action{Address: a.Address, Kind: state.ActionKind(a.Kind.Symbol()), Database: a.Database, RowsEstimate: a.RowsEstimate, BytesEstimate: a.BytesEstimate}
		r.opt.State.Upsert(sa)
	}
	sa.Rows, sa.Bytes = 0, 0 // an earlier attempt's progress
	t := start.UTC()
	sa.Status, sa.StartedAt, sa.FinishedAt, sa.Error = state.ActionRunning, &t, nil, ""
	sa.Attempt++
	r.gen++
	r.mu.Unlock()
	r.emit(Event{Type: EventStart, Address: a.Address, Action: a})
	return start
}

// ProgressSaveEvery is how often a running copy's progress (its bytes so far) is written to the
// state, for show in another terminal.
const ProgressSaveEvery = 5 * time.Second

// recordProgress keeps a running copy's bytes (and rows, when it counts them) in the state and
// writes the state at most every ProgressSaveEvery. A failed write is not the copy's failure:
// the next write (the copy's end) reports it.
func (r *Runner) recordProgress(ctx context.Context, a *plan.Action, rows, bytes int64) {
	r.mu.Lock()
	sa := r.opt.State.Action(a.Address)
	if sa == nil || sa.Status != state.ActionRunning {
		r.mu.Unlock()
		return
	}
	sa.Rows, sa.Bytes = max(sa.Rows, rows), max(sa.Bytes, bytes)
	r.gen++
	due := time.Since(r.progressSaved) >= ProgressSaveEvery
	if due {
		r.progressSaved = time.Now()
	}
	r.mu.Unlock()
	if due {
		_ = r.save(ctx)
	}
}

// markFinish records an action's outcome in memory. work is its work time summed over the
// connections it used, when that is not its elapsed time (0: the same).
//
// With confirm set, a success is not yet recorded as applied: the action committed on a session
// with synchronous_commit off, and becomes applied only once queueConfirm queued it and
// confirmDurable made the target's WAL durable past its commit (a target that crashes loses the
// last asynchronous commits).
//
// An action stopped because ctx was cancelled (the apply was interrupted, or another action failed
// and stopped its siblings) is recorded interrupted, without an error: it did not fail.
func (r *Runner) markFinish(ctx context.Context, a *plan.Action, start time.Time, rows, bytes int64, work time.Duration, err error, confirm bool) {
	d := time.Since(start)
	t := time.Now().UTC()
	interrupted := Interrupted(ctx, err)
	r.mu.Lock()
	sa := r.opt.State.Action(a.Address)
	sa.FinishedAt, sa.DurationMS, sa.Rows, sa.Bytes = &t, d.Milliseconds(), rows, bytes
	switch {
	case interrupted:
		sa.Status, sa.Error = state.ActionInterrupted, ""
	case err != nil:
		sa.Status, sa.Error = state.ActionFailed, err.Error()
		if a.Type == plan.TypeTable || a.Type == plan.TypeTablePart || a.Type == plan.TypeIndex || a.Type == plan.TypeConstraint {
			sa.Status = state.ActionTainted
		}
	case confirm:
		// still "running" in the state, until queueConfirm and saveConfirmed
	default:
		sa.Status = state.ActionApplied
	}
	r.gen++
	r.mu.Unlock()
	switch {
	case interrupted:
		r.emit(Event{Type: EventInterrupted, Address: a.Address, Action: a, Elapsed: d, Rows: rows, Bytes: bytes})
	case err != nil:
		r.emit(Event{Type: EventErrored, Address: a.Address, Action: a, Elapsed: d, Err: err})
	default:
		r.emit(Event{Type: EventComplete, Address: a.Address, Action: a, Elapsed: d, Work: work, Rows: rows, Bytes: bytes})
	}
}

// begin marks an action running and saves the state; finish records its outcome durably.
func (r *Runner) begin(ctx context.Context, a *plan.Action) (time.Time, error) {
	start := r.markBegin(a)
	return start, r.save(ctx)
}

// queueConfirm queues finished actions for the next saveConfirmed, which records them applied in
// one state write, and returns the generation of that change.
func (r *Runner) queueConfirm(addrs ...string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, addr := range addrs {
		r.unconfirmed = append(r.unconfirmed, r.opt.State.Action(addr))
	}
	r.gen++
	return r.gen
}

func (r *Runner) finish(ctx context.Context, a *plan.Action, start time.Time, rows, bytes int64, err error) error {
	r.markFinish(ctx, a, start, rows, bytes, 0, err, false)
	return r.save(context.WithoutCancel(ctx))
}

func (r *Runner) run(ctx context.Context) error {
	p := r.opt.Plan
	var instance []*plan.Action
	byDB := map[string][]*plan.Action{}
	for _, a := range p.Actions {
		if a.Database == "" {
			instance = append(instance, a)
		} else {
			byDB[a.Database] = append(byDB[a.Database], a)
		}
	}
	if len(instance) > 0 {
		if err := r.runInstance(ctx, instance); err != nil {
			return err
		}
	}
	if err := r.setSubstatus(ctx, state.SubMigratingData); err != nil {
		return err
	}
	for _, db := range p.Databases {
		if len(byDB[db]) == 0 {
			continue
		}
		if err := r.runDatabaseRetrying(ctx, db, byDB[db]); err != nil {
			if ae := (*actionError)(nil); errors.As(err, &ae) {
				return err // its address names the database
			}
			return fmt.Errorf("database %q: %w", db, err)
		}
	}
	return r.setSubstatus(ctx, state.SubCompleting)
}

// actionError is an action's failure, named by its address.
type actionError struct {
	addr string
	err  error
}

func (e *actionError) Error() string { return e.addr + ": " + e.err.Error() }

func (e *actionError) Unwrap() error { return e.err }

// runInstance creates and alters roles and memberships, one at a time, on the maintenance database.
func (r *Runner) runInstance(ctx context.Context, actions []*plan.Action) error {
	tgt, err := Connect(ctx, r.m.Target, "")
	if err != nil {
		return err
	}
	defer tgt.Close(context.WithoutCancel(ctx))
	src, err := Connect(ctx, r.m.Source, "")
	if err != nil {
		return err
	}
	srcCat, err := catalog.ReadInstance(ctx, src)
	src.Close(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("%s: %w", r.m.Source.Label(), err)
	}
	tgtCat, err := catalog.ReadInstance(ctx, tgt)
	if err != nil {
		return fmt.Errorf("%s: %w", r.m.Target.Label(), err)
	}
	for _, a := range actions {
		start, err := r.begin(ctx, a)
		if err != nil {
			return err
		}
		err = r.applyRole(ctx, tgt, srcCat, tgtCat, a)
		if ferr := r.finish(ctx, a, start, 0, 0, err); ferr != nil && err == nil {
			err = ferr
		}
		if err != nil {
			return &actionError{a.Address, err}
		}
	}
	return nil
}

func (r *Runner) applyRole(ctx context.Context, tgt *pgx.Conn, src, have *catalog.Instance, a *plan.Action) error {
	switch a.Type {
	case plan.TypeRole:
		sr := src.Role(a.Name)
		if sr == nil {
			return fmt.Errorf("role %q no longer exists on the source", a.Name)
		}
		want := plan.DesiredRole(*sr, r.m.Options)
		if a.Kind == plan.Create {
			if hr := have.Role(a.Name); hr != nil {
				if !r.created("role", a.Name) {
					return fmt.Errorf("role %q was created on the target by someone else since the plan was made; plan again", a.Name)
				}
				// Created by an earlier, interrupted run.
				if err := roleExec(ctx, tgt, "altering", a.Name, alterRoleSQL(want)); err != nil {
					return err
				}
			} else {
				// Recorded durably before it exists, so that destroy knows it even if pgferry dies
				// right after creating it (destroy drops it IF EXISTS).
				if !r.created("role", a.Name) {
					r.recordChange(state.Change{Type: "role", Name: a.Name, Op: "created"})
					if err := r.save(ctx); err != nil {
						return err
					}
				}
				if err := roleExec(ctx, tgt, "creating", a.Name, createRoleSQL(want)); err != nil {
					return err
				}
			}
		} else {
			hr := have.Role(a.Name)
			if hr == nil {
				return fmt.Errorf("role %q no longer exists on the target", a.Name)
			}
			r.recordChange(state.Change{Type: "role_attributes", Name: a.Name, Op: "altered", Before: alterRoleAttrsSQL(*hr)})
			if err := roleExec(ctx, tgt, "altering", a.Name, alterRoleAttrsSQL(want)); err != nil {
				return err
			}
		}
		for _, stmt := range roleConfigSQL(want) {
			if err := roleExec(ctx, tgt, "setting a parameter of", a.Name, stmt); err != nil {
				return err
			}
		}
		return nil
	case plan.TypeParameter:
		return r.setParameter(ctx, tgt, src, a.Name)
	case plan.TypeLoginMembership:
		return r.grantLogin(ctx, tgt, a.Table, a.Name)
	case plan.TypeMembership:
		role, member := a.Table, a.Name
		admin := ""
		for _, m := range src.Memberships {
			if m.Role == role && m.Member == member && m.AdminOption {
				admin = " WITH ADMIN OPTION"
			}
		}
		stmt := fmt.Sprintf("GRANT %s TO %s%s", ident(role), ident(member), admin)
		if _, err := tgt.Exec(ctx, stmt); err != nil {
			return newStatementError("granting", "role "+quoteName(role)+" to "+quoteName(member), stmt, stmt, err)
		}
		r.recordChange(state.Change{Type: "membership", Name: member + " in " + role, Op: "created"})
		return nil
	}
	return fmt.Errorf("unexpected instance action type %q", a.Type)
}

// grantLogin makes the target's login (not a superuser) a member of a role that owns migrated
// objects, so that pg_restore may give them to it (ALTER ... OWNER TO needs SET ROLE rights on the
// role) and alter them afterwards (which needs its privileges): WITH INHERIT TRUE, SET TRUE on
// PostgreSQL 16 and later, where creating a role gives its creator ADMIN OPTION only.
//
// What the login held is recorded first, so that destroy puts it back: the membership granted here
// is revoked; on 16+, a membership the login had granted itself before (the one GRANT changes)
// gets its options back.
func (r *Runner) grantLogin(ctx context.Context, tgt *pgx.Conn, role, login string) error {
	name := login + " in " + role
	v16 := r.opt.Plan.Target.VersionNum.AtLeast(16)
	if !r.recorded(ChangeLoginMembership, name) {
		c := state.Change{Type: ChangeLoginMembership, Name: name, Op: OpCreated}
		if v16 {
			var inherit, set bool
			err := tgt.QueryRow(ctx, "SELECT am.inherit_option, am.set_option"+membershipWhere+membershipBySelf, role, login).Scan(&inherit, &set)
			switch {
			case err == nil:
				c.Op, c.Before = OpAltered, fmt.Sprintf("GRANT %s TO %s WITH INHERIT %s, SET %s", ident(role), ident(login), sqlBool(inherit), sqlBool(set))
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		} else {
			var n int
			if err := tgt.QueryRow(ctx, "SELECT count(*)"+membershipWhere, role, login).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil // a member already: nothing to grant, nothing to revoke
			}
		}
		r.recordChange(c)
		if err := r.save(ctx); err != nil {
			return err
		}
	}
	stmt := fmt.Sprintf("GRANT %s TO %s", ident(role), ident(login))
	if v16 {
		stmt += " WITH INHERIT TRUE, SET TRUE"
	}
	if _, err := tgt.Exec(ctx, stmt); err != nil {
		return newStatementError("granting", "role "+quoteName(role)+" to the target login "+quoteName(login), stmt, stmt, err)
	}
	return nil
}

// roleExec runs statements that op (create, alter) role name, naming it and the failing statement
// (passwords redacted) when one fails.
func roleExec(ctx context.Context, tgt *pgx.Conn, op, name, sql string) error {
	if _, failed, err := execStatements(ctx, tgt, sql); err != nil {
		return newStatementError(op, "role "+quoteName(name), sql, failed, err)
	}
	return nil
}

// membershipWhere selects the memberships of $2 in $1 in pg_auth_members am; membershipBySelf
// narrows it to the one the session's user granted (grantors are per membership on 16+).
const (
	membershipWhere = ` FROM pg_catalog.pg_auth_members am
	WHERE am.roleid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1)
	AND am.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $2)`
	membershipBySelf = ` AND am.grantor = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)`
)

func sqlBool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// setParameter sets a server parameter on the target to the source's value with ALTER SYSTEM and
// reloads the configuration. What postgresql.auto.conf held before is recorded, so that destroy can
// put it back (or RESET the parameter when it held nothing).
func (r *Runner) setParameter(ctx context.Context, tgt *pgx.Conn, src *catalog.Instance, name string) error {
	s, ok := src.Settings[name]
	if !ok {
		return fmt.Errorf("server parameter %q no longer exists on the source", name)
	}
	if !r.recorded("server_parameter", name) {
		var before string
		// pg_file_settings needs superuser; without it, an ALTER SYSTEM value cannot be told apart.
		err := tgt.QueryRow(ctx, `SELECT coalesce((SELECT setting FROM pg_catalog.pg_file_settings
			WHERE name = $1 AND sourcefile LIKE '%postgresql.auto.conf' AND applied IS NOT NULL ORDER BY seqno DESC LIMIT 1), '')`, name).Scan(&before)
		if err != nil {
			return fmt.Errorf("reading the target's value of %s: %w", name, err)
		}
		r.recordChange(state.Change{Type: "server_parameter", Name: name, Op: "altered", Before: before})
		if err := r.save(ctx); err != nil {
			return err
		}
	}
	val := literal(s.Setting)
	if listGUCs[name] {
		var parts []string
		for _, e := range strings.Split(s.Setting, ",") {
			parts = append(parts, literal(strings.Trim(strings.TrimSpace(e), `"`)))
		}
		val = strings.Join(parts, ", ")
	}
	stmt := fmt.Sprintf("ALTER SYSTEM SET %s = %s", ident(name), val)
	if _, err := tgt.Exec(ctx, stmt); err != nil {
		return newStatementError("setting", "server parameter "+quoteName(name), stmt, stmt, err)
	}
	_, err := tgt.Exec(ctx, "SELECT pg_catalog.pg_reload_conf()")
	return err
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func roleAttrs(r catalog.Role) string {
	b := func(on bool, yes, no string) string {
		if on {
			return yes
		}
		return no
	}
	return strings.Join([]string{
		b(r.Superuser, "SUPERUSER", "NOSUPERUSER"), b(r.Inherit, "INHERIT", "NOINHERIT"),
		b(r.CreateRole, "CREATEROLE", "NOCREATEROLE"), b(r.CreateDB, "CREATEDB", "NOCREATEDB"),
		b(r.Login, "LOGIN", "NOLOGIN"), b(r.Replication, "REPLICATION", "NOREPLICATION"),
		b(r.BypassRLS, "BYPASSRLS", "NOBYPASSRLS"), fmt.Sprintf("CONNECTION LIMIT %d", r.ConnLimit),
	}, " ")
}

func createRoleSQL(r catalog.Role) string {
	s := "CREATE ROLE " + ident(r.Name) + " WITH " + roleAttrs(r)
	if r.ValidUntil != "" {
		s += " VALID UNTIL " + literal(r.ValidUntil)
	}
	if r.PasswordHash != "" {
		s += " PASSWORD " + literal(r.PasswordHash)
	}
	if r.Comment != "" {
		s += "; COMMENT ON ROLE " + ident(r.Name) + " IS " + literal(r.Comment)
	}
	return s
}

func alterRoleSQL(r catalog.Role) string {
	s := alterRoleAttrsSQL(r)
	if r.PasswordHash != "" {
		s += "; ALTER ROLE " + ident(r.Name) + " PASSWORD " + literal(r.PasswordHash)
	}
	return s
}

func alterRoleAttrsSQL(r catalog.Role) string {
	if r.Superuser {
		// Never touch SUPERUSER of an existing role: restoring it needs a superuser anyway.
		return "ALTER ROLE " + ident(r.Name) + " WITH " + strings.Replace(roleAttrs(r), "SUPERUSER ", "", 1)
	}
	return "ALTER ROLE " + ident(r.Name) + " WITH " + strings.Replace(roleAttrs(r), "NOSUPERUSER ", "", 1)
}

// listGUCs are settings whose value is a list that must be quoted element by element.
var listGUCs = map[string]bool{"search_path": true, "temp_tablespaces": true, "session_preload_libraries": true, "local_preload_libraries": true, "shared_preload_libraries": true}

func roleConfigSQL(r catalog.Role) []string {
	var out []string
	for _, kv := range r.Config {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		val := literal(v)
		if listGUCs[k] {
			var parts []string
			for _, e := range strings.Split(v, ",") {
				parts = append(parts, literal(strings.Trim(strings.TrimSpace(e), `"`)))
			}
			val = strings.Join(parts, ", ")
		}
		out = append(out, fmt.Sprintf("ALTER ROLE %s SET %s TO %s", ident(r.Name), ident(k), val))
	}
	return out
}

// dbRun holds what one database's actions share.
type dbRun struct {
	r  *Runner
	db string
	*sourceDump
	used   map[int]bool              // chunk indexes run by index/constraint actions
	src    *catalog.Database         // the source catalog, read inside the snapshot
	tables map[string]*catalog.Table // TableAddr → table
	// barrier is the target connection confirmDurable commits on (the flusher's only), and
	// targetStart when the target's server started, read as the graph began.
	barrier     *pgx.Conn
	targetStart time.Time
	// barrierByLSN: the target does not let this login emit a logical message, and confirmDurable
	// waits for the WAL writer instead.
	barrierByLSN bool
	// freshSchema is set once this run restored pre-data into an empty database: no index or
	// constraint of an earlier run can be in it.
	freshSchema atomic.Bool
	// lane analyzes tables as they are finished (nil: none).
	lane *analyzeLane
	// streamed: pre-data is streamed into a database this migration created (see schema.go),
	// decided once the database action ran.
	streamed bool
	// schemaChunks counts the pre-data chunks run so far; schemaProgress is signalled after each.
	schemaChunks   atomic.Int64
	schemaProgress chan struct{}
}

// runDatabaseRetrying runs a database's actions and, when a connection to the source is lost (and
// with it the snapshot), starts again with a new snapshot for the actions not finished yet.
func (r *Runner) runDatabaseRetrying(ctx context.Context, db string, actions []*plan.Action) error {
	for attempt := 0; ; attempt++ {
		r.mu.Lock()
		left := actionsLeft(actions, r.opt.State)
		r.mu.Unlock()
		if len(left) == 0 {
			return nil
		}
		err := r.runDatabase(ctx, db, left, attempt)
		if err == nil || ctx.Err() != nil || !(retryable(err) || snapshotLost(err) || errors.Is(err, errTargetRestarted)) || attempt >= 4 {
			return err
		}
		wait := backoff[min(attempt+2, len(backoff)-1)]
		r.emit(Event{Type: EventMessage, Message: fmt.Sprintf("Database %q: %v; starting again with a new snapshot in %s", db, err, wait)})
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// actionsLeft is what a new attempt at a database runs: the actions not applied, and every
// action of a split table of which one part is not applied. A part's rows cannot be told apart
// from the other parts' on the target, and a part may have committed without being recorded
// (its commit's reply lost, or a target that crashed after making it durable): copying it again
// would duplicate its rows, so the table is emptied and copied whole again, as a new run does.
func actionsLeft(actions []*plan.Action, st *state.State) []*plan.Action {
	applied := func(a *plan.Action) bool {
		sa := st.Action(a.Address)
		return sa != nil && sa.Status == state.ActionApplied
	}
	reload := map[string]bool{} // table address → a part is not applied
	for _, a := range actions {
		if a.Type == plan.TypeTablePart && !applied(a) {
			reload[plan.TableAddr(a.Database, a.Schema, a.Name)] = true
		}
	}
	var left []*plan.Action
	for _, a := range actions {
		split := (a.Type == plan.TypeTable && a.Parts > 0) || a.Type == plan.TypeTablePart
		if !applied(a) || (split && reload[plan.TableAddr(a.Database, a.Schema, a.Name)]) {
			left = append(left, a)
		}
	}
	return left
}

func (r *Runner) runDatabase(ctx context.Context, db string, actions []*plan.Action, attempt int) error {
	d := &dbRun{r: r, db: db, used: map[int]bool{}, tables: map[string]*catalog.Table{}}
	var err error
	var ok bool
	if attempt == 0 {
		d.sourceDump, ok, err = r.opt.Prefetch.take(db)
	}
	switch {
	case ok && err == nil:
		r.emit(Event{Type: EventPhase, Message: fmt.Sprintf("Database %q: snapshot exported and schema dumped with pg_dump %s while the plan was made", db, r.opt.Tools.Version)})
	case !ok:
		r.emit(Event{Type: EventPhase, Message: fmt.Sprintf("Database %q: exporting a snapshot and dumping the schema with pg_dump %s", db, r.opt.Tools.Version)})
		d.sourceDump, err = openSource(ctx, r.m, r.opt.Tools, db, r.opt.Plan.Source.VersionNum, r.floatDg, r.opt.TempDir)
	}
	if err != nil {
		return err
	}
	defer d.sourceDump.close()
	tv := r.opt.Plan.Target.VersionNum
	d.preamble, d.prePreamble = pgdump.ForServer(d.preamble, tv), pgdump.ForServer(d.prePreamble, tv)
	d.rewriteOwners(r.owners())
	defer func() {
		if d.barrier != nil {
			d.barrier.Close(context.WithoutCancel(ctx))
		}
	}()
	return d.schedule(ctx, actions)
}

// owners is how pg_dump's owners and grants are rewritten for the target (owners.go), or nil
// when they are not restored (roles = false).
func (r *Runner) owners() *ownerRewriter {
	if !r.m.Options.Roles {
		return nil
	}
	p := r.opt.Plan
	return &ownerRewriter{m: p.OwnerMap, login: p.Login, super: p.LoginSuperuser || p.Login == ""}
}

// stripMeta removes psql meta-commands (\restrict, \unrestrict, \connect) that pg_restore
// prints in scripts: the chunks are run by a driver, not by psql.
func stripMeta(script []byte) []byte {
	lines := strings.SplitAfter(string(script), "\n")
	var b strings.Builder
	for _, l := range lines {
		if strings.HasPrefix(l, `\`) {
			continue
		}
		b.WriteString(l)
	}
	return []byte(b.String())
}

// schedule runs the database's actions in dependency order with Jobs workers.
func (d *dbRun) schedule(ctx context.Context, actions []*plan.Action) error {
	r := d.r
	// The database action runs first, alone: everything else needs it.
	var rest []*plan.Action
	for _, a := range actions {
		if a.Type == plan.TypeDatabase {
			start, err := r.begin(ctx, a)
			if err != nil {
				return err
			}
			err = d.database(ctx, a)
			if ferr := r.finish(ctx, a, start, 0, 0, err); ferr != nil && err == nil {
				err = ferr
			}
			if err != nil {
				return &actionError{a.Address, err}
			}
			continue
		}
		rest = append(rest, a)
	}
	src, err := d.readCatalog()
	if err != nil {
		return err
	}
	// The tables the filters leave out are not migrated: neither they nor anything of theirs.
	d.src = plan.FilterDatabase(r.m.Options, src)
	d.filter(src, d.src)
	for k := range d.src.Tables {
		t := &d.src.Tables[k]
		d.tables[plan.TableAddr(d.db, t.Schema, t.Name)] = t
	}
	// Pre-data is streamed only into a database this migration created: see schema.go.
	d.streamed = r.createdDatabase(d.db) && len(d.preChunks) > 0
	return d.runGraph(ctx, rest)
}

// runGraph runs actions in dependency order on Jobs workers. Among ready actions, indexes,
// constraints and the closing steps go first, then copies, each in the plan's order (largest
// tables first). An action counts as done for its dependents only
// once a state write holding its completion succeeded; the writes are grouped (one every
// flushEvery at most) so that thousands of small actions do not mean thousands of state writes.
func (d *dbRun) runGraph(ctx context.Context, actions []*plan.Action) error {
	r := d.r
	index := map[string]int{}
	for i, a := range actions {
		index[a.Address] = i
	}
	waiting := make([]int, len(actions))      // unfinished dependencies in this run
	dependents := make([][]int, len(actions)) // reverse edges
	for i, a := range actions {
		for _, dep := range a.DependsOn {
			if j, ok := index[dep]; ok {
				waiting[i]++
				dependents[j] = append(dependents[j], i)
			}
		}
	}
	// Among ready actions, those that finish a loaded table (its indexes and constraints) and the
	// closing steps go before more copies, in plan order within each group: an index build waits
	// for its file to be synced, and a copy beside it (three busy processes) uses that time.
	byRank := make([]int, len(actions))
	for i := range byRank {
		byRank[i] = i
	}
	sort.SliceStable(byRank, func(x, y int) bool { return !isCopy(actions[byRank[x]]) && isCopy(actions[byRank[y]]) })
	rank := make([]int, len(actions))
	for r, i := range byRank {
		rank[i] = r
	}
	ready := &intHeap{}
	for i := range actions {
		if waiting[i] == 0 {
			heap.Push(ready, rank[i])
		}
	}
	type result struct {
		i   int
		gen int64
		err error
	}
	if err := d.openBarrier(ctx); err != nil {
		return err
	}
	results := make(chan result)
	work := make(chan int)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.lane = d.startAnalyzeLane(wctx, actions)
	defer d.lane.stop()
	// Copies that may start while pre-data is streamed (schema.go), in the order of the chunks
	// they wait for; started[i] marks those started so. One that finishes before the schema action
	// waits in held, and is queued for confirmation with it: it is recorded applied, and its
	// dependents run, only in the same state write as pre-data, never before.
	schemaIdx, earlyList := d.earlyCopies(actions, index)
	started := make([]bool, len(actions))
	var held []int
	d.schemaProgress = make(chan struct{}, 1)
	progress := d.schemaProgress
	if len(earlyList) == 0 {
		progress = nil
	}
	var wg sync.WaitGroup
	for j := 0; j < r.opt.Jobs; j++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &worker{d: d}
			defer w.close()
			for i := range work {
				results <- result{i: i, err: w.run(wctx, actions[i])}
			}
		}()
	}
	// The flusher writes the state whenever it is asked to, at most once per flushEvery, or at once
	// when a worker is idle for want of a dependency whose completion is not written yet.
	flushReq := make(chan struct{}, 1)
	urgent := make(chan struct{}, 1)
	flushed := make(chan result, 1)
	flushStop := make(chan struct{})
	flushDone := make(chan struct{})
	go func() {
		defer close(flushDone)
		for {
			select {
			case <-flushStop:
				return
			case <-flushReq:
			}
			gen, err := d.saveConfirmed(ctx)
			select {
			case flushed <- result{gen: gen, err: err}:
			case <-flushStop:
				return
			}
			t := time.NewTimer(flushEvery)
			select {
			case <-flushStop:
				t.Stop()
				return
			case <-t.C:
			case <-urgent:
				t.Stop()
			}
		}
	}()
	requestFlush := func() {
		select {
		case flushReq <- struct{}{}:
		default:
		}
	}
	type unflushed struct {
		i   int
		gen int64
	}
	var pendingFlush []unflushed
	running, remaining := 0, len(actions)
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	for remaining > 0 {
		if firstErr != nil && running == 0 {
			break
		}
		var next = -1
		if firstErr == nil && running < r.opt.Jobs && ready.Len() > 0 {
			next = byRank[(*ready)[0]]
		}
		var workCh chan int
		if next >= 0 {
			workCh = work
		} else if firstErr == nil && running < r.opt.Jobs && len(pendingFlush) > 0 {
			select {
			case urgent <- struct{}{}:
			default:
			}
		}
		if next < 0 && running == 0 && len(pendingFlush) == 0 {
			fail(fmt.Errorf("internal error: %d action(s) can never run (dependency cycle)", remaining))
			break
		}
		select {
		case <-progress:
			done := int(d.schemaChunks.Load())
			for len(earlyList) > 0 && earlyList[0].chunk < done {
				i := earlyList[0].action
				earlyList = earlyList[1:]
				if waiting[i] == 1 && !started[i] {
					started[i] = true
					heap.Push(ready, rank[i])
				}
			}
			if len(earlyList) == 0 {
				progress = nil
			}
		case workCh <- next:
			heap.Pop(ready)
			running++
		case res := <-results:
			running--
			if res.err != nil {
				fail(&actionError{actions[res.i].Address, res.err})
				remaining--
				continue
			}
			d.lane.finished(actions[res.i])
			switch {
			case started[res.i] && schemaIdx >= 0:
				held = append(held, res.i)
				continue
			case res.i == schemaIdx:
				addrs := []string{actions[res.i].Address}
				for _, i := range held {
					addrs = append(addrs, actions[i].Address)
				}
				gen := r.queueConfirm(addrs...)
				for _, i := range append(held, res.i) {
					pendingFlush = append(pendingFlush, unflushed{i, gen})
				}
				held, schemaIdx = nil, -1
			default:
				pendingFlush = append(pendingFlush, unflushed{res.i, r.queueConfirm(actions[res.i].Address)})
			}
			requestFlush()
		case f := <-flushed:
			if f.err != nil {
				fail(f.err)
				continue
			}
			kept := pendingFlush[:0]
			for _, u := range pendingFlush {
				if u.gen > f.gen {
					kept = append(kept, u)
					continue
				}
				remaining--
				for _, k := range dependents[u.i] {
					if waiting[k]--; waiting[k] == 0 && !started[k] {
						heap.Push(ready, rank[k])
					}
				}
			}
			pendingFlush = kept
			if len(pendingFlush) > 0 {
				requestFlush()
			}
		}
	}
	close(work)
	wg.Wait()
	close(flushStop)
	<-flushDone
	// Whatever finished meanwhile is confirmed and written now. What cannot be confirmed durable
	// (the target is gone) is recorded tainted: the next apply does it again.
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	_, err := d.saveConfirmed(fctx)
	fcancel()
	if err != nil {
		r.mu.Lock()
		for _, sa := range r.unconfirmed {
			sa.Status, sa.Error = state.ActionTainted, "finished, but the target could not confirm its commit durable: "+err.Error()
		}
		r.unconfirmed = nil
		r.gen++
		r.mu.Unlock()
		if serr := r.save(context.WithoutCancel(ctx)); serr != nil && firstErr == nil {
			firstErr = serr
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// saveConfirmed makes the target durable past every commit of the unconfirmed actions, records
// them applied, and writes the state. It returns the generation up to which finished actions are
// recorded applied (those that finish meanwhile wait for the next call).
func (d *dbRun) saveConfirmed(ctx context.Context) (int64, error) {
	r := d.r
	r.mu.Lock()
	cut, list := r.gen, r.unconfirmed
	r.unconfirmed = nil
	r.mu.Unlock()
	if len(list) > 0 {
		if err := d.confirmDurable(ctx); err != nil {
			r.mu.Lock()
			r.unconfirmed = append(list, r.unconfirmed...)
			r.mu.Unlock()
			return 0, err
		}
		r.mu.Lock()
		for _, sa := range list {
			sa.Status = state.ActionApplied
		}
		r.gen++
		r.mu.Unlock()
	}
	// The state is written even when ctx ended meanwhile: it must say what was confirmed.
	if _, err := r.saveGen(context.WithoutCancel(ctx)); err != nil {
		return 0, err
	}
	return cut, nil
}

// confirmDurable returns once every transaction the target committed so far is durable. The
// workers commit with synchronous_commit off (a commit returns before its WAL is flushed); a
// commit with synchronous_commit on of a transaction that wrote WAL flushes the WAL up to its own
// record, which follows theirs (tryBarrier).
// One flush per state write, instead of one per action.
//
// A lost connection is retried with the workers' backoff. A target that restarted meanwhile (its
// postmaster start time changed since the run began) may have lost asynchronous commits, and
// a flush now proves nothing about them: errTargetRestarted, and they are done again.
func (d *dbRun) confirmDurable(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		err := d.tryBarrier(ctx)
		if err == nil || errors.Is(err, errTargetRestarted) {
			return err
		}
		if !retryable(err) || attempt >= len(backoff) || ctx.Err() != nil {
			return fmt.Errorf("confirming the target's commits durable: %w", err)
		}
		if serr := sleep(ctx, backoff[attempt]); serr != nil {
			return serr
		}
	}
}

// errTargetRestarted: the target restarted during the run, so commits not yet confirmed durable
// may be lost; the database's unfinished actions are done again with a new snapshot.
var errTargetRestarted = errors.New("the target restarted before its last commits were confirmed durable: the unconfirmed actions are done again")

// openBarrier connects the barrier and notes when the target's server started, before any worker
// commits anything.
func (d *dbRun) openBarrier(ctx context.Context) error {
	c, err := Connect(ctx, d.r.m.Target, d.db)
	if err != nil {
		return err
	}
	if err := c.QueryRow(ctx, "SELECT pg_catalog.pg_postmaster_start_time()").Scan(&d.targetStart); err != nil {
		c.Close(context.WithoutCancel(ctx))
		return err
	}
	d.barrier = c
	return nil
}

func (d *dbRun) tryBarrier(ctx context.Context) error {
	if d.barrier == nil {
		c, err := Connect(ctx, d.r.m.Target, d.db)
		if err != nil {
			return err
		}
		d.barrier = c
	}
	var started time.Time
	var err error
	if !d.barrierByLSN {
		// A commit waits for the WAL flush only when its transaction wrote WAL before its commit
		// record (assigning a transaction ID is not enough): a transactional logical message, which
		// changes nothing in the database, makes this one flush everything written before it.
		_, err = d.barrier.Exec(ctx, "BEGIN; SET LOCAL synchronous_commit = on")
		if err == nil {
			err = d.barrier.QueryRow(ctx, "SELECT pg_catalog.pg_postmaster_start_time(), pg_catalog.pg_logical_emit_message(true, 'pgferry', 'barrier')::text").Scan(&started, nil)
		}
		if err == nil {
			_, err = d.barrier.Exec(ctx, "COMMIT")
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "42883") {
			// Not allowed here (or older than 9.6): wait for the WAL writer instead.
			d.barrierByLSN = true
			_, err = d.barrier.Exec(ctx, "ROLLBACK")
		}
	}
	if err == nil && d.barrierByLSN {
		started, err = d.waitWALFlushed(ctx)
	}
	if err != nil {
		d.barrier.Close(context.WithoutCancel(ctx))
		d.barrier = nil
		return err
	}
	if !started.Equal(d.targetStart) {
		return errTargetRestarted
	}
	return nil
}

// waitWALFlushed waits until the target's WAL is flushed past everything inserted so far (the WAL
// writer flushes asynchronous commits within a few wal_writer_delay) and returns the server's start
// time, read first.
func (d *dbRun) waitWALFlushed(ctx context.Context) (time.Time, error) {
	insert, flush := "pg_current_wal_insert_lsn", "pg_current_wal_flush_lsn"
	if serverVersionNum(d.barrier).Before(10) {
		insert, flush = "pg_current_xlog_insert_location", "pg_current_xlog_flush_location"
	}
	var started time.Time
	var lsn string
	if err := d.barrier.QueryRow(ctx, fmt.Sprintf("SELECT pg_catalog.pg_postmaster_start_time(), pg_catalog.%s()::text", insert)).Scan(&started, &lsn); err != nil {
		return started, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var done bool
		if err := d.barrier.QueryRow(ctx, fmt.Sprintf("SELECT pg_catalog.%s() >= $1::text::pg_lsn", flush), lsn).Scan(&done); err != nil {
			return started, err
		}
		if done {
			return started, nil
		}
		if time.Now().After(deadline) {
			return started, fmt.Errorf("the target's WAL was not flushed past %s within a minute", lsn)
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return started, err
		}
	}
}

// flushEvery is the longest a finished action waits for the state write that releases its dependents.
// A worker that has nothing else to do does not wait for it (see runGraph).
const flushEvery = 250 * time.Millisecond

// isCopy reports whether an action moves data.
func isCopy(a *plan.Action) bool {
	switch a.Type {
	case plan.TypeTable, plan.TypeTablePart, plan.TypeLargeObj, plan.TypeExtData:
		return true
	}
	return false
}

// intHeap is a min-heap of ranks.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// database creates (or replaces) the target database from the dump's DATABASE entries.
func (d *dbRun) database(ctx context.Context, a *plan.Action) error {
	r := d.r
	tgt, err := Connect(ctx, r.m.Target, "")
	if err != nil {
		return err
	}
	defer tgt.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := tgt.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", d.db).Scan(&exists); err != nil {
		return err
	}
	switch a.Kind {
	case plan.Update:
		if !exists {
			return fmt.Errorf("the target database %q disappeared since the plan was made", d.db)
		}
		return nil
	case plan.Replace:
		if exists {
			if err := dropDatabase(ctx, tgt, d.db); err != nil {
				return err
			}
			if !r.createdDatabase(d.db) {
				// It existed before the migration: destroy cannot bring it back, and says so.
				r.recordChange(state.Change{Type: "database", Name: d.db, Op: "dropped"})
			}
			exists = false
		}
	}
	if exists {
		// An earlier run created it and stopped before recording it: start it afresh.
		if !r.createdDatabase(d.db) {
			return fmt.Errorf("the target database %q was created by someone else since the plan was made; plan again", d.db)
		}
	}
	return d.createDatabase(ctx, exists)
}

// createdDatabase reports whether this migration created the target database db.
func (r *Runner) createdDatabase(db string) bool { return r.created("database", db) }

// recorded reports whether the state records any change of the object.
func (r *Runner) recorded(typ, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.opt.State.Created {
		if c.Type == typ && c.Name == name {
			return true
		}
	}
	return false
}

// created reports whether the state records that this migration created the object.
func (r *Runner) created(typ, name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.opt.State.Created {
		if c.Type == typ && c.Name == name && c.Op == "created" {
			return true
		}
	}
	return false
}

// createDatabase creates the database from the dump's DATABASE entries, dropping it first when
// drop is set (only ever for a database this migration created).
func (d *dbRun) createDatabase(ctx context.Context, drop bool) error {
	r := d.r
	if drop {
		tgt, err := Connect(ctx, r.m.Target, "")
		if err != nil {
			return err
		}
		err = dropDatabase(ctx, tgt, d.db)
		tgt.Close(context.WithoutCancel(ctx))
		if err != nil {
			return err
		}
	}
	list := filepath.Join(r.tmp, "database.list")
	if err := pgdump.WriteList(list, d.dbItems); err != nil {
		return err
	}
	if !r.createdDatabase(d.db) {
		r.recordChange(state.Change{Type: "database", Name: d.db, Op: "created"})
		if err := r.save(ctx); err != nil {
			return err
		}
	}
	// pg_restore prints the script and pgferry runs it, as it runs pre-data: with the session
	// settings adapted to the target (a pg_restore newer than the target sets what it rejects).
	args := append([]string{"--create", "--verbose", "--use-list=" + list, "--file=-"}, d.restoreFlags()...)
	script, err := pgdump.Run(ctx, pgdump.Conn{}, r.opt.Tools.PgRestore, args...)
	if err != nil {
		return fmt.Errorf("creating the database: %w", err)
	}
	preamble, chunks := pgdump.CreateScript(script, r.opt.Plan.Target.VersionNum)
	// The database's owner and privileges follow the owner mapping (owners.go), as every entry does.
	for i := range chunks {
		chunks[i] = r.owners().rewrite(chunks[i])
	}
	if err := d.runCreateScript(ctx, preamble, chunks); err != nil {
		return err // a StatementError names the database and the statement
	}
	return nil
}

// runCreateScript runs CreateScript's chunks as pg_restore --create would: the DATABASE entry
// (CREATE DATABASE alone, then its owner) on the maintenance database, the rest (properties,
// comment, privileges) connected to the new database, each connection after the preamble.
func (d *dbRun) runCreateScript(ctx context.Context, preamble string, chunks []pgdump.Chunk) error {
	r := d.r
	// exec runs sql (one or more statements) and reports a refused statement as a
	// StatementError: op and object name what it was doing, failed statement and all.
	exec := func(c *pgx.Conn, op, object, sql string) error {
		if strings.TrimSpace(sql) == "" {
			return nil
		}
		if _, failed, err := execStatements(ctx, c, sql); err != nil {
			return newStatementError(op, object, sql, failed, err)
		}
		return nil
	}
	database := "database " + quoteName(d.db)
	tgt, err := Connect(ctx, r.m.Target, "")
	if err != nil {
		return err
	}
	defer tgt.Close(context.WithoutCancel(ctx))
	if err := exec(tgt, "applying", "pg_restore's session settings", preamble); err != nil {
		return err
	}
	rest := chunks
	for i, c := range chunks {
		create, owner, ok := pgdump.SeparateCreateDatabase(c.SQL)
		if !ok {
			continue
		}
		if err := exec(tgt, "creating", database, create); err != nil {
			return err
		}
		if err := exec(tgt, "setting the owner of", database, owner); err != nil {
			return err
		}
		rest = append(append([]pgdump.Chunk{}, chunks[:i]...), chunks[i+1:]...)
		break
	}
	if len(rest) == 0 {
		return nil
	}
	db, err := Connect(ctx, r.m.Target, d.db)
	if err != nil {
		return err
	}
	defer db.Close(context.WithoutCancel(ctx))
	if err := exec(db, "applying", "pg_restore's session settings", preamble); err != nil {
		return err
	}
	for _, c := range rest {
		if strings.TrimSpace(c.SQL) == "" {
			continue
		}
		if _, failed, err := execStatements(ctx, db, c.SQL); err != nil {
			return chunkError(c, failed, err)
		}
	}
	return nil
}

func dropDatabase(ctx context.Context, conn *pgx.Conn, db string) error {
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db); err != nil {
		return err
	}
	_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(db))
	return err
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
