package checks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/english"
)

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
