package checks

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// Outcomes.
const (
	Succeeded = state.Succeeded
	Warning   = state.Warning
	Failed    = state.Failed
)

// Levels.
const (
	Instance = "instance"
	Database = "database"
)

// Input is what the checks look at: one snapshot of the migration (SourceDBs as the table
// filters select them; Tools nil with ToolsErr set when pg_dump was not found; State nil before
// the first apply).
type Input = snapshot.Snapshot

// Check is one validation.
type Check struct {
	ID    string
	Level string
	Doc   string
	Run   func(in *Input, r *Reporter)
}

// Reporter collects a check's results.
type Reporter struct {
	id, level string
	out       []state.Validation
	reported  bool
}

// Report records one outcome; database is "" for instance-level results.
func (r *Reporter) Report(outcome state.Outcome, database, msg string, objects ...string) {
	r.reported = true
	r.out = append(r.out, state.Validation{ID: r.id, Level: r.level, Database: database, Outcome: outcome, Message: msg, Objects: objects})
}

// All is every check, in the order they are reported. IDs are stable: scripts, CI jobs and
// saved plans refer to them.
var All = []Check{
	{"connectivity", Instance, "pgferry connects and authenticates to the source and the target, with their sslmode", checkConnectivity},
	{"source_version", Instance, "the source runs PostgreSQL 9.5 or later", checkSourceVersion},
	{"target_version", Instance, "the target major version is not older than the source's", checkTargetVersion},
	{"target_privileges", Instance, "the target login may create databases and roles", checkTargetPrivileges},
	{"target_read_only", Instance, "the target accepts writes: not a standby, default_transaction_read_only off", checkTargetReadOnly},
	{"pg_dump", Instance, "pg_dump and pg_restore can dump the source and restore to the target", checkTools},
	{"superuser_roles", Instance, "superuser roles on the source", checkSuperusers},
	{"role_clashes", Instance, "roles that exist on the target with other attributes, or whose names the target reserves", checkRoleClashes},
	{"role_passwords", Instance, "role password hashes can be carried over", checkPasswords},
	{"owner_map", Instance, "objects whose source owner cannot own them on the target go to owner_map's role or the target login", checkOwnerMap},
	{"owner_membership", Instance, "the target login can be made a member of the roles that own the migrated objects, to give them their owners", checkOwnerMembership},
	{"server_parameters", Instance, "server parameters whose source value differs from the target's", checkServerParameters},
	{"session_timeouts", Instance, "timeouts on either side that would cut a long copy", checkSessionTimeouts},
	{"target_replication", Instance, "standbys or replication slots on the target", checkReplication},
	{"target_database_empty", Database, "a target database of the same name is empty or absent", checkTargetDatabase},
	{"extensions", Database, "extensions used by the database are available on the target at a usable version", checkExtensions},
	{"extension_schemas", Database, "every extension is installed in a schema that exists on the target before it", checkExtensionSchemas},
	{"encoding_locale", Database, "the database's encoding and locale exist on the target", checkLocale},
	{"collations", Database, "collations used by columns and indexes, and user-defined collations, can exist on the target", checkCollations},
	{"collation_versions", Database, "collation library versions of the source and the target", checkCollationVersions},
	{"languages", Database, "procedural languages of the database's functions exist on the target", checkLanguages},
	{"superuser_objects", Database, "objects only a superuser may create", checkSuperuserObjects},
	{"multirange_names", Database, "the multirange types PostgreSQL 14 and later make for range types from older sources can take their names", checkMultirangeNames},
	{"with_oids", Database, "tables WITH OIDS, which PostgreSQL 12 and later cannot hold", checkWithOIDs},
	{"max_locks", Database, "max_locks_per_transaction is high enough to dump and restore the schema in one transaction", checkMaxLocks},
	{"catalog_privileges", Database, "GRANTs and REVOKEs on system catalog objects", checkCatalogPrivileges},
	{"object_owners", Database, "objects keep their owners on the target; a source superuser kept without SUPERUSER has CREATE on its objects' schemas", checkObjectOwners},
	{"table_filters", Database, "nothing migrated depends on the tables include_tables and exclude_tables leave out", checkTableFilters},
	{"tablespaces", Database, "non-default tablespaces", checkTablespaces},
	{"split_tables", Database, "tables larger than split_tables_larger_than can be copied in parts", checkSplitTables},
	{"notes", Database, "unlogged tables, tables without a primary key, large objects", checkNotes},
}

// Run runs every check and returns their results in order. Every check reports what it found;
// one that reports nothing (a bug) still counts as Succeeded, for each database if it is a
// database-level check, so that no result is ever listed under a database without a name.
func Run(in *Input) []state.Validation {
	var out []state.Validation
	for _, c := range All {
		r := &Reporter{id: c.ID, level: c.Level}
		c.Run(in, r)
		if !r.reported {
			if c.Level == Database {
				for _, db := range in.Databases {
					r.Report(Succeeded, db, "nothing to report: "+c.Doc)
				}
			} else {
				r.Report(Succeeded, "", "nothing to report: "+c.Doc)
			}
		}
		out = append(out, r.out...)
	}
	return out
}

// ConnectivityFailed is the validation a plan reports when a server cannot be reached or refuses
// the login: the catalogs cannot be read, so no other check runs.
func ConnectivityFailed(msg string) state.Validation {
	return state.Validation{ID: "connectivity", Level: Instance, Outcome: Failed, Message: msg}
}

func checkConnectivity(in *Input, r *Reporter) {
	describe := func(s *config.Server, i *catalog.Instance) string {
		tls := "not encrypted"
		if i.SSL {
			tls = "encrypted"
		}
		if s == nil {
			return fmt.Sprintf("as %s (%s)", i.CurrentUser, tls)
		}
		return fmt.Sprintf("%s as %s (sslmode %s, %s)", s.Label(), i.CurrentUser, s.SSLMode, tls)
	}
	r.Report(Succeeded, "", fmt.Sprintf("connected to %s and to %s",
		describe(in.Migration.Source, in.Source), describe(in.Migration.Target, in.Target)))
}

func checkSourceVersion(in *Input, r *Reporter) {
	if in.Source.VersionNum.Before(9, 5) {
		r.Report(Failed, "", fmt.Sprintf("the source runs PostgreSQL %s; pgferry needs 9.5 or later: upgrade the source first", in.Source.Version))
		return
	}
	r.Report(Succeeded, "", fmt.Sprintf("source PostgreSQL %s", in.Source.Version))
}

func checkTargetVersion(in *Input, r *Reporter) {
	s, t := in.Source.VersionNum.Release(), in.Target.VersionNum.Release()
	switch {
	case t < s:
		r.Report(Failed, "", fmt.Sprintf("the target runs PostgreSQL %s, older than the source's %s: a downgrade is not supported; use a target of major %s or later",
			in.Target.Version, in.Source.Version, in.Source.MajorString()))
	case t > s:
		r.Report(Warning, "", fmt.Sprintf("cross-major migration %s → %s: read the release notes of every major in between for incompatibilities",
			in.Source.MajorString(), in.Target.MajorString()))
	default:
		r.Report(Succeeded, "", fmt.Sprintf("target PostgreSQL %s, same major as the source", in.Target.Version))
	}
}

func checkTargetPrivileges(in *Input, r *Reporter) {
	t := in.Target
	var missing []string
	if !t.IsSuperuser && !t.CanCreateDB {
		missing = append(missing, "CREATEDB")
	}
	if in.Migration.Options.Roles && !t.IsSuperuser && !t.CanCreateRole {
		missing = append(missing, "CREATEROLE")
	}
	if len(missing) > 0 {
		r.Report(Failed, "", fmt.Sprintf("the target login %q lacks %s: grant it (ALTER ROLE %s %s) or use an administrator login",
			t.CurrentUser, strings.Join(missing, " and "), t.CurrentUser, strings.Join(missing, " ")))
		return
	}
	if !in.Migration.Options.Roles && !t.IsSuperuser && !t.CanCreateRole {
		r.Report(Succeeded, "", fmt.Sprintf("the target login %q may create databases (roles = false: no role is created)", t.CurrentUser))
		return
	}
	r.Report(Succeeded, "", fmt.Sprintf("the target login %q may create databases and roles", t.CurrentUser))
}

func checkTools(in *Input, r *Reporter) {
	if in.ToolsErr != nil {
		r.Report(Failed, "", in.ToolsErr.Error())
		return
	}
	if in.Tools.Release > in.Target.VersionNum.Release() {
		tm := in.Target.MajorString()
		want := tm
		if in.Source.VersionNum.Release() < in.Target.VersionNum.Release() {
			want = fmt.Sprintf("%s (or a major from the source's %s up)", tm, in.Source.MajorString())
		}
		r.Report(Warning, "", fmt.Sprintf("pg_dump %s at %s is newer than the target (PostgreSQL %s): pg_dump's output is meant for servers "+
			"of its own major or newer, and pgferry adapts only the settings it knows of; install postgresql-client-%s or set options.pg_bin_dir",
			in.Tools.Version, in.Tools.PgDump, tm, want))
		return
	}
	r.Report(Succeeded, "", fmt.Sprintf("pg_dump %s at %s", in.Tools.Version, in.Tools.PgDump))
}

func migratedRoles(in *Input) []catalog.Role {
	if !in.Migration.Options.Roles {
		return nil
	}
	return in.Source.Roles
}

func checkSuperusers(in *Input, r *Reporter) {
	if !in.Migration.Options.Roles {
		r.Report(Succeeded, "", "roles = false: no role is migrated, superusers neither")
		return
	}
	var su, existing []string
	for _, ro := range migratedRoles(in) {
		switch {
		case !ro.Superuser:
		case in.Target.Role(ro.Name) == nil:
			su = append(su, ro.Name)
		default:
			existing = append(existing, ro.Name)
		}
	}
	if len(su) == 0 {
		if len(existing) == 0 {
			r.Report(Succeeded, "", "no superuser role on the source")
			return
		}
		r.Report(Succeeded, "", fmt.Sprintf("%s on the source, which %s on the target already and %s left as %s",
			english.Count(len(existing), "superuser role"), english.Verb(len(existing), "exists", "exist"),
			english.Verb(len(existing), "is", "are"), english.Verb(len(existing), "it is", "they are")), existing...)
		return
	}
	if in.Migration.Options.StripSuperuser {
		r.Report(Warning, "", fmt.Sprintf("%s on the source will be created without SUPERUSER (strip_superuser = true)", english.Count(len(su), "superuser role")), su...)
		return
	}
	if !in.Target.IsSuperuser {
		r.Report(Failed, "", "superuser roles cannot be created by a non-superuser target login: set strip_superuser = true", su...)
		return
	}
	r.Report(Warning, "", fmt.Sprintf("%s on the source will be created as %s", english.Count(len(su), "superuser role"), english.Verb(len(su), "a superuser", "superusers")), su...)
}

func checkPasswords(in *Input, r *Reporter) {
	if !in.Migration.Options.Roles {
		r.Report(Succeeded, "", "roles = false: no role is migrated, so no password either")
		return
	}
	if in.Source.PasswordsReadable {
		r.Report(Succeeded, "", "role password hashes are readable and will be carried over")
		return
	}
	var logins []string
	for _, ro := range in.Source.Roles {
		if ro.Login && in.Target.Role(ro.Name) == nil {
			logins = append(logins, ro.Name)
		}
	}
	if len(logins) > 0 {
		r.Report(Warning, "", fmt.Sprintf("the source login cannot read pg_authid: %s will have no password; set %s after the migration (ALTER ROLE ... PASSWORD)", english.Count(len(logins), "login role"), english.Verb(len(logins), "it", "them")), logins...)
		return
	}
	r.Report(Succeeded, "", "the source login cannot read pg_authid, but every login role of the source exists on the target already: no password to carry over")
}

// checkOwnerMembership: a target login that is not a superuser gives objects to their owners
// (ALTER ... OWNER TO) only as a member of each (SET ROLE rights on PostgreSQL 16+), which apply
// grants it; a role on the target it cannot grant itself would fail the migration half-way.
func checkOwnerMembership(in *Input, r *Reporter) {
	if !in.Migration.Options.Roles {
		r.Report(Succeeded, "", fmt.Sprintf("roles = false: every object is owned by the target login %q, which needs no membership", in.Target.CurrentUser))
		return
	}
	login := in.Target.CurrentUser
	if in.Target.IsSuperuser {
		r.Report(Succeeded, "", fmt.Sprintf("the target login %q is a superuser: it can give every object to its owner", login))
		return
	}
	var granted, blocked, reasons []string
	for _, g := range catalog.LoginGrants(in.Source, in.Target, in.SourceDBs, in.Databases, catalog.OwnerMap(ownerChanges(in))) {
		if g.Blocked == "" {
			granted = append(granted, g.Role)
			continue
		}
		blocked = append(blocked, g.Role)
		reasons = append(reasons, g.Blocked+": "+g.Fix)
	}
	if len(blocked) > 0 {
		r.Report(Failed, "", fmt.Sprintf("the target login %q is not a superuser and cannot be made a member of %s that %s on the target and %s migrated objects, so it could not give them their objects: %s; or map them to another role with owner_map (e.g. owner_map = { %s = %q }); or set roles = false to have every object owned by %q",
			login, english.Count(len(blocked), "role"), english.Verb(len(blocked), "exists", "exist"), english.Verb(len(blocked), "owns", "own"), strings.Join(reasons, "; "), ownerMapKey(blocked[0]), login, login), blocked...)
		return
	}
	if len(granted) > 0 {
		r.Report(Succeeded, "", fmt.Sprintf("the target login %q is not a superuser: it is granted membership in %s that %s migrated objects, to give them their objects (destroy revokes it)", login, english.Count(len(granted), "role"), english.Verb(len(granted), "owns", "own")), granted...)
		return
	}
	r.Report(Succeeded, "", fmt.Sprintf("the target login %q can give every migrated object to its owner", login))
}

// ownerPolicy is the migration's options.roles and options.owner_map.
func ownerPolicy(in *Input) catalog.OwnerPolicy {
	return catalog.OwnerPolicy{Roles: in.Migration.Options.Roles, Map: in.Migration.Options.OwnerMap}
}

// ownerChanges decides which source owners' objects go to another role on the target.
func ownerChanges(in *Input) map[string]catalog.OwnerChange {
	return catalog.OwnerChanges(ownerPolicy(in), in.Source, in.Target, in.SourceDBs, in.Databases)
}

// ownerMapKey writes a role name as an owner_map key: bare when HCL allows it.
func ownerMapKey(role string) string {
	if hclIdent.MatchString(role) {
		return role
	}
	return strconv.Quote(role)
}

var hclIdent = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*$`)

// checkOwnerMap: a role of the source that cannot own objects on the target (a superuser there
// for a login that is not one, the bootstrap superuser, reserved roles) has its objects given to
// the target login, or to the role owner_map names; an owner_map role that will not exist, or
// that the login cannot give objects to, fails the plan.
func checkOwnerMap(in *Input, r *Reporter) {
	if !in.Migration.Options.Roles {
		return
	}
	changes := ownerChanges(in)
	if len(changes) == 0 {
		if in.Target.IsSuperuser {
			r.Report(Succeeded, "", fmt.Sprintf("the target login %q is a superuser: every object keeps its owner", in.Target.CurrentUser))
		} else {
			r.Report(Succeeded, "", "every owner of the migrated objects can own them on the target")
		}
		return
	}
	names := make([]string, 0, len(changes))
	for n := range changes {
		names = append(names, n)
	}
	sort.Strings(names)
	var failed, moved []string
	for _, n := range names {
		c := changes[n]
		if c.Problem != "" {
			failed = append(failed, c.Problem)
			continue
		}
		moved = append(moved, fmt.Sprintf("%q → %q (%s)", c.From, c.To, c.Reason))
	}
	if len(failed) > 0 {
		r.Report(Failed, "", strings.Join(failed, "; "), names...)
		return
	}
	r.Report(Succeeded, "", fmt.Sprintf("the objects of %s will be owned by another role on the target (object_owners lists them per database): %s",
		english.Count(len(moved), "role"), strings.Join(moved, "; ")), names...)
}

func checkReplication(in *Input, r *Reporter) {
	if len(in.Target.ReplicationSlots) > 0 || in.Target.Standbys > 0 {
		r.Report(Warning, "", fmt.Sprintf("the target has %s and %s: a bulk load is faster without them; enable high availability and read replicas after the migration",
			english.Count(in.Target.Standbys, "standby"), english.Count(len(in.Target.ReplicationSlots), "replication slot")), in.Target.ReplicationSlots...)
		return
	}
	r.Report(Succeeded, "", "the target has no standbys and no replication slots")
}

func ownedByState(in *Input, db string) bool {
	if in.State == nil {
		return false
	}
	a := in.State.Action("database." + db)
	if a == nil {
		a = in.State.Action(fmt.Sprintf("database[%q]", db))
	}
	return a != nil && a.Status == state.ActionApplied
}

// driftListed is how many changed objects a message names; the result's objects list them all.
const driftListed = 10

// drift says which side changed since the migration copied database db, and which objects: an
// object on one side only is one the migration created (dropped since on the other side) or one it
// did not (created since on that side), as the state's actions tell for tables, indexes and
// constraints; sequences and extensions have no action of their own and are only said to be on
// one side. targetChanged reports whether the target may have changed (then destroy refuses to
// roll back without --force).
func drift(in *Input, db string, sdb, tdb *catalog.Database) (what string, objs []string, targetChanged bool) {
	onlySrc, onlyTgt := catalog.ObjectDiff(sdb, tdb)
	migrated := func(o catalog.ObjectRef) (known, ok bool) {
		applied := func(addr string) bool {
			a := in.State.Action(addr)
			return a != nil && a.Status == state.ActionApplied
		}
		switch o.Kind {
		case "table":
			return true, applied(plan.TableAddr(db, o.Schema, o.Name))
		case "index":
			return true, applied(plan.IndexAddr(db, o.Schema, o.Name))
		case "constraint":
			return true, applied(plan.ConstraintAddr(db, o.Schema, o.Table, o.Name)) || applied(plan.IndexAddr(db, o.Schema, o.Name))
		}
		return false, false
	}
	var changes []string
	sides := map[string]bool{}
	note := func(o catalog.ObjectRef, onSide, otherSide string) {
		known, ok := migrated(o)
		switch {
		case !known:
			changes = append(changes, fmt.Sprintf("%s is only on the %s", o, onSide))
			sides["?"] = true
		case ok:
			changes = append(changes, fmt.Sprintf("%s was dropped on the %s", o, otherSide))
			sides[otherSide] = true
		default:
			changes = append(changes, fmt.Sprintf("%s was created on the %s", o, onSide))
			sides[onSide] = true
		}
	}
	for _, o := range onlyTgt {
		note(o, "target", "source")
	}
	for _, o := range onlySrc {
		note(o, "source", "target")
	}
	who := "the source or the target"
	switch {
	case sides["source"] && sides["target"]:
		who = "the source and the target"
	case sides["source"] && !sides["?"]:
		who = "the source"
	case sides["target"] && !sides["?"]:
		who = "the target"
	}
	listed := changes
	more := ""
	if len(listed) > driftListed {
		listed, more = listed[:driftListed], fmt.Sprintf(" and %d more", len(changes)-driftListed)
	}
	objs = make([]string, 0, len(onlyTgt)+len(onlySrc))
	for _, o := range append(onlyTgt, onlySrc...) {
		objs = append(objs, o.String())
	}
	return fmt.Sprintf("%s changed since (%s%s)", who, strings.Join(listed, "; "), more), capped(objs), sides["target"] || sides["?"]
}

func checkTargetDatabase(in *Input, r *Reporter) {
	for _, db := range in.Databases {
		tdb := in.TargetDBs[db]
		switch {
		case tdb == nil:
			r.Report(Succeeded, db, fmt.Sprintf("database %q does not exist on the target and will be created", db))
		case ownedByState(in, db) && in.State.DatabaseComplete(db) && in.SourceDBs[db] != nil && !catalog.SameObjects(in.SourceDBs[db], tdb):
			if in.Migration.Options.OverwriteDatabases {
				what, objs, _ := drift(in, db, in.SourceDBs[db], tdb)
				r.Report(Warning, db, fmt.Sprintf("database %q was migrated, but %s: it will be dropped and migrated again (overwrite_databases = true)", db, what), objs...)
			} else {
				what, objs, targetChanged := drift(in, db, in.SourceDBs[db], tdb)
				// destroy refuses to roll back a target written to since apply: say what it takes.
				undo := "run pgferry destroy first"
				if targetChanged {
					undo = "roll it back with pgferry destroy --force first (which loses the target's changes)"
				}
				r.Report(Failed, db, fmt.Sprintf("database %q was migrated, but %s: set overwrite_databases = true to drop it and migrate it again, or %s", db, what, undo), objs...)
			}
		case ownedByState(in, db):
			r.Report(Succeeded, db, fmt.Sprintf("database %q was created by this migration", db))
		case tdb.IsEmpty():
			r.Report(Succeeded, db, fmt.Sprintf("database %q exists on the target and is empty", db))
		case in.Migration.Options.OverwriteDatabases:
			r.Report(Warning, db, fmt.Sprintf("database %q exists on the target and is not empty: it will be dropped and recreated (overwrite_databases = true)", db))
		default:
			r.Report(Failed, db, fmt.Sprintf("database %q exists on the target and is not empty: drop it, or set overwrite_databases = true in the migration's options to replace it", db))
		}
	}
}

// needsPreload lists extensions that only work when loaded at server start.
func needsPreload(name string) bool {
	switch name {
	case "pg_stat_statements", "pg_cron", "timescaledb", "pg_partman_bgw", "pgaudit", "pg_hint_plan", "pglogical", "pg_squeeze", "auto_explain", "pg_wait_sampling", "citus", "pg_prewarm":
		return name != "pg_prewarm"
	}
	return false
}

func localeAvailable(t *catalog.Instance, loc string) bool {
	if loc == "C" || loc == "POSIX" || loc == "" {
		return true
	}
	if _, ok := t.Collations["pg_catalog."+loc]; ok {
		return true
	}
	// The target's own databases use locales it has.
	for _, d := range t.Databases {
		if d.Collate == loc || d.Ctype == loc {
			return true
		}
	}
	// libc names differ in spelling of the encoding part: en_US.UTF-8 vs en_US.utf8.
	norm := func(s string) string { return strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(s)) }
	for c := range t.Collations {
		if norm(strings.TrimPrefix(c, "pg_catalog.")) == norm(loc) {
			return true
		}
	}
	return false
}

func checkNotes(in *Input, r *Reporter) {
	for _, db := range in.Databases {
		sdb := in.SourceDBs[db]
		if sdb == nil {
			continue
		}
		var unlogged, nopk []string
		for _, t := range sdb.Tables {
			if t.Kind != "r" {
				continue
			}
			if t.Unlogged {
				unlogged = append(unlogged, t.Key())
			}
			if !t.HasPrimaryKey && !t.IsPartition {
				nopk = append(nopk, t.Key())
			}
		}
		noted := false
		if len(unlogged) > 0 {
			r.Report(Succeeded, db, fmt.Sprintf("note: %s; %s copied, but %s unlogged on the target", english.Count(len(unlogged), "unlogged table"), english.Verb(len(unlogged), "its rows are", "their rows are"), english.Verb(len(unlogged), "it stays", "they stay")), unlogged...)
			noted = true
		}
		if len(nopk) > 0 {
			r.Report(Succeeded, db, fmt.Sprintf("note: %s without a primary key; verification compares %s by whole-row checksums", english.Count(len(nopk), "table"), english.Verb(len(nopk), "it", "them")), nopk...)
			noted = true
		}
		if sdb.LargeObjects > 0 {
			r.Report(Succeeded, db, fmt.Sprintf("note: %s; %s created with %s OIDs, owners and privileges, and %s contents copied from the snapshot", english.Count(sdb.LargeObjects, "large object"), english.Verb(sdb.LargeObjects, "it is", "they are"), english.Verb(sdb.LargeObjects, "its", "their"), english.Verb(sdb.LargeObjects, "its", "their")))
			noted = true
		}
		if !noted {
			r.Report(Succeeded, db, "no unlogged tables, tables without a primary key or large objects")
		}
	}
}
