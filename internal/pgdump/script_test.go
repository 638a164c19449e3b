package pgdump

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// splitByRegexp is how scripts were split before ScriptReader (the whole script in memory): the
// reference ScriptReader must agree with on every script that has no meta-commands.
func splitByRegexp(script string) (string, []Chunk) {
	toc := regexp.MustCompile(`(?m)^-- TOC entry (\d+) \(class \d+ OID \d+\)$`)
	deps := regexp.MustCompile(`(?m)^-- Dependencies: ([0-9 ]+)$`)
	locs := toc.FindAllStringSubmatchIndex(script, -1)
	if len(locs) == 0 {
		return script, nil
	}
	var chunks []Chunk
	for k, loc := range locs {
		end := len(script)
		if k+1 < len(locs) {
			end = locs[k+1][0]
		}
		id, _ := strconv.Atoi(script[loc[2]:loc[3]])
		c := Chunk{DumpID: id, SQL: script[loc[0]:end]}
		if m := deps.FindStringSubmatch(c.SQL[:HeaderLen(c.SQL)]); m != nil {
			for _, f := range strings.Fields(m[1]) {
				n, _ := strconv.Atoi(f)
				c.Deps = append(c.Deps, n)
			}
		}
		chunks = append(chunks, c)
	}
	return script[:locs[0][0]], chunks
}

func entry(id int, deps, name, typ, body string) string {
	s := fmt.Sprintf("--\n-- TOC entry %d (class 1259 OID %d)\n", id, 16000+id)
	if deps != "" {
		s += "-- Dependencies: " + deps + "\n"
	}
	return s + fmt.Sprintf("-- Name: %s; Type: %s; Schema: public; Owner: app\n--\n\n%s\n\n", name, typ, body)
}

const preamble = "--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\nSET client_encoding = 'UTF8';\n\n"

func testScripts() map[string]string {
	fn := "CREATE FUNCTION public.f() RETURNS text\n    LANGUAGE plpgsql\n    AS $_$\nBEGIN\n" +
		"-- TOC entry 99 (class 1259 OID 1) is not a line of its own here\n  RETURN 'a;b' || $x$;$x$;\nEND\n$_$;"
	huge := "CREATE VIEW public.v AS\n SELECT '" + strings.Repeat("x", 3<<20) + "'::text AS c;"       // one line of 3 MiB
	long := "CREATE TABLE public.wide (\n" + strings.Repeat("    c int,\n", 200000) + "    z int\n);" // 2 MiB of short lines
	return map[string]string{
		"empty":         "",
		"preamble only": preamble,
		"entries": preamble + entry(215, "", "t", "TABLE", "CREATE TABLE public.t (id integer);") +
			entry(216, "215", "t_pkey", "CONSTRAINT", "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_pkey PRIMARY KEY (id);") +
			entry(217, "215 216", "t t_fk", "FK CONSTRAINT", "ALTER TABLE ONLY public.t\n    ADD CONSTRAINT t_fk FOREIGN KEY (id) REFERENCES public.t(id);") +
			"--\n-- PostgreSQL database dump complete\n--\n\n",
		"dollar quoted body": preamble + entry(300, "", "f()", "FUNCTION", fn) + entry(301, "300", "FUNCTION f()", "COMMENT", "COMMENT ON FUNCTION public.f() IS 'x';"),
		"huge line":          preamble + entry(400, "", "v", "VIEW", huge) + entry(401, "400", "v", "ACL", "GRANT SELECT ON TABLE public.v TO app;"),
		"huge entry":         preamble + entry(500, "", "wide", "TABLE", long) + entry(501, "", "x", "TABLE", "CREATE TABLE public.x ();"),
		"no final newline":   preamble + strings.TrimSuffix(entry(600, "", "t", "TABLE", "CREATE TABLE public.t ();"), "\n\n"),
		"not quite a TOC line": preamble + entry(700, "", "t", "TABLE", "CREATE TABLE public.t ();") +
			"-- TOC entry 701 (class 1259 OID x)\n-- TOC entry 702 (class 1259 OID 5) trailing\n",
	}
}

// TestScriptReaderAgrees reads each script as pg_restore's pipe hands it over, in pieces of every
// size (a byte at a time, halves, whole), and compares with the split of the whole script.
func TestScriptReaderAgrees(t *testing.T) {
	for name, script := range testScripts() {
		wantPre, want := splitByRegexp(script)
		readers := map[string]func() io.Reader{
			"whole":    func() io.Reader { return strings.NewReader(script) },
			"halves":   func() io.Reader { return iotest.HalfReader(strings.NewReader(script)) },
			"7 bytes":  func() io.Reader { return &piecewise{s: script, n: 7} },
			"4099 b":   func() io.Reader { return &piecewise{s: script, n: 4099} },
			"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(script)) },
		}
		for how, r := range readers {
			if how == "one byte" && len(script) > 1<<20 {
				continue
			}
			t.Run(name+"/"+how, func(t *testing.T) {
				pre, chunks, err := ReadScript(r(), false)
				if err != nil {
					t.Fatal(err)
				}
				if pre != wantPre {
					t.Errorf("preamble %q, want %q", pre, wantPre)
				}
				if len(chunks) != len(want) {
					t.Fatalf("%d chunks, want %d", len(chunks), len(want))
				}
				for i := range want {
					if !reflect.DeepEqual(chunks[i], want[i]) {
						t.Errorf("chunk %d: %d %v %d bytes, want %d %v %d bytes", i, chunks[i].DumpID, chunks[i].Deps, len(chunks[i].SQL), want[i].DumpID, want[i].Deps, len(want[i].SQL))
					}
				}
				if strings.Join(append([]string{pre}, sqls(chunks)...), "") != script {
					t.Error("preamble and chunks do not add up to the script")
				}
			})
		}
	}
}

// piecewise hands s over n bytes at a time, as a pipe may.
type piecewise struct {
	s string
	n int
}

func (p *piecewise) Read(b []byte) (int, error) {
	if p.s == "" {
		return 0, io.EOF
	}
	k := copy(b[:min(len(b), p.n)], p.s)
	p.s = p.s[k:]
	return k, nil
}

func sqls(chunks []Chunk) []string {
	var out []string
	for _, c := range chunks {
		out = append(out, c.SQL)
	}
	return out
}

func TestScriptReaderDollarQuotedBody(t *testing.T) {
	_, chunks, err := ReadScript(iotest.OneByteReader(strings.NewReader(testScripts()["dollar quoted body"])), true)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 2 || chunks[0].DumpID != 300 || chunks[1].DumpID != 301 || !reflect.DeepEqual(chunks[1].Deps, []int{300}) {
		t.Fatalf("chunks %+v", chunks)
	}
	stmts := SplitStatements(chunks[0].SQL)
	if len(stmts) != 1 || !strings.HasSuffix(stmts[0], "END\n$_$;") || !strings.Contains(stmts[0], "$x$;$x$") {
		t.Errorf("the function's body was cut: %q", stmts)
	}
	if h, ok := chunks[0].Header(); !ok || h.Name != "f()" || h.Type != "FUNCTION" {
		t.Errorf("header %+v %v", h, ok)
	}
}

// TestScriptReaderMeta: pg_restore's psql meta-commands are left out; a line of an entry that only
// starts with a backslash (a comment's text) is kept.
func TestScriptReaderMeta(t *testing.T) {
	key := "\\restrict aGVsbG8gd29ybGQ\n"
	script := key + preamble + entry(10, "", "t", "TABLE", "CREATE TABLE public.t ();") +
		entry(11, "10", "TABLE t", "COMMENT", "COMMENT ON TABLE public.t IS 'line one\n\\two';") +
		"\\unrestrict aGVsbG8gd29ybGQ\n\n"
	pre, chunks, err := ReadScript(&piecewise{s: script, n: 5}, true)
	if err != nil {
		t.Fatal(err)
	}
	if pre != preamble+"--\n" { // the first entry's header starts with "--"
		t.Errorf("preamble %q", pre)
	}
	if len(chunks) != 2 || strings.Contains(chunks[1].SQL, "unrestrict") || !strings.Contains(chunks[1].SQL, "'line one\n\\two';") {
		t.Errorf("chunks %q", sqls(chunks))
	}
	// Without stripping, everything is kept.
	pre, _, _ = ReadScript(strings.NewReader(script), false)
	if !strings.HasPrefix(pre, key) {
		t.Errorf("preamble %q", pre)
	}
}

// TestScriptReaderNext: chunks come one at a time, the preamble first (read implicitly by Next).
func TestScriptReaderNext(t *testing.T) {
	s := NewScriptReader(strings.NewReader(testScripts()["entries"]), true)
	var ids []int
	for {
		c, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.DumpID)
	}
	if !reflect.DeepEqual(ids, []int{215, 216, 217}) {
		t.Errorf("ids %v", ids)
	}
	if _, err := s.Next(); err != io.EOF {
		t.Errorf("after the end: %v", err)
	}
	if _, err := s.Preamble(); err == nil {
		t.Error("a second Preamble succeeded")
	}
}

func TestScriptReaderError(t *testing.T) {
	boom := errors.New("pipe broke")
	r := io.MultiReader(strings.NewReader(preamble+entry(1, "", "t", "TABLE", "CREATE TABLE t ();")), iotest.ErrReader(boom))
	if _, _, err := ReadScript(r, true); !errors.Is(err, boom) {
		t.Errorf("err %v, want %v", err, boom)
	}
}

func TestScanList(t *testing.T) {
	list := ";\n; Archive created at 2026-12-05\n;\n215; 1259 16385 TABLE public t app\n" +
		"3350; 2606 16390 FK CONSTRAINT public t t_fk app\n3351; 0 0 ACL - DATABASE app app\n"
	var got []Entry
	err := ScanList(iotest.OneByteReader(strings.NewReader(list)), func(e Entry) { got = append(got, e) })
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{DumpID: 215, TableOID: 1259, OID: 16385, Desc: "TABLE", Rest: "public t app", Line: "215; 1259 16385 TABLE public t app"},
		{DumpID: 3350, TableOID: 2606, OID: 16390, Desc: "FK CONSTRAINT", Rest: "public t t_fk app", Line: "3350; 2606 16390 FK CONSTRAINT public t t_fk app"},
		{DumpID: 3351, Desc: "ACL", Rest: "- DATABASE app app", Line: "3351; 0 0 ACL - DATABASE app app"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
	if err := ScanList(strings.NewReader("nonsense\n"), func(Entry) {}); err == nil {
		t.Error("a line that is not an entry was accepted")
	}
}

// TestStream runs a real program: its output is read as printed, a failing reader stops it, and a
// failing program's error carries its stderr.
func TestStream(t *testing.T) {
	dir := t.TempDir()
	tool := filepath.Join(dir, "tool")
	script := "#!/bin/sh\nif [ \"$1\" = fail ]; then echo 'pg_restore: error: bad archive' >&2; exit 1; fi\n" +
		"i=0; while [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done\n"
	if err := os.WriteFile(tool, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var n int
	err := Stream(ctx, Conn{}, tool, func(r io.Reader) error {
		b, err := io.ReadAll(r)
		n = bytes.Count(b, []byte("\n"))
		return err
	})
	if err != nil || n != 20000 {
		t.Fatalf("read %d lines, %v", n, err)
	}
	stop := errors.New("enough")
	err = Stream(ctx, Conn{}, tool, func(r io.Reader) error {
		_, _ = r.Read(make([]byte, 10))
		return stop
	})
	if !errors.Is(err, stop) {
		t.Errorf("err %v, want %v", err, stop)
	}
	err = Stream(ctx, Conn{}, tool, func(r io.Reader) error { _, err := io.ReadAll(r); return err }, "fail")
	var re *RunError
	if !errors.As(err, &re) || !strings.Contains(re.Stderr, "bad archive") || re.Tool != "tool" {
		t.Errorf("err %v", err)
	}
}

// TestReadScriptLean: the lean chunks are ReadScript's without their TOC comment and dependencies
// line (the same dump IDs, dependencies and headers), read in pieces of any size.
func TestReadScriptLean(t *testing.T) {
	for name, script := range testScripts() {
		t.Run(name, func(t *testing.T) {
			wantPre, want, err := ReadScript(strings.NewReader(script), true)
			if err != nil {
				t.Fatal(err)
			}
			pre, chunks, err := ReadScriptLean(&piecewise{s: script, n: 7})
			if err != nil {
				t.Fatal(err)
			}
			if pre != wantPre {
				t.Errorf("preamble %q, want %q", pre, wantPre)
			}
			if len(chunks) != len(want) {
				t.Fatalf("%d chunks, want %d", len(chunks), len(want))
			}
			for i, w := range want {
				c := chunks[i]
				_, sql, _ := strings.Cut(w.SQL, "\n") // without the TOC line
				if w.Deps != nil {
					before, after, _ := strings.Cut(sql, "-- Dependencies: ")
					_, after, _ = strings.Cut(after, "\n")
					sql = before + after
				}
				if c.DumpID != w.DumpID || !reflect.DeepEqual(c.Deps, w.Deps) || c.SQL != sql {
					t.Errorf("chunk %d: %d %v %q, want %d %v %q", i, c.DumpID, c.Deps, c.SQL, w.DumpID, w.Deps, sql)
				}
				ch, ok := c.Header()
				wh, wok := w.Header()
				if ch != wh || ok != wok {
					t.Errorf("chunk %d: header %+v %v, want %+v %v", i, ch, ok, wh, wok)
				}
			}
		})
	}
}
