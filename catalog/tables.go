package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
)

// Table is a table that holds rows: a plain table, a partition, or a partitioned parent
// (which holds none itself).
//
// Its fields are ordered so that it holds little padding (a catalog holds one per table): the
// flags together after the OID.
type Table struct {
	OID         uint32
	Unlogged    bool
	IsPartition bool
	// HasInheritChildren is true when other tables inherit from this one (not partitions).
	HasInheritChildren bool
	HasPrimaryKey      bool
	HasOIDs            bool
	// HasExtendedStats is true when CREATE STATISTICS objects are defined on the table (10+).
	HasExtendedStats bool
	Schema           string
	Name             string
	Owner            string
	// Kind is 'r' (ordinary, including partitions) or 'p' (partitioned parent).
	Kind string
	// Parent is the partitioned parent's qualified name for partitions.
	Parent      string
	RowEstimate int64 // reltuples; -1 when never analyzed
	Pages       int64 // pages of the heap alone (parts of a split copy are page ranges)
	SizeBytes   int64 // pages of heap + toast, times block size (an estimate)
	Columns     []Column
	// Triggers counts the table's user triggers (not internal ones).
	Triggers int
}

// relationPages is the number of pages of the relation aliased alias: relpages, as VACUUM,
// ANALYZE or CREATE INDEX last counted them, or the size of its files when it was never counted
// (a bulk-loaded table autovacuum has not reached yet would otherwise look empty) — except for
// a table the cumulative statistics show at most 50 rows were ever inserted into, which
// autovacuum does not analyze: one page. Asking the size of the file opens the relation; at
// 100,000 small tables never vacuumed, that was most of the catalog read's server time.
func relationPages(alias string) string {
	return fmt.Sprintf(`CASE WHEN %[1]s.relpages > 0 OR %[1]s.relkind = 'p' THEN %[1]s.relpages::bigint
		WHEN pg_stat_get_tuples_inserted(%[1]s.oid) BETWEEN 1 AND 50 AND pg_stat_get_live_tuples(%[1]s.oid) <= 50 THEN 1
		ELSE pg_relation_size(%[1]s.oid) / current_setting('block_size')::bigint END`, alias)
}

// toastPages is the number of pages of the TOAST table t of table c: relpages, trusting 0 once
// vacuum counted it (reltuples 0, not -1: from 14), 0 when the cumulative statistics show rows
// inserted into c (so its inserts were reported) and none ever into t, else the size of its file
// (which opens the relation: see relationPages).
func toastPages(v pgver.V) string {
	vacuumed := "false"
	if v.AtLeast(14) {
		vacuumed = "t.reltuples >= 0"
	}
	return fmt.Sprintf(`CASE WHEN t.relpages > 0 OR %s THEN t.relpages::bigint
		WHEN pg_stat_get_tuples_inserted(t.oid) = 0 AND pg_stat_get_live_tuples(t.oid) = 0 AND pg_stat_get_tuples_inserted(c.oid) > 0 THEN 0
		ELSE pg_relation_size(t.oid) / current_setting('block_size')::bigint END`, vacuumed)
}

// Qualified is "schema"."name", quoted.
func (t *Table) Qualified() string { return QuoteQualified(t.Schema, t.Name) }

// Key is schema.name, unquoted, for maps and patterns.
func (t *Table) Key() string { return t.Schema + "." + t.Name }

// CopySize is the size of a table's data as a copy moves it: heap and TOAST together, or the
// heap's pages when the estimate of both is smaller. split_tables_larger_than compares it.
func (t *Table) CopySize() int64 { return max(t.Pages*8192, t.SizeBytes) }

// Column is one column of a table.
type Column struct {
	Name      string
	Type      string // format_type
	TypeOID   uint32
	Generated bool
	// Builtin is true when the type (and an array's element type) lives in pg_catalog and is safe
	// for binary COPY across versions.
	Builtin   bool
	Collation string // schema.name when not default
}

// builtinTypeSQL decides whether a column type is safe for binary COPY between servers: a base or
// range type of pg_catalog with binary send/receive functions, or an array of one. reg* types are
// excluded: their binary form is an OID, which differs between servers. So are tsvector and tsquery:
// their binary receive functions read unaligned data, which crashes the receiving server on
// strict-alignment machines (ARM64; pgcopydb #894, #994).
const builtinTypeSQL = `(
	(SELECT tn.nspname = 'pg_catalog' AND t.typtype IN ('b', 'r') AND t.typsend <> 0 AND t.typreceive <> 0 AND t.typname !~ '^_?reg'
		AND t.typname NOT IN ('tsvector', '_tsvector', 'tsquery', '_tsquery')
		FROM pg_type t JOIN pg_namespace tn ON tn.oid = t.typnamespace WHERE t.oid = a.atttypid)
	AND coalesce((SELECT en.nspname = 'pg_catalog' AND et.typtype IN ('b', 'r') AND et.typsend <> 0 AND et.typreceive <> 0 AND et.typname !~ '^reg'
		AND et.typname NOT IN ('tsvector', 'tsquery')
		FROM pg_type t JOIN pg_type et ON et.oid = t.typelem JOIN pg_namespace en ON en.oid = et.typnamespace
		WHERE t.oid = a.atttypid AND t.typelem <> 0 AND t.typlen = -1), true)
)`

// readTableRows reads the tables, without their columns.
func readTableRows(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	relkinds := "'r'"
	partition, parent := "false", "''"
	if v.AtLeast(10) {
		relkinds = "'r', 'p'"
		partition = "c.relispartition"
		parent = `coalesce((SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid AND c.relispartition LIMIT 1), '')`
	}
	oids := "false"
	if v.Before(12) {
		oids = "c.relhasoids"
	}
	extStats := "false"
	if v.AtLeast(10) {
		extStats = "EXISTS (SELECT 1 FROM pg_statistic_ext x WHERE x.stxrelid = c.oid)"
	}
	// Columns come next, by table OID.
	q := fmt.Sprintf(`SELECT c.oid, n.nspname::text AS schema, c.relname::text AS name, pg_get_userbyid(c.relowner)::text AS owner,
		c.relkind::text AS kind, c.relpersistence = 'u' AS unlogged, %[1]s AS is_partition, %[2]s AS parent,
		EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid) AND c.relkind = 'r' AS has_inherit_children,
		c.reltuples::bigint AS row_estimate, %[7]s AS pages,
		(%[7]s + coalesce((SELECT %[8]s FROM pg_class t WHERE t.oid = c.reltoastrelid), 0)) * current_setting('block_size')::bigint AS size_bytes,
		EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS has_primary_key,
		%[3]s AS has_oids, %[9]s AS has_extended_stats,
		(SELECT count(*)::int FROM pg_trigger g WHERE g.tgrelid = c.oid AND %[10]s) AS triggers
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN (%[4]s) AND %[5]s AND %[6]s
		ORDER BY 2, 3`, partition, parent, oids, relkinds, userSchemaFilter, notExtensionMember("pg_class", "c.oid"),
		relationPages("c"), toastPages(v), extStats, userTrigger(v))
	var err error
	d.Tables, err = appendRows(ctx, conn, d.Tables, pgx.RowToStructByNameLax[Table], q)
	return err
}

// readTables reads the tables and their columns.
func readTables(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	first := len(d.Tables)
	if err := readTableRows(ctx, conn, d, v); err != nil {
		return err
	}
	byOID := map[uint32]int{}
	for k := first; k < len(d.Tables); k++ {
		byOID[d.Tables[k].OID] = k
	}
	return readColumns(ctx, conn, v, func(oid uint32, c Column) {
		if k, ok := byOID[oid]; ok {
			d.Tables[k].Columns = append(d.Tables[k].Columns, c)
		}
	})
}

// readColumns calls fn with each column of the tables, by table OID, in the order of their numbers.
func readColumns(ctx context.Context, conn Querier, v pgver.V, fn func(oid uint32, c Column)) error {
	relkinds := "'r'"
	if v.AtLeast(10) {
		relkinds = "'r', 'p'"
	}
	gen := "false"
	if v.AtLeast(12) {
		gen = "a.attgenerated <> ''"
	}
	q := fmt.Sprintf(`SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), a.atttypid, %s, %s,
		CASE WHEN a.attcollation <> 0 AND a.attcollation <> (SELECT t.typcollation FROM pg_type t WHERE t.oid = a.atttypid)
			THEN (SELECT cn.nspname || '.' || co.collname FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation)
			ELSE '' END
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN (%s) AND %s
		ORDER BY a.attrelid, a.attnum`, gen, builtinTypeSQL, relkinds, userSchemaFilter)
	var oid uint32
	var c Column
	var builtin *bool
	return forEachRow(ctx, conn, q, []any{&oid, &c.Name, &c.Type, &c.TypeOID, &c.Generated, &builtin, &c.Collation}, func() {
		c.Builtin = builtin != nil && *builtin
		fn(oid, c)
	})
}
