package checks

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/english"
)

// maxObjects bounds the objects listed in one result; the message gives the full count.
const maxObjects = 50

// capped returns at most maxObjects of objs, the last saying how many were left out.
func capped(objs []string) []string {
	if len(objs) <= maxObjects {
		return objs
	}
	out := append([]string(nil), objs[:maxObjects-1]...)
	return append(out, fmt.Sprintf("… and %d more", len(objs)-maxObjects+1))
}

// extensionNames lists a database's extensions with their versions, at most ten of them.
func extensionNames(d *catalog.Database) string {
	var names []string
	for i, e := range d.Extensions {
		if i == 10 {
			names = append(names, fmt.Sprintf("and %d more", len(d.Extensions)-10))
			break
		}
		names = append(names, e.Name+" "+e.Version)
	}
	return strings.Join(names, ", ")
}

// eachDB calls f for every selected database the source catalog holds.
func eachDB(in *Input, f func(db string, sdb *catalog.Database)) {
	for _, db := range in.Databases {
		if sdb := in.SourceDBs[db]; sdb != nil {
			f(db, sdb)
		}
	}
}

func checkLanguages(in *Input, r *Reporter) {
	eachDB(in, func(db string, sdb *catalog.Database) {
		var bad, msgs []string
		for _, l := range sdb.Languages {
			if l.Functions == 0 && l.Extension != "" {
				continue
			}
			// A language an extension created comes with that extension (pljava creates java).
			if _, ok := in.Target.AvailableExtensions[l.Name]; ok {
				continue
			}
			if _, ok := in.Target.AvailableExtensions[l.Extension]; ok && l.Extension != "" {
				continue
			}
			bad = append(bad, l.Name)
			msgs = append(msgs, fmt.Sprintf("language %s (%s) is not available on the target: install it on the target server (the PostgreSQL %s package for %s)",
				l.Name, english.Count(l.Functions, "function"), in.Target.MajorString(), l.Name))
		}
		if len(bad) > 0 {
			r.Report(Failed, db, strings.Join(msgs, "; "), bad...)
			return
		}
		var names []string
		for _, l := range sdb.Languages {
			names = append(names, l.Name)
		}
		r.Report(Succeeded, db, fmt.Sprintf("the procedural languages of the database (%s) are available on the target", strings.Join(names, ", ")))
	})
}

func checkSuperuserObjects(in *Input, r *Reporter) {
	eachDB(in, func(db string, sdb *catalog.Database) {
		switch {
		case len(sdb.SuperuserObjects) == 0:
			r.Report(Succeeded, db, "no object needs a superuser to be created")
		case in.Target.IsSuperuser:
			r.Report(Succeeded, db, fmt.Sprintf("note: %s %s a superuser to be created; the target login is one", english.Count(len(sdb.SuperuserObjects), "object"), english.Verb(len(sdb.SuperuserObjects), "needs", "need")), capped(sdb.SuperuserObjects)...)
		default:
			r.Report(Failed, db, fmt.Sprintf("%s can only be created by a superuser and the target login %q is not one: use a superuser target login, or drop them on the source and recreate them on the target as an administrator after the migration",
				english.Count(len(sdb.SuperuserObjects), "object"), in.Target.CurrentUser), capped(sdb.SuperuserObjects)...)
		}
	})
}

// checkMultirangeNames: from 14 on, CREATE TYPE ... AS RANGE also makes a multirange type, named
// after the range type. A source before 14 may already use that name for another type or a table,
// and restoring the range type (or the other object, whichever comes second) then fails.
func checkMultirangeNames(in *Input, r *Reporter) {
	eachDB(in, func(db string, sdb *catalog.Database) {
		switch {
		case in.Source.VersionNum.AtLeast(14) || in.Target.VersionNum.Before(14):
			r.Report(Succeeded, db, "range types keep the multirange types they have")
		case len(sdb.MultirangeClashes) == 0:
			r.Report(Succeeded, db, fmt.Sprintf("every range type can get its multirange type on PostgreSQL %s", in.Target.MajorString()))
		default:
			r.Report(Failed, db, fmt.Sprintf("%d range type(s) would get a multirange type on PostgreSQL %s whose name another object of the schema has, and restoring them would fail: rename that object or the range type on the source (ALTER TYPE ... RENAME TO, ALTER TABLE ... RENAME TO)",
				len(sdb.MultirangeClashes), in.Target.MajorString()), capped(sdb.MultirangeClashes)...)
		}
	})
}

// lockSlots returns, for a server, the process slots its documentation sizes the shared lock
// table by (max_connections + max_prepared_transactions) and the ones it is really sized by (every
// server process: MaxBackends, plus prepared transactions). The table holds
// max_locks_per_transaction locks per slot.
func lockSlots(t *catalog.Instance) (perTx, documented, real int, ok bool) {
	get := func(n string) int {
		v, _ := strconv.Atoi(t.Settings[n].Setting)
		return v
	}
	if _, found := t.Settings["max_locks_per_transaction"]; !found {
		return 0, 0, 0, false
	}
	perTx = get("max_locks_per_transaction")
	documented = get("max_connections") + get("max_prepared_transactions")
	autovac := get("autovacuum_max_workers")
	if _, found := t.Settings["autovacuum_worker_slots"]; found {
		autovac = get("autovacuum_worker_slots")
	}
	real = documented + autovac + 1 + get("max_worker_processes")
	if t.VersionNum.AtLeast(12) {
		real += get("max_wal_senders")
	}
	return perTx, documented, real, perTx > 0 && documented > 0
}

// locksNeeded estimates the locks held at once. On the source pg_dump locks every table and
// pgferry's snapshot reads every sequence; on the target the schema is restored in one
// transaction that locks every relation it creates, each table with its TOAST table and index.
func locksNeeded(d *catalog.Database, target bool) int {
	o := d.Objects
	if !target {
		return o["tables"] + o["sequences"] + o["materialized_views"] + o["foreign_tables"] + 16
	}
	return 3*(o["tables"]+o["materialized_views"]) + o["sequences"] + o["views"] + o["foreign_tables"] + o["composite_types"] + 32
}

// DumpFitsLocks reports whether pg_dump of database sdb fits in the source's lock table as
// max_locks_per_transaction documents it (the max_locks check neither fails nor warns for the
// source). apply starts pg_dump before the checks ran only then: a pg_dump that fills the lock
// table makes other sessions' lock requests fail.
func DumpFitsLocks(src *catalog.Instance, sdb *catalog.Database) bool {
	perTx, documented, _, ok := lockSlots(src)
	return !ok || locksNeeded(sdb, false) <= perTx*documented
}

func checkMaxLocks(in *Input, r *Reporter) {
	eachDB(in, func(db string, sdb *catalog.Database) {
		var fails, warns []string
		for _, side := range []struct {
			name, tool string
			in         *catalog.Instance
			target     bool
		}{{"source", "pg_dump", in.Source, false}, {"target", "pg_restore", in.Target, true}} {
			perTx, documented, real, ok := lockSlots(side.in)
			need := locksNeeded(sdb, side.target)
			if !ok || need <= perTx*documented {
				continue
			}
			want := (need + documented - 1) / documented
			want = (want + 63) / 64 * 64
			if need > perTx*real {
				fails = append(fails, fmt.Sprintf("%s locks about %d relations of database %q in one transaction, more than the %s's lock table holds (max_locks_per_transaction %d × %d server processes = %d): set max_locks_per_transaction = %d on the %s and restart it",
					side.tool, need, db, side.name, perTx, real, perTx*real, want, side.name))
				continue
			}
			warns = append(warns, fmt.Sprintf("%s locks about %d relations of database %q in one transaction, more than max_locks_per_transaction (%d) × (max_connections + max_prepared_transactions) (%d) = %d: it runs out of shared memory if other sessions hold many locks; set max_locks_per_transaction = %d on the %s and restart it",
				side.tool, need, db, perTx, documented, perTx*documented, want, side.name))
		}
		switch {
		case len(fails) > 0:
			r.Report(Failed, db, strings.Join(append(fails, warns...), "; "))
		case len(warns) > 0:
			r.Report(Warning, db, strings.Join(warns, "; "))
		default:
			r.Report(Succeeded, db, "max_locks_per_transaction is high enough on both sides")
		}
	})
}

func checkCatalogPrivileges(in *Input, r *Reporter) {
	eachDB(in, func(db string, sdb *catalog.Database) {
		var info, cat []string
		for _, o := range sdb.CatalogACLs {
			if strings.Contains(o, " information_schema.") || o == "schema information_schema" {
				info = append(info, o)
			} else {
				cat = append(cat, o)
			}
		}
		var warns []string
		if len(info) > 0 {
			warns = append(warns, fmt.Sprintf("privileges changed on %s are not migrated: re-apply those GRANTs and REVOKEs on the target after the migration", english.Count(len(info), "information_schema object")))
		}
		switch {
		case len(cat) == 0:
		case !in.Migration.Options.Roles:
			warns = append(warns, fmt.Sprintf("privileges changed on %s are not migrated (roles = false): re-apply those GRANTs and REVOKEs on the target after the migration", english.Count(len(cat), "pg_catalog object")))
		case !in.Target.IsSuperuser:
			warns = append(warns, fmt.Sprintf("privileges changed on %s are carried over by pg_dump, but the target login %q is not a superuser and may be refused: revoke them on the source before the migration and re-apply them on the target as an administrator", english.Count(len(cat), "pg_catalog object"), in.Target.CurrentUser))
		}
		objs := capped(append(append([]string(nil), cat...), info...))
		switch {
		case len(warns) > 0:
			r.Report(Warning, db, strings.Join(warns, "; "), objs...)
		case len(cat) > 0:
			r.Report(Succeeded, db, fmt.Sprintf("note: privileges changed on %s are carried over by pg_dump", english.Count(len(cat), "pg_catalog object")), objs...)
		default:
			r.Report(Succeeded, db, "no privileges changed on system catalog objects")
		}
	})
}

func checkObjectOwners(in *Input, r *Reporter) {
	eachDB(in, func(db string, sdb *catalog.Database) {
		owners := make([]string, 0, len(sdb.Owners))
		for o := range sdb.Owners {
			owners = append(owners, o)
		}
		sort.Strings(owners)
		if !in.Migration.Options.Roles {
			var others []string
			for _, o := range owners {
				if o != in.Target.CurrentUser {
					others = append(others, o)
				}
			}
			if len(others) > 0 {
				r.Report(Succeeded, db, fmt.Sprintf("note: roles = false: every object is created owned by the target login %q, including those of %s; reassign them after the migration (ALTER ... OWNER TO)",
					in.Target.CurrentUser, strings.Join(others, ", ")), others...)
				return
			}
			r.Report(Succeeded, db, fmt.Sprintf("every object is created owned by the target login %q (roles = false)", in.Target.CurrentUser))
			return
		}
		changes := ownerChanges(in)
		warned := false
		for _, o := range remappedOwners(in, db, sdb, changes) {
			c := changes[o]
			own := sdb.Owned[o]
			warned = true
			var objs []string
			n, kinds := 1, "the database"
			if own != nil {
				objs, n, kinds = own.Sample, own.Total, own.KindsString()
				if own.Total > len(own.Sample) {
					objs = append(append([]string(nil), objs...), fmt.Sprintf("… and %d more", own.Total-len(own.Sample)))
				}
			}
			r.Report(Warning, db, fmt.Sprintf("%s owned by %q on the source will be owned by %q on the target, because %s (hazard REASSIGNS_OWNER; owner_map chooses another role): %s",
				english.Count(n, "object"), o, c.To, c.Reason, kinds), capped(objs)...)
		}
		supers := make([]string, 0, len(sdb.SuperuserOwned))
		for s := range sdb.SuperuserOwned {
			if _, remapped := changes[s]; !remapped {
				supers = append(supers, s)
			}
		}
		sort.Strings(supers)
		for _, su := range supers {
			objs := sdb.SuperuserOwned[su]
			tr := in.Target.Role(su)
			var why string
			switch {
			case su == in.Target.CurrentUser:
			// A role the target does not have as a superuser keeps its objects, a login that is
			// not a superuser as well: apply makes it a member of the role (owner_membership).
			case tr == nil && in.Migration.Options.StripSuperuser:
				why = fmt.Sprintf("%q is created on the target without SUPERUSER (strip_superuser = true): it keeps them, but functions that relied on its superuser rights (SECURITY DEFINER, untrusted languages) will fail; review them or give them to another role", su)
			case tr != nil && !tr.Superuser:
				why = fmt.Sprintf("%q is not a superuser on the target: it keeps them, but functions that relied on its superuser rights (SECURITY DEFINER, untrusted languages) will fail", su)
			case !in.Target.IsSuperuser:
				why = fmt.Sprintf("the target login %q is not a superuser and cannot give objects to superuser role %q: change their owner on the source (ALTER ... OWNER TO a non-superuser role) or use a superuser target login", in.Target.CurrentUser, su)
			}
			if why == "" {
				continue
			}
			warned = true
			r.Report(Warning, db, fmt.Sprintf("%s owned by superuser %q on the source; %s", english.Count(len(objs), "object")+" "+english.Verb(len(objs), "is", "are"), su, why), capped(objs)...)
		}
		if missingSchemaCreate(in, db, sdb, changes, r) {
			warned = true
		}
		if !warned {
			r.Report(Succeeded, db, fmt.Sprintf("the owners of the database's objects (%s) are migrated with them", strings.Join(owners, ", ")))
		}
	})
}

// maxSchemaCreate caps the role/schema pairs missingSchemaCreate's message names.
const maxSchemaCreate = 10

// missingSchemaCreate fails the plan, for a target login that is not a superuser, when a source
// superuser that the target will have without SUPERUSER owns objects in a schema it will lack
// CREATE on: giving it those objects (ALTER ... OWNER TO) needs that privilege, which it never
// needed as a superuser, and apply would fail with "permission denied for schema". The role has
// CREATE on the target schema when it owns it, or when the schema's privileges, as pg_dump
// restores them (the source's, moved before the schema's objects by apply), give it to the role,
// PUBLIC or a role it inherits from; pg_database_owner (public's owner from 15 on) stands for the
// owner of the target database. pg_dump 15 and later restore a source before 15's public with its
// privileges (GRANT ALL ... TO PUBLIC by default), so the source's say it. It reports whether it
// reported.
func missingSchemaCreate(in *Input, db string, sdb *catalog.Database, changes map[string]catalog.OwnerChange, r *Reporter) bool {
	if in.Target.IsSuperuser || len(sdb.SchemaCreateNeeds) == 0 {
		return false
	}
	target := func(role string) string {
		if c, ok := changes[role]; ok && c.Problem == "" {
			return c.To
		}
		return role
	}
	dbOwner := ""
	if info := in.Source.Database(db); info != nil {
		dbOwner = target(info.Owner)
	}
	var lines, roles []string
	var first catalog.SchemaCreateNeed // the first pair named, the GRANT's example
	seen := map[string]bool{}
	for _, n := range sdb.SchemaCreateNeeds {
		if _, remapped := changes[n.Role]; remapped || n.Role == in.Target.CurrentUser {
			continue
		}
		// Only a role the target will have without SUPERUSER: created so (strip_superuser), or
		// already there as a role that is not a superuser.
		if tr := in.Target.Role(n.Role); tr != nil && tr.Superuser || tr == nil && !in.Migration.Options.StripSuperuser {
			continue
		}
		if hasSchemaCreate(n, target, dbOwner) {
			continue
		}
		if len(lines) == 0 {
			first = n
		}
		lines = append(lines, fmt.Sprintf("%q in schema %q (%s)", n.Role, n.Schema, english.Count(n.Objects, "object")))
		if !seen[n.Role] {
			seen[n.Role] = true
			roles = append(roles, n.Role)
		}
	}
	if len(lines) == 0 {
		return false
	}
	list := lines
	if len(list) > maxSchemaCreate {
		list = append(append([]string(nil), lines[:maxSchemaCreate-1]...), fmt.Sprintf("and %d more", len(lines)-maxSchemaCreate+1))
	}
	maps := make([]string, 0, len(roles))
	for _, ro := range roles {
		maps = append(maps, fmt.Sprintf("%s = \"ROLE\"", ownerMapKey(ro)))
	}
	if len(maps) > maxSchemaCreate {
		maps = append(maps[:maxSchemaCreate-1], "...")
	}
	r.Report(Failed, db, fmt.Sprintf(`the target login %q is not a superuser, and these source superusers, created on the target without SUPERUSER, own objects in schemas they will have no CREATE privilege on, which giving them their objects needs (apply would fail with "permission denied for schema"): %s. On the source, grant it (GRANT CREATE ON SCHEMA %s TO %s, and so on), or give their objects to another role (owner_map = { %s })`,
		in.Target.CurrentUser, strings.Join(list, ", "), sqlIdent(first.Schema), sqlIdent(first.Role), strings.Join(maps, ", ")), roles...)
	return true
}

// sqlIdent quotes a name as an SQL identifier when it needs it.
func sqlIdent(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == "" && (s[0] < '0' || s[0] > '9') {
		return s
	}
	return pgx.Identifier{s}.Sanitize()
}

// hasSchemaCreate reports whether role n.Role will have CREATE on schema n.Schema of the target.
// target maps a source role to its target role; dbOwner owns the target database.
func hasSchemaCreate(n catalog.SchemaCreateNeed, target func(string) string, dbOwner string) bool {
	holds := func(role string) bool {
		if role == "PUBLIC" {
			return true
		}
		if role == "pg_database_owner" {
			return dbOwner == n.Role
		}
		role = target(role)
		if role == n.Role {
			return true
		}
		for _, m := range n.MemberOf {
			if target(m) == role {
				return true
			}
		}
		return false
	}
	if holds(n.SchemaOwner) {
		return true
	}
	for _, g := range n.Grantees {
		if holds(g) {
			return true
		}
	}
	return false
}

// remappedOwners lists, sorted, the roles owning objects of database db (or the database itself)
// whose objects go to another role on the target.
func remappedOwners(in *Input, db string, sdb *catalog.Database, changes map[string]catalog.OwnerChange) []string {
	var out []string
	for o := range changes {
		if changes[o].Problem != "" {
			continue
		}
		info := in.Source.Database(db)
		if sdb.Owned[o] != nil || (info != nil && info.Owner == o) {
			out = append(out, o)
		}
	}
	sort.Strings(out)
	return out
}
