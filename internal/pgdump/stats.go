package pgdump

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"github.com/pgferry/pgferry/internal/pgver"
)

// DumpsStatistics reports whether pg_dump of this release dumps planner statistics
// (--statistics-only, STATISTICS DATA entries calling pg_restore_relation_stats and
// pg_restore_attribute_stats): 18 and later.
func DumpsStatistics(release pgver.V) bool { return release.AtLeast(18) }

// StatisticsArgs are pg_dump's arguments for an archive of the statistics alone of the database
// the environment names, taken in the exported snapshot, written to file as a plain script whose
// entries start with their TOC comment (--verbose), as SplitScript and ScanChunks read it.
//
// pg_dump 18 dumps a table's relation statistics (relpages, reltuples, relallvisible) and those
// of its columns (pg_stats: null_frac, avg_width, n_distinct, most common values, histogram,
// correlation, element and range statistics) as one STATISTICS DATA entry, and the same for each
// index and materialized view; not the data of extended statistics objects (CREATE STATISTICS),
// which only ANALYZE gathers again.
func StatisticsArgs(snapshot, file string) []string {
	return []string{"--statistics-only", "--verbose", "--no-tablespaces", "--snapshot=" + snapshot, "--file=" + file}
}

// ScanChunks reads a verbose pg_dump or pg_restore script from r and calls fn with each TOC
// entry's chunk in turn (the preamble is skipped), holding one chunk in memory at a time. Lines
// starting with a backslash (psql's \restrict) are dropped.
func ScanChunks(r io.Reader, fn func(Chunk) error) error {
	return ScanChunksAt(r, func(c Chunk, _, _ int64) error { return fn(c) })
}

// ScanChunksAt is ScanChunks, also telling where each chunk is in r: its first byte's offset and
// its length in bytes, dropped lines included; ScanChunks of that section of r reads the chunk
// again (StatisticsChunkAt).
func ScanChunksAt(r io.Reader, fn func(c Chunk, off, n int64) error) error {
	br := bufio.NewReaderSize(r, 1<<16)
	var cur *Chunk
	var b strings.Builder
	var pos, start int64
	flush := func() error {
		if cur == nil {
			return nil
		}
		cur.SQL = b.String()
		header := cur.SQL[:HeaderLen(cur.SQL)]
		if m := depsLine.FindStringSubmatch(header); m != nil {
			for _, f := range strings.Fields(m[1]) {
				if n, err := strconv.Atoi(f); err == nil {
					cur.Deps = append(cur.Deps, n)
				}
			}
		}
		c := *cur
		cur = nil
		b.Reset()
		return fn(c, start, pos-start)
	}
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if m := tocComment.FindStringSubmatch(strings.TrimRight(line, "\n")); m != nil {
				if ferr := flush(); ferr != nil {
					return ferr
				}
				id, _ := strconv.Atoi(m[1])
				cur = &Chunk{DumpID: id}
				start = pos
			}
			if cur != nil && !strings.HasPrefix(line, `\`) {
				b.WriteString(line)
			}
			pos += int64(len(line))
		}
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return err
		}
	}
}

// StatisticsChunkAt reads the chunk ScanChunksAt found at off (n bytes) of r again: its SQL, or
// false when that section holds no chunk.
func StatisticsChunkAt(r io.ReaderAt, off, n int64) (string, bool, error) {
	var sql string
	found := false
	err := ScanChunks(io.NewSectionReader(r, off, n), func(c Chunk) error {
		if !found {
			sql, found = c.SQL, true
		}
		return nil
	})
	return sql, found, err
}

// StatisticsRelation returns the relation a STATISTICS DATA chunk restores the statistics of:
// the 'schemaname' and 'relname' arguments of its first pg_restore_relation_stats or
// pg_restore_attribute_stats call. ok is false when the chunk has none.
func StatisticsRelation(sql string) (schema, name string, ok bool) {
	schema, ok1 := namedLiteral(sql, "'schemaname', ")
	name, ok2 := namedLiteral(sql, "'relname', ")
	return schema, name, ok1 && ok2
}

// namedLiteral returns the string literal following the first occurrence of key in sql, outside
// the chunk's comment header.
func namedLiteral(sql, key string) (string, bool) {
	i := strings.Index(sql[HeaderLen(sql):], key)
	if i < 0 {
		return "", false
	}
	rest := sql[HeaderLen(sql)+i+len(key):]
	lit, ok := strings.CutPrefix(rest, "'")
	if !ok {
		return "", false
	}
	var b strings.Builder
	for k := 0; k < len(lit); k++ {
		if lit[k] != '\'' {
			b.WriteByte(lit[k])
			continue
		}
		if k+1 < len(lit) && lit[k+1] == '\'' {
			b.WriteByte('\'')
			k++
			continue
		}
		return b.String(), true
	}
	return "", false
}

// StatisticsHasColumns reports whether a STATISTICS DATA chunk restores any column's statistics
// (pg_restore_attribute_stats), and returns the reltuples it restores (-1 when never counted, or
// when the chunk does not say).
func StatisticsHasColumns(sql string) (columns bool, reltuples float64) {
	reltuples = -1
	body := sql[HeaderLen(sql):]
	if lit, ok := namedLiteral(sql, "'reltuples', "); ok {
		if f, err := strconv.ParseFloat(lit, 64); err == nil {
			reltuples = f
		}
	}
	return strings.Contains(body, "pg_catalog.pg_restore_attribute_stats("), reltuples
}

// StatisticsCalls splits a STATISTICS DATA chunk into its restore calls: pg_dump writes each as a
// statement `SELECT * FROM pg_catalog.pg_restore_..._stats(...);`, and the calls, taken out of
// their statements, can go together into one SELECT (one statement instead of one per column:
// most of the cost of a restore is the statement's). ok is false when a statement of the chunk
// is not such a call.
func StatisticsCalls(sql string) (calls []string, ok bool) {
	const prefix = "SELECT * FROM pg_catalog.pg_restore_"
	body := sql[HeaderLen(sql):]
	start := 0
	inQuote := false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '\'':
			inQuote = !inQuote // '' inside a literal toggles twice
		case c == ';' && !inQuote:
			stmt := withoutComments(body[start:i])
			start = i + 1
			call, found := strings.CutPrefix(stmt, prefix)
			if !found || !strings.HasSuffix(call, ")") {
				return nil, false
			}
			calls = append(calls, "pg_catalog.pg_restore_"+call)
		}
	}
	if inQuote || withoutComments(body[start:]) != "" {
		return nil, false
	}
	return calls, len(calls) > 0
}

// withoutComments is s without the comment lines and white space it starts with: what separates
// two statements of a chunk, and the next chunk's "--" line that ends one.
func withoutComments(s string) string {
	for {
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "--") {
			return s
		}
		_, rest, ok := strings.Cut(s, "\n")
		if !ok {
			return ""
		}
		s = rest
	}
}
