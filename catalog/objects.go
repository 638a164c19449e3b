package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
)

// Language is a procedural language.
type Language struct {
	Name    string
	Trusted bool
	// Extension is the extension that created the language, or "".
	Extension string
	// Functions counts the user functions written in it, extension members excluded.
	Functions int
}

// relationKind names the kind of pg_class row c, as Database.Objects counts it.
const relationKind = `CASE c.relkind WHEN 'r' THEN 'tables' WHEN 'p' THEN 'tables' WHEN 'v' THEN 'views' WHEN 'm' THEN 'materialized_views'
	WHEN 'S' THEN 'sequences' WHEN 'i' THEN 'indexes' WHEN 'I' THEN 'indexes' WHEN 'f' THEN 'foreign_tables' WHEN 'c' THEN 'composite_types' ELSE 'other' END`

func readObjectCounts(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	prokind := "CASE WHEN p.proisagg THEN 'aggregates' ELSE 'functions' END"
	if v.AtLeast(11) {
		prokind = "CASE p.prokind WHEN 'a' THEN 'aggregates' WHEN 'p' THEN 'procedures' ELSE 'functions' END"
	}
	q := `SELECT kind, count(*)::int FROM (
		SELECT ` + relationKind + ` AS kind
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ` + userSchemaFilter + ` AND c.relkind <> 't' AND ` + notExtensionMember("pg_class", "c.oid") + `
			AND ` + notExtensionMember("pg_class", "(SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = c.oid)") + `
		UNION ALL
		SELECT ` + prokind + ` FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ` + userProcFilter(v) + `
		UNION ALL
		SELECT CASE t.typtype WHEN 'e' THEN 'enums' WHEN 'd' THEN 'domains' WHEN 'r' THEN 'range_types' WHEN 'b' THEN 'base_types' ELSE 'other_types' END
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype IN ('e','d','r','b') AND ` + userTypeFilter(v) + `
		UNION ALL
		SELECT 'triggers' FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ` + userTrigger(v) + ` AND ` + userSchemaFilter + `
			AND ` + notExtensionMember("pg_class", "c.oid") + `
		UNION ALL
		SELECT 'constraints' FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE ` + userSchemaFilter + ` AND k.contype <> 'n'
			AND ` + notExtensionMember("pg_class", "k.conrelid") + ` AND ` + notExtensionMember("pg_type", "k.contypid") + `
		UNION ALL
		SELECT 'schemas' FROM pg_namespace n WHERE ` + userSchemaFilter + ` AND n.nspname <> 'public' AND ` + notExtensionMember("pg_namespace", "n.oid") + `
	) o GROUP BY kind`
	var k string
	var n int
	if err := forEachRow(ctx, conn, q, []any{&k, &n}, func() { d.Objects[k] = n }); err != nil {
		return err
	}
	return conn.QueryRow(ctx, `SELECT count(*) FROM pg_largeobject_metadata`).Scan(&d.LargeObjects)
}

// readTablespaces fills d.Tablespaces: the relations stored outside the database's tablespace.
func readTablespaces(ctx context.Context, conn Querier, d *Database, _ pgver.V) error {
	var err error
	d.Tablespaces, err = describeRows(ctx, conn, `SELECT t.spcname::text,
		CASE WHEN c.relkind IN ('i', 'I') THEN 'index ' WHEN c.relkind = 'm' THEN 'materialized view ' ELSE 'table ' END || n.nspname || '.' || c.relname
		FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I') AND `+userSchemaFilter+` AND `+notExtensionMember("pg_class", "c.oid")+`
		ORDER BY 1, 2`)
	return err
}

// readSuperuserObjects fills d.SuperuserObjects.
func readSuperuserObjects(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	// Objects only a superuser may create (CREATE CAST WITHOUT FUNCTION or between types nobody
	// but a superuser owns, CREATE TYPE with I/O functions, CREATE TEXT SEARCH PARSER/TEMPLATE,
	// CREATE EVENT TRIGGER, CREATE LANGUAGE, functions in untrusted languages, CREATE FOREIGN
	// DATA WRAPPER, CREATE OPERATOR CLASS/FAMILY, CREATE PUBLICATION ... FOR ALL TABLES).
	// Aggregates are written in "internal" (an untrusted language) but any user may create them.
	notAggregate := "NOT p.proisagg"
	if v.AtLeast(11) {
		notAggregate = "p.prokind <> 'a'"
	}
	su := `SELECT 'cast (' || format_type(c.castsource, NULL) || ' AS ' || format_type(c.casttarget, NULL) || ')' AS d FROM pg_cast c
		WHERE c.oid >= 16384 AND ` + notImplicit("pg_cast", "c.oid") + ` AND (c.castmethod = 'b' OR (
			(SELECT t.typnamespace FROM pg_type t WHERE t.oid = c.castsource) = 'pg_catalog'::regnamespace AND
			(SELECT t.typnamespace FROM pg_type t WHERE t.oid = c.casttarget) = 'pg_catalog'::regnamespace))
		UNION ALL
		SELECT 'base type ' || n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE t.typtype = 'b' AND ` + userTypeFilter(v) + `
		UNION ALL
		SELECT 'text search parser ' || n.nspname || '.' || p.prsname FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_ts_parser", "p.oid") + `
		UNION ALL
		SELECT 'text search template ' || n.nspname || '.' || p.tmplname FROM pg_ts_template p JOIN pg_namespace n ON n.oid = p.tmplnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_ts_template", "p.oid") + `
		UNION ALL
		SELECT 'event trigger ' || e.evtname FROM pg_event_trigger e WHERE ` + notExtensionMember("pg_event_trigger", "e.oid") + `
		UNION ALL
		SELECT 'language ' || l.lanname FROM pg_language l WHERE l.oid >= 16384 AND ` + notExtensionMember("pg_language", "l.oid") + `
		UNION ALL
		SELECT ` + funcDescSQL + ` || ' (LANGUAGE ' || l.lanname || ')' FROM pg_proc p
		JOIN pg_language l ON l.oid = p.prolang JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE NOT l.lanpltrusted AND ` + notAggregate + ` AND ` + userProcFilter(v) + `
		UNION ALL
		SELECT 'foreign-data wrapper ' || w.fdwname FROM pg_foreign_data_wrapper w WHERE ` + notExtensionMember("pg_foreign_data_wrapper", "w.oid") + `
		UNION ALL
		SELECT 'operator class ' || n.nspname || '.' || c.opcname || ' USING ' || (SELECT a.amname FROM pg_am a WHERE a.oid = c.opcmethod) FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_opclass", "c.oid") + `
		UNION ALL
		SELECT 'operator family ' || n.nspname || '.' || f.opfname || ' USING ' || (SELECT a.amname FROM pg_am a WHERE a.oid = f.opfmethod) FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace
		WHERE NOT EXISTS (SELECT 1 FROM pg_opclass c WHERE c.opcfamily = f.oid) AND ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_opfamily", "f.oid")
	if v.AtLeast(10) {
		su += `
		UNION ALL
		SELECT 'publication ' || p.pubname || ' (FOR ALL TABLES)' FROM pg_publication p WHERE p.puballtables`
	}
	var err error
	d.SuperuserObjects, err = collectStrings(ctx, conn, `SELECT d FROM (`+su+`) o ORDER BY 1`)
	return err
}

// readMultirangeClashes fills d.MultirangeClashes, on servers before 14.
func readMultirangeClashes(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	if v.AtLeast(14) {
		return nil
	}
	// The server names a multirange type after its range type: "multi" before the first
	// "range" in the name, else "_multirange" after (at most 63 bytes).
	var err error
	d.MultirangeClashes, err = collectStrings(ctx, conn, `SELECT 'range type ' || n.nspname || '.' || t.typname || ': multirange ' || n.nspname || '.' || m.name || ' is taken by '
		|| coalesce((SELECT `+relDescSQL+` FROM pg_class c WHERE c.oid = o.typrelid), 'type ' || n.nspname || '.' || o.typname)
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		CROSS JOIN LATERAL (SELECT left(CASE WHEN strpos(t.typname::text, 'range') > 0
			THEN overlay(t.typname::text PLACING 'multirange' FROM strpos(t.typname::text, 'range') FOR 5)
			ELSE left(t.typname::text, 51) || '_multirange' END, 63) AS name) m
		JOIN pg_type o ON o.typnamespace = t.typnamespace AND o.typname::text = m.name
		WHERE t.typtype = 'r' AND `+userSchemaFilter+` AND `+notExtensionMember("pg_type", "t.oid")+`
		ORDER BY 1`)
	return err
}

// readCatalogACLs fills d.CatalogACLs, on servers with pg_init_privs (9.6+).
func readCatalogACLs(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	if v.Before(9, 6) {
		return nil
	}
	// pg_init_privs records initdb's privileges on pg_catalog; information_schema's come from
	// GRANTs to PUBLIC that it does not record (SELECT on relations, USAGE on the schema).
	acl := func(cat, aclCol, alias, nsCol, desc, infoDefault string) string {
		return fmt.Sprintf(`SELECT %[5]s FROM %[1]s %[3]s JOIN pg_namespace n ON n.oid = %[3]s.%[4]s
			WHERE n.nspname IN ('pg_catalog', 'information_schema')
			AND %[3]s.%[2]s IS DISTINCT FROM coalesce((SELECT i.initprivs FROM pg_init_privs i
				WHERE i.objoid = %[3]s.oid AND i.classoid = '%[1]s'::regclass AND i.objsubid = 0),
				CASE WHEN n.nspname = 'information_schema' AND %[3]s.%[2]s IS NOT NULL THEN %[6]s END)`, cat, aclCol, alias, nsCol, desc, infoDefault)
	}
	q := acl("pg_class", "relacl", "c", "relnamespace", relDescSQL, "acldefault('r', c.relowner) || makeaclitem(0, c.relowner, 'SELECT', false)") +
		" UNION ALL " + acl("pg_proc", "proacl", "p", "pronamespace", funcDescSQL, "NULL::aclitem[]") +
		" UNION ALL " + acl("pg_namespace", "nspacl", "s", "oid", "'schema ' || n.nspname", "acldefault('n', s.nspowner) || makeaclitem(0, s.nspowner, 'USAGE', false)") +
		" ORDER BY 1"
	var err error
	d.CatalogACLs, err = collectStrings(ctx, conn, q)
	return err
}

func readLanguages(ctx context.Context, conn Querier, d *Database, _ pgver.V) error {
	var err error
	d.Languages, err = appendRows(ctx, conn, d.Languages, pgx.RowToStructByName[Language],
		`SELECT l.lanname::text AS name, l.lanpltrusted AS trusted, `+extensionOf("pg_language", "l.oid")+` AS extension,
		coalesce(f.n, 0) AS functions
		FROM pg_language l LEFT JOIN (SELECT p.prolang, count(*)::int AS n FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE `+userSchemaFilter+` AND `+notExtensionMember("pg_proc", "p.oid")+` GROUP BY 1) f ON f.prolang = l.oid
		WHERE l.lanname NOT IN ('internal', 'c', 'sql') ORDER BY 1`)
	return err
}

// ReadDumpedRelations counts the relations of the database conn is connected to that pg_dump locks
// in one transaction, into a Database holding only those Objects counts (tables, sequences,
// materialized_views, foreign_tables): one scan of pg_class, where ReadDatabase reads the whole
// catalog. Extension members count too, so that each count is at least ReadDatabase's: a dump that
// fits by them fits by the full read's.
func ReadDumpedRelations(ctx context.Context, conn Querier, name string) (*Database, error) {
	d := &Database{Name: name, Objects: map[string]int{}}
	var k string
	var n int
	err := forEachRow(ctx, conn, `SELECT `+relationKind+` AS kind, count(*)::int
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'm', 'S', 'f') AND `+userSchemaFilter+` GROUP BY 1`, []any{&k, &n}, func() { d.Objects[k] += n })
	if err != nil {
		return nil, fmt.Errorf("counting the relations of %s: %w", name, err)
	}
	return d, nil
}

// ReadLargestCopySize returns the largest Table.CopySize of the plain tables of the database conn
// is connected to (a server of version v), as ReadDatabase would size them, extension members and
// tables of any table filter included (0: none): one scan of pg_class, for a caller that needs to
// know only whether any table is that large before the whole catalog is read.
func ReadLargestCopySize(ctx context.Context, conn Querier, v pgver.V) (int64, error) {
	var n int64
	err := conn.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(max(greatest(p.pages * 8192,
			(p.pages + p.toast) * current_setting('block_size')::bigint)), 0)::bigint
		FROM (SELECT %s AS pages, coalesce((SELECT %s FROM pg_class t WHERE t.oid = c.reltoastrelid), 0) AS toast
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND %s) p`,
		relationPages("c"), toastPages(v), userSchemaFilter)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("sizing the tables: %w", err)
	}
	return n, nil
}
