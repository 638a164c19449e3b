// Package verify compares a migrated target database with its source: the inventory of
// objects by name and definition, sequence positions, and per table the row count and an
// order-independent checksum, naming the differing rows of a table with a primary key.
package verify

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgio"
	"github.com/pgferry/pgferry/internal/pgver"
	"github.com/pgferry/pgferry/plan"
)

// Difference is one way in which a target database differs from its source.
type Difference struct {
	Database string `json:"database"`
	Object   string `json:"object"`
	Kind     string `json:"kind"` // missing, extra, rows, checksum, sequence, count
	Source   string `json:"source"`
	Target   string `json:"target"`
	// Rows names, for a table with a primary key whose rows differ, the first differing rows by
	// key, e.g. "(id)=(7): differs", "(id)=(12): missing on the target"; RowsDiffering counts them all.
	Rows          []string `json:"rows,omitempty"`
	RowsDiffering int      `json:"rows_differing,omitempty"`
}

func (d Difference) String() string {
	switch d.Kind {
	case "missing":
		return fmt.Sprintf("%s: %s is missing on the target", d.Database, d.Object)
	case "extra":
		return fmt.Sprintf("%s: %s exists only on the target", d.Database, d.Object)
	}
	return fmt.Sprintf("%s: %s %s differs: source %s, target %s", d.Database, d.Object, d.Kind, d.Source, d.Target)
}

// TableResult is the comparison of one table.
type TableResult struct {
	Table          string `json:"table"`
	SourceRows     int64  `json:"source_rows"`
	TargetRows     int64  `json:"target_rows"`
	SourceChecksum string `json:"source_checksum,omitempty"`
	TargetChecksum string `json:"target_checksum,omitempty"`
}

// checksumSQL is an order-independent content hash of a table: the sum of the first 64 bits of
// each row's md5. One scan, no sort, comparable across servers given the same session settings.
// With both servers on 11 or later it uses the 64-bit hashtextextended, several times cheaper
// than md5.
func checksumSQL(q string, mode string, extended bool) string {
	if mode == "count" {
		return "SELECT count(*), '' FROM ONLY " + q
	}
	if extended {
		return "SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)::numeric), 0)::text FROM ONLY " + q + " AS t"
	}
	return "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text FROM ONLY " + q + " AS t"
}

// CompareDatabase compares the inventory and the data of one database. openSrc and openTgt open
// connections to the source and target database (openSrc may pin a snapshot). The source is compared as
// the table filters of opts select it (plan.FilterDatabase): what they leave out is not compared.
func CompareDatabase(ctx context.Context, db string, src *catalog.Database, srcVersion pgver.V, opts config.Options, mode string, jobs int,
	openSrc, openTgt func(context.Context) (*pgx.Conn, error)) ([]Difference, []TableResult, error) {
	tc, err := openTgt(ctx)
	if err != nil {
		return nil, nil, err
	}
	var tv pgver.V
	if err := tc.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&tv); err != nil {
		tc.Close(ctx)
		return nil, nil, err
	}
	tgt, err := catalog.ReadDatabase(ctx, tc, db, tv)
	tc.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, nil, err
	}
	src = plan.FilterDatabase(opts, src)
	diffs := Inventory(db, src, tgt)
	if mode == "none" {
		return diffs, nil, nil
	}
	var tables []catalog.Table
	onTarget := make(map[[2]string]bool, len(tgt.Tables)) // not tgt.Table: a scan per table is quadratic
	for _, t := range tgt.Tables {
		onTarget[[2]string{t.Schema, t.Name}] = true
	}
	for _, t := range src.Tables {
		if t.Kind == "r" && onTarget[[2]string{t.Schema, t.Name}] {
			tables = append(tables, t)
		}
	}
	results := make([]TableResult, len(tables))
	var mu sync.Mutex
	side := func(open func(context.Context) (*pgx.Conn, error), set func(i int, n int64, sum string)) error {
		return pgio.Parallel(ctx, max(1, jobs/2), len(tables), func() (*pgx.Conn, error) { return open(ctx) },
			func(ctx context.Context, c *pgx.Conn, i int) error {
				var n int64
				var sum string
				if err := c.QueryRow(ctx, checksumSQL(tables[i].Qualified(), mode, srcVersion.AtLeast(11) && tv.AtLeast(11))).Scan(&n, &sum); err != nil {
					return fmt.Errorf("checksumming %s: %w", tables[i].Key(), err)
				}
				mu.Lock()
				set(i, n, sum)
				mu.Unlock()
				return nil
			})
	}
	errc := make(chan error, 2)
	go func() {
		errc <- side(openSrc, func(i int, n int64, s string) { results[i].SourceRows, results[i].SourceChecksum = n, s })
	}()
	go func() {
		errc <- side(openTgt, func(i int, n int64, s string) { results[i].TargetRows, results[i].TargetChecksum = n, s })
	}()
	for i := 0; i < 2; i++ {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return nil, nil, err
	}
	if mode == "checksum" && src.LargeObjects > 0 && tgt.LargeObjects == src.LargeObjects {
		var sd, td string
		errc := make(chan error, 2)
		digest := func(open func(context.Context) (*pgx.Conn, error), out *string) {
			c, err := open(ctx)
			if err != nil {
				errc <- err
				return
			}
			defer c.Close(context.WithoutCancel(ctx))
			*out, err = largeObjectsDigest(ctx, c)
			errc <- err
		}
		go digest(openSrc, &sd)
		go digest(openTgt, &td)
		for i := 0; i < 2; i++ {
			if e := <-errc; e != nil && err == nil {
				err = e
			}
		}
		if err != nil {
			return nil, nil, err
		}
		if sd != td {
			diffs = append(diffs, Difference{Database: db, Object: "large objects", Kind: "checksum", Source: sd, Target: td})
		}
	}
	extended := srcVersion.AtLeast(11) && tv.AtLeast(11)
	for i, t := range tables {
		results[i].Table = t.Key()
		r := results[i]
		var d Difference
		switch {
		case r.SourceRows != r.TargetRows:
			d = Difference{Database: db, Object: "table " + t.Key(), Kind: "row count", Source: fmt.Sprint(r.SourceRows), Target: fmt.Sprint(r.TargetRows)}
		case r.SourceChecksum != r.TargetChecksum:
			d = Difference{Database: db, Object: "table " + t.Key(), Kind: "checksum", Source: r.SourceChecksum, Target: r.TargetChecksum}
		default:
			continue
		}
		if mode == "checksum" && t.HasPrimaryKey {
			// Say which rows: by primary key, narrowed down through hash buckets of the keys.
			rows, n, err := differingRows(ctx, t, extended, openSrc, openTgt)
			if err != nil {
				return nil, nil, fmt.Errorf("finding the differing rows of %s: %w", t.Key(), err)
			}
			d.Rows, d.RowsDiffering = rows, n
		}
		diffs = append(diffs, d)
	}
	return diffs, results, nil
}

// maxRowsShown bounds the differing rows a difference names.
const maxRowsShown = 20

// differingRows compares a table's rows by primary key. Each side hashes every row into one of
// 1024 buckets by its key and sums the row hashes per bucket; only the rows of buckets whose sums
// differ are then read, as (key, row hash), and compared. It returns the first maxRowsShown
// differing rows in key order and how many differ.
func differingRows(ctx context.Context, t catalog.Table, extended bool, openSrc, openTgt func(context.Context) (*pgx.Conn, error)) ([]string, int, error) {
	src, err := openSrc(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer src.Close(context.WithoutCancel(ctx))
	tgt, err := openTgt(ctx)
	if err != nil {
		return nil, 0, err
	}
	defer tgt.Close(context.WithoutCancel(ctx))
	var pk []string
	rows, err := src.Query(ctx, `SELECT a.attname::text FROM pg_catalog.pg_index i
		JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`, t.Qualified())
	if err != nil {
		return nil, 0, err
	}
	if pk, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, 0, err
	}
	if len(pk) == 0 {
		return nil, 0, nil
	}
	var keyCols []string
	for _, c := range pk {
		keyCols = append(keyCols, "t."+ident(c))
	}
	key := "ROW(" + strings.Join(keyCols, ", ") + ")::text"
	rowHash, bucket := "hashtextextended(t::text, 0)", "(hashtextextended("+key+", 0) & 1023)"
	if !extended {
		rowHash, bucket = "('x' || left(md5(t::text), 16))::bit(64)::bigint", "(('x' || left(md5("+key+"), 3))::bit(12)::int & 1023)"
	}
	from := " FROM ONLY " + t.Qualified() + " AS t"
	ss, ts, err := pairMaps(ctx, src, tgt, "SELECT "+bucket+"::text, count(*)::text || ' ' || sum("+rowHash+"::numeric)::text"+from+" GROUP BY 1")
	if err != nil {
		return nil, 0, err
	}
	var buckets []int
	for b := 0; b < 1024; b++ {
		if k := fmt.Sprint(b); ss[k] != ts[k] {
			buckets = append(buckets, b)
		}
	}
	if len(buckets) == 0 {
		return nil, 0, nil
	}
	sr, tr, err := pairMaps(ctx, src, tgt, "SELECT "+key+", "+rowHash+"::text"+from+" WHERE "+bucket+" = ANY ($1)", buckets)
	if err != nil {
		return nil, 0, err
	}
	label := "(" + strings.Join(pk, ", ") + ")="
	var keys []string
	what := map[string]string{}
	for k, h := range sr {
		switch th, ok := tr[k]; {
		case !ok:
			what[k] = "missing on the target"
		case th != h:
			what[k] = "differs"
		default:
			continue
		}
		keys = append(keys, k)
	}
	for k := range tr {
		if _, ok := sr[k]; !ok {
			what[k] = "only on the target"
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys[:min(len(keys), maxRowsShown)] {
		out = append(out, label+k+": "+what[k])
	}
	return out, len(keys), nil
}

// Inventory compares the objects of two databases by name, and sequence positions.
func Inventory(db string, src, tgt *catalog.Database) []Difference {
	var diffs []Difference
	cmpSets := func(kind string, a, b map[string]string) {
		for _, k := range slices.Sorted(maps.Keys(a)) {
			if _, ok := b[k]; !ok {
				diffs = append(diffs, Difference{Database: db, Object: kind + " " + k, Kind: "missing"})
			} else if a[k] != b[k] {
				diffs = append(diffs, Difference{Database: db, Object: kind + " " + k, Kind: "definition", Source: a[k], Target: b[k]})
			}
		}
		for _, k := range slices.Sorted(maps.Keys(b)) {
			if _, ok := a[k]; !ok {
				diffs = append(diffs, Difference{Database: db, Object: kind + " " + k, Kind: "extra"})
			}
		}
	}
	tables := func(d *catalog.Database) map[string]string {
		m := map[string]string{}
		for _, t := range d.Tables {
			var cols []string
			for _, c := range t.Columns {
				cols = append(cols, c.Name+" "+c.Type)
			}
			m[t.Key()] = strings.Join(cols, ", ")
		}
		return m
	}
	indexes := func(d *catalog.Database) map[string]string {
		m := map[string]string{}
		for _, i := range d.Indexes {
			m[i.Schema+"."+i.Name] = i.Def
		}
		return m
	}
	cons := func(d *catalog.Database) map[string]string {
		m := map[string]string{}
		for _, c := range d.Constraints {
			// Constraints the server derives from a parent's (a partition's copy, one per
			// referenced partition of a foreign key) carry names the server chooses, which
			// changed across majors (fkey1 in 15, fkey_1 in 18): their parent is compared.
			if !c.Inherited {
				m[c.Schema+"."+c.Table+"."+c.Name] = c.Def
			}
		}
		return m
	}
	seqs := func(d *catalog.Database) map[string]string {
		m := map[string]string{}
		for _, s := range d.Sequences {
			m[s.Schema+"."+s.Name] = fmt.Sprintf("last_value=%d is_called=%t", s.LastValue, s.IsCalled)
		}
		return m
	}
	cmpSets("table", tables(src), tables(tgt))
	cmpSets("index", indexes(src), indexes(tgt))
	cmpSets("constraint", cons(src), cons(tgt))
	cmpSets("sequence", seqs(src), seqs(tgt))
	if src.LargeObjects != tgt.LargeObjects {
		diffs = append(diffs, Difference{Database: db, Object: "large objects", Kind: "count", Source: fmt.Sprint(src.LargeObjects), Target: fmt.Sprint(tgt.LargeObjects)})
	}
	kinds := map[string]bool{}
	for k := range src.Objects {
		kinds[k] = true
	}
	for k := range tgt.Objects {
		kinds[k] = true
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		if src.Objects[k] != tgt.Objects[k] {
			diffs = append(diffs, Difference{Database: db, Object: strings.ReplaceAll(k, "_", " "), Kind: "count", Source: fmt.Sprint(src.Objects[k]), Target: fmt.Sprint(tgt.Objects[k])})
		}
	}
	srcExt, tgtExt := map[string]string{}, map[string]string{}
	for _, e := range src.Extensions {
		srcExt[e.Name] = e.Schema
	}
	for _, e := range tgt.Extensions {
		tgtExt[e.Name] = e.Schema
	}
	cmpSets("extension", srcExt, tgtExt)
	return diffs
}

// pairMaps runs a query of two text columns on both connections and returns each side's rows as
// a map from the first column to the second.
func pairMaps(ctx context.Context, src, tgt *pgx.Conn, query string, args ...any) (map[string]string, map[string]string, error) {
	var out [2]map[string]string
	for i, c := range []*pgx.Conn{src, tgt} {
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return nil, nil, err
		}
		out[i] = map[string]string{}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				return nil, nil, err
			}
			out[i][k] = v
		}
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	return out[0], out[1], nil
}

// largeObjectsDigest hashes every large object's OID and contents, in OID order. Owners are left out, as for tables: with roles = false
// the target login owns everything.
func largeObjectsDigest(ctx context.Context, c *pgx.Conn) (string, error) {
	rows, err := c.Query(ctx, `SELECT oid FROM pg_catalog.pg_largeobject_metadata ORDER BY oid`)
	if err != nil {
		return "", err
	}
	oids, err := pgx.CollectRows(rows, pgx.RowTo[uint32])
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, oid := range oids {
		fmt.Fprintf(h, "%d\n", oid)
		if err := pgio.ReadLargeObject(ctx, c, oid, func(_ int64, b []byte) error { h.Write(b); return nil }); err != nil {
			return "", err
		}
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%d objects, sha256 %x", len(oids), h.Sum(nil)[:8]), nil
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }
