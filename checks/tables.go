package checks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/english"
)

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
