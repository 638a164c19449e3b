package apply

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// Owners on the target.
//
// A source role that cannot own objects on the target (catalog.DecideOwners: a superuser there
// for a login that is not one, the bootstrap superuser, reserved roles, or owner_map's choice)
// has its objects given to another role: plan.Plan.OwnerMap. pg_dump's statements are rewritten
// entry by entry as pg_restore printed them, guided by each entry's header (its type and owner),
// never by a search over whole scripts, which would also change function bodies and comments:
//
//   - the entry's own ALTER ... OWNER TO, the last statement of an entry whose owner is mapped;
//   - in an ACL entry, each GRANT ... TO and REVOKE ... FROM a mapped role, and the
//     SET SESSION AUTHORIZATION pg_dump wraps a grant whose grantor is not the owner in (a
//     superuser's command): the grantor follows the mapping, and for a login that is not a
//     superuser it becomes SET ROLE; such a login runs the whole entry as the object's owner
//     (SET ROLE), so that the owner is recorded as the grantor of its grants;
//   - in a DEFAULT ACL entry, ALTER DEFAULT PRIVILEGES FOR ROLE a mapped role, and its grantees.
//
// Large objects created by pgferry itself (pg_dump 17 and later dump their metadata as data) take
// the mapped owner and grantees as they are created (worker.go, lometa.go); the database's own
// entries (its owner, properties and privileges: pg_restore --create's script, which pgferry runs)
// are rewritten as every other entry (createDatabase).

// ownerRewriter rewrites pg_restore's chunks for the owners of the target.
type ownerRewriter struct {
	m     map[string]string // source role → target role
	login string            // the target login (current_user)
	super bool              // the login is a superuser
}

// owner returns the target role of source role r (r itself for a nil rewriter).
func (o *ownerRewriter) owner(r string) string {
	if o == nil {
		return r
	}
	if to, ok := o.m[r]; ok {
		return to
	}
	return r
}

var (
	// ident is a role name as pg_dump prints it (fmtId): bare, or double-quoted.
	identPat        = `("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)`
	ownerToLine     = regexp.MustCompile(`^(ALTER .+ OWNER TO )` + identPat + `;$`)
	grantLine       = regexp.MustCompile(`^((?:ALTER DEFAULT PRIVILEGES .+ )?GRANT .+ TO )` + identPat + `( WITH GRANT OPTION)?;$`)
	revokeLine      = regexp.MustCompile(`^((?:ALTER DEFAULT PRIVILEGES .+ )?REVOKE .+ FROM )` + identPat + `( CASCADE)?;$`)
	setSessionLine  = regexp.MustCompile(`^SET SESSION AUTHORIZATION ` + identPat + `;$`)
	defaultForRole  = regexp.MustCompile(`^(ALTER DEFAULT PRIVILEGES FOR ROLE )` + identPat + `( .*)$`)
	resetSessionSQL = "RESET SESSION AUTHORIZATION;"
	// sessionSetting is a session setting pg_restore prints between entries.
	sessionSetting = regexp.MustCompile(`^(SET [a-z_]+ = .*;|SELECT pg_catalog\.set_config\('search_path', .*\);)$`)
)

// unquoteIdent turns a name as pg_dump prints it into the name.
func unquoteIdent(s string) string {
	if strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) && len(s) >= 2 {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// rewrite returns chunk c with its owners, grantees, grantors and default-privilege roles
// mapped. A chunk nothing maps is returned as it is.
func (o *ownerRewriter) rewrite(c pgdump.Chunk) pgdump.Chunk {
	if o == nil || (len(o.m) == 0 && o.super) {
		return c
	}
	h, ok := c.Header()
	if !ok {
		return c
	}
	typ, owner := h.Type, h.Owner
	_, ownerMapped := o.m[owner]
	acl := typ == "ACL" || typ == "DEFAULT ACL"
	if !ownerMapped && !acl {
		return c
	}
	start := pgdump.HeaderLen(c.SQL)
	lines := strings.SplitAfter(c.SQL[start:], "\n")
	changed := false
	if ownerMapped && !acl {
		// The entry's owner is set by its last statement (pg_restore prints it after the
		// definition): only that line is looked at, never the definition's body. pg_restore may
		// print the next entry's session settings (SET default_tablespace, ...) after it.
		for k := len(lines) - 1; k >= 0; k-- {
			l := strings.TrimRight(lines[k], "\n")
			if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "--") || sessionSetting.MatchString(l) {
				continue
			}
			if m := ownerToLine.FindStringSubmatch(l); m != nil && unquoteIdent(m[2]) == owner {
				lines[k] = m[1] + ident(o.owner(owner)) + ";" + lines[k][len(l):]
				changed = true
			}
			break
		}
	}
	if acl {
		// An ACL entry holds only these one-line statements. A login that is not a superuser runs
		// the grants of an object's owner as that owner (SET ROLE): granting as a member of it,
		// PostgreSQL could record any role the login is a member of with the grant option as
		// their grantor.
		own := o.owner(owner)
		asOwner := "RESET ROLE;"
		if own != o.login && !strings.HasPrefix(own, "pg_") {
			asOwner = "SET ROLE " + ident(own) + ";"
		}
		// pg_database_owner (public's owner from 15 on) is held by the database's owner, not SET.
		wrap := typ == "ACL" && !o.super && own != o.login && owner != "" && !strings.HasPrefix(own, "pg_")
		for k, raw := range lines {
			l := strings.TrimRight(raw, "\n")
			nl := raw[len(l):]
			switch {
			case setSessionLine.MatchString(l):
				who := o.owner(unquoteIdent(setSessionLine.FindStringSubmatch(l)[1]))
				if o.super {
					lines[k] = "SET SESSION AUTHORIZATION " + ident(who) + ";" + nl
				} else {
					// Only a superuser may SET SESSION AUTHORIZATION; a member of the grantor
					// grants as it with SET ROLE.
					lines[k] = "SET ROLE " + ident(who) + ";" + nl
				}
				changed = changed || lines[k] != raw
			case l == resetSessionSQL:
				if !o.super {
					lines[k], changed = asOwner+nl, true
				}
			case typ == "DEFAULT ACL" && defaultForRole.MatchString(l):
				g := o.mapGrantee(l)
				m := defaultForRole.FindStringSubmatch(g)
				if r := unquoteIdent(m[2]); o.m[r] != "" || g != l {
					lines[k] = m[1] + ident(o.owner(r)) + m[3] + nl
					changed = true
				}
			default:
				if s := o.mapGrantee(l); s != l {
					lines[k], changed = s+nl, true
				}
			}
		}
		if wrap {
			lines = append(append([]string{"SET ROLE " + ident(own) + ";\n"}, lines...), "RESET ROLE;\n")
			changed = true
		}
	}
	if !changed {
		return c
	}
	c.SQL = c.SQL[:start] + strings.Join(lines, "")
	return c
}

// mapGrantee maps the grantee of a GRANT ... TO or REVOKE ... FROM statement (one line, without
// its newline); other lines are returned as they are.
func (o *ownerRewriter) mapGrantee(l string) string {
	for _, re := range []*regexp.Regexp{grantLine, revokeLine} {
		if m := re.FindStringSubmatch(l); m != nil {
			r := unquoteIdent(m[2])
			if _, ok := o.m[r]; ok && m[2] != "PUBLIC" {
				return m[1] + ident(o.owner(r)) + m[3] + ";"
			}
			return l
		}
	}
	return l
}

// rewriteAll maps the owners of every chunk of the source dump: pre-data, post-data and the
// extensions' entries. It runs once per dump.
func (s *sourceDump) rewriteOwners(o *ownerRewriter) {
	if s.ownersRewritten || o == nil {
		return
	}
	s.ownersRewritten = true
	for k := range s.preChunks {
		s.preChunks[k] = o.rewrite(s.preChunks[k])
	}
	for k := range s.chunks {
		s.chunks[k] = o.rewrite(s.chunks[k])
	}
	for _, x := range s.extensions {
		for k := range x.schema {
			x.schema[k] = o.rewrite(x.schema[k])
		}
		x.create = o.rewrite(x.create)
		for k := range x.comments {
			x.comments[k] = o.rewrite(x.comments[k])
		}
	}
}

// confirmOwnership is an ownership action: after every statement that gives the database's
// objects their owners ran (rewritten), it confirms that none of them kept the source role on the
// target, where that role exists (a superuser the login could not have given them to, or a
// role owner_map moved them from).
func (w *worker) confirmOwnership(ctx context.Context, a *plan.Action) error {
	tgt, err := w.target(ctx)
	if err != nil {
		return err
	}
	left, err := catalog.OwnedBy(ctx, tgt, a.Name, w.d.r.opt.Plan.Target.VersionNum)
	if err != nil {
		return fmt.Errorf("reading the owners of the target's objects: %w", err)
	}
	if n := len(left); n > 0 {
		more := ""
		if n > 10 {
			left, more = left[:10], fmt.Sprintf(" and %d more", n-10)
		}
		return fmt.Errorf("%d object(s) of the migrated database are still owned by %q on the target instead of %q: %s%s; give them to %q (ALTER ... OWNER TO), then run apply again",
			n, a.Name, a.Table, strings.Join(left, ", "), more, a.Table)
	}
	w.d.r.recordChange(state.Change{Type: plan.ChangeOwnership, Database: w.d.db, Name: a.Name + " → " + a.Table, Op: plan.OpReassigned})
	w.d.r.emit(Event{Type: EventMessage, Address: a.Address, Message: fmt.Sprintf("%s: the objects of %q are owned by %q", a.Address, a.Name, a.Table)})
	return nil
}

// schemaPrivilegesFirst moves the privileges of each schema (its ACL entry) in pre-data right
// after the schema's own entry, or to the start when an extension action created the schema:
// pg_restore prints every ACL entry at the end, but giving a new object to a role that is not the
// schema's owner (ALTER ... OWNER TO) needs that role to have CREATE on the schema, which only the
// schema's privileges may give it (public's CREATE for PUBLIC up to PostgreSQL 14, a GRANT CREATE
// ON SCHEMA public from 15 on, whose schema has no entry of its own). A superuser's
// ALTER ... OWNER TO is not checked; a login that is not one fails without this.
func (s *sourceDump) schemaPrivilegesFirst() {
	isSchemaACL := func(c pgdump.Chunk) bool {
		if s.byID[c.DumpID].Desc != "ACL" || len(c.Deps) != 1 {
			return false
		}
		if dep, ok := s.byID[c.Deps[0]]; ok {
			return dep.Desc == "SCHEMA"
		}
		// A schema pg_dump does not create has no entry, its privileges do: public from 15 on,
		// owned by pg_database_owner ("GRANT CREATE ON SCHEMA public TO ...").
		h, ok := c.Header()
		return ok && h.Type == "ACL" && strings.HasPrefix(h.Name, "SCHEMA ")
	}
	var acls []pgdump.Chunk
	var rest []pgdump.Chunk
	for _, c := range s.preChunks {
		if isSchemaACL(c) {
			acls = append(acls, c)
		} else {
			rest = append(rest, c)
		}
	}
	if len(acls) == 0 {
		return
	}
	after := map[int][]pgdump.Chunk{} // schema dump ID → its ACL chunks
	present := map[int]bool{}
	for _, c := range rest {
		present[c.DumpID] = true
	}
	var first []pgdump.Chunk
	for _, a := range acls {
		if present[a.Deps[0]] {
			after[a.Deps[0]] = append(after[a.Deps[0]], a)
		} else {
			first = append(first, a)
		}
	}
	out := make([]pgdump.Chunk, 0, len(s.preChunks))
	out = append(out, first...)
	for _, c := range rest {
		out = append(out, c)
		out = append(out, after[c.DumpID]...)
	}
	s.preChunks = out
}
