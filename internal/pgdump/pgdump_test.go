package pgdump

import (
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
