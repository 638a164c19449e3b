package pgdump

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseList(t *testing.T) {
	out := `;
; Archive created at 2026-11-25 12:28:31 UTC
;     dbname: app
;
3372; 1262 16384 DATABASE - app postgres
3373; 0 0 DATABASE PROPERTIES - app postgres
215; 1259 16392 TABLE public c postgres
3213; 2606 16396 CONSTRAINT public c c_pkey postgres
3211; 1259 16410 INDEX public c_pid_idx postgres
3218; 0 0 INDEX ATTACH public c1_pid_idx postgres
3220; 2606 16397 FK CONSTRAINT public c c_pid_fkey postgres
3366; 0 16412 MATERIALIZED VIEW DATA public mv postgres
3374; 0 0 ACL - DATABASE app postgres
`
	entries, err := ParseList([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		id        int
		tbl, oid  uint32
		desc, rst string
	}{
		{3372, 1262, 16384, "DATABASE", "- app postgres"},
		{3373, 0, 0, "DATABASE PROPERTIES", "- app postgres"},
		{215, 1259, 16392, "TABLE", "public c postgres"},
		{3213, 2606, 16396, "CONSTRAINT", "public c c_pkey postgres"},
		{3211, 1259, 16410, "INDEX", "public c_pid_idx postgres"},
		{3218, 0, 0, "INDEX ATTACH", "public c1_pid_idx postgres"},
		{3220, 2606, 16397, "FK CONSTRAINT", "public c c_pid_fkey postgres"},
		{3366, 0, 16412, "MATERIALIZED VIEW DATA", "public mv postgres"},
		{3374, 0, 0, "ACL", "- DATABASE app postgres"},
	}
	if len(entries) != len(want) {
		t.Fatalf("got %d entries, want %d", len(entries), len(want))
	}
	for i, w := range want {
		e := entries[i]
		if e.DumpID != w.id || e.TableOID != w.tbl || e.OID != w.oid || e.Desc != w.desc || e.Rest != w.rst {
			t.Errorf("entry %d = %+v, want %+v", i, e, w)
		}
		if !strings.HasPrefix(e.Line, strings.TrimSpace(strings.Split(out, "\n")[i+4][:4])) {
			t.Errorf("entry %d keeps line %q", i, e.Line)
		}
	}
	if _, err := ParseList([]byte("garbage line\n")); err == nil {
		t.Error("ParseList accepted a line without a dump id")
	}
}

func TestSplitScript(t *testing.T) {
	script := `--
-- PostgreSQL database dump
--
SET statement_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

SET default_tablespace = '';

--
-- TOC entry 3213 (class 2606 OID 16396)
-- Dependencies: 215 216
-- Name: c c_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.c
    ADD CONSTRAINT c_pkey PRIMARY KEY (id, ts);


--
-- TOC entry 3211 (class 1259 OID 16410)
-- Name: c_pid_idx; Type: INDEX; Schema: public; Owner: postgres
--

CREATE INDEX c_pid_idx ON ONLY public.c USING btree (pid);
`
	pre, chunks := SplitScript([]byte(script))
	if !strings.Contains(pre, "SET statement_timeout = 0;") || strings.Contains(pre, "TOC entry") {
		t.Errorf("preamble = %q", pre)
	}
	if len(chunks) != 2 || chunks[0].DumpID != 3213 || chunks[1].DumpID != 3211 {
		t.Fatalf("chunks = %+v", chunks)
	}
	if fmt.Sprint(chunks[0].Deps) != "[215 216]" || chunks[1].Deps != nil {
		t.Errorf("deps = %v, %v", chunks[0].Deps, chunks[1].Deps)
	}
	if !strings.Contains(chunks[0].SQL, "ADD CONSTRAINT c_pkey") || strings.Contains(chunks[0].SQL, "CREATE INDEX") {
		t.Errorf("chunk 0 = %q", chunks[0].SQL)
	}
	if !strings.Contains(chunks[1].SQL, "CREATE INDEX c_pid_idx") {
		t.Errorf("chunk 1 = %q", chunks[1].SQL)
	}
}

func TestConnEnvKeepsPasswordOffTheCommandLine(t *testing.T) {
	t.Setenv("PGHOST", "elsewhere")
	env := Conn{Host: "db", Port: 5433, User: "u", Password: "s3cret", DBName: "app", SSLMode: "require"}.Env()
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	for k, v := range map[string]string{"PGHOST": "db", "PGPORT": "5433", "PGUSER": "u", "PGPASSWORD": "s3cret", "PGDATABASE": "app", "PGSSLMODE": "require"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestChoose(t *testing.T) {
	tools := func(majors ...int) []Tools {
		var out []Tools
		for _, m := range majors {
			out = append(out, Tools{Major: m, Version: majorString(m)})
		}
		return out
	}
	for _, tc := range []struct {
		name               string
		found              []Tools
		minMajor, maxMajor int
		want               int // 0: none
	}{
		{"none", nil, 1500, 1700, 0},
		{"newest within source..target", tools(1800, 1500, 1600, 1700), 1300, 1600, 1600},
		{"no upper bound: newest", tools(1500, 1800, 1700), 1300, 0, 1800},
		{"only newer than the target: the oldest of those", tools(1800, 1700), 1500, 1600, 1700},
		{"exactly the target's major", tools(1800, 1500), 1500, 1500, 1500},
		{"all older than the source: the newest, for the error", tools(1100, 1300), 1500, 1700, 1300},
		{"first of equal majors wins (PATH before /usr/lib)", []Tools{{Major: 1500, PgDump: "a"}, {Major: 1500, PgDump: "b"}}, 1500, 1500, 1500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := choose(tc.found, tc.minMajor, tc.maxMajor)
			if tc.want == 0 {
				if got != nil {
					t.Fatalf("choose = %+v, want none", got)
				}
				return
			}
			if got == nil || got.Major != tc.want {
				t.Fatalf("choose = %+v, want major %d", got, tc.want)
			}
			if tc.name == "first of equal majors wins (PATH before /usr/lib)" && got.PgDump != "a" {
				t.Fatalf("choose took %q, want the first candidate", got.PgDump)
			}
		})
	}
}

func TestForServer(t *testing.T) {
	pre := "SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET idle_in_transaction_session_timeout = 0;\nSET transaction_timeout = 0;\nSET client_encoding = 'UTF8';\n"
	want16 := "SET statement_timeout = 0;\nSET lock_timeout = 0;\nSET idle_in_transaction_session_timeout = 0;\nSET client_encoding = 'UTF8';\n"
	if got := ForServer(pre, 160004); got != want16 {
		t.Errorf("ForServer(16) = %q, want %q", got, want16)
	}
	if got := ForServer(pre, 170002); got != pre {
		t.Errorf("ForServer(17) changed the preamble: %q", got)
	}
	old := "SET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n"
	if got := ForServer(old, 150000); got != old {
		t.Errorf("ForServer changed a preamble without transaction_timeout: %q", got)
	}
}
