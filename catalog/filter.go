package catalog

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
)

// Dependent is an object that depends on a table, its columns or its row type (pg_depend, normal
// dependencies) without belonging to it: a view or materialized view (through its rewrite rule), a
// function (a SQL-standard body, an argument or result type), a foreign key of another table, a
// column of another table of the table's row type, a policy or rule of another table, a table
// inheriting from it. A migration that leaves the table out cannot create it as it is.
type Dependent struct {
	// Table is the table depended on (schema.name).
	Table string
	// Rel is the relation the object is or belongs to (schema.name), "" for functions and types.
	Rel string
	// RelKind is Rel's relkind: r, p (tables), v (view), m (materialized view), ...
	RelKind string
	// ForeignKey is true for a foreign key (of Rel) referencing Table.
	ForeignKey bool
	// Object names the object as the server does (pg_identify_object: type and qualified
	// identity), or "view s.v", "materialized view s.v".
	Object string
}

// ReadDependents reads the objects depending on each user table (see Dependent); constraints a
// partition got from its parent are left out (their parent is listed).
func ReadDependents(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	relkinds := "'r'"
	inherited := "NOT k.conislocal"
	if v.AtLeast(10) {
		relkinds = "'r', 'p'"
	}
	if v.AtLeast(11) {
		inherited = "(k.conparentid <> 0 OR NOT k.conislocal)"
	}
	policy := "NULL::oid"
	if v.AtLeast(9, 5) {
		policy = "(SELECT p.polrelid FROM pg_policy p WHERE p.oid = o.objid)"
	}
	q := fmt.Sprintf(`WITH tab AS (
			SELECT c.oid, c.reltype, n.nspname || '.' || c.relname AS key FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.relkind IN (%[1]s) AND %[2]s AND %[3]s
		), ref AS (
			SELECT key, oid AS tab, 'pg_class'::regclass AS refclassid, oid AS refobjid FROM tab
			UNION ALL SELECT key, oid, 'pg_type'::regclass, reltype FROM tab
		), dep AS (
			SELECT DISTINCT r.key, r.tab, d.classid, d.objid, d.objsubid FROM ref r
			JOIN pg_depend d ON d.refclassid = r.refclassid AND d.refobjid = r.refobjid AND d.deptype = 'n'
		), o AS (
			SELECT dep.*, CASE dep.classid
				WHEN 'pg_rewrite'::regclass THEN (SELECT w.ev_class FROM pg_rewrite w WHERE w.oid = dep.objid)
				WHEN 'pg_constraint'::regclass THEN (SELECT k.conrelid FROM pg_constraint k WHERE k.oid = dep.objid)
				WHEN 'pg_trigger'::regclass THEN (SELECT g.tgrelid FROM pg_trigger g WHERE g.oid = dep.objid)
				WHEN 'pg_attrdef'::regclass THEN (SELECT a.adrelid FROM pg_attrdef a WHERE a.oid = dep.objid)
				WHEN 'pg_class'::regclass THEN dep.objid
			END AS rel FROM dep
		)
		SELECT o.key AS "table", coalesce(rn.nspname || '.' || rc.relname, '') AS rel, coalesce(rc.relkind::text, '') AS rel_kind,
			coalesce((SELECT k.contype = 'f' FROM pg_constraint k WHERE o.classid = 'pg_constraint'::regclass AND k.oid = o.objid), false) AS foreign_key,
			CASE WHEN o.classid = 'pg_rewrite'::regclass AND rc.relkind IN ('v', 'm')
				THEN CASE rc.relkind WHEN 'v' THEN 'view ' ELSE 'materialized view ' END || rn.nspname || '.' || rc.relname
				ELSE (SELECT i.type || ' ' || i.identity FROM pg_identify_object(o.classid, o.objid, o.objsubid) i) END AS object
		FROM (SELECT o.*, coalesce(o.rel, CASE WHEN o.classid = 'pg_policy'::regclass THEN %[4]s END) AS owner FROM o) o
		LEFT JOIN pg_class rc ON rc.oid = o.owner LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
		WHERE o.owner IS DISTINCT FROM o.tab
			AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE o.classid = 'pg_constraint'::regclass AND k.oid = o.objid AND %[5]s)
		ORDER BY 1, 5`, relkinds, userSchemaFilter, notExtensionMember("pg_class", "c.oid"), policy, inherited)
	var err error
	d.Dependents, err = appendRows(ctx, conn, d.Dependents, pgx.RowToStructByName[Dependent], q)
	return err
}

// Filter returns the database as a migration with table filters sees it: only the tables it
// selects, and of the rest nothing that belongs to a table left out — its indexes, constraints
// (and foreign keys of selected tables referencing it), triggers, and its identity sequences (a
// sequence a serial column owns stays, as pg_dump --exclude-table keeps it) — with the object
// counts to match. include and exclude report whether a table matches an include_tables pattern
// (true for every table when there are none) or an exclude_tables one.
//
// A partition goes with its partitioned parent: it is selected when its parent is and no
// exclude_tables pattern matches it; include_tables patterns are matched against tables that are
// not partitions only. Dependents and Excluded keep what the checks need to report dependencies
// that cannot be honoured. Filter of a filtered database adds to its Excluded.
func (d *Database) Filter(include, exclude func(schema, name string) bool) *Database {
	byKey := make(map[string]*Table, len(d.Tables))
	for k := range d.Tables {
		byKey[d.Tables[k].Key()] = &d.Tables[k]
	}
	memo := map[string]bool{}
	var selected func(t *Table, depth int) bool
	selected = func(t *Table, depth int) bool {
		if s, ok := memo[t.Key()]; ok {
			return s
		}
		var s bool
		if p := byKey[t.Parent]; t.Parent != "" && p != nil && depth < 64 {
			s = selected(p, depth+1) && !exclude(t.Schema, t.Name)
		} else {
			s = include(t.Schema, t.Name) && !exclude(t.Schema, t.Name)
		}
		memo[t.Key()] = s
		return s
	}
	out := *d
	out.Tables, out.Indexes, out.Constraints, out.Sequences = nil, nil, nil, nil
	out.Objects = make(map[string]int, len(d.Objects))
	for k, n := range d.Objects {
		out.Objects[k] = n
	}
	excluded := map[string]bool{}
	for _, k := range d.Excluded {
		excluded[k] = true
	}
	for k := range d.Tables {
		t := &d.Tables[k]
		if selected(t, 0) {
			out.Tables = append(out.Tables, *t)
			continue
		}
		excluded[t.Key()] = true
		out.Objects["tables"]--
		out.Objects["triggers"] -= t.Triggers
	}
	if len(excluded) == len(d.Excluded) {
		return d
	}
	for _, ix := range d.Indexes {
		if excluded[ix.Schema+"."+ix.Table] {
			out.Objects["indexes"]--
			continue
		}
		out.Indexes = append(out.Indexes, ix)
	}
	for _, c := range d.Constraints {
		if excluded[c.Schema+"."+c.Table] || (c.Type == "f" && excluded[c.RefTable]) {
			out.Objects["constraints"]--
			continue
		}
		out.Constraints = append(out.Constraints, c)
	}
	for _, s := range d.Sequences {
		if s.Identity && excluded[SequenceTable(s.OwnedBy)] {
			out.Objects["sequences"]--
			continue
		}
		out.Sequences = append(out.Sequences, s)
	}
	out.Tablespaces = make(map[string][]string, len(d.Tablespaces))
	for ts, rels := range d.Tablespaces {
		var keep []string
		for _, r := range rels {
			if name, ok := strings.CutPrefix(r, "table "); ok && excluded[name] {
				continue
			}
			keep = append(keep, r)
		}
		if len(keep) > 0 {
			out.Tablespaces[ts] = keep
		}
	}
	out.Excluded = make([]string, 0, len(excluded))
	for k := range excluded {
		out.Excluded = append(out.Excluded, k)
	}
	sort.Strings(out.Excluded)
	return &out
}

// SequenceTable is the table (schema.name) of a sequence's OwnedBy (schema.table.column), or "".
func SequenceTable(ownedBy string) string {
	if i := strings.LastIndexByte(ownedBy, '.'); i > 0 {
		return ownedBy[:i]
	}
	return ""
}
