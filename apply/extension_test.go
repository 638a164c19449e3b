package apply

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// The extensions' entries leave pre-data for the extension actions: CREATE EXTENSION, its comment,
// and the CREATE SCHEMA of a schema holding extensions. Creating an extension again, or one whose
// schema another created, fails on nothing; ensureExtensions creates every missing one, required
// ones first, and pre-data then runs without them.
func TestExtensionEntries(t *testing.T) {
	c := start15(t)
	ctx := context.Background()
	for _, q := range []struct{ db, sql string }{
		{"postgres", "CREATE DATABASE app"},
		{"app", `CREATE SCHEMA ext; CREATE SCHEMA "Geo Ext"; CREATE EXTENSION pgcrypto WITH SCHEMA public; CREATE EXTENSION hstore WITH SCHEMA ext;
			CREATE EXTENSION cube WITH SCHEMA "Geo Ext"; CREATE EXTENSION earthdistance WITH SCHEMA "Geo Ext"; CREATE EXTENSION "uuid-ossp";
			COMMENT ON SCHEMA ext IS 'extensions live here';
			CREATE TABLE t (id uuid PRIMARY KEY DEFAULT public.uuid_generate_v4(), h ext.hstore, p "Geo Ext".earth, d bytea DEFAULT public.digest('x', 'sha256'))`},
	} {
		if err := c.Exec(ctx, q.db, q.sql); err != nil {
			t.Fatal(err)
		}
	}
	tools, err := pgdump.Find("", 1500, 1500) // a 15 source and target: pg_dump 15
	if err != nil {
		t.Skip(err)
	}
	t.Setenv("TMPDIR", t.TempDir())
	m := &config.Migration{Source: serverOf(c, "source", c.User, c.Password), Target: serverOf(c, "target", c.User, c.Password), Options: config.Options{Roles: true}}
	src, err := openSource(ctx, m, tools, "app", 150000, 3, "")
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	cat, err := src.readCatalog()
	if err != nil {
		t.Fatal(err)
	}

	for _, e := range cat.Extensions {
		x := src.extensions[e.OID]
		if e.Name == "plpgsql" {
			if x != nil {
				t.Errorf("plpgsql has entries: pg_dump leaves it out")
			}
			continue
		}
		if x == nil {
			t.Errorf("no entries for extension %s", e.Name)
			continue
		}
		if !strings.Contains(x.create.SQL, "CREATE EXTENSION IF NOT EXISTS") || len(x.comments) != 1 || !strings.Contains(x.comments[0].SQL, "COMMENT ON EXTENSION") {
			t.Errorf("%s: create %q, comments %d", e.Name, x.create.SQL, len(x.comments))
		}
		wantSchema := e.Schema != "public"
		if got := len(x.schema) == 1 && strings.Contains(x.schema[0].SQL, "CREATE SCHEMA"); got != wantSchema {
			t.Errorf("%s in %s: schema entries %d", e.Name, e.Schema, len(x.schema))
		}
	}
	// In reverse name order, so that order by name alone would put earthdistance first.
	reversed := slices.Clone(cat.Extensions)
	slices.Reverse(reversed)
	ordered := plan.OrderExtensions(reversed)
	if len(ordered) != len(cat.Extensions) {
		t.Fatalf("ordered %d of %d", len(ordered), len(cat.Extensions))
	}
	pos := map[string]int{}
	for i, e := range ordered {
		pos[e.Name] = i
	}
	if pos["cube"] > pos["earthdistance"] { // earthdistance requires cube
		t.Errorf("extensions in order %v: cube must come before earthdistance", ordered)
	}
	for _, ch := range src.preChunks {
		for _, s := range []string{"CREATE EXTENSION", "COMMENT ON EXTENSION", "CREATE SCHEMA ext;", `CREATE SCHEMA "Geo Ext";`} {
			if strings.Contains(ch.SQL, s) {
				t.Errorf("pre-data still holds %q:\n%s", s, ch.SQL)
			}
		}
	}
	var commentOnSchema bool
	for _, ch := range src.preChunks {
		commentOnSchema = commentOnSchema || strings.Contains(ch.SQL, "COMMENT ON SCHEMA ext")
	}
	if !commentOnSchema {
		t.Error("pre-data lost the comment on schema ext, which is no extension's")
	}

	if err := c.Exec(ctx, "postgres", "CREATE DATABASE tgt TEMPLATE template0"); err != nil {
		t.Fatal(err)
	}
	r := &Runner{m: m, opt: Options{Plan: &plan.Plan{Target: state.Identity{VersionNum: 150000}}, State: state.New("m")}, floatDg: 3}
	var messages []string
	r.opt.Emit = func(e Event) { messages = append(messages, e.Message) }
	d := &dbRun{r: r, db: "tgt", sourceDump: src, src: cat}
	conn, err := openTargetConn(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// cube creates "Geo Ext"; earthdistance, after it, finds it; hstore twice (a retried action).
	for _, name := range []string{"cube", "earthdistance", "hstore", "hstore"} {
		if err := d.createExtension(ctx, conn, *d.sourceExtension(name)); err != nil {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
	if err := d.ensureExtensions(ctx); err != nil {
		t.Fatal(err)
	}
	if len(messages) != 1 || !strings.Contains(messages[0], "pgcrypto, uuid-ossp") {
		t.Errorf("messages %q, want one naming pgcrypto and uuid-ossp", messages)
	}
	if err := d.ensureExtensions(ctx); err != nil || len(messages) != 1 {
		t.Errorf("a second ensureExtensions: %v, messages %q", err, messages)
	}
	const q = `SELECT string_agg(e.extname || ' ' || n.nspname || ' ' || coalesce(obj_description(e.oid, 'pg_extension'), '-'), ', ' ORDER BY e.extname)
		FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace`
	want, err := c.Query(ctx, "app", q)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Query(ctx, "tgt", q)
	if err != nil {
		t.Fatal(err)
	}
	if got[0][0] != want[0][0] {
		t.Errorf("target extensions\n%s\nwant\n%s", got[0][0], want[0][0])
	}

	// Pre-data without the extensions' entries, as streamSchema runs it, creates the rest.
	if err := d.runPreData(ctx, conn, nil); err != nil {
		t.Fatal(err)
	}
	rows, err := c.Query(ctx, "tgt", "SELECT obj_description('ext'::regnamespace, 'pg_namespace'), count(*) FROM pg_class WHERE relname = 't' GROUP BY 1")
	if err != nil || len(rows) != 1 || rows[0][0] != "extensions live here" {
		t.Errorf("after pre-data: %v, %v", rows, err)
	}
	// Extension members do not make the database look like an interrupted run's: only t does.
	if err := c.Exec(ctx, "postgres", "CREATE DATABASE tgt2 TEMPLATE template0"); err != nil {
		t.Fatal(err)
	}
	d.db = "tgt2"
	if err := d.ensureExtensions(ctx); err != nil {
		t.Fatal(err)
	}
	// A configuration table of an extension, its sequence and its primary key's index.
	if err := c.Exec(ctx, "tgt2", "CREATE TABLE public.cfg (id serial PRIMARY KEY); ALTER EXTENSION hstore ADD TABLE public.cfg; ALTER EXTENSION hstore ADD SEQUENCE public.cfg_id_seq"); err != nil {
		t.Fatal(err)
	}
	if err := d.ensureEmpty(ctx); err != nil {
		t.Errorf("a database holding only extensions is not empty: %v", err)
	}
	d.db = "tgt"
	if err := d.ensureEmpty(ctx); err == nil || !strings.Contains(err.Error(), "not empty (1 relations)") {
		t.Errorf("ensureEmpty on a database with a table = %v", err)
	}
}
