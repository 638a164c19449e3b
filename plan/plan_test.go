package plan

import (
	"github.com/pgferry/pgferry/internal/pgver"
	"strconv"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/state"
)

func migration(o config.Options) *config.Migration {
	src := &config.Server{Kind: "source", Name: "src", Host: "h1", Port: 5432}
	tgt := &config.Server{Kind: "target", Name: "tgt", Host: "h2", Port: 5432}
	if o.Jobs == 0 {
		o.Jobs, o.Verify, o.Roles, o.StripSuperuser = 2, "checksum", true, true
	}
	return &config.Migration{Name: "m", Source: src, Target: tgt, Databases: []string{"app"}, Options: o}
}

func sourceDB() *catalog.Database {
	return &catalog.Database{
		Name:    "app",
		Objects: map[string]int{"tables": 2, "indexes": 2},
		Tables: []catalog.Table{
			{Schema: "public", Name: "small", Kind: "r", RowEstimate: 10, SizeBytes: 8192},
			{Schema: "public", Name: "big", Kind: "r", RowEstimate: 1000, SizeBytes: 1 << 20},
			{Schema: "public", Name: "parted", Kind: "p"},
		},
		Indexes: []catalog.Index{
			{OID: 1, Schema: "public", Name: "big_pkey", Table: "big", Method: "btree", Primary: true, Unique: true, Constraint: "p", ConstraintOID: 11},
			{OID: 2, Schema: "public", Name: "small_idx", Table: "small", Method: "btree"},
		},
		Constraints: []catalog.Constraint{
			{OID: 12, Schema: "public", Table: "small", Name: "small_big_fk", Type: "f", RefTable: "public.big"},
			{OID: 13, Schema: "public", Table: "small", Name: "small_check", Type: "c"},
		},
		Sequences: []catalog.Sequence{{Schema: "public", Name: "s", LastValue: 5, IsCalled: true}},
	}
}

func instances() (*catalog.Instance, *catalog.Instance) {
	src := &catalog.Instance{VersionNum: 130000, CurrentUser: "postgres",
		Roles:       []catalog.Role{{Name: "postgres", Superuser: true, Login: true}, {Name: "app", Login: true}, {Name: "admin", Superuser: true, Login: true}, {Name: "reader"}},
		Memberships: []catalog.Membership{{Role: "reader", Member: "app"}},
		Databases:   []catalog.DatabaseInfo{{Name: "app", Owner: "app", AllowConn: true}, {Name: "postgres", AllowConn: true}}}
	tgt := &catalog.Instance{VersionNum: 150000, CurrentUser: "postgres", IsSuperuser: true,
		Roles: []catalog.Role{{Name: "postgres", Superuser: true, Login: true}}}
	return src, tgt
}

func addrs(p *Plan) []string {
	var out []string
	for _, a := range p.Actions {
		out = append(out, a.Kind.Symbol()+" "+a.Address)
	}
	return out
}

func TestBuild(t *testing.T) {
	emptyTarget := &catalog.Database{Name: "app", Objects: map[string]int{}}
	full := sourceDB()
	shrunk := sourceDB() // the target as migrated, before a table was added on the source
	shrunk.Tables = shrunk.Tables[1:]
	doneState := state.New("m")
	for _, a := range []string{"database.app", "database.app.schema", "database.app.verify"} {
		doneState.Upsert(&state.Action{Address: a, Database: "app", Status: state.ActionApplied})
	}
	tests := []struct {
		name    string
		opts    config.Options
		target  *catalog.Database
		st      *state.State
		want    []string // in order; a prefix match on the whole list
		absent  []string
		summary string
	}{
		{
			name: "fresh target",
			want: []string{"+ role.app", "+ role.admin", "+ role.reader", `+ role.app.member_of["reader"]`, "+ database.app", "+ database.app.schema",
				`+ database.app.table["public"."big"]`, `+ database.app.table["public"."small"]`,
				`+ database.app.index["public"."big_pkey"]`, `+ database.app.index["public"."small_idx"]`,
				"+ database.app.sequences", `+ database.app.constraint["public"."small"."small_big_fk"]`, "+ database.app.post_data",
				"+ database.app.analyze", "+ database.app.verify"},
			absent:  []string{"parted", "small_check", "role.postgres"},
			summary: "roles=3 dbs=1 tables=2 indexes=2 fks=1 add=15 change=0 destroy=0",
		},
		{
			name:    "existing empty database is used",
			target:  emptyTarget,
			want:    []string{"+ role.app", "+ role.admin", "+ role.reader", `+ role.app.member_of["reader"]`, "~ database.app", "+ database.app.schema"},
			summary: "roles=3 dbs=0 tables=2 indexes=2 fks=1 add=14 change=1 destroy=0",
		},
		{
			name:   "non-empty database without overwrite: nothing planned for it",
			target: full,
			absent: []string{"database.app"},
		},
		{
			name:    "non-empty database with overwrite is replaced",
			opts:    config.Options{Jobs: 2, Verify: "none", Roles: false, OverwriteDatabases: true},
			target:  full,
			want:    []string{"-/+ database.app", "+ database.app.schema"},
			absent:  []string{"role.", "database.app.verify"},
			summary: "roles=0 dbs=1 tables=2 indexes=2 fks=1 add=10 change=0 destroy=1",
		},
		{
			name:   "migrated and matching: no changes",
			target: full,
			st:     doneState,
			absent: []string{"database.app"},
		},
		{
			name:   "migrated, then the source changed, without overwrite: nothing planned (the validation fails)",
			opts:   config.Options{Jobs: 2, Verify: "none", Roles: false},
			target: shrunk,
			st:     doneState,
			absent: []string{"database.app"},
		},
		{
			name:    "migrated, then the source changed, with overwrite: migrated again from scratch",
			opts:    config.Options{Jobs: 2, Verify: "checksum", Roles: false, OverwriteDatabases: true},
			target:  shrunk,
			st:      doneState,
			want:    []string{"-/+ database.app", "+ database.app.schema", `+ database.app.table["public"."big"]`},
			summary: "roles=0 dbs=1 tables=2 indexes=2 fks=1 add=11 change=0 destroy=1",
		},
		{
			name:   "include_tables limits the data actions",
			opts:   config.Options{Jobs: 2, Verify: "count", Roles: false, IncludeTables: []string{"public.b*"}},
			want:   []string{"+ database.app", "+ database.app.schema", `+ database.app.table["public"."big"]`},
			absent: []string{`table["public"."small"]`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, tgt := instances()
			in := Input{Snapshot: &snapshot.Snapshot{Migration: migration(tc.opts), Source: src, Target: tgt,
				SourceDBs: map[string]*catalog.Database{"app": sourceDB()}, TargetDBs: map[string]*catalog.Database{}, State: tc.st}}
			if tc.target != nil {
				in.TargetDBs["app"] = tc.target
				tgt.Databases = []catalog.DatabaseInfo{{Name: "app", AllowConn: true}}
			}
			if tc.name == "migrated and matching: no changes" {
				// The roles exist on the target already.
				tgt.Roles = append(tgt.Roles, catalog.Role{Name: "app", Login: true}, catalog.Role{Name: "admin", Login: true}, catalog.Role{Name: "reader"})
				tgt.Memberships = src.Memberships
			}
			p, err := Build(in)
			if err != nil {
				t.Fatal(err)
			}
			got := addrs(p)
			if len(got) < len(tc.want) {
				t.Fatalf("got %d actions, want at least %d:\n%s", len(got), len(tc.want), strings.Join(got, "\n"))
			}
			for i, w := range tc.want {
				if got[i] != w {
					t.Errorf("action %d = %q, want %q\nall:\n%s", i, got[i], w, strings.Join(got, "\n"))
					break
				}
			}
			joined := strings.Join(got, "\n")
			for _, a := range tc.absent {
				if strings.Contains(joined, a) {
					t.Errorf("plan contains %q:\n%s", a, joined)
				}
			}
			if tc.summary != "" {
				s := p.Summary
				gs := strings.Join([]string{
					"roles=" + itoa(s.Roles), "dbs=" + itoa(s.Databases), "tables=" + itoa(s.Tables), "indexes=" + itoa(s.Indexes),
					"fks=" + itoa(s.Constraints), "add=" + itoa(s.Add), "change=" + itoa(s.Change), "destroy=" + itoa(s.Destroy)}, " ")
				if gs != tc.summary {
					t.Errorf("summary %s, want %s", gs, tc.summary)
				}
			}
			// Every dependency names an action of the plan or one applied before: never a dangling address.
			known := map[string]bool{}
			for _, a := range p.Actions {
				for _, d := range a.DependsOn {
					if !known[d] && p.Action(d) != nil {
						t.Errorf("%s depends on %s, which comes later", a.Address, d)
					}
				}
				known[a.Address] = true
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStripSuperuserHazard(t *testing.T) {
	src, tgt := instances()
	p, err := Build(Input{Snapshot: &snapshot.Snapshot{Migration: migration(config.Options{}), Source: src, Target: tgt,
		SourceDBs: map[string]*catalog.Database{"app": sourceDB()}, TargetDBs: map[string]*catalog.Database{}}})
	if err != nil {
		t.Fatal(err)
	}
	a := p.Action("role.admin")
	if a == nil || len(a.Hazards) != 1 || a.Hazards[0].Code != "STRIPS_SUPERUSER" {
		t.Fatalf("role.admin = %+v", a)
	}
}

func TestSelectDatabases(t *testing.T) {
	src, _ := instances()
	m := migration(config.Options{})
	m.Databases = []string{"*"}
	dbs, err := SelectDatabases(m, src)
	if err != nil || len(dbs) != 1 || dbs[0] != "app" {
		t.Errorf("* → %v, %v", dbs, err)
	}
	m.Databases = []string{"nope"}
	if _, err := SelectDatabases(m, src); err == nil || !strings.Contains(err.Error(), `database "nope" not found on source "src"`) {
		t.Errorf("missing database error = %v", err)
	}
}

func TestAddresses(t *testing.T) {
	for got, want := range map[string]string{
		RoleAddr("app_owner"):                     "role.app_owner",
		RoleAddr("my role"):                       `role.["my role"]`,
		TableAddr("app", "public", "orders"):      `database.app.table["public"."orders"]`,
		IndexAddr("app", "public", "orders_pkey"): `database.app.index["public"."orders_pkey"]`,
		ConstraintAddr("app", "s", "t", "c"):      `database.app.constraint["s"."t"."c"]`,
		PartAddr("app", TypeSequences):            "database.app.sequences",
		ExtensionAddr("app", "pgcrypto"):          "database.app.extension.pgcrypto",
		ExtensionAddr("app", "uuid-ossp"):         "database.app.extension.uuid-ossp",
		ExtensionAddr("app", "my ext"):            `database.app.extension.["my ext"]`,
	} {
		if got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

// A foreign key between plain tables runs before post-data, as soon as its tables and the
// referenced key are built; one on a partitioned table waits for post-data, which attaches the
// partitions' indexes its referenced key needs.
func TestForeignKeyOrder(t *testing.T) {
	src, tgt := instances()
	db := sourceDB()
	db.Constraints = append(db.Constraints, catalog.Constraint{OID: 14, Schema: "public", Table: "parted", Name: "parted_big_fk", Type: "f", RefTable: "public.big"})
	p, err := Build(Input{Snapshot: &snapshot.Snapshot{Migration: migration(config.Options{Jobs: 2, Verify: "none"}), Source: src, Target: tgt,
		SourceDBs: map[string]*catalog.Database{"app": db}, TargetDBs: map[string]*catalog.Database{}}})
	if err != nil {
		t.Fatal(err)
	}
	plain := p.Action(`database.app.constraint["public"."small"."small_big_fk"]`)
	parted := p.Action(`database.app.constraint["public"."parted"."parted_big_fk"]`)
	post := p.Action("database.app.post_data")
	if plain == nil || parted == nil || post == nil {
		t.Fatalf("missing actions:\n%s", strings.Join(addrs(p), "\n"))
	}
	has := func(s []string, x string) bool {
		for _, v := range s {
			if v == x {
				return true
			}
		}
		return false
	}
	if want := []string{`database.app.table["public"."small"]`, `database.app.table["public"."big"]`, `database.app.index["public"."big_pkey"]`}; strings.Join(plain.DependsOn, " ") != strings.Join(want, " ") {
		t.Errorf("plain foreign key depends on %v, want %v", plain.DependsOn, want)
	}
	if !has(post.DependsOn, plain.Address) || has(post.DependsOn, parted.Address) {
		t.Errorf("post_data depends on %v: want the plain foreign key, not the partitioned one", post.DependsOn)
	}
	if !has(parted.DependsOn, post.Address) || !has(parted.DependsOn, `database.app.index["public"."big_pkey"]`) {
		t.Errorf("partitioned foreign key depends on %v: want post_data and the referenced key", parted.DependsOn)
	}
	an := p.Action("database.app.analyze")
	if !has(an.DependsOn, plain.Address) || !has(an.DependsOn, parted.Address) || !has(an.DependsOn, post.Address) {
		t.Errorf("analyze depends on %v", an.DependsOn)
	}
}

func TestSplitParts(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		name    string
		heap    int64
		toast   int64
		limit   int64
		jobs    int
		version pgver.V
		want    int
	}{
		{"below the default limit", 640 * mb, 0, config.DefaultSplitTablesLargerThan, 2, 150000, 0},
		{"above it: one part per limit, at most one per job", 2600 * mb, 0, config.DefaultSplitTablesLargerThan, 2, 150000, 2},
		{"more jobs, more parts", 2600 * mb, 0, config.DefaultSplitTablesLargerThan, 8, 150000, 3},
		{"a lower limit", 230 * mb, 0, 64 * mb, 2, 150000, 2},
		{"0 never splits", 100000 * mb, 0, 0, 8, 150000, 0},
		{"one job never splits", 2600 * mb, 0, config.DefaultSplitTablesLargerThan, 1, 150000, 0},
		{"sources before 14 scan ctid ranges whole", 2600 * mb, 0, config.DefaultSplitTablesLargerThan, 4, 130000, 0},
		{"a small heap with its bulk in TOAST is split by its whole size", 40 * mb, 2560 * mb, config.DefaultSplitTablesLargerThan, 4, 150000, 3},
		{"a one-page heap is never split", 8192, 2560 * mb, config.DefaultSplitTablesLargerThan, 4, 150000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := config.Options{Jobs: tc.jobs, SplitTablesLargerThan: tc.limit}
			tbl := catalog.Table{Pages: tc.heap / 8192, SizeBytes: tc.heap + tc.toast}
			if got := splitParts(tbl, o, tc.version); got != tc.want {
				t.Errorf("splitParts = %d, want %d", got, tc.want)
			}
		})
	}
}

// Extensions get one action each, before pre-data, for what the target database will lack: a
// database pgferry creates has plpgsql (template0); one that exists has its pg_extension; a
// resumed run plans what the state does not record as applied.
func TestExtensions(t *testing.T) {
	exts := []catalog.Extension{ // as the catalog reads them: by name
		{Name: "hstore", Version: "1.8", Schema: "ext"},
		{Name: "hstore_plperl", Version: "1.0", Schema: "ext", Requires: []string{"hstore", "plperl"}},
		{Name: "pgcrypto", Version: "1.3", Schema: "public"},
		{Name: "plperl", Version: "1.0", Schema: "pg_catalog"},
		{Name: "plpgsql", Version: "1.0", Schema: "pg_catalog"},
	}
	withExts := func(names ...string) *catalog.Database {
		d := &catalog.Database{Name: "app", Objects: map[string]int{}}
		for _, n := range names {
			d.Extensions = append(d.Extensions, catalog.Extension{Name: n, Version: "1.0", Schema: "public"})
		}
		return d
	}
	full := sourceDB()
	full.Extensions = exts
	resumed := state.New("m")
	resumed.Upsert(&state.Action{Address: "database.app", Kind: "+", Database: "app", Status: state.ActionApplied})
	resumed.Upsert(&state.Action{Address: "database.app.extension.hstore", Kind: "+", Database: "app", Status: state.ActionApplied})
	resumed.Upsert(&state.Action{Address: "database.app.extension.pgcrypto", Kind: "+", Database: "app", Status: state.ActionRunning})
	done := state.New("m")
	for _, a := range []string{"database.app", "database.app.extension.hstore", "database.app.schema"} {
		done.Upsert(&state.Action{Address: a, Database: "app", Status: state.ActionApplied})
	}
	const (
		hstore   = "+ database.app.extension.hstore"
		plperl   = "+ database.app.extension.plperl"
		bridge   = "+ database.app.extension.hstore_plperl"
		pgcrypto = "+ database.app.extension.pgcrypto"
		plpgsql  = "+ database.app.extension.plpgsql"
	)
	for _, tc := range []struct {
		name      string
		opts      config.Options
		target    *catalog.Database
		st        *state.State
		want      []string // the database's actions up to its schema, in order
		summary   string
		noActions bool
	}{
		{name: "created database: everything but plpgsql, required ones first",
			want:    []string{"+ database.app", hstore, plperl, bridge, pgcrypto, "+ database.app.schema"},
			summary: "dbs=1 tables=2 indexes=2 add=15 change=0 destroy=0"},
		{name: "existing empty database without plpgsql: plpgsql too",
			target:  withExts(),
			want:    []string{"~ database.app", hstore, plperl, bridge, pgcrypto, plpgsql, "+ database.app.schema"},
			summary: "dbs=0 tables=2 indexes=2 add=15 change=1 destroy=0"},
		{name: "existing empty database with plpgsql",
			target: withExts("plpgsql"),
			want:   []string{"~ database.app", hstore, plperl, bridge, pgcrypto, "+ database.app.schema"}},
		{name: "overwritten database: recreated from template0, whatever it holds now",
			opts:   config.Options{Jobs: 2, Verify: "none", OverwriteDatabases: true},
			target: func() *catalog.Database { d := sourceDB(); d.Extensions = exts; return d }(),
			want:   []string{"-/+ database.app", hstore, plperl, bridge, pgcrypto, "+ database.app.schema"}},
		{name: "resumed: applied ones skipped, unfinished ones again even if present, missing ones",
			target: withExts("plpgsql", "hstore", "pgcrypto"),
			st:     resumed,
			want:   []string{plperl, bridge, pgcrypto, "+ database.app.schema"}},
		{name: "migrated and matching: nothing",
			target: full, st: done, noActions: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, tgt := instances()
			tgt.DefaultExtensionVersions = map[string]string{"hstore": "1.8", "pgcrypto": "1.4"}
			o := tc.opts
			if o.Jobs == 0 {
				o = config.Options{Jobs: 2, Verify: "checksum"}
			}
			sdb := sourceDB()
			sdb.Extensions = exts
			in := Input{Snapshot: &snapshot.Snapshot{Migration: migration(o), Source: src, Target: tgt,
				SourceDBs: map[string]*catalog.Database{"app": sdb}, TargetDBs: map[string]*catalog.Database{}, State: tc.st}}
			if tc.target != nil {
				in.TargetDBs["app"] = tc.target
				tgt.Databases = []catalog.DatabaseInfo{{Name: "app", AllowConn: true}}
			}
			p, err := Build(in)
			if err != nil {
				t.Fatal(err)
			}
			got := addrs(p)
			if tc.noActions {
				if len(got) > 0 {
					t.Fatalf("want no actions, got:\n%s", strings.Join(got, "\n"))
				}
				return
			}
			if len(got) < len(tc.want) || strings.Join(got[:len(tc.want)], "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("actions:\n%s\nwant them to start with:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if tc.summary != "" {
				s := p.Summary
				gs := strings.Join([]string{"dbs=" + itoa(s.Databases), "tables=" + itoa(s.Tables), "indexes=" + itoa(s.Indexes),
					"add=" + itoa(s.Add), "change=" + itoa(s.Change), "destroy=" + itoa(s.Destroy)}, " ")
				if gs != tc.summary {
					t.Errorf("summary %s, want %s", gs, tc.summary)
				}
			}
			var extAddrs []string
			for _, a := range p.Actions {
				if a.Type == TypeExtension {
					extAddrs = append(extAddrs, a.Address)
				}
			}
			if schema := p.Action("database.app.schema"); strings.Join(schema.DependsOn[len(schema.DependsOn)-len(extAddrs):], " ") != strings.Join(extAddrs, " ") {
				t.Errorf("schema depends on %v, want every extension action %v", schema.DependsOn, extAddrs)
			}
			if a := p.Action("database.app.extension.hstore_plperl"); a != nil {
				for _, d := range []string{"database.app.extension.plperl"} {
					if !contains(a.DependsOn, d) {
						t.Errorf("hstore_plperl depends on %v, want %s", a.DependsOn, d)
					}
				}
				if tc.st == nil && !contains(a.DependsOn, "database.app.extension.hstore") {
					t.Errorf("hstore_plperl depends on %v, want hstore", a.DependsOn)
				}
			}
			if a := p.Action("database.app.extension.pgcrypto"); a != nil {
				want := "version 1.3, schema public|created at the target's default version 1.4"
				if got := strings.Join(a.Details, "|"); got != want || a.Kind != Create || a.Name != "pgcrypto" {
					t.Errorf("pgcrypto: kind %s, name %q, details %q; want details %q", a.Kind, a.Name, got, want)
				}
			}
			if a := p.Action("database.app.extension.hstore"); a != nil && strings.Join(a.Details, "|") != "version 1.8, schema ext" {
				t.Errorf("hstore details %q", a.Details)
			}
		})
	}
}
