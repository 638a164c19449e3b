package apply

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// runInstance creates and alters roles and memberships, one at a time, on the maintenance database.
func (r *Runner) runInstance(ctx context.Context, actions []*plan.Action) error {
	tgt, err := pgconn.Connect(ctx, r.m.Target, "")
	if err != nil {
		return err
	}
	defer tgt.Close(context.WithoutCancel(ctx))
	src, err := pgconn.Connect(ctx, r.m.Source, "")
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
	if !r.recorded(plan.ChangeLoginMembership, name) {
		c := state.Change{Type: plan.ChangeLoginMembership, Name: name, Op: plan.OpCreated}
		if v16 {
			var inherit, set bool
			err := tgt.QueryRow(ctx, "SELECT am.inherit_option, am.set_option"+membershipWhere+membershipBySelf, role, login).Scan(&inherit, &set)
			switch {
			case err == nil:
				c.Op, c.Before = plan.OpAltered, fmt.Sprintf("GRANT %s TO %s WITH INHERIT %s, SET %s", ident(role), ident(login), sqlBool(inherit), sqlBool(set))
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
