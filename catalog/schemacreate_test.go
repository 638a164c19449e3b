package catalog_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/pgferry/pgferry/internal/pgver"
)

// TestSchemaCreateNeeds reads, on an old and a new major (role memberships' inheritance moved to
// each grant in 16), the superuser roles owning objects in schemas they do not own, with the
// schema's owner, the roles its privileges give CREATE to, and the roles the owner inherits from.
func TestSchemaCreateNeeds(t *testing.T) {
	for _, major := range []int{11, 17} {
		t.Run(fmt.Sprintf("pg%d", major), func(t *testing.T) {
			if !pgtest.Available(major) && os.Getenv("CI") == "" {
				t.Skipf("PostgreSQL %d binaries not installed (make pg-versions)", major)
			}
			c := pgtest.Start(t, major)
			ctx := context.Background()
			for _, q := range []string{
				"CREATE ROLE boss SUPERUSER; CREATE ROLE writers; CREATE ROLE staff; CREATE ROLE other; GRANT staff TO boss; GRANT writers TO staff",
				"CREATE DATABASE app OWNER other",
			} {
				if err := c.Exec(ctx, "postgres", q); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Exec(ctx, "app", `CREATE SCHEMA own AUTHORIZATION boss;
				CREATE SCHEMA grp AUTHORIZATION other; GRANT CREATE ON SCHEMA grp TO writers;
				SET ROLE boss;
				CREATE TABLE own.t (id int); CREATE TABLE grp.t (id int); CREATE FUNCTION grp.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
				CREATE TYPE grp.e AS ENUM ('a'); CREATE TABLE public.t (id int)`); err != nil {
				t.Fatal(err)
			}
			conn, err := pgx.Connect(ctx, c.DSN("app"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			d, err := catalog.ReadDatabase(ctx, conn, "app", pgver.Of(major))
			if err != nil {
				t.Fatal(err)
			}
			// public up to 14: its owner (the bootstrap superuser) and PUBLIC have CREATE; from 15
			// on, its owner pg_database_owner only.
			pub := fmt.Sprintf("{boss public 1 %s [PUBLIC %s] [staff writers]}", c.User, c.User)
			if major >= 15 {
				pub = "{boss public 1 pg_database_owner [pg_database_owner] [staff writers]}"
			}
			want := "[{boss grp 3 other [other writers] [staff writers]} " + pub + "]"
			if got := fmt.Sprint(d.SchemaCreateNeeds); got != want {
				t.Errorf("SchemaCreateNeeds = %s, want %s", got, want)
			}
		})
	}
}
