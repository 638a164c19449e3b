package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
)

// Querier is what the catalog reads need from a connection.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// QuoteQualified quotes a schema-qualified name.
func QuoteQualified(schema, name string) string {
	return pgx.Identifier{schema, name}.Sanitize()
}

func queryRowTolerant(ctx context.Context, conn Querier, sql string, dest ...any) error {
	return conn.QueryRow(ctx, sql).Scan(dest...)
}

func collectStrings(ctx context.Context, conn Querier, sql string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// describeRows runs a query whose rows are (key, text) and groups the texts by key.
func describeRows(ctx context.Context, conn Querier, q string) (map[string][]string, error) {
	out := map[string][]string{}
	var k, v string
	err := forEachRow(ctx, conn, q, []any{&k, &v}, func() { out[k] = append(out[k], v) })
	return out, err
}

// appendRows runs q and appends its rows, each made by fn, to dst: a nil dst stays nil when
// there are none.
func appendRows[T any](ctx context.Context, conn Querier, dst []T, fn pgx.RowToFunc[T], q string, args ...any) ([]T, error) {
	rows, err := conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.AppendRows(dst, rows, fn)
}

// forEachRow runs q, scans each row into scans and calls fn. Scans are reused from row to row:
// only for values fn copies (not slices).
func forEachRow(ctx context.Context, conn Querier, q string, scans []any, fn func()) error {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	_, err = pgx.ForEachRow(rows, scans, func() error { fn(); return nil })
	return err
}

const userSchemaFilter = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'`

// notExtensionMember filters objects that belong to an extension (they are created by CREATE EXTENSION).
func notExtensionMember(classid, oidExpr string) string {
	return fmt.Sprintf(`NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '%s'::regclass AND dep.objid = %s AND dep.deptype = 'e')`, classid, oidExpr)
}

// extensionOf is the name of the extension the object is a member of, or "".
func extensionOf(classid, oidExpr string) string {
	return fmt.Sprintf(`coalesce((SELECT x.extname::text FROM pg_depend dep JOIN pg_extension x ON x.oid = dep.refobjid
			WHERE dep.classid = '%s'::regclass AND dep.objid = %s AND dep.refclassid = 'pg_extension'::regclass AND dep.deptype = 'e' LIMIT 1), '')`, classid, oidExpr)
}

// notImplicit filters objects the server created as part of another object (pg_depend deptype
// 'i': range constructors, multirange types and their constructors, array types, row types of
// relations, a view's rule, the cast from a range to its multirange) or that belong to an
// extension ('e'). Only for catalogs whose user objects never carry an internal dependency
// (pg_proc, pg_type, pg_cast): a standalone composite type's relation and a constraint's index do.
func notImplicit(classid, oidExpr string) string {
	return fmt.Sprintf(`NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '%s'::regclass AND dep.objid = %s AND dep.deptype IN ('e', 'i'))`, classid, oidExpr)
}

// userProcFilter selects functions (alias p, schema alias n) the user created: not extension
// members and not implicit. The range constructors (and, on 14+, the multirange constructors) are
// recognized by their internal dependency and, should a catalog lack it, by what they are: internal
// functions returning a range or multirange type with the server's constructor source.
func userProcFilter(v pgver.V) string {
	types := "r.rngtypid"
	if v.AtLeast(14) {
		types += ", r.rngmultitypid"
	}
	return userSchemaFilter + ` AND ` + notImplicit("pg_proc", "p.oid") + `
		AND NOT (p.prolang = (SELECT l.oid FROM pg_language l WHERE l.lanname = 'internal') AND p.prosrc ~ '^(multi)?range_constructor[0-9]$'
			AND EXISTS (SELECT 1 FROM pg_range r WHERE p.prorettype IN (` + types + `)))`
}

// userTypeFilter selects types (alias t, schema alias n) the user created on their own: not
// extension members, not array types (an element type whose typarray is this one), not a
// relation's row type (a standalone composite type's is, CREATE TYPE ... AS), not a multirange
// type (14+, made with its range type), nor anything else the server marks internal.
func userTypeFilter(v pgver.V) string {
	f := userSchemaFilter + ` AND ` + notImplicit("pg_type", "t.oid") + `
		AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
		AND (t.typrelid = 0 OR (SELECT rc.relkind FROM pg_class rc WHERE rc.oid = t.typrelid) = 'c')`
	if v.AtLeast(14) {
		f += ` AND NOT EXISTS (SELECT 1 FROM pg_range r WHERE r.rngmultitypid = t.oid)`
	}
	return f
}

// userTrigger selects triggers (alias g) the user created: not the server's (foreign keys, deferred
// constraints), nor the clones a row trigger of a partitioned table gets on each partition, which
// servers before 15 mark internal and later ones do not (they have a tgparentid, 13+).
func userTrigger(v pgver.V) string {
	if v.AtLeast(13) {
		return "NOT g.tgisinternal AND g.tgparentid = 0"
	}
	return "NOT g.tgisinternal"
}

// Descriptions of catalog rows, always schema-qualified (pg_describe_object leaves out the schema
// of objects on the search_path).
const (
	relDescSQL = `CASE WHEN c.relkind IN ('r', 'p') THEN 'table ' WHEN c.relkind = 'v' THEN 'view ' WHEN c.relkind = 'm' THEN 'materialized view '
		WHEN c.relkind = 'S' THEN 'sequence ' WHEN c.relkind = 'f' THEN 'foreign table ' WHEN c.relkind = 'c' THEN 'type '
		WHEN c.relkind IN ('i', 'I') THEN 'index ' ELSE 'relation ' END || n.nspname || '.' || c.relname`
	funcDescSQL = `'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'`
)

// withoutJIT runs fn with the session's jit off, then restores it. The catalog queries of a large
// database (tens of thousands of tables) cost enough for the planner to JIT-compile them, which
// takes seconds and gains nothing on catalog rows. Servers without jit (before 11) are left as
// they are; a failure to restore is fn's error only when fn succeeded.
func withoutJIT(ctx context.Context, conn Querier, fn func() error) error {
	var was string
	err := conn.QueryRow(ctx, `SELECT coalesce((SELECT setting FROM pg_catalog.pg_settings WHERE name = 'jit'), '')`).Scan(&was)
	if err != nil || was == "" || was == "off" {
		if err != nil {
			return err
		}
		return fn()
	}
	var ignored string
	if err := conn.QueryRow(ctx, `SELECT pg_catalog.set_config('jit', 'off', false)`).Scan(&ignored); err != nil {
		return err
	}
	err = fn()
	if rerr := conn.QueryRow(context.WithoutCancel(ctx), `SELECT pg_catalog.set_config('jit', $1, false)`, was).Scan(&ignored); err == nil {
		err = rerr
	}
	return err
}
