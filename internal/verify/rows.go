package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
)

// maxRowsShown bounds the differing rows a difference names.
const maxRowsShown = 20

// differingRows compares a table's rows by primary key. Each side hashes every row into one of
// 1024 buckets by its key and sums the row hashes per bucket; only the rows of buckets whose sums
// differ are then read, as (key, row hash), and compared. It returns the first maxRowsShown
// differing rows in key order and how many differ.
func differingRows(ctx context.Context, t catalog.Table, extended bool, openSrc, openTgt Opener) ([]string, int, error) {
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
