package pgdump

import (
	"errors"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/internal/pgver"
)

const statsScript = `--
-- PostgreSQL database dump
--

\restrict abc

SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- TOC entry 3305 (class 0 OID 0)
-- Dependencies: 225 3298
-- Statistics for Name: empty; Type: STATISTICS DATA; Schema: public; Owner: -
--

SELECT * FROM pg_catalog.pg_restore_relation_stats(
	'version', '170010'::integer,
	'schemaname', 'public',
	'relname', 'empty',
	'relpages', '0'::integer,
	'reltuples', '-1'::real,
	'relallvisible', '0'::integer
);


--
-- TOC entry 3309 (class 0 OID 0)
-- Dependencies: 217 3298
-- Statistics for Name: it's; Type: STATISTICS DATA; Schema: My Schema; Owner: -
--

SELECT * FROM pg_catalog.pg_restore_relation_stats(
	'version', '170010'::integer,
	'schemaname', 'My Schema',
	'relname', 'it''s',
	'relpages', '129'::integer,
	'reltuples', '20000'::real,
	'relallvisible', '0'::integer
);
SELECT * FROM pg_catalog.pg_restore_attribute_stats(
	'version', '170010'::integer,
	'schemaname', 'My Schema',
	'relname', 'it''s',
	'attname', 'k',
	'inherited', 'f'::boolean,
	'null_frac', '0'::real,
	'most_common_vals', '{"''schemaname'', ''x''"}'::text
);

\unrestrict abc
`

func TestScanChunksStatistics(t *testing.T) {
	var got []Chunk
	if err := ScanChunks(strings.NewReader(statsScript), func(c Chunk) error { got = append(got, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].DumpID != 3305 || got[1].DumpID != 3309 {
		t.Fatalf("chunks %+v", got)
	}
	if d := got[1].Deps; len(d) != 2 || d[0] != 217 || d[1] != 3298 {
		t.Errorf("deps %v", d)
	}
	if strings.Contains(got[1].SQL, `\unrestrict`) || strings.Contains(got[0].SQL, "set_config") {
		t.Errorf("meta-command or preamble in a chunk:\n%s", got[1].SQL)
	}
	tests := []struct {
		chunk        Chunk
		schema, name string
		columns      bool
		reltuples    float64
	}{
		{got[0], "public", "empty", false, -1},
		{got[1], "My Schema", "it's", true, 20000},
	}
	for _, tc := range tests {
		s, n, ok := StatisticsRelation(tc.chunk.SQL)
		if !ok || s != tc.schema || n != tc.name {
			t.Errorf("StatisticsRelation = %q, %q, %v; want %q, %q", s, n, ok, tc.schema, tc.name)
		}
		cols, rt := StatisticsHasColumns(tc.chunk.SQL)
		if cols != tc.columns || rt != tc.reltuples {
			t.Errorf("%s: StatisticsHasColumns = %v, %v; want %v, %v", tc.name, cols, rt, tc.columns, tc.reltuples)
		}
	}
	if _, _, ok := StatisticsRelation("-- TOC entry 1 (class 0 OID 0)\n--\nSELECT 1;\n"); ok {
		t.Error("StatisticsRelation found a relation in a chunk without one")
	}
	stop := errors.New("stop")
	n := 0
	if err := ScanChunks(strings.NewReader(statsScript), func(Chunk) error { n++; return stop }); err != stop || n != 1 {
		t.Errorf("ScanChunks went on after fn failed: %v, %d chunks", err, n)
	}
}

func TestDumpsStatistics(t *testing.T) {
	for v, want := range map[pgver.V]bool{pgver.Of(17): false, pgver.Of(18): true, pgver.Of(19): true, pgver.Of(9, 6): false} {
		if DumpsStatistics(v) != want {
			t.Errorf("DumpsStatistics(%v) = %v", v, !want)
		}
	}
}

func TestStatisticsCalls(t *testing.T) {
	var chunks []Chunk
	ScanChunks(strings.NewReader(statsScript), func(c Chunk) error { chunks = append(chunks, c); return nil })
	// The first chunk ends with the "--" line that starts the next one's header.
	if calls, ok := StatisticsCalls(chunks[0].SQL); !ok || len(calls) != 1 {
		t.Fatalf("StatisticsCalls of %q = %d calls, %v", chunks[0].SQL, len(calls), ok)
	}
	calls, ok := StatisticsCalls(chunks[1].SQL)
	if !ok || len(calls) != 2 {
		t.Fatalf("StatisticsCalls = %d calls, %v", len(calls), ok)
	}
	if !strings.HasPrefix(calls[0], "pg_catalog.pg_restore_relation_stats(\n\t'version'") || !strings.HasSuffix(calls[0], "'0'::integer\n)") {
		t.Errorf("first call %q", calls[0])
	}
	if !strings.HasPrefix(calls[1], "pg_catalog.pg_restore_attribute_stats(") || !strings.Contains(calls[1], `'{"''schemaname'', ''x''"}'::text`) {
		t.Errorf("second call %q", calls[1])
	}
	for _, bad := range []string{
		"--\n\nSELECT 1;\n",
		"--\n\nSELECT * FROM pg_catalog.pg_restore_relation_stats('a', 'b;c'\n",
		"--\n\nSELECT * FROM pg_catalog.pg_restore_relation_stats('a');\nSET x = 1;\n",
		"--\n\n",
	} {
		if calls, ok := StatisticsCalls(bad); ok {
			t.Errorf("StatisticsCalls(%q) = %q, true", bad, calls)
		}
	}
}

func TestScanChunksAt(t *testing.T) {
	var want []Chunk
	ScanChunks(strings.NewReader(statsScript), func(c Chunk) error { want = append(want, c); return nil })
	r := strings.NewReader(statsScript)
	var at [][2]int64
	if err := ScanChunksAt(r, func(c Chunk, off, n int64) error { at = append(at, [2]int64{off, n}); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(at) != len(want) {
		t.Fatalf("%d chunks with offsets, %d without", len(at), len(want))
	}
	for k, a := range at {
		sql, ok, err := StatisticsChunkAt(r, a[0], a[1])
		if err != nil || !ok || sql != want[k].SQL {
			t.Errorf("chunk %d at %v read again: %q, %v, %v; want %q", k, a, sql, ok, err, want[k].SQL)
		}
	}
	if last := at[len(at)-1]; last[0]+last[1] != int64(len(statsScript)) {
		t.Errorf("the last chunk ends at %d of %d bytes", last[0]+last[1], len(statsScript))
	}
	if _, ok, err := StatisticsChunkAt(r, 0, at[0][0]); ok || err != nil {
		t.Errorf("the preamble read as a chunk: %v, %v", ok, err)
	}
}
