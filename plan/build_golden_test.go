package plan

import (
	"encoding/json"
	"github.com/pgferry/pgferry/internal/snapshot"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/state"
)

// richSource has two databases with every kind of object Build plans for: extensions that require
// each other, extension configuration rows, large objects, sequences, a table split in parts, an
// unlogged table, one never analyzed, a partitioned table with foreign keys on and to it, and
// objects owned by the bootstrap superuser and by app.
func richSource() (*catalog.Instance, map[string]*catalog.Database) {
	src := &catalog.Instance{VersionNum: 150004, CurrentUser: "postgres", IsSuperuser: true, Bootstrap: "postgres",
		Roles: []catalog.Role{
			{Name: "postgres", Superuser: true, Login: true, Inherit: true},
			{Name: "app", Login: true, Inherit: true, PasswordHash: "SCRAM-SHA-256$secret"},
			{Name: "admin", Superuser: true, Login: true},
			{Name: "reader", Inherit: true},
			{Name: "writer", Inherit: true, CreateDB: true, ConnLimit: 5},
			{Name: "tgtsuper", Login: true},
			{Name: "my role", Replication: true, BypassRLS: true, CreateRole: true},
		},
		Memberships: []catalog.Membership{{Role: "reader", Member: "app"}, {Role: "writer", Member: "app", AdminOption: true},
			{Role: "reader", Member: "my role"}, {Role: "reader", Member: "writer"}, {Role: "tgtsuper", Member: "app"}},
		Databases: []catalog.DatabaseInfo{
			{Name: "app", Owner: "postgres", Encoding: "UTF8", Collate: "en_US.UTF-8", Ctype: "en_US.UTF-8", LocaleProvider: "libc", AllowConn: true},
			{Name: "shop", Owner: "app", Encoding: "UTF8", Collate: "C", Ctype: "C", LocaleProvider: "icu", ICULocale: "und", AllowConn: true},
			{Name: "postgres", Owner: "postgres", AllowConn: true},
		},
		Settings: map[string]catalog.Setting{
			"work_mem":        {Name: "work_mem", Setting: "8192", Unit: "kB", Context: "user", Source: "configuration file"},
			"max_connections": {Name: "max_connections", Setting: "200", Context: "postmaster", Source: "configuration file"},
			"search_path":     {Name: "search_path", Setting: "", Context: "user", Source: "configuration file"},
			"my.custom":       {Name: "my.custom", Setting: "on", Context: "user", Source: "configuration file"},
			"log_statement":   {Name: "log_statement", Setting: "all", Context: "superuser", Source: "configuration file"},
		},
	}
	app := &catalog.Database{
		Name:    "app",
		Objects: map[string]int{"tables": 6, "indexes": 5, "constraints": 4, "sequences": 2, "functions": 3, "other": 1},
		Extensions: []catalog.Extension{
			{Name: "hstore", Version: "1.8", Schema: "ext"},
			{Name: "hstore_plperl", Version: "1.0", Schema: "ext", Requires: []string{"hstore", "plperl"}},
			{Name: "pgcrypto", Version: "1.3", Schema: "public"},
			{Name: "plperl", Version: "1.0", Schema: "pg_catalog"},
			{Name: "plpgsql", Version: "1.0", Schema: "pg_catalog"},
		},
		Tables: []catalog.Table{
			{OID: 100, Schema: "public", Name: "small", Kind: "r", RowEstimate: 10, SizeBytes: 8192, Pages: 1},
			{OID: 101, Schema: "public", Name: "huge", Kind: "r", RowEstimate: 1000000, SizeBytes: 5 << 20, Pages: 601},
			{OID: 102, Schema: "public", Name: "cache", Kind: "r", RowEstimate: -1, SizeBytes: 16384, Pages: 2, Unlogged: true},
			{OID: 103, Schema: "public", Name: "mid", Kind: "r", RowEstimate: 500, SizeBytes: 1 << 20, Pages: 128},
			{OID: 104, Schema: "public", Name: "hist", Kind: "p"},
			{OID: 105, Schema: "public", Name: "hist_1", Kind: "r", IsPartition: true, Parent: "public.hist", RowEstimate: 5, SizeBytes: 8192, Pages: 1},
			{OID: 106, Schema: "public", Name: "v", Kind: "v"},
		},
		Indexes: []catalog.Index{
			{OID: 200, Schema: "public", Name: "huge_pkey", Table: "huge", Method: "btree", Primary: true, Unique: true, Constraint: "p", ConstraintOID: 300, SizeBytes: 1 << 19},
			{OID: 201, Schema: "public", Name: "small_key", Table: "small", Method: "btree", Unique: true, Constraint: "u", ConstraintOID: 301, SizeBytes: 8192},
			{OID: 202, Schema: "public", Name: "mid_excl", Table: "mid", Method: "gist", Constraint: "x", ConstraintOID: 302, SizeBytes: 8192},
			{OID: 203, Schema: "public", Name: "mid_uniq", Table: "mid", Method: "btree", Unique: true, SizeBytes: 8192},
			{OID: 204, Schema: "public", Name: "hist_pkey", Table: "hist", Method: "btree", Primary: true, Unique: true, Constraint: "p", ConstraintOID: 303},
			{OID: 205, Schema: "public", Name: "gone_idx", Table: "gone", Method: "hash"},
		},
		Constraints: []catalog.Constraint{
			{OID: 310, Schema: "public", Table: "small", Name: "small_huge_fk", Type: "f", RefTable: "public.huge", Def: "FOREIGN KEY (h) REFERENCES huge(id)"},
			{OID: 311, Schema: "public", Table: "mid", Name: "mid_small_fk", Type: "f", RefTable: "public.small", Def: "FOREIGN KEY (s) REFERENCES small(id)"},
			{OID: 312, Schema: "public", Table: "hist", Name: "hist_mid_fk", Type: "f", RefTable: "public.mid", Def: "FOREIGN KEY (m) REFERENCES mid(id)"},
			{OID: 313, Schema: "public", Table: "small", Name: "small_hist_fk", Type: "f", RefTable: "public.hist", Def: "FOREIGN KEY (x) REFERENCES hist(id)"},
			{OID: 314, Schema: "public", Table: "hist_1", Name: "hist_mid_fk", Type: "f", RefTable: "public.mid", Inherited: true},
			{OID: 315, Schema: "public", Table: "small", Name: "small_check", Type: "c"},
			{OID: 316, Schema: "public", Table: "cache", Name: "cache_gone_fk", Type: "f", RefTable: "gone", Def: "FOREIGN KEY (g) REFERENCES gone(id)"},
		},
		Sequences:    []catalog.Sequence{{Schema: "public", Name: "s1", LastValue: 5, IsCalled: true}, {Schema: "public", Name: "s2", LastValue: 1}},
		LargeObjects: 3,
		ExtensionConfig: []catalog.ExtensionConfig{
			{Extension: "postgis", Schema: "public", Name: "spatial_ref_sys", Kind: "r", Condition: "WHERE srid > 999000"},
			{Extension: "ext", Schema: "ext", Name: "conf", Kind: "r"},
		},
		Owned: map[string]*catalog.Owned{
			"postgres": {Total: 3, Kinds: map[string]int{"table": 2, "database": 1}},
			"app":      {Total: 2, Kinds: map[string]int{"function": 2}},
		},
	}
	shop := &catalog.Database{
		Name:        "shop",
		Objects:     map[string]int{"tables": 2, "indexes": 1, "views": 2},
		Extensions:  []catalog.Extension{{Name: "plpgsql", Version: "1.0", Schema: "pg_catalog"}, {Name: "citext", Version: "1.6", Schema: "public"}},
		Tables:      []catalog.Table{{OID: 500, Schema: "s", Name: "orders", Kind: "r", RowEstimate: 70, SizeBytes: 24576, Pages: 3}, {OID: 501, Schema: "s", Name: "items", Kind: "r", RowEstimate: 0, SizeBytes: 0}},
		Indexes:     []catalog.Index{{OID: 600, Schema: "s", Name: "orders_pkey", Table: "orders", Method: "btree", Primary: true, Unique: true, Constraint: "p", ConstraintOID: 700}},
		Constraints: []catalog.Constraint{{OID: 701, Schema: "s", Table: "items", Name: "items_order_fk", Type: "f", RefTable: "s.orders", Def: "FOREIGN KEY (o) REFERENCES s.orders(id)"}},
		Owned:       map[string]*catalog.Owned{"app": {Total: 4, Kinds: map[string]int{"table": 2, "schema": 1, "database": 1}}},
	}
	return src, map[string]*catalog.Database{"app": app, "shop": shop}
}

// richTarget is a target read through a login that is not a superuser (PostgreSQL 16), with some of
// the source's roles, one of them differing, one a superuser.
func richTarget() *catalog.Instance {
	return &catalog.Instance{VersionNum: 160002, CurrentUser: "flexadmin", CanCreateRole: true, CanCreateDB: true,
		Roles: []catalog.Role{
			{Name: "postgres", Superuser: true, Login: true, Inherit: true},
			{Name: "flexadmin", Login: true, Inherit: true, CreateRole: true, CreateDB: true},
			{Name: "writer", Inherit: false, CreateDB: true, ConnLimit: -1},
			{Name: "tgtsuper", Superuser: true, Login: true},
			{Name: "reader", Inherit: true},
		},
		Memberships: []catalog.Membership{{Role: "reader", Member: "writer"}},
		LoginAccess: map[string]catalog.RoleAccess{"reader": {Admin: true}, "writer": {Usage: true, Set: true, Admin: true}},
		Settings: map[string]catalog.Setting{
			"work_mem":        {Name: "work_mem", Setting: "4096", Unit: "kB", Context: "user", Source: "default"},
			"max_connections": {Name: "max_connections", Setting: "100", Context: "postmaster", Source: "default"},
			"search_path":     {Name: "search_path", Setting: `"$user", public`, Context: "user", Source: "default"},
		},
		DefaultExtensionVersions: map[string]string{"hstore": "1.8", "pgcrypto": "1.4", "citext": "1.6"},
	}
}

func richOptions() config.Options {
	return config.Options{Jobs: 4, Verify: "checksum", Roles: true, StripSuperuser: true, ServerParameters: "apply",
		SplitTablesLargerThan: 2 << 20}
}

func richMigration(o config.Options, dbs ...string) *config.Migration {
	m := migration(o)
	m.Databases = dbs
	return m
}

// input is the one place the golden test makes an Input.
func input(m *config.Migration, src, tgt *catalog.Instance, sdbs, tdbs map[string]*catalog.Database, st *state.State) Input {
	return Input{Snapshot: &snapshot.Snapshot{Migration: m, Source: src, Target: tgt, SourceDBs: sdbs, TargetDBs: tdbs, State: st}}
}

// appliedState records every action of p, those matching skip excepted, as applied.
func appliedState(p *Plan, skip map[string]bool) *state.State {
	st := state.New("m")
	st.Lineage, st.Serial = "golden-lineage", 7
	for _, a := range p.Actions {
		status := state.ActionApplied
		if skip[a.Address] {
			status = state.ActionRunning
		}
		st.Upsert(&state.Action{Address: a.Address, Database: a.Database, Status: status})
	}
	return st
}

// TestBuildGolden builds plans of many shapes and compares each whole plan, as JSON, with
// testdata/build/NAME.json (go test ./plan -update rewrites them): it pins Build's output, action
// by action and field by field, so that restructuring Build changes nothing.
func TestBuildGolden(t *testing.T) {
	src, sdbs := richSource()
	tgt := richTarget()
	vals := []state.Validation{{ID: "a", Outcome: state.Failed}, {ID: "b", Outcome: state.Warning}, {ID: "c", Outcome: state.Succeeded}, {ID: "d", Outcome: state.Warning}}
	rich := func(o config.Options, tdbs map[string]*catalog.Database, st *state.State) Input {
		in := input(richMigration(o, "app", "shop"), src, tgt, sdbs, tdbs, st)
		in.Validations = vals
		return in
	}
	fresh, err := Build(rich(richOptions(), nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	emptyShop := map[string]*catalog.Database{"shop": {Name: "shop", Objects: map[string]int{}, Extensions: []catalog.Extension{{Name: "plpgsql"}}}}
	asSource := map[string]*catalog.Database{"app": sdbs["app"], "shop": sdbs["shop"]}
	changed := *sdbs["shop"]
	changed.Tables = changed.Tables[:1]
	asChanged := map[string]*catalog.Database{"app": sdbs["app"], "shop": &changed}
	half := appliedState(fresh, map[string]bool{
		`database.app.table["public"."huge"].part[2]`: true, "database.app.extension.pgcrypto": true, `database.app.index["public"."mid_uniq"]`: true,
		"database.app.post_data": true, "database.app.analyze": true, "database.app.verify": true,
		"database.shop.schema": true, `database.shop.table["s"."orders"]`: true, "database.shop.verify": true,
		`database.shop.constraint["s"."items"."items_order_fk"]`: true, "database.app.large_objects": true, "database.app.sequences": true,
		"database.app.extension_data": true, `role.writer`: true,
	})
	done := appliedState(fresh, nil)
	superTgt := *tgt
	superTgt.CurrentUser, superTgt.IsSuperuser = "postgres", true
	pg14 := *src
	pg14.VersionNum = 140011
	star := richMigration(richOptions(), "*")
	// The login is a role of the source too, a member of reader there; reader and tgtsuper (a
	// superuser on the target) own objects of shop; owner_map sends app's objects to tgtsuper.
	grantSrc := *src
	grantSrc.Roles = append(append([]catalog.Role(nil), src.Roles...), catalog.Role{Name: "flexadmin", Login: true, Inherit: true})
	grantSrc.Memberships = append(append([]catalog.Membership(nil), src.Memberships...), catalog.Membership{Role: "reader", Member: "flexadmin"})
	grantShop := *sdbs["shop"]
	grantShop.Owned = map[string]*catalog.Owned{"app": sdbs["shop"].Owned["app"], "reader": {Total: 1, Kinds: map[string]int{"view": 1}},
		"tgtsuper": {Total: 1, Kinds: map[string]int{"view": 1}}}
	grantOpts := richOptions()
	grantOpts.OwnerMap = map[string]string{"app": "tgtsuper", "tgtsuper": "tgtsuper"}

	cases := []struct {
		name string
		in   Input
	}{
		{"rich_fresh", rich(richOptions(), nil, nil)},
		{"rich_existing_empty", rich(richOptions(), emptyShop, nil)},
		{"rich_half_applied", rich(richOptions(), emptyShop, half)},
		{"rich_done_matching", rich(richOptions(), asSource, done)},
		{"rich_done_changed", rich(richOptions(), asChanged, done)},
		{"rich_done_changed_overwrite", rich(func() config.Options { o := richOptions(); o.OverwriteDatabases = true; return o }(), asChanged, done)},
		{"rich_nonempty_overwrite", rich(func() config.Options { o := richOptions(); o.OverwriteDatabases = true; return o }(), asSource, nil)},
		{"rich_nonempty", rich(richOptions(), asSource, nil)},
		{"rich_no_roles_no_verify", rich(config.Options{Jobs: 1, Verify: "none", ServerParameters: "report"}, nil, nil)},
		{"rich_owner_map", rich(func() config.Options {
			o := richOptions()
			o.OwnerMap = map[string]string{"postgres": "reader", "app": "writer"}
			return o
		}(), nil, nil)},
		{"rich_filtered", rich(func() config.Options {
			o := richOptions()
			o.ExcludeTables = []string{"public.mid", "s.items"}
			return o
		}(), nil, nil)},
		{"rich_superuser_login", input(richMigration(richOptions(), "app", "shop"), src, &superTgt, sdbs, nil, nil)},
		{"rich_pg14_source", input(richMigration(richOptions(), "app"), &pg14, tgt, sdbs, nil, nil)},
		{"rich_star", input(star, src, tgt, map[string]*catalog.Database{"app": sdbs["app"], "shop": sdbs["shop"], "postgres": {Name: "postgres", Objects: map[string]int{}}}, nil, nil)},
		{"rich_login_grants", input(richMigration(grantOpts, "app", "shop"), &grantSrc, tgt,
			map[string]*catalog.Database{"app": sdbs["app"], "shop": &grantShop}, nil, nil)},
		{"small_fresh", func() Input {
			s, d := instances()
			return input(migration(config.Options{}), s, d, map[string]*catalog.Database{"app": sourceDB()}, nil, nil)
		}()},
		{"filtered", func() Input {
			s, d := instances()
			m := migration(config.Options{})
			m.Options.ExcludeTables = []string{"logs.event*", "app.hist"}
			return input(m, s, d, map[string]*catalog.Database{"app": filterSource()}, nil, nil)
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Build(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(p, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := filepath.Join("testdata", "build", tc.name+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./plan -update)", err)
			}
			if string(got) != string(want) {
				t.Errorf("plan differs from %s (go test ./plan -update rewrites it):\n%s", golden, got)
			}
		})
	}

	// Inconsistent inputs fail, with these messages.
	for name, tc := range map[string]struct {
		in   Input
		want string
	}{
		"missing database": {input(richMigration(richOptions(), "nope"), src, tgt, sdbs, nil, nil),
			`database "nope" not found on source "src" (h1:5432); available: app, shop`},
		"no catalog": {input(richMigration(richOptions(), "shop"), src, tgt, map[string]*catalog.Database{}, nil, nil),
			`internal error: no catalog for source database "shop"`},
	} {
		if _, err := Build(tc.in); err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %s", name, err, tc.want)
		}
	}
}
