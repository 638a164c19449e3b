package checks

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

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

// compareVersions orders extension versions such as "1.10" > "1.9" and "2.5.1" > "2.5":
// numeric parts compare as numbers, others as strings.
func compareVersions(a, b string) int {
	pa, pb := strings.FieldsFunc(a, isVersionSep), strings.FieldsFunc(b, isVersionSep)
	for k := 0; k < len(pa) || k < len(pb); k++ {
		if k >= len(pa) {
			return -1
		}
		if k >= len(pb) {
			return 1
		}
		na, ea := strconv.Atoi(pa[k])
		nb, eb := strconv.Atoi(pb[k])
		switch {
		case ea == nil && eb == nil && na != nb:
			if na < nb {
				return -1
			}
			return 1
		case (ea != nil || eb != nil) && pa[k] != pb[k]:
			return strings.Compare(pa[k], pb[k])
		}
	}
	return 0
}

func isVersionSep(r rune) bool { return r == '.' || r == '-' || r == '_' }

func checkExtensions(in *Input, r *Reporter) {
	allow := map[string]bool{}
	allowSet := false
	if s, ok := in.Target.Settings["azure.extensions"]; ok {
		allowSet = true
		for _, e := range strings.Split(s.Setting, ",") {
			allow[strings.ToLower(strings.TrimSpace(e))] = true
		}
	}
	preload := map[string]bool{}
	if s, ok := in.Target.Settings["shared_preload_libraries"]; ok {
		for _, e := range strings.Split(s.Setting, ",") {
			preload[strings.Trim(strings.TrimSpace(e), `"`)] = true
		}
	}
	eachDB(in, func(db string, sdb *catalog.Database) {
		var bad, warned []string
		var fails, warns, notes []string
		for _, e := range sdb.Extensions {
			if e.Name == "plpgsql" {
				continue
			}
			versions, ok := in.Target.AvailableExtensions[e.Name]
			if !ok {
				bad = append(bad, e.Name)
				fails = append(fails, fmt.Sprintf("%s is not available on the target: install its package on the target server", e.Name))
				continue
			}
			if allowSet && !allow[e.Name] {
				bad = append(bad, e.Name)
				fails = append(fails, fmt.Sprintf("%s is not in the target's azure.extensions allow-list: add it to that server parameter", e.Name))
				continue
			}
			if needsPreload(e.Name) && !preload[e.Name] {
				bad = append(bad, e.Name)
				fails = append(fails, fmt.Sprintf("%s needs shared_preload_libraries on the target: add %s to it and restart the target", e.Name, e.Name))
				continue
			}
			newest := ""
			for _, v := range versions {
				if newest == "" || compareVersions(v, newest) > 0 {
					newest = v
				}
			}
			def := in.Target.DefaultExtensionVersions[e.Name]
			switch {
			case compareVersions(e.Version, newest) > 0:
				bad = append(bad, e.Name)
				fails = append(fails, fmt.Sprintf("%s is at version %s on the source, newer than any the target offers (up to %s): install a newer %s package on the target",
					e.Name, e.Version, newest, e.Name))
				continue
			case def != "" && compareVersions(def, e.Version) < 0:
				warned = append(warned, e.Name)
				warns = append(warns, fmt.Sprintf("%s is created at the target's default version %s, older than the source's %s: run ALTER EXTENSION %s UPDATE TO '%s' on the target after the migration",
					e.Name, def, e.Version, e.Name, e.Version))
			case def != "" && def != e.Version:
				notes = append(notes, fmt.Sprintf("%s is created at the target's default version %s (the source has %s)", e.Name, def, e.Version))
			}
			if in.Target.ExtensionNeedsSuperuser[e.Name] && !in.Target.IsSuperuser && !allowSet {
				warned = append(warned, e.Name)
				warns = append(warns, fmt.Sprintf("only a superuser may create %s and the target login %q is not one: have an administrator run CREATE EXTENSION %s in database %q on the target first",
					e.Name, in.Target.CurrentUser, e.Name, db))
			}
		}
		if len(fails) > 0 {
			r.Report(Failed, db, strings.Join(fails, "; "), bad...)
		}
		if len(warns) > 0 {
			r.Report(Warning, db, strings.Join(warns, "; "), warned...)
		}
		if len(fails) == 0 && len(warns) == 0 {
			msg := fmt.Sprintf("%s available on the target: %s", english.Count(len(sdb.Extensions), "extension")+" "+english.Verb(len(sdb.Extensions), "is", "are"), extensionNames(sdb))
			if len(notes) > 0 {
				msg += "; note: " + strings.Join(notes, "; ")
			}
			r.Report(Succeeded, db, msg)
		}
	})
}

func checkExtensionSchemas(in *Input, r *Reporter) {
	eachDB(in, func(db string, sdb *catalog.Database) {
		schemas := map[string]bool{"pg_catalog": true, "information_schema": true}
		for _, s := range sdb.Schemas {
			schemas[s.Name] = true
		}
		var bad, msgs []string
		for _, e := range sdb.Extensions {
			switch {
			case schemas[e.Schema] || e.SchemaExtension == e.Name:
			case e.SchemaExtension != "":
				bad = append(bad, e.Name)
				msgs = append(msgs, fmt.Sprintf("%s is installed in schema %s, which belongs to extension %s: pg_dump does not create that schema, so CREATE EXTENSION %s fails on the target; move it on the source (ALTER EXTENSION %s SET SCHEMA public) or make the schema an ordinary one (ALTER EXTENSION %s DROP SCHEMA %s)",
					e.Name, e.Schema, e.SchemaExtension, e.Name, e.Name, e.SchemaExtension, e.Schema))
			default:
				bad = append(bad, e.Name)
				msgs = append(msgs, fmt.Sprintf("%s is installed in schema %s, which is not migrated: move it on the source (ALTER EXTENSION %s SET SCHEMA public)", e.Name, e.Schema, e.Name))
			}
		}
		if len(bad) > 0 {
			r.Report(Failed, db, strings.Join(msgs, "; "), bad...)
			return
		}
		r.Report(Succeeded, db, "every extension's schema is created before it")
	})
}

func checkLocale(in *Input, r *Reporter) {
	for _, db := range in.Databases {
		info := in.Source.Database(db)
		if info == nil {
			continue
		}
		var problems []string
		if info.LocaleProvider == "icu" && in.Target.VersionNum.Before(15) {
			problems = append(problems, fmt.Sprintf("the database uses the ICU locale provider (%s), which the target (PostgreSQL %s) cannot set for a database: create the database yourself with a libc locale, or use a target of PostgreSQL 15 or later", info.ICULocale, in.Target.Version))
		} else if info.LocaleProvider == "icu" && !hasICU(in.Target) {
			problems = append(problems, fmt.Sprintf("the database uses the ICU locale provider (%s), but the target has no ICU support: use a target built with ICU", info.ICULocale))
		}
		if info.LocaleProvider == "builtin" && in.Target.VersionNum.Before(17) {
			problems = append(problems, fmt.Sprintf("the database uses the builtin locale provider (%s), which the target (PostgreSQL %s) does not have: use a target of PostgreSQL 17 or later", info.ICULocale, in.Target.Version))
		}
		if !localeAvailable(in.Target, info.Collate) {
			problems = append(problems, fmt.Sprintf("LC_COLLATE %q is not available on the target: install that locale on the target or create the database yourself with a locale it has", info.Collate))
		}
		if info.Ctype != info.Collate && !localeAvailable(in.Target, info.Ctype) {
			problems = append(problems, fmt.Sprintf("LC_CTYPE %q is not available on the target: install that locale on the target", info.Ctype))
		}
		if len(problems) > 0 {
			r.Report(Failed, db, strings.Join(problems, "; "))
		} else {
			r.Report(Succeeded, db, fmt.Sprintf("encoding %s and locale %s are available on the target", info.Encoding, info.Collate))
		}
	}
}

// hasICU reports whether a server was built with ICU: it then has ICU collations.
func hasICU(t *catalog.Instance) bool {
	for _, p := range t.Collations {
		if p == "i" {
			return true
		}
	}
	return false
}

func checkCollations(in *Input, r *Reporter) {
	icu := hasICU(in.Target)
	eachDB(in, func(db string, sdb *catalog.Database) {
		var problems, bad []string
		var miss, icuUsed []string
		for c, p := range sdb.UsedCollations {
			if !strings.HasPrefix(c, "pg_catalog.") {
				continue // user-defined: created by the schema step, looked at below
			}
			if _, ok := in.Target.Collations[c]; !ok {
				miss = append(miss, c)
			} else if p == "i" && !icu {
				icuUsed = append(icuUsed, c)
			}
		}
		sort.Strings(miss)
		if len(miss) > 0 {
			bad = append(bad, miss...)
			problems = append(problems, fmt.Sprintf("collations used by columns or indexes are missing on the target: %s: install the locales on the target (libc) or use a target built with ICU (ICU), or change the columns' collation on the source", strings.Join(miss, ", ")))
		}
		var user, icuUser []string
		for _, c := range sdb.UserCollations {
			user = append(user, fmt.Sprintf("%s (%s, %s)", c.Key(), providerName(c.Provider), c.Locale))
			switch {
			case c.Provider == "i" && !icu:
				icuUser = append(icuUser, c.Key())
			case c.Provider == "c" && !localeAvailable(in.Target, c.Locale):
				bad = append(bad, c.Key())
				problems = append(problems, fmt.Sprintf("collation %s uses libc locale %q, which the target does not have: install it on the target", c.Key(), c.Locale))
			}
		}
		if len(icuUser) > 0 || len(icuUsed) > 0 {
			all := append(icuUsed, icuUser...)
			bad = append(bad, all...)
			problems = append(problems, fmt.Sprintf("ICU collations %s cannot be created: the target has no ICU support (no ICU collations): use a target built with ICU", strings.Join(all, ", ")))
		}
		if len(problems) > 0 {
			r.Report(Failed, db, strings.Join(problems, "; "), bad...)
			return
		}
		msg := "no column or index uses a collation other than the database's"
		if len(sdb.UsedCollations) > 0 {
			msg = fmt.Sprintf("the %s used by columns and indexes %s on the target", english.Count(len(sdb.UsedCollations), "collation"), english.Verb(len(sdb.UsedCollations), "exists", "exist"))
		}
		if len(user) > 0 {
			msg += fmt.Sprintf("; note: %s %s created by the schema step", english.Count(len(user), "user-defined collation"), english.Verb(len(user), "is", "are"))
		}
		r.Report(Succeeded, db, msg, user...)
	})
}

func providerName(p string) string {
	switch p {
	case "i":
		return "icu"
	case "c":
		return "libc"
	case "b":
		return "builtin"
	}
	return "default"
}

// libcVersion returns the version the target's C library reports for its locales, or "".
func libcVersion(t *catalog.Instance) string {
	for c, v := range t.CollationVersions {
		if t.Collations[c] == "c" {
			return v
		}
	}
	return ""
}

// targetCollationVersion guesses the version a collation will have on the target: the same
// collation's actual version, else for libc the C library's, for ICU that of the locale's
// predefined collation.
func targetCollationVersion(t *catalog.Instance, name, provider, locale string) string {
	if v, ok := t.CollationVersions[name]; ok {
		return v
	}
	switch provider {
	case "c", "d":
		return libcVersion(t)
	case "i":
		for _, n := range []string{"pg_catalog." + locale + "-x-icu", "pg_catalog." + strings.ReplaceAll(locale, "_", "-") + "-x-icu"} {
			if v, ok := t.CollationVersions[n]; ok {
				return v
			}
		}
	}
	return ""
}

func checkCollationVersions(in *Input, r *Reporter) {
	eachDB(in, func(db string, sdb *catalog.Database) {
		var diffs, objs []string
		if info := in.Source.Database(db); info != nil && info.CollVersion != "" {
			prov, loc := "c", info.Collate
			if info.LocaleProvider == "icu" {
				prov, loc = "i", info.ICULocale
			}
			if tv := targetCollationVersion(in.Target, "", prov, loc); tv != "" && tv != info.CollVersion {
				diffs = append(diffs, fmt.Sprintf("the database's default collation (%s) is version %s on the source and %s on the target", loc, info.CollVersion, tv))
				objs = append(objs, "database "+db)
			}
		}
		user := map[string]catalog.Collation{}
		for _, c := range sdb.UserCollations {
			user[c.Key()] = c
		}
		names := make([]string, 0, len(sdb.CollationVersions))
		for n := range sdb.CollationVersions {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			sv := sdb.CollationVersions[n]
			prov, loc := sdb.UsedCollations[n], ""
			if c, ok := user[n]; ok {
				prov, loc = c.Provider, c.Locale
			}
			name := n
			if _, ok := user[n]; ok {
				name = "" // a user collation is new on the target: compare its library's version
			}
			if tv := targetCollationVersion(in.Target, name, prov, loc); tv != "" && tv != sv {
				diffs = append(diffs, fmt.Sprintf("%s is version %s on the source and %s on the target", n, sv, tv))
				objs = append(objs, n)
			}
		}
		if len(diffs) > 0 {
			r.Report(Warning, db, strings.Join(diffs, "; ")+": text may sort and compare differently on the target; indexes are consistent because the copy rebuilds them all, but check queries and constraints that depend on sort order", capped(objs)...)
			return
		}
		r.Report(Succeeded, db, "the collations the database uses have the same version on both sides, or none recorded")
	})
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

func checkWithOIDs(in *Input, r *Reporter) {
	eachDB(in, func(db string, sdb *catalog.Database) {
		var oids []string
		for _, t := range sdb.Tables {
			if t.HasOIDs {
				oids = append(oids, t.Key())
			}
		}
		switch {
		case len(oids) == 0:
			r.Report(Succeeded, db, "no table has OIDs")
		case in.Target.VersionNum.AtLeast(12):
			var stmts []string
			for _, t := range sdb.Tables {
				if t.HasOIDs {
					stmts = append(stmts, fmt.Sprintf("ALTER TABLE %s SET WITHOUT OIDS;", t.Qualified()))
				}
			}
			msg := fmt.Sprintf("%s OIDs, which PostgreSQL %s cannot hold: remove them on the source (%s)", english.Count(len(oids), "table")+" "+english.Verb(len(oids), "has", "have"), in.Target.MajorString(), strings.Join(stmts, " "))
			if len(stmts) > 3 {
				msg = fmt.Sprintf("%s OIDs, which PostgreSQL %s cannot hold: remove them on the source with ALTER TABLE ... SET WITHOUT OIDS (e.g. %s)", english.Count(len(oids), "table")+" "+english.Verb(len(oids), "has", "have"), in.Target.MajorString(), stmts[0])
			}
			r.Report(Failed, db, msg, capped(oids)...)
		default:
			r.Report(Succeeded, db, fmt.Sprintf("note: %s OIDs; the target keeps them", english.Count(len(oids), "table")+" "+english.Verb(len(oids), "has", "have")), capped(oids)...)
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
		if !warned {
			r.Report(Succeeded, db, fmt.Sprintf("the owners of the database's objects (%s) are migrated with them", strings.Join(owners, ", ")))
		}
	})
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

func checkTablespaces(in *Input, r *Reporter) {
	eachDB(in, func(db string, sdb *catalog.Database) {
		var msgs, objs []string
		if info := in.Source.Database(db); info != nil && info.Tablespace != "" && info.Tablespace != "pg_default" {
			msgs = append(msgs, fmt.Sprintf("the database's default tablespace is %s", info.Tablespace))
			objs = append(objs, "database "+db)
		}
		names := make([]string, 0, len(sdb.Tablespaces))
		for ts := range sdb.Tablespaces {
			names = append(names, ts)
		}
		sort.Strings(names)
		for _, ts := range names {
			if ts == "pg_default" {
				continue
			}
			msgs = append(msgs, fmt.Sprintf("%s in tablespace %s", english.Count(len(sdb.Tablespaces[ts]), "relation")+" "+english.Verb(len(sdb.Tablespaces[ts]), "is", "are"), ts))
			objs = append(objs, sdb.Tablespaces[ts]...)
		}
		if len(msgs) > 0 {
			r.Report(Warning, db, strings.Join(msgs, "; ")+": everything is created in the target's default tablespace; move relations afterwards with ALTER TABLE/INDEX ... SET TABLESPACE if you need to", capped(objs)...)
			return
		}
		r.Report(Succeeded, db, "every relation is in the default tablespace")
	})
}

// checkTableFilters reports what depends on the tables include_tables and exclude_tables leave
// out (the source catalogs the checks see are filtered: sdb.Excluded lists them). A foreign key
// of a migrated table referencing one is not created (Warning: the rest of the migration is
// sound, and the target simply lacks that constraint); anything else that needs one — a view or
// materialized view, a function whose SQL-standard body or signature uses it, a policy, rule or
// trigger of a migrated table, a column of its row type, a table inheriting from it — could not
// be created without it (Failed).
func checkTableFilters(in *Input, r *Reporter) {
	if !in.Migration.Options.Filters() {
		eachDB(in, func(db string, sdb *catalog.Database) {
			r.Report(Succeeded, db, "no include_tables or exclude_tables: every table is migrated")
		})
		return
	}
	eachDB(in, func(db string, sdb *catalog.Database) {
		excluded := map[string]bool{}
		for _, k := range sdb.Excluded {
			excluded[k] = true
		}
		var fks, views, others []string
		seen := map[string]bool{}
		for _, d := range sdb.Dependents {
			if !excluded[d.Table] || (d.Rel != "" && excluded[d.Rel]) {
				continue // the table is migrated, or the object goes away with the tables left out
			}
			var obj string
			var list *[]string
			switch {
			case d.ForeignKey:
				obj, list = fmt.Sprintf("%s references %s", d.Object, d.Table), &fks
			case d.RelKind == "v" || d.RelKind == "m":
				obj, list = fmt.Sprintf("%s depends on table %s", d.Object, d.Table), &views
			case d.Rel == "":
				obj, list = fmt.Sprintf("%s depends on table %s", d.Object, d.Table), &views
			default:
				obj, list = fmt.Sprintf("%s depends on table %s", d.Object, d.Table), &others
			}
			if !seen[obj] {
				seen[obj] = true
				*list = append(*list, obj)
			}
		}
		if len(views)+len(others) > 0 {
			var fixes []string
			if len(views) > 0 {
				fixes = append(fixes, "views, materialized views and functions are always migrated and table filters cannot leave them out: add the tables they depend on to include_tables, or remove them from exclude_tables")
			}
			if len(others) > 0 {
				fixes = append(fixes, "for the objects of a migrated table (policies, rules, columns, inheritance), migrate the table they depend on as well, or leave their own table out too")
			}
			objs := append(append([]string(nil), views...), others...)
			r.Report(Failed, db, fmt.Sprintf("%s on tables that include_tables/exclude_tables leave out, and cannot be created without them; %s", english.Count(len(objs), "object")+" "+english.Verb(len(objs), "depends", "depend"), strings.Join(fixes, "; ")), capped(objs)...)
		}
		if len(fks) > 0 {
			r.Report(Warning, db, fmt.Sprintf("%s of migrated tables %s tables that include_tables/exclude_tables leave out: %s not be created on the target; migrate the referenced tables too to keep %s", english.Count(len(fks), "foreign key"), english.Verb(len(fks), "references", "reference"), english.Verb(len(fks), "it will", "they will"), english.Verb(len(fks), "it", "them")), capped(fks)...)
		}
		if len(views)+len(others)+len(fks) == 0 {
			r.Report(Succeeded, db, fmt.Sprintf("include_tables/exclude_tables leave out %s, and nothing migrated depends on %s", english.Count(len(sdb.Excluded), "table"), english.Verb(len(sdb.Excluded), "it", "them")))
		}
	})
}

// checkSplitTables warns about the tables split_tables_larger_than asks to copy in parts that
// will be copied whole: parts are ranges of heap pages (ctid ranges), which only sources on
// PostgreSQL 14 and later scan without reading the whole table, and parts need several jobs.
func checkSplitTables(in *Input, r *Reporter) {
	o := in.Migration.Options
	eachDB(in, func(db string, sdb *catalog.Database) {
		if o.SplitTablesLargerThan <= 0 {
			r.Report(Succeeded, db, "split_tables_larger_than = 0: every table is copied whole")
			return
		}
		limit := humanSize(o.SplitTablesLargerThan)
		var large []string
		for _, t := range sdb.Tables {
			if t.CopySize() > o.SplitTablesLargerThan && t.Pages >= 2 {
				large = append(large, fmt.Sprintf("%s (%s)", t.Key(), humanSize(t.CopySize())))
			}
		}
		n := len(large)
		switch {
		case n == 0:
			r.Report(Succeeded, db, fmt.Sprintf("no table is larger than split_tables_larger_than (%s): every table is copied whole", limit))
		case in.Source.VersionNum.Before(14):
			jobs := ""
			if o.Jobs < 2 {
				jobs = fmt.Sprintf("; parts also need several workers, and jobs = %d", o.Jobs)
			}
			r.Report(Warning, db, fmt.Sprintf("%s larger than split_tables_larger_than (%s) will be copied whole, by one worker each: "+
				"copying a table in parts needs a source on PostgreSQL 14 or later (it scans ranges of pages by ctid), and the source runs %s%s",
				english.Count(n, "table"), limit, in.Source.MajorString(), jobs), capped(large)...)
		case o.Jobs < 2:
			r.Report(Warning, db, fmt.Sprintf("%s larger than split_tables_larger_than (%s) will be copied whole: parts are copied by several workers, and jobs = %d; set jobs to 2 or more to split %s",
				english.Count(n, "table"), limit, o.Jobs, english.Verb(n, "it", "them")), capped(large)...)
		default:
			r.Report(Succeeded, db, fmt.Sprintf("%s larger than split_tables_larger_than (%s) will be copied in parts by up to %d workers",
				english.Count(n, "table"), limit, o.Jobs), capped(large)...)
		}
	})
}

// humanSize renders a size in bytes as people read it: 44.8 MiB, 1 GiB.
func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	s := fmt.Sprintf("%.1f", float64(n)/float64(div))
	return strings.TrimSuffix(s, ".0") + " " + string("KMGTPE"[exp]) + "iB"
}
