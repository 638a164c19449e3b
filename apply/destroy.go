package apply

// Destroy: undo, in reverse order, what a migration recorded in State.Created — and nothing else.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pgferry/pgferry/config"
	dbconn "github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/pgver"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

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
	Step    *plan.UndoStep
	Elapsed time.Duration
	// Note says why a completed step had nothing to do ("already gone").
	Note string
	Err  error
}

// StepResult is the outcome of one step.
type StepResult struct {
	Step *plan.UndoStep
	Err  error  // nil: undone (or found already undone)
	Note string // set when there was nothing to do
	Ran  bool   // false: not attempted (interrupted before it)
	// Started and Finished are when the step ran (zero when it did not).
	Started, Finished time.Time
}

// DestroyOptions configure Destroy.
type DestroyOptions struct {
	Target *config.Server
	Plan   *plan.DestroyPlan
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
	conn, err := dbconn.Connect(ctx, opt.Target, "")
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
			if c, err := dbconn.Connect(ctx, opt.Target, ""); err == nil {
				conn, u.conn = c, c
			}
		}
		emit(DestroyEvent{Type: StepStart, Step: s})
		start := time.Now()
		note, err := u.undo(ctx, s)
		results[i].Ran, results[i].Err, results[i].Note = true, err, note
		results[i].Started, results[i].Finished = start, time.Now()
		if err != nil {
			emit(DestroyEvent{Type: StepErrored, Step: s, Elapsed: time.Since(start), Err: err})
			continue
		}
		if s.Change.Type == plan.ChangeServerParameter && note == "" {
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
func (u *undoer) undo(ctx context.Context, s *plan.UndoStep) (note string, err error) {
	c := s.Change
	switch {
	case c.Type == plan.ChangeDatabase && c.Op == plan.OpCreated:
		return u.dropDatabase(ctx, c.Name)
	case c.Type == plan.ChangeRole && c.Op == plan.OpCreated:
		return u.dropRole(ctx, c.Name)
	case c.Type == plan.ChangeMembership && c.Op == plan.OpCreated:
		return u.revokeMembership(ctx, c.Name)
	case c.Type == plan.ChangeLoginMembership && (c.Op == plan.OpCreated || c.Op == plan.OpAltered):
		return u.revokeLoginMembership(ctx, c)
	case c.Type == plan.ChangeRoleAttributes && c.Op == plan.OpAltered:
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
	case c.Type == plan.ChangeServerParameter && c.Op == plan.OpAltered:
		name := settingName(c.Name)
		stmt := "ALTER SYSTEM RESET " + name
		if c.Before != "" {
			stmt = "ALTER SYSTEM SET " + name + " = " + literal(c.Before)
		}
		_, err := u.conn.Exec(ctx, stmt)
		return "", describe(err)
	case c.Type == plan.ChangeExtension && c.Op == plan.OpCreated:
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
		err := terminate()
		if err == nil {
			_, err = u.conn.Exec(ctx, stmt)
		}
		var pge *pgconn.PgError
		// 55006: sessions reconnected between the terminate and the drop (before 13). 42501: a
		// session the target login may not end (a superuser's, on a managed server): one that
		// is closing ends by itself within moments; one that stays is named below.
		if err != nil && errors.As(err, &pge) && (pge.Code == "55006" || pge.Code == "42501") && attempt < 20 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(250 * time.Millisecond):
			}
			continue
		}
		if err != nil && pge != nil && pge.Code == "42501" {
			if who := u.sessionsOf(ctx, db); who != "" {
				return "", fmt.Errorf("database %q has sessions the target login %q may not end: %s; disconnect them (or end them as a superuser) and run destroy again", db, u.target.User, who)
			}
		}
		return "", describe(err)
	}
}

// sessionsOf names the other sessions connected to db ("" if none or unreadable).
func (u *undoer) sessionsOf(ctx context.Context, db string) string {
	rows, err := u.conn.Query(ctx, `SELECT format('%s (pid %s%s)', coalesce(usename, '?'), pid,
		CASE WHEN application_name <> '' THEN ', ' || application_name ELSE '' END)
		FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() ORDER BY pid`, db)
	if err != nil {
		return ""
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return ""
	}
	return strings.Join(names, ", ")
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
	if c.Op == plan.OpAltered {
		member, role, ok := plan.ParseMembership(c.Name)
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
	member, role, ok := plan.ParseMembership(name)
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
	conn, err := dbconn.Connect(ctx, u.target, db)
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
func RecordDestroy(st *state.State, p *plan.DestroyPlan, results []StepResult) []StepResult {
	drop := map[int]bool{}
	for _, i := range p.Forgotten() {
		drop[i] = true
	}
	var failed []StepResult
	keepAddr := map[string]bool{}
	keepDB := map[string]bool{}
	for _, r := range results {
		if r.Ran && r.Err == nil {
			for _, i := range r.Step.Covers() {
				drop[i] = true
			}
			continue
		}
		failed = append(failed, r)
		keepAddr[r.Step.Address] = true
		if r.Step.Change.Type == plan.ChangeDatabase {
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
