package pgdump

import (
	"fmt"
	"github.com/pgferry/pgferry/internal/pgver"
	"os"
	"path/filepath"
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
	tools := func(majors ...pgver.V) []Tools {
		var out []Tools
		for _, m := range majors {
			out = append(out, Tools{Release: m, Version: m.MajorString()})
		}
		return out
	}
	for _, tc := range []struct {
		name               string
		found              []Tools
		minMajor, maxMajor pgver.V
		want               pgver.V // 0: none
	}{
		{"none", nil, 150000, 170000, 0},
		{"newest within source..target", tools(180000, 150000, 160000, 170000), 130000, 160000, 160000},
		{"no upper bound: newest", tools(150000, 180000, 170000), 130000, 0, 180000},
		{"only newer than the target: the oldest of those", tools(180000, 170000), 150000, 160000, 170000},
		{"exactly the target's major", tools(180000, 150000), 150000, 150000, 150000},
		{"all older than the source: the newest, for the error", tools(110000, 130000), 150000, 170000, 130000},
		{"first of equal majors wins (PATH before /usr/lib)", []Tools{{Release: 150000, PgDump: "a"}, {Release: 150000, PgDump: "b"}}, 150000, 150000, 150000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := choose(tc.found, tc.minMajor, tc.maxMajor)
			if tc.want == 0 {
				if got != nil {
					t.Fatalf("choose = %+v, want none", got)
				}
				return
			}
			if got == nil || got.Release != tc.want {
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

// fakeClient writes pg_dump and pg_restore into dir that print version v as PostgreSQL's do.
func fakeClient(t *testing.T, dir, v string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		script := fmt.Sprintf("#!/bin/sh\necho '%s (PostgreSQL) %s (Debian %s-1.pgdg)'\n", tool, v, v)
		if err := os.WriteFile(filepath.Join(dir, tool), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCandidates(t *testing.T) {
	root := t.TempDir()
	d := func(rel string) string { return filepath.Join(root, rel) }
	fakeClient(t, d("a"), "15.8")
	fakeClient(t, d("real/bin"), "16.4")
	fakeClient(t, d("clients/17/bin"), "17.6")
	fakeClient(t, d("clients/18/bin"), "18.1")
	for _, m := range []string{"9.6", "15", "17"} {
		fakeClient(t, d("debian/"+m+"/bin"), m+".1")
	}
	for _, dir := range []string{"empty", "link", "wrapper", "share"} {
		os.MkdirAll(d(dir), 0o755)
	}
	// link/pg_dump is a symlink to a real pg_dump; wrapper/pg_dump to Debian's pg_wrapper.
	os.Symlink(d("real/bin/pg_dump"), d("link/pg_dump"))
	os.WriteFile(d("share/pg_wrapper"), []byte("#!/bin/sh\n"), 0o755)
	os.Symlink(d("share/pg_wrapper"), d("wrapper/pg_dump"))
	debian := []string{d("debian/17/bin"), d("debian/15/bin"), d("debian/9.6/bin")}
	cases := []struct {
		name, path, binPath string
		want                []string
	}{
		{"nothing on PATH", d("empty"), "", debian},
		{"every PATH directory holding pg_dump, not only the first", d("a") + ":" + d("empty") + ":" + d("clients/18/bin"), "",
			append([]string{d("a"), d("clients/18/bin")}, debian...)},
		{"a symlink counts for its target's directory; pg_wrapper does not count", d("wrapper") + ":" + d("link"), "",
			append([]string{d("real/bin")}, debian...)},
		{"PGFERRY_PG_BIN_PATH after PATH, before Debian's", d("a"), d("clients/17/bin") + ":" + d("clients/18/bin"),
			append([]string{d("a"), d("clients/17/bin"), d("clients/18/bin")}, debian...)},
		{"each directory once; empty entries ignored", ":" + d("a") + "::" + d("a"), ":" + d("a") + "::" + d("debian/15/bin"),
			[]string{d("a"), d("debian/15/bin"), d("debian/17/bin"), d("debian/9.6/bin")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := candidates(tc.path, tc.binPath, d("debian"))
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("candidates =\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}

// TestFind checks which client Find picks for a source and target major among the clients found
// on PATH, in PGFERRY_PG_BIN_PATH and under the Debian root, and that options.pg_bin_dir, when set,
// is the only place looked at.
func TestFind(t *testing.T) {
	root := t.TempDir()
	d := func(rel string) string { return filepath.Join(root, rel) }
	fakeClient(t, d("path15"), "15.8")
	fakeClient(t, d("path16"), "16.4")
	fakeClient(t, d("clients/17/bin"), "17.6")
	fakeClient(t, d("clients/18/bin"), "18.1")
	fakeClient(t, d("debian/15/bin"), "15.14")
	fakeClient(t, d("debian/13/bin"), "13.22")
	os.MkdirAll(d("nothing"), 0o755)
	clients := d("clients/17/bin") + ":" + d("clients/18/bin")
	old := debianRoot
	debianRoot = d("debian")
	t.Cleanup(func() { debianRoot = old })

	cases := []struct {
		name              string
		binDir, path, env string
		src, tgt          pgver.V
		want              string // directory of the pg_dump picked
		wantErr           string
	}{
		{"13 → 17 takes 17 from PGFERRY_PG_BIN_PATH", "", d("path15"), clients, 130000, 170000, d("clients/17/bin"), ""},
		{"15 → 18 takes 18", "", d("path15"), clients, 150000, 180000, d("clients/18/bin"), ""},
		{"17 → 18 takes 18", "", d("path15"), clients, 170000, 180000, d("clients/18/bin"), ""},
		{"18 → 18 takes 18", "", "", clients, 180000, 180000, d("clients/18/bin"), ""},
		{"16 → 16 takes 16 from the second PATH directory", "", d("path15") + ":" + d("path16"), clients, 160000, 160000, d("path16"), ""},
		{"16 → 16 without a 16 client takes the oldest newer, 17", "", d("path15"), clients, 160000, 160000, d("clients/17/bin"), ""},
		{"13 → 15 takes 15 from PATH before Debian's", "", d("path15"), clients, 130000, 150000, d("path15"), ""},
		{"13 → 13 takes Debian's 13", "", d("path15"), "", 130000, 130000, d("debian/13/bin"), ""},
		{"options.pg_bin_dir is the only place looked at", d("debian/13/bin"), d("path15"), clients, 130000, 180000, d("debian/13/bin"), ""},
		{"options.pg_bin_dir older than the source", d("path15"), "", clients, 170000, 180000, d("path15"),
			"pg_dump 15.8 is older than the source server (major 17)"},
		{"18 source without an 18 client", "", d("path15"), d("clients/17/bin"), 180000, 180000, d("clients/17/bin"),
			"pg_dump 17.6 is older than the source server (major 18)"},
		{"options.pg_bin_dir without pg_dump", d("nothing"), d("path15"), clients, 150000, 150000, "",
			"pg_dump and pg_restore not found in " + d("nothing") + " (options.pg_bin_dir)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			t.Setenv(BinPathEnv, tc.env)
			got, err := Find(tc.binDir, tc.src, tc.tgt)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("Find: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Find error = %v, want %q", err, tc.wantErr)
			}
			gotDir := ""
			if got != nil {
				gotDir = filepath.Dir(got.PgDump)
				if filepath.Dir(got.PgRestore) != gotDir {
					t.Errorf("pg_restore %s is not pg_dump's sibling %s", got.PgRestore, got.PgDump)
				}
			}
			if gotDir != tc.want {
				t.Errorf("Find picked %q, want %q", gotDir, tc.want)
			}
		})
	}
	t.Run("nothing anywhere names every place", func(t *testing.T) {
		t.Setenv("PATH", d("nothing"))
		t.Setenv(BinPathEnv, "")
		debianRoot = d("nothing")
		_, err := Find("", 1500, 1500)
		if err == nil || !strings.Contains(err.Error(), "on PATH, in PGFERRY_PG_BIN_PATH or in "+d("nothing")+"/*/bin") {
			t.Errorf("Find error = %v, want it to name PATH, PGFERRY_PG_BIN_PATH and the Debian directories", err)
		}
	})
}

// createScript17 is what pg_restore 17 prints with --create --verbose --file=- for a database's
// own entries: psql meta-commands, and the session settings again after each \connect.
const createScript17 = `--
-- PostgreSQL database dump
--

\restrict abc

-- Dumped from database version 16.14
-- Dumped by pg_dump version 17.12

SET statement_timeout = 0;
SET transaction_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- TOC entry 3261 (class 1262 OID 16384)
-- Name: app; Type: DATABASE; Schema: -; Owner: postgres
--

CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';


ALTER DATABASE app OWNER TO postgres;

\unrestrict abc
\connect app
\restrict abc

SET statement_timeout = 0;
SET transaction_timeout = 0;
SELECT pg_catalog.set_config('search_path', '', false);

--
-- TOC entry 3262 (class 0 OID 0)
-- Dependencies: 3261
-- Name: DATABASE app; Type: COMMENT; Schema: -; Owner: postgres
--

COMMENT ON DATABASE app IS 'x;
SET transaction_timeout = 1;
\x y';


--
-- TOC entry 3263 (class 0 OID 0)
-- Dependencies: 3261
-- Name: DATABASE app; Type: ACL; Schema: -; Owner: postgres
--

GRANT CONNECT ON DATABASE app TO r;


-- Completed on 2026-12-05 02:47:50 UTC

\unrestrict abc
`

func TestCreateScript(t *testing.T) {
	for _, tc := range []struct {
		server     pgver.V
		wantTxTime bool
	}{{160014, false}, {170012, true}} {
		t.Run(fmt.Sprint(tc.server), func(t *testing.T) {
			preamble, chunks := CreateScript([]byte(createScript17), tc.server)
			if got := strings.Contains(preamble, "SET transaction_timeout"); got != tc.wantTxTime {
				t.Errorf("preamble sets transaction_timeout: %v, want %v\n%s", got, tc.wantTxTime, preamble)
			}
			if !strings.Contains(preamble, "SET statement_timeout = 0;") || strings.Contains(preamble, `\restrict`) {
				t.Errorf("preamble =\n%s", preamble)
			}
			if len(chunks) != 3 || chunks[0].DumpID != 3261 || chunks[1].DumpID != 3262 || chunks[2].DumpID != 3263 {
				t.Fatalf("chunks = %+v", chunks)
			}
			for _, c := range chunks {
				// The settings pg_restore repeats after \connect are gone; the comment's text, which
				// holds lines that look like them, is whole.
				if strings.Contains(c.SQL, "SET statement_timeout") || strings.Contains(c.SQL, `\restrict`) || strings.Contains(c.SQL, `\unrestrict`) {
					t.Errorf("chunk %d keeps pg_restore's session settings or meta-commands:\n%s", c.DumpID, c.SQL)
				}
			}
			if !strings.Contains(chunks[1].SQL, "COMMENT ON DATABASE app IS 'x;\nSET transaction_timeout = 1;\n\\x y';\n") {
				t.Errorf("comment chunk =\n%s", chunks[1].SQL)
			}
			create, rest, ok := SeparateCreateDatabase(chunks[0].SQL)
			if !ok || create != "CREATE DATABASE app WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C.UTF-8';" {
				t.Errorf("SeparateCreateDatabase = %q, %v", create, ok)
			}
			if strings.Contains(rest, "CREATE DATABASE") || !strings.Contains(rest, "ALTER DATABASE app OWNER TO postgres;") {
				t.Errorf("rest of the DATABASE chunk =\n%s", rest)
			}
			if _, _, ok := SeparateCreateDatabase(chunks[2].SQL); ok {
				t.Error("SeparateCreateDatabase found CREATE DATABASE in the ACL chunk")
			}
		})
	}
}

// TestConnEnvPasswordUnset: without a configured password the tools see PGPASSWORD and PGPASSFILE
// as pgferry's own connection does (libpq's order: PGPASSWORD, then the file), never another
// server's password.
func TestConnEnvPasswordUnset(t *testing.T) {
	for name, tc := range map[string]struct{ pw, file string }{
		"both":     {"from-env", "/tmp/pgpass"},
		"env only": {"from-env", ""},
		"file":     {"", "/tmp/pgpass"},
		"neither":  {"", ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Setenv("PGPASSWORD", tc.pw)
			t.Setenv("PGPASSFILE", tc.file)
			got := map[string]string{}
			for _, kv := range (Conn{Host: "db", Port: 5432, User: "u"}).Env() {
				k, v, _ := strings.Cut(kv, "=")
				got[k] = v
			}
			if got["PGPASSWORD"] != tc.pw || got["PGPASSFILE"] != tc.file {
				t.Errorf("PGPASSWORD = %q, PGPASSFILE = %q; want %q, %q", got["PGPASSWORD"], got["PGPASSFILE"], tc.pw, tc.file)
			}
		})
	}
}

// TestVersionKept: Version runs a binary once per process as it is on disk (Prewarm asks ahead,
// Find takes the answer), and again once the binary is replaced.
func TestVersionKept(t *testing.T) {
	dir := t.TempDir()
	runs := filepath.Join(dir, "runs")
	bin := filepath.Join(dir, "pg_dump")
	write := func(v string) {
		script := fmt.Sprintf("#!/bin/sh\necho run >> %s\necho 'pg_dump (PostgreSQL) %s'\n", runs, v)
		if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		b, _ := os.ReadFile(runs)
		return strings.Count(string(b), "run")
	}
	write("15.8")
	Prewarm(dir)
	for range 3 {
		if v, major, err := Version(bin); err != nil || v != "15.8" || major != 150000 {
			t.Fatalf("Version = %q, %v, %v", v, major, err)
		}
	}
	if n := count(); n != 1 {
		t.Fatalf("pg_dump --version ran %d times, want once", n)
	}
	write("16.40") // another binary: size and modification time differ
	if v, _, err := Version(bin); err != nil || v != "16.40" {
		t.Fatalf("Version after the binary changed = %q, %v", v, err)
	}
	if n := count(); n != 2 {
		t.Fatalf("pg_dump --version ran %d times, want twice", n)
	}
	if _, _, err := Version(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("Version of a missing binary did not fail")
	}
}
