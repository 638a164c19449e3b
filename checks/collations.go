package checks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/english"
)

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
