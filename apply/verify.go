package apply

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/plan"
)

// Difference is one way in which a target database differs from its source.
type Difference struct {
	Database string `json:"database"`
	Object   string `json:"object"`
	Kind     string `json:"kind"` // missing, extra, rows, checksum, sequence, count
	Source   string `json:"source"`
	Target   string `json:"target"`
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
// connections to the source and target database (openSrc may pin a snapshot).
func CompareDatabase(ctx context.Context, db string, src *catalog.Database, srcVersion int, opts config.Options, mode string, jobs int,
	openSrc, openTgt func(context.Context) (*pgx.Conn, error)) ([]Difference, []TableResult, error) {
	tc, err := openTgt(ctx)
	if err != nil {
		return nil, nil, err
	}
	var tv int
	if err := tc.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&tv); err != nil {
		tc.Close(ctx)
		return nil, nil, err
	}
	tgt, err := catalog.ReadDatabase(ctx, tc, db, tv)
	tc.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, nil, err
	}
	diffs := Inventory(db, src, tgt)
	if mode == "none" {
		return diffs, nil, nil
	}
	var tables []catalog.Table
	for _, t := range src.Tables {
		if t.Kind == "r" && plan.TableSelected(opts, t.Key()) && tgt.Table(t.Schema, t.Name) != nil {
			tables = append(tables, t)
		}
	}
	results := make([]TableResult, len(tables))
	var mu sync.Mutex
	side := func(open func(context.Context) (*pgx.Conn, error), set func(i int, n int64, sum string)) error {
		return parallel(ctx, max(1, jobs/2), len(tables), func() (*pgx.Conn, error) { return open(ctx) },
			func(ctx context.Context, c *pgx.Conn, i int) error {
				var n int64
				var sum string
				if err := c.QueryRow(ctx, checksumSQL(tables[i].Qualified(), mode, srcVersion >= 110000 && tv >= 110000)).Scan(&n, &sum); err != nil {
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
			diffs = append(diffs, Difference{db, "large objects", "checksum", sd, td})
		}
	}
	for i, t := range tables {
		results[i].Table = t.Key()
		r := results[i]
		switch {
		case r.SourceRows != r.TargetRows:
			diffs = append(diffs, Difference{db, "table " + t.Key(), "row count", fmt.Sprint(r.SourceRows), fmt.Sprint(r.TargetRows)})
		case r.SourceChecksum != r.TargetChecksum:
			diffs = append(diffs, Difference{db, "table " + t.Key(), "checksum", r.SourceChecksum, r.TargetChecksum})
		}
	}
	return diffs, results, nil
}

// Inventory compares the objects of two databases by name, and sequence positions.
func Inventory(db string, src, tgt *catalog.Database) []Difference {
	var diffs []Difference
	cmpSets := func(kind string, a, b map[string]string) {
		for _, k := range sortedKeys(a) {
			if _, ok := b[k]; !ok {
				diffs = append(diffs, Difference{Database: db, Object: kind + " " + k, Kind: "missing"})
			} else if a[k] != b[k] {
				diffs = append(diffs, Difference{db, kind + " " + k, "definition", a[k], b[k]})
			}
		}
		for _, k := range sortedKeys(b) {
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
			m[c.Schema+"."+c.Table+"."+c.Name] = c.Def
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
		diffs = append(diffs, Difference{db, "large objects", "count", fmt.Sprint(src.LargeObjects), fmt.Sprint(tgt.LargeObjects)})
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
			diffs = append(diffs, Difference{db, strings.ReplaceAll(k, "_", " "), "count", fmt.Sprint(src.Objects[k]), fmt.Sprint(tgt.Objects[k])})
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

// verify is the apply action: compare this database within the snapshot.
func (d *dbRun) verify(ctx context.Context) error {
	mode := d.r.m.Options.Verify
	diffs, _, err := CompareDatabase(ctx, d.db, d.src, d.r.opt.Plan.Source.VersionNum, d.r.m.Options, mode, d.r.opt.Jobs,
		func(ctx context.Context) (*pgx.Conn, error) { return openSnapshotConn(ctx, d) },
		func(ctx context.Context) (*pgx.Conn, error) { return openTargetConn(ctx, d) })
	if err != nil {
		return err
	}
	if len(diffs) > 0 {
		var lines []string
		for i, df := range diffs {
			if i == 20 {
				lines = append(lines, fmt.Sprintf("... and %d more (run pgferry verify)", len(diffs)-20))
				break
			}
			lines = append(lines, df.String())
		}
		return fmt.Errorf("verification found %d difference(s):\n  %s", len(diffs), strings.Join(lines, "\n  "))
	}
	return nil
}

// largeObjectsDigest hashes every large object's OID and contents, in OID order, read in chunks so
// that no object has to fit in one value. Owners are left out, as for tables: with roles = false
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
		for off := int64(0); ; off += loChunk {
			var b []byte
			if err := c.QueryRow(ctx, "SELECT pg_catalog.lo_get($1, $2, $3)", oid, off, loChunk).Scan(&b); err != nil {
				return "", fmt.Errorf("reading large object %d: %w", oid, err)
			}
			h.Write(b)
			if len(b) < loChunk {
				break
			}
		}
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%d objects, sha256 %x", len(oids), h.Sum(nil)[:8]), nil
}
