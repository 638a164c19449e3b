package catalog_test

import (
	"context"
	"fmt"
	"github.com/pgferry/pgferry/internal/pgver"
	"os"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgtest"
)

// TestReadSample reads the sample database on every source major the suite has and checks the
// facts plan, checks and apply rely on.
func TestReadSample(t *testing.T) {
	sample, err := os.ReadFile("../testdata/sample/sample.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, major := range []int{13, 15} {
		t.Run(fmt.Sprintf("pg%d", major), func(t *testing.T) {
			if !pgtest.Available(major) && os.Getenv("CI") == "" {
				t.Skipf("PostgreSQL %d binaries not installed (make pg-versions)", major)
			}
			c := pgtest.Start(t, major)
			ctx := context.Background()
			if err := c.Exec(ctx, "postgres", "CREATE DATABASE app"); err != nil {
				t.Fatal(err)
			}
			if err := c.Exec(ctx, "app", string(sample)); err != nil {
				t.Fatal(err)
			}
			if err := c.Exec(ctx, "postgres", "CREATE DATABASE bin"); err != nil {
				t.Fatal(err)
			}
			if err := c.Exec(ctx, "bin", "CREATE TABLE t (a int, b int4range, c numeric[], v tsvector, q tsquery, vs tsvector[])"); err != nil {
				t.Fatal(err)
			}
			// Binary COPY only for types whose binary form is safe between servers: not tsvector or
			// tsquery, whose receive functions crash strict-alignment servers (pgcopydb #994).
			bconn, err := pgx.Connect(ctx, c.DSN("bin"))
			if err != nil {
				t.Fatal(err)
			}
			bd, err := catalog.ReadDatabase(ctx, bconn, "bin", pgver.Of(major))
			bconn.Close(ctx)
			if err != nil {
				t.Fatal(err)
			}
			binary := map[string]bool{}
			for _, col := range bd.Table("public", "t").Columns {
				binary[col.Name] = col.Builtin
			}
			if want := map[string]bool{"a": true, "b": true, "c": true, "v": false, "q": false, "vs": false}; fmt.Sprint(binary) != fmt.Sprint(want) {
				t.Errorf("binary COPY by column = %v, want %v", binary, want)
			}
			if err := c.Exec(ctx, "postgres", "DROP DATABASE bin"); err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(ctx, c.DSN("app"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			in, err := catalog.ReadInstance(ctx, conn)
			if err != nil {
				t.Fatal(err)
			}
			if in.VersionNum.Major() != major || !in.IsSuperuser || !in.PasswordsReadable {
				t.Errorf("instance: major %d superuser %t passwords %t", in.VersionNum.Major(), in.IsSuperuser, in.PasswordsReadable)
			}
			owner := in.Role("app_owner")
			if owner == nil || !owner.Login || owner.PasswordHash == "" || owner.ConnLimit != 20 {
				t.Errorf("app_owner = %+v", owner)
			}
			if r := in.Role("legacy_admin"); r == nil || !r.Superuser {
				t.Errorf("legacy_admin = %+v", r)
			}
			if in.Database("app") == nil || len(in.UserDatabases()) != 1 {
				t.Errorf("user databases = %v", in.UserDatabases())
			}
			if _, ok := in.AvailableExtensions["pgcrypto"]; !ok {
				t.Error("pgcrypto not among available extensions")
			}
			d, err := catalog.ReadDatabase(ctx, conn, "app", in.VersionNum)
			if err != nil {
				t.Fatal(err)
			}
			// Read with each query in one round trip (pgconn.ConnectOneShot: pgx's exec mode, an
			// unnamed statement, results in text), the catalog is the one read through prepared
			// statements with binary results.
			one, err := pgx.Connect(ctx, c.DSN("app")+"&default_query_exec_mode=exec&statement_cache_capacity=0&description_cache_capacity=0")
			if err != nil {
				t.Fatal(err)
			}
			defer one.Close(ctx)
			in1, err := catalog.ReadInstance(ctx, one)
			if err != nil {
				t.Fatal(err)
			}
			d1, err := catalog.ReadDatabase(ctx, one, "app", in.VersionNum)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []struct {
				q catalog.Querier
				d *catalog.Database
			}{{conn, d}, {one, d1}} {
				if err := catalog.ReadDependents(ctx, r.q, r.d, in.VersionNum); err != nil {
					t.Fatal(err)
				}
			}
			if !reflect.DeepEqual(in, in1) {
				t.Errorf("instance read in exec mode differs:\n%+v\n%+v", in, in1)
			}
			if !reflect.DeepEqual(d, d1) {
				t.Errorf("database read in exec mode differs:\n%+v\n%+v", d, d1)
			}
			customers := d.Table("app", "customers")
			if customers == nil || customers.Kind != "r" || !customers.HasPrimaryKey {
				t.Fatalf("app.customers = %+v", customers)
			}
			gen := false
			for _, col := range customers.Columns {
				if col.Name == "email_lower" {
					gen = col.Generated
				}
			}
			if !gen {
				t.Error("app.customers.email_lower is not marked generated")
			}
			docs := d.Table("app", "documents")
			for _, col := range docs.Columns {
				if col.Name == "lang" && col.Builtin {
					t.Error("a regconfig column must not be copied in binary (its binary form is an OID)")
				}
				if col.Name == "big_blob" && !col.Builtin {
					t.Error("bytea should be copied in binary")
				}
			}
			if p := d.Table("billing", "invoices"); p == nil || p.Kind != "p" {
				t.Errorf("billing.invoices = %+v", p)
			}
			if p := d.Table("billing", "invoices_2024"); p == nil || !p.IsPartition || p.Parent != "billing.invoices" {
				t.Errorf("billing.invoices_2024 = %+v", p)
			}
			if u := d.Table("app", "session_cache"); u == nil || !u.Unlogged {
				t.Errorf("app.session_cache = %+v", u)
			}
			var pk, fk bool
			for _, ix := range d.Indexes {
				if ix.Schema == "app" && ix.Name == "customers_pkey" && ix.Constraint == "p" && ix.ConstraintOID != 0 {
					pk = true
				}
			}
			for _, c := range d.Constraints {
				if c.Type == "f" && !c.Inherited && c.RefTable != "" && c.OID != 0 {
					fk = true
				}
			}
			if !pk || !fk {
				t.Errorf("primary key found %t, foreign key found %t", pk, fk)
			}
			var countdown *catalog.Sequence
			for i := range d.Sequences {
				if d.Sequences[i].Name == "countdown_seq" {
					countdown = &d.Sequences[i]
				}
			}
			if countdown == nil || countdown.LastValue > 100000 {
				t.Errorf("billing.countdown_seq = %+v", countdown)
			}
			if d.Objects["tables"] == 0 || d.Objects["functions"] == 0 || d.Objects["enums"] == 0 || d.Objects["triggers"] == 0 {
				t.Errorf("object counts = %v", d.Objects)
			}
			if d.IsEmpty() {
				t.Error("the sample database reads as empty")
			}
		})
	}
}

func TestSameObjects(t *testing.T) {
	db := func(exts ...string) *catalog.Database {
		d := &catalog.Database{Tables: []catalog.Table{{Schema: "public", Name: "t"}}, Sequences: []catalog.Sequence{{Schema: "public", Name: "t_id_seq"}}}
		for _, e := range exts {
			d.Extensions = append(d.Extensions, catalog.Extension{Name: e, Version: "1.0"})
		}
		return d
	}
	if !catalog.SameObjects(db("plpgsql", "pgcrypto"), db("pgcrypto", "plpgsql")) {
		t.Error("same objects reported different")
	}
	newer := db("plpgsql", "pgcrypto")
	newer.Extensions[1].Version = "1.4"
	if !catalog.SameObjects(db("plpgsql", "pgcrypto"), newer) {
		t.Error("an extension at the target's newer default version reported different")
	}
	if catalog.SameObjects(db("plpgsql", "pgcrypto", "citext"), db("plpgsql", "pgcrypto")) {
		t.Error("an extension added on the source since was not noticed")
	}
	moved := db("plpgsql")
	moved.Tables[0].Name = "u"
	if catalog.SameObjects(db("plpgsql"), moved) {
		t.Error("a renamed table was not noticed")
	}
}
