package apply

// Destroy: undo, in reverse order, what a migration recorded in State.Created — and nothing else.

import (
	"context"
	"errors"
	"fmt"
	"github.com/pgferry/pgferry/internal/pgver"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// Change types and operations recorded in State.Created that destroy knows how to undo.
const (
	ChangeRole           = "role"
	ChangeRoleAttributes = "role_attributes"
	ChangeMembership     = "membership"
	// ChangeLoginMembership is a membership of the target's login in a role that owns migrated
	// objects (Name "LOGIN in ROLE"): created (revoked by destroy), or altered (Before restores
	// its options).
	ChangeLoginMembership = "login_membership"
	ChangeDatabase        = "database"
	ChangeExtension       = "extension"
	ChangeServerParameter = "server_parameter"
	// ChangeOwnership records that the objects of a source role in a database were given to
	// another role on the target (Name "FROM → TO", Op OpReassigned): nothing to undo outside the
	// database, which destroy drops when the migration created it.
	ChangeOwnership = "ownership"

	OpCreated = "created"
	OpAltered = "altered"
	OpDropped = "dropped"
	// OpReassigned: objects given to another owner (ChangeOwnership).
	OpReassigned = "reassigned"
)

// UndoStep is one thing destroy does on the target: drop an object the migration created
// (Kind plan.Delete) or put back one it changed (Kind plan.Update).
type UndoStep struct {
	Address string
	Kind    plan.Kind
	Reason  string
	// Details are lines shown under the step (never secrets).
	Details []string
	// Change is what is undone; for an altered object, Before is the earliest recorded value,
	// which is what the object was before the migration first touched it.
	Change state.Change
	// covers are the indexes in State.Created this step undoes (the same object may have
	// been recorded more than once by resumed runs, and a database drop takes its
	// extensions with it).
	covers []int
}

// DestroyPlan is what destroy will do, in order, and what it cannot undo.
type DestroyPlan struct {
	Steps []*UndoStep
	// Notes say what cannot be undone (a database dropped by overwrite_databases) or is
	// deliberately left alone.
	Notes []string
	// forget are the indexes in State.Created that need no step (notes).
	forget []int
}

// Counts returns how many objects the plan drops and how many it puts back.
func (p *DestroyPlan) Counts() (destroy, change int) {
	for _, s := range p.Steps {
		if s.Kind == plan.Delete {
			destroy++
		} else {
			change++
		}
	}
	return destroy, change
}

// Empty reports whether there is nothing to do and nothing to say.
func (p *DestroyPlan) Empty() bool { return len(p.Steps) == 0 && len(p.Notes) == 0 }

// ParseMembership splits a membership change's Name, "MEMBER in ROLE".
func ParseMembership(name string) (member, role string, ok bool) {
	return strings.Cut(name, " in ")
}

func changeKey(c state.Change) string {
	return c.Type + "\x00" + c.Database + "\x00" + c.Name
}

// PlanDestroy builds the destroy plan of a state: State.Created in reverse order, one step per
// object. Objects not listed there existed before the migration and are never touched.
func PlanDestroy(st *state.State) *DestroyPlan {
	p := &DestroyPlan{}
	if st == nil {
		return p
	}
	droppedDBs := map[string]bool{} // databases this destroy drops
	for _, c := range st.Created {
		if c.Type == ChangeDatabase && c.Op == OpCreated {
			droppedDBs[c.Name] = true
		}
	}
	byKey := map[string]*UndoStep{}
	dbStep := map[string]*UndoStep{}
	var deferred []int // extensions inside dropped databases: covered by the database's step
	for i := len(st.Created) - 1; i >= 0; i-- {
		c := st.Created[i]
		if c.Type == ChangeExtension && c.Op == OpCreated && c.Database != "" && droppedDBs[c.Database] {
			deferred = append(deferred, i)
			continue
		}
		if c.Type == ChangeOwnership {
			// Inside the database: gone with it, or kept with a database that existed before.
			if droppedDBs[c.Database] {
				deferred = append(deferred, i)
			} else {
				p.forget = append(p.forget, i)
			}
			continue
		}
		if c.Op == OpDropped {
			p.forget = append(p.forget, i)
			what := c.Type + " " + c.Name
			if c.Type == ChangeDatabase {
				what = plan.DatabaseAddr(c.Name)
			}
			p.Notes = append(p.Notes, fmt.Sprintf("%s existed before the migration and was dropped by it (overwrite_databases = true); destroy cannot restore it: restore it from a backup if you need it.", what))
			continue
		}
		key := changeKey(c)
		if s := byKey[key]; s != nil {
			s.covers = append(s.covers, i)
			if c.Op == OpAltered {
				// An earlier record holds the older value: the one to restore.
				s.Change.Before = c.Before
				s.Details = undoDetails(s.Change)
			}
			continue
		}
		s := undoStep(c)
		s.covers = []int{i}
		byKey[key] = s
		p.Steps = append(p.Steps, s)
		if c.Type == ChangeDatabase {
			dbStep[c.Name] = s
		}
	}
	for _, i := range deferred {
		if s := dbStep[st.Created[i].Database]; s != nil {
			s.covers = append(s.covers, i)
		}
	}
	// A database that existed (empty) before the migration keeps what the migration created
	// in it: it is not the migration's to drop, and its former contents are unknown.
	for _, a := range st.Actions {
		if a == nil || a.Kind != state.KindUpdate || a.Status == state.ActionPending || a.Database == "" ||
			a.Address != plan.DatabaseAddr(a.Database) || droppedDBs[a.Database] {
			continue
		}
		p.Notes = append(p.Notes, fmt.Sprintf("%s existed before the migration (it was empty); the objects the migration created in it, extensions included, are not removed: drop them, or the database, by hand if you need it empty again.", a.Address))
	}
	return p
}

func undoStep(c state.Change) *UndoStep {
	s := &UndoStep{Change: c, Kind: plan.Delete}
	switch c.Type {
	case ChangeDatabase:
		s.Address = plan.DatabaseAddr(c.Name)
		s.Reason = "created by the migration; its sessions are terminated first"
	case ChangeRole:
		s.Address = plan.RoleAddr(c.Name)
		s.Reason = "created by the migration"
	case ChangeMembership:
		member, role, _ := ParseMembership(c.Name)
		s.Address = plan.MembershipAddr(member, role)
		s.Reason = fmt.Sprintf("membership of %q in %q granted by the migration", member, role)
	case ChangeLoginMembership:
		member, role, _ := ParseMembership(c.Name)
		s.Address = plan.MembershipAddr(member, role)
		s.Reason = fmt.Sprintf("membership of the target login %q in %q granted by the migration", member, role)
		if c.Op == OpAltered {
			s.Kind = plan.Update
			s.Reason = fmt.Sprintf("options of the target login %q's membership in %q changed by the migration are put back", member, role)
		}
	case ChangeExtension:
		s.Address = plan.ExtensionAddr(c.Database, c.Name)
		s.Reason = "created by the migration"
	case ChangeRoleAttributes:
		s.Kind = plan.Update
		s.Address = plan.RoleAddr(c.Name)
		s.Reason = "role attributes changed by the migration are put back"
	case ChangeServerParameter:
		s.Kind = plan.Update
		s.Address = "server_parameter." + c.Name
		s.Reason = "server parameter changed by the migration is put back"
	default:
		s.Address = c.Type + "." + c.Name
		s.Reason = fmt.Sprintf("recorded as %s %s, which this pgferry cannot undo", c.Type, c.Op)
	}
	s.Details = undoDetails(c)
	return s
}

func undoDetails(c state.Change) []string {
	switch c.Type {
	case ChangeRoleAttributes, ChangeLoginMembership:
		if c.Before != "" {
			return []string{c.Before}
		}
	case ChangeServerParameter:
		if c.Before == "" {
			return []string{fmt.Sprintf("ALTER SYSTEM RESET %s", c.Name)}
		}
		return []string{fmt.Sprintf("ALTER SYSTEM SET %s = %s", c.Name, literal(c.Before))}
	}
	return nil
}

// DestroyEvent reports the progress of Destroy.
// DestroyEventType is what a DestroyEvent reports about its step.
type DestroyEventType string

// The destroy event types.
const (
	StepStart    DestroyEventType = "start"
	StepComplete DestroyEventType = "complete"
	StepErrored  DestroyEventType = "errored"
)

// DestroyEvent reports one undo step.
type DestroyEvent struct {
	Type    DestroyEventType
	Step    *UndoStep
	Elapsed time.Duration
	// Note says why a completed step had nothing to do ("already gone").
	Note string
	Err  error
}

// StepResult is the outcome of one step.
type StepResult struct {
	Step *UndoStep
	Err  error  // nil: undone (or found already undone)
	Note string // set when there was nothing to do
	Ran  bool   // false: not attempted (interrupted before it)
}

// DestroyOptions configure Destroy.
type DestroyOptions struct {
	Target *config.Server
	Plan   *DestroyPlan
	// Expect is the target recorded in the state: a server with another system identifier
	// is refused, so a changed config never destroys objects on the wrong server.
	Expect state.Identity
	Emit   func(DestroyEvent)
}

// Destroy runs the plan's steps in order. A failed step does not stop the others (a role that
// still owns objects elsewhere must not keep the database from being dropped); its error is in
// its result. The returned error is for what prevents any step from running (connection,
// wrong server); an interrupted ctx leaves the remaining steps not Ran.
func Destroy(ctx context.Context, opt DestroyOptions) ([]StepResult, error) {
	results := make([]StepResult, len(opt.Plan.Steps))
	for i, s := range opt.Plan.Steps {
		results[i].Step = s
	}
	if len(opt.Plan.Steps) == 0 {
		return results, nil
	}
	emit := opt.Emit
	if emit == nil {
		emit = func(DestroyEvent) {}
	}
	conn, err := Connect(ctx, opt.Target, "")
	if err != nil {
		return nil, err
	}
	defer func() { conn.Close(context.WithoutCancel(ctx)) }()
	var sysid string
	if err := conn.QueryRow(ctx, "SELECT system_identifier::text FROM pg_control_system()").Scan(&sysid); err == nil &&
		opt.Expect.SystemIdentifier != "" && sysid != opt.Expect.SystemIdentifier {
		return nil, fmt.Errorf("%s is not the server this migration was applied to (its system identifier is %s, the state records %s for %s:%d): destroy touches only the migrated target; point the target block back at it",
			opt.Target.Label(), sysid, opt.Expect.SystemIdentifier, opt.Expect.Host, opt.Expect.Port)
	}
	var versionNum pgver.V
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&versionNum); err != nil {
		return nil, fmt.Errorf("%s: %w", opt.Target.Label(), err)
	}
	u := &undoer{target: opt.Target, conn: conn, versionNum: versionNum}
	reload := false
	for i, s := range opt.Plan.Steps {
		if ctx.Err() != nil {
			break
		}
		if conn.IsClosed() {
			// A terminated or broken session: reconnect once per step rather than fail the rest.
			if c, err := Connect(ctx, opt.Target, ""); err == nil {
				conn, u.conn = c, c
			}
		}
		emit(DestroyEvent{Type: StepStart, Step: s})
		start := time.Now()
		note, err := u.undo(ctx, s)
		results[i].Ran, results[i].Err, results[i].Note = true, err, note
		if err != nil {
			emit(DestroyEvent{Type: StepErrored, Step: s, Elapsed: time.Since(start), Err: err})
			continue
		}
		if s.Change.Type == ChangeServerParameter && note == "" {
			reload = true
		}
		emit(DestroyEvent{Type: StepComplete, Step: s, Elapsed: time.Since(start), Note: note})
	}
	if reload {
		if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_reload_conf()"); err != nil {
			return results, fmt.Errorf("server parameters were put back but reloading the configuration failed (run SELECT pg_reload_conf() on the target): %w", err)
		}
	}
	return results, nil
}

type undoer struct {
	target     *config.Server
	conn       *pgx.Conn
	versionNum pgver.V
}

func (u *undoer) exists(ctx context.Context, query string, args ...any) (bool, error) {
	var ok bool
	err := u.conn.QueryRow(ctx, "SELECT EXISTS ("+query+")", args...).Scan(&ok)
	return ok, err
}

// undo runs one step; note is non-empty when there was nothing to do.
func (u *undoer) undo(ctx context.Context, s *UndoStep) (note string, err error) {
	c := s.Change
	switch {
	case c.Type == ChangeDatabase && c.Op == OpCreated:
		return u.dropDatabase(ctx, c.Name)
	case c.Type == ChangeRole && c.Op == OpCreated:
		return u.dropRole(ctx, c.Name)
	case c.Type == ChangeMembership && c.Op == OpCreated:
		return u.revokeMembership(ctx, c.Name)
	case c.Type == ChangeLoginMembership && (c.Op == OpCreated || c.Op == OpAltered):
		return u.revokeLoginMembership(ctx, c)
	case c.Type == ChangeRoleAttributes && c.Op == OpAltered:
		ok, err := u.exists(ctx, "SELECT 1 FROM pg_roles WHERE rolname = $1", c.Name)
		if err != nil {
			return "", err
		}
		if !ok {
			return "role no longer exists", nil
		}
		if strings.TrimSpace(c.Before) == "" {
			return "nothing recorded to put back", nil
		}
		_, err = u.conn.Exec(ctx, c.Before)
		return "", describe(err)
	case c.Type == ChangeServerParameter && c.Op == OpAltered:
		name := settingName(c.Name)
		stmt := "ALTER SYSTEM RESET " + name
		if c.Before != "" {
			stmt = "ALTER SYSTEM SET " + name + " = " + literal(c.Before)
		}
		_, err := u.conn.Exec(ctx, stmt)
		return "", describe(err)
	case c.Type == ChangeExtension && c.Op == OpCreated:
		return u.dropExtension(ctx, c.Database, c.Name)
	}
	return "", fmt.Errorf("pgferry does not know how to undo a %q change recorded as %q: undo it by hand, then run destroy again", c.Type, c.Op)
}

// settingName quotes each dot-separated part of a parameter name (azure.extensions).
func settingName(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = ident(p)
	}
	return strings.Join(parts, ".")
}

func (u *undoer) dropDatabase(ctx context.Context, db string) (string, error) {
	ok, err := u.exists(ctx, "SELECT 1 FROM pg_database WHERE datname = $1", db)
	if err != nil {
		return "", err
	}
	if !ok {
		return "already gone", nil
	}
	if db == u.target.DBName {
		return "", fmt.Errorf("database %q is the target's maintenance database (dbname): set dbname to another database (e.g. postgres) and run destroy again", db)
	}
	terminate := func() error {
		_, err := u.conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", db)
		return err
	}
	stmt := "DROP DATABASE IF EXISTS " + ident(db)
	if u.versionNum.AtLeast(13) {
		stmt += " WITH (FORCE)"
	}
	for attempt := 0; ; attempt++ {
		if err := terminate(); err != nil {
			return "", describe(err)
		}
		_, err := u.conn.Exec(ctx, stmt)
		var pge *pgconn.PgError
		// 55006: sessions reconnected between the terminate and the drop (before 13).
		if err != nil && errors.As(err, &pge) && pge.Code == "55006" && attempt < 20 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		return "", describe(err)
	}
}

func (u *undoer) dropRole(ctx context.Context, role string) (string, error) {
	ok, err := u.exists(ctx, "SELECT 1 FROM pg_roles WHERE rolname = $1", role)
	if err != nil {
		return "", err
	}
	if !ok {
		return "already gone", nil
	}
	_, err = u.conn.Exec(ctx, "DROP ROLE "+ident(role))
	var pge *pgconn.PgError
	if errors.As(err, &pge) && pge.Code == "2BP01" {
		detail := strings.Join(strings.Fields(strings.ReplaceAll(pge.Detail, "\n", "; ")), " ")
		return "", fmt.Errorf("role %q was not dropped: it still owns objects or holds privileges outside what the migration created (%s). pgferry never reassigns or drops objects it did not create: reassign or drop them (REASSIGN OWNED BY / DROP OWNED BY in each database named), then run destroy again", role, detail)
	}
	return "", describe(err)
}

func (u *undoer) revokeMembership(ctx context.Context, name string) (string, error) {
	return u.revoke(ctx, name, false)
}

// revokeLoginMembership undoes grantLogin: the membership of the target's login it granted is
// revoked (on PostgreSQL 16+, the one the login granted itself; the ADMIN OPTION CREATE ROLE gave
// it stays, and goes with the role), or the options it changed are put back.
func (u *undoer) revokeLoginMembership(ctx context.Context, c state.Change) (string, error) {
	if c.Op == OpAltered {
		member, role, ok := ParseMembership(c.Name)
		if !ok {
			return "", fmt.Errorf("membership recorded as %q is not \"MEMBER in ROLE\"", c.Name)
		}
		found, err := u.exists(ctx, "SELECT 1"+membershipWhere+membershipBySelf, role, member)
		if err != nil {
			return "", err
		}
		if !found {
			return "already gone", nil
		}
		_, err = u.conn.Exec(ctx, c.Before)
		return "", describe(err)
	}
	return u.revoke(ctx, c.Name, u.versionNum.AtLeast(16))
}

// revoke revokes the membership name ("MEMBER in ROLE"); bySelf: only the one the session's user
// granted counts (16+). A membership still there after REVOKE was also granted by someone else.
func (u *undoer) revoke(ctx context.Context, name string, bySelf bool) (string, error) {
	member, role, ok := ParseMembership(name)
	if !ok {
		return "", fmt.Errorf("membership recorded as %q is not \"MEMBER in ROLE\"", name)
	}
	q := "SELECT 1" + membershipWhere
	if bySelf {
		q += membershipBySelf
	}
	found, err := u.exists(ctx, q, role, member)
	if err != nil {
		return "", err
	}
	if !found {
		return "already gone", nil
	}
	if _, err := u.conn.Exec(ctx, fmt.Sprintf("REVOKE %s FROM %s", ident(role), ident(member))); err != nil {
		return "", describe(err)
	}
	if found, err = u.exists(ctx, q, role, member); err != nil {
		return "", err
	}
	if found {
		return "", fmt.Errorf("%q is still a member of %q after REVOKE: the membership was also granted by another role; revoke it with GRANTED BY, or leave it", member, role)
	}
	return "", nil
}

func (u *undoer) dropExtension(ctx context.Context, db, ext string) (string, error) {
	ok, err := u.exists(ctx, "SELECT 1 FROM pg_database WHERE datname = $1", db)
	if err != nil {
		return "", err
	}
	if !ok {
		return "its database is gone", nil
	}
	conn, err := Connect(ctx, u.target, db)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, err = conn.Exec(ctx, "DROP EXTENSION IF EXISTS "+ident(ext))
	return "", describe(err)
}

// describe keeps a server error's detail and hint, which say what is in the way.
func describe(err error) error {
	var pge *pgconn.PgError
	if !errors.As(err, &pge) {
		return err
	}
	msg := pge.Message
	if pge.Detail != "" {
		msg += " (" + strings.Join(strings.Fields(strings.ReplaceAll(pge.Detail, "\n", "; ")), " ") + ")"
	}
	if pge.Hint != "" {
		msg += "; hint: " + pge.Hint
	}
	return fmt.Errorf("%s (SQLSTATE %s)", msg, pge.Code)
}

// RecordDestroy updates st after Destroy: every change a step undid (or found undone) leaves
// st.Created, together with the notes' entries; changes whose step failed or did not run stay,
// so destroy can be run again. Actions are dropped from st except those of objects still in
// place (a database or role destroy could not drop), so the next plan starts afresh.
// It returns the failed (or not run) steps.
func RecordDestroy(st *state.State, p *DestroyPlan, results []StepResult) []StepResult {
	drop := map[int]bool{}
	for _, i := range p.forget {
		drop[i] = true
	}
	var failed []StepResult
	keepAddr := map[string]bool{}
	keepDB := map[string]bool{}
	for _, r := range results {
		if r.Ran && r.Err == nil {
			for _, i := range r.Step.covers {
				drop[i] = true
			}
			continue
		}
		failed = append(failed, r)
		keepAddr[r.Step.Address] = true
		if r.Step.Change.Type == ChangeDatabase {
			keepDB[r.Step.Change.Name] = true
		}
	}
	var created []state.Change
	for i, c := range st.Created {
		if !drop[i] {
			created = append(created, c)
		}
	}
	st.Created = created
	var actions []*state.Action
	for _, a := range st.Actions {
		if a != nil && (keepAddr[a.Address] || (a.Database != "" && keepDB[a.Database])) {
			actions = append(actions, a)
		}
	}
	st.Actions = actions
	return failed
}
