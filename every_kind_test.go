package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/pgferry/pgferry/internal/pgtest"
	"github.com/rogpeppe/go-internal/testscript"
)

// everyKindPairs are the source → target majors testdata/every_kind is migrated between: range
// types before (11, 13) and after (15+) multirange types, onto the newest targets. A pair runs when
// the servers of both majors are installed (pgferry needs a pg_dump at least as new as the source);
// the script compares schema dumps only when the installed pg_dump can describe both servers.
// Add a pair here to cover it.
var everyKindPairs = [][2]int{
	{11, 15},
	{13, 15},
	{13, 16},
	{13, 17},
	{15, 18},
	{16, 17},
	{17, 18},
	{18, 18},
}

// TestEveryKind migrates testdata/every_kind/every_kind.sql, a database with every kind of object
// pg_dump handles, for each pair of everyKindPairs with the script
// testdata/every_kind/migrate_every_kind.txtar: apply, verify, equal rows and schema, and a plan
// afterwards with nothing to do.
func TestEveryKind(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL servers")
	}
	fixture, err := filepath.Abs("testdata/every_kind/every_kind.sql")
	if err != nil {
		t.Fatal(err)
	}
	dumpMajor, _ := pgtest.PgDumpMajor()
	for _, pair := range everyKindPairs {
		src, tgt := pair[0], pair[1]
		t.Run(fmt.Sprintf("%d_to_%d", src, tgt), func(t *testing.T) {
			for _, m := range pair {
				if !pgtest.Available(m) && os.Getenv("CI") == "" {
					t.Skipf("PostgreSQL %d binaries not installed (make pg-versions)", m)
				}
			}
			if dumpMajor < src && os.Getenv("CI") == "" {
				t.Skipf("no pg_dump %d or newer installed to dump a PostgreSQL %d source", src, src)
			}
			testscript.Run(t, testscript.Params{
				Files: []string{"testdata/every_kind/migrate_every_kind.txtar"},
				Cmds:  pgtest.Commands(),
				Condition: func(cond string) (bool, error) {
					switch cond {
					case "schemadump": // pg_dump can describe both servers
						return dumpMajor >= max(src, tgt), nil
					case "multirange": // the target has multirange types (14+)
						return tgt >= 14, nil
					}
					return pgtest.Condition(cond)
				},
				RequireExplicitExec: true,
				Setup: func(env *testscript.Env) error {
					env.Setenv("EVERY_KIND", fixture)
					env.Setenv("SRC_MAJOR", fmt.Sprint(src))
					env.Setenv("TGT_MAJOR", fmt.Sprint(tgt))
					env.Setenv("NO_COLOR", "1")
					return pgtest.Setup(env)
				},
			})
		})
	}
}
