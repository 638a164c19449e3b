package catalog

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Role is one role and its attributes.
type Role struct {
	Name        string
	Superuser   bool
	Inherit     bool
	CreateRole  bool
	CreateDB    bool
	Login       bool
	Replication bool
	BypassRLS   bool
	ConnLimit   int
	ValidUntil  string // "" when unset; else a timestamptz literal
	// PasswordHash is the stored hash (SCRAM or md5) when readable. Secret: never print.
	PasswordHash string
	HasPassword  bool
	// Config holds "name=value" settings of ALTER ROLE ... SET (all databases).
	Config  []string
	Comment string
}

// RoleAccess is what the connected login holds of a role, through its memberships.
type RoleAccess struct {
	// Usage: it has the role's privileges without SET ROLE (pg_has_role USAGE); an object
	// given to the role stays the login's to alter.
	Usage bool
	// Set: it may SET ROLE to the role (MEMBER before PostgreSQL 16, SET from 16), which
	// ALTER ... OWNER TO the role needs.
	Set bool
	// Admin: it may grant the role (WITH ADMIN OPTION).
	Admin bool
}

// Membership is one role granted to another.
type Membership struct {
	Role        string
	Member      string
	AdminOption bool
}

func readRoles(ctx context.Context, conn Querier, in *Instance) error {
	// pg_authid holds the password hashes but only superusers (and some managed admins) may read it.
	src := "pg_authid"
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT')`).Scan(&ok); err != nil {
		return fmt.Errorf("reading roles: %w", err)
	}
	pw := "rolpassword"
	if !ok {
		src, pw = "pg_roles", "NULL::text"
	}
	in.PasswordsReadable = ok
	q := fmt.Sprintf(`SELECT a.rolname::text AS name, a.rolsuper AS superuser, a.rolinherit AS inherit,
		a.rolcreaterole AS create_role, a.rolcreatedb AS create_db, a.rolcanlogin AS login, a.rolreplication AS replication,
		a.rolbypassrls AS bypass_rls, a.rolconnlimit AS conn_limit, coalesce(a.rolvaliduntil::text, '') AS valid_until,
		coalesce(%s, '') AS password_hash,
		coalesce((SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = a.oid AND s.setdatabase = 0), '{}') AS config,
		coalesce(shobj_description(a.oid, 'pg_authid'), '') AS comment
		FROM %s a WHERE a.rolname !~ '^pg_' ORDER BY 1`, pw, src)
	// HasPassword is not a column: it follows from PasswordHash.
	var err error
	if in.Roles, err = appendRows(ctx, conn, in.Roles, pgx.RowToStructByNameLax[Role], q); err != nil {
		return fmt.Errorf("reading roles: %w", err)
	}
	for k := range in.Roles {
		in.Roles[k].HasPassword = in.Roles[k].PasswordHash != ""
	}
	set := "MEMBER"
	if in.VersionNum.AtLeast(16) {
		set = "SET"
	}
	in.LoginAccess = map[string]RoleAccess{}
	var name string
	var a RoleAccess
	if err := forEachRow(ctx, conn, `SELECT r.rolname::text, pg_has_role(r.oid, 'USAGE'), pg_has_role(r.oid, '`+set+`'),
		pg_has_role(r.oid, 'MEMBER WITH ADMIN OPTION')
		FROM pg_roles r WHERE r.rolname !~ '^pg_'`, []any{&name, &a.Usage, &a.Set, &a.Admin}, func() { in.LoginAccess[name] = a }); err != nil {
		return fmt.Errorf("reading the login's role memberships: %w", err)
	}
	if in.Memberships, err = appendRows(ctx, conn, in.Memberships, pgx.RowToStructByName[Membership],
		`SELECT r.rolname::text AS role, m.rolname::text AS member, am.admin_option
		FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
		WHERE r.rolname !~ '^pg_' OR m.rolname !~ '^pg_' ORDER BY 1, 2`); err != nil {
		return fmt.Errorf("reading role memberships: %w", err)
	}
	return nil
}

// Role returns the named role, or nil.
func (i *Instance) Role(name string) *Role {
	for k := range i.Roles {
		if i.Roles[k].Name == name {
			return &i.Roles[k]
		}
	}
	return nil
}

// LoginGrant is a role the target's login must be made a member of (SET and INHERIT) to give
// migrated objects to it: ALTER ... OWNER TO a role needs SET ROLE rights on it (membership
// before PostgreSQL 16), and altering the object afterwards needs the role's privileges.
type LoginGrant struct {
	Role string
	// Exists: the role is on the target before the migration (otherwise the migration creates it).
	Exists bool
	// Blocked says why the login cannot grant itself the role ("" when it can), and Fix what
	// to do about it.
	Blocked, Fix string
}

// LoginGrants lists, by name, the roles that will own migrated objects on the target (the
// owners of the named databases of the source and of everything in them, each replaced by its
// role in remap when it has one, see DecideOwners) and that the target's login (tgt is read
// through it) lacks SET or USAGE on. A superuser login needs none. It is what a migration with
// roles = true grants the login.
func LoginGrants(src, tgt *Instance, dbs map[string]*Database, names []string, remap map[string]string) []LoginGrant {
	if tgt.IsSuperuser {
		return nil
	}
	owners := map[string]bool{}
	for _, o := range MigratedOwners(src, dbs, names) {
		if to, ok := remap[o]; ok {
			o = to
		}
		owners[o] = true
	}
	login := tgt.Role(tgt.CurrentUser)
	var out []LoginGrant
	for _, sr := range loginGrantCandidates(src, tgt, owners) {
		if sr.Name == tgt.CurrentUser {
			continue
		}
		g := LoginGrant{Role: sr.Name}
		acc := tgt.LoginAccess[sr.Name]
		if tr := tgt.Role(sr.Name); tr != nil {
			if acc.Usage && acc.Set {
				continue
			}
			g.Exists = true
			grant := fmt.Sprintf("as a superuser or an administrator of %s, run GRANT %s TO %s",
				quoteIdent(sr.Name), quoteIdent(sr.Name), quoteIdent(tgt.CurrentUser))
			switch {
			case tr.Superuser:
				g.Blocked = fmt.Sprintf("%q is a superuser on the target, and a login that is not one cannot be made its member", sr.Name)
				g.Fix = fmt.Sprintf("give the objects of %s to a role that is not a superuser, on the source (ALTER ... OWNER TO)", quoteIdent(sr.Name))
			case tgt.VersionNum.AtLeast(16) && !acc.Admin:
				g.Blocked = fmt.Sprintf("%q has no ADMIN OPTION on %q (PostgreSQL 16 and later ask for it: CREATEROLE is not enough)", tgt.CurrentUser, sr.Name)
				g.Fix = grant
			case tgt.VersionNum.Before(16) && !acc.Admin && !tgt.CanCreateRole:
				g.Blocked = fmt.Sprintf("%q has neither CREATEROLE nor ADMIN OPTION on %q", tgt.CurrentUser, sr.Name)
				g.Fix = grant
			}
		}
		if g.Blocked == "" && tgt.VersionNum.Before(16) && login != nil && !login.Inherit {
			// Before 16 a membership inherits as its member says: a NOINHERIT login would be able
			// to give the objects away but not to alter them afterwards.
			g.Blocked = fmt.Sprintf("%q is NOINHERIT, so a membership in %q would not give it the role's privileges", tgt.CurrentUser, sr.Name)
			g.Fix = fmt.Sprintf("run ALTER ROLE %s INHERIT", quoteIdent(tgt.CurrentUser))
		}
		out = append(out, g)
	}
	return out
}

// loginGrantCandidates lists the owners that are roles of the source or of the target (an
// owner_map target may exist on the target only), sorted by name.
func loginGrantCandidates(src, tgt *Instance, owners map[string]bool) []Role {
	names := make([]string, 0, len(owners))
	for o := range owners {
		names = append(names, o)
	}
	sort.Strings(names)
	var out []Role
	for _, n := range names {
		if r := src.Role(n); r != nil {
			out = append(out, *r)
		} else if r := tgt.Role(n); r != nil {
			out = append(out, *r)
		}
	}
	return out
}

// quoteIdent quotes a name as an SQL identifier when it needs it.
func quoteIdent(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == "" && (s[0] < '0' || s[0] > '9') {
		return s
	}
	return pgx.Identifier{s}.Sanitize()
}
