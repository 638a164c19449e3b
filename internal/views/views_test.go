package views

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fatih/color"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

func TestMain(m *testing.M) {
	flag.Parse()
	// Golden files hold plain text; colour is tested nowhere else either.
	color.NoColor = true
	os.Exit(m.Run())
}

// planTime is every fixture's creation time, so that output is the same on every run.
var planTime = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

var (
	onprem = state.Identity{Name: "onprem", Host: "10.1.2.3", Port: 5432, User: "postgres", Type: "on-premises",
		SystemIdentifier: "7312345678901234567", Version: "13.16", VersionNum: 130016}
	flex = state.Identity{Name: "flex", Host: "prod-flex.postgres.database.azure.com", Port: 5432, User: "pgadmin",
		SystemIdentifier: "7398765432109876543", Version: "16.4", VersionNum: 160004}
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

func ok(id, level, db, msg string) state.Validation {
	return state.Validation{ID: id, Level: level, Database: db, Outcome: "Succeeded", Message: msg}
}

// finish fills what plan.Build and the plan command would: identities, fingerprints, summary.
func finish(p *plan.Plan) *plan.Plan {
	p.FormatVersion = plan.FormatVersion
	p.ToolVersion = "0.1.0-test"
	p.CreatedAt = planTime
	p.Source, p.Target = onprem, flex
	p.ConfigFingerprint = "c0nf1g0000000001"
	p.SourceFingerprint = "5a11ce0000000001"
	p.TargetFingerprint = "7a46e70000000001"
	p.Summary = plan.Summarize(p.Actions, p.Validations)
	return p
}

// fullPlan is a first migration: roles, one database with tables, indexes and a foreign key,
// a hazard and warnings.
func fullPlan() *plan.Plan {
	db := "app"
	dbAddr := plan.DatabaseAddr(db)
	schema := plan.PartAddr(db, plan.TypeSchema)
	post := plan.PartAddr(db, plan.TypePostData)
	orders := plan.TableAddr(db, "public", "orders")
	customers := plan.TableAddr(db, "public", "customers")
	audit := plan.TableAddr(db, "audit", "log")
	roles := []string{plan.RoleAddr("app_owner"), plan.RoleAddr("ops"), plan.RoleAddr("reporting")}
	ix := func(name, table, what string, size int64) *plan.Action {
		return &plan.Action{Address: plan.IndexAddr(db, "public", name), Type: plan.TypeIndex, Kind: plan.Create, Database: db,
			Schema: "public", Name: name, Table: table, Reason: "build btree " + what + " on " + table, BytesEstimate: size,
			DependsOn: []string{plan.TableAddr(db, "public", table)}}
	}
	fk := plan.ConstraintAddr(db, "public", "orders", "orders_customer_id_fkey")
	return finish(&plan.Plan{
		Migration:    "prod-to-flex",
		StateLineage: "",
		StateSerial:  0,
		Databases:    []string{db},
		Actions: []*plan.Action{
			{Address: roles[0], Type: plan.TypeRole, Kind: plan.Create, Name: "app_owner", Reason: "role does not exist on the target",
				Details: []string{"attributes: LOGIN CREATEDB", "password: carried over (hash)"}},
			{Address: roles[1], Type: plan.TypeRole, Kind: plan.Create, Name: "ops", Reason: "role does not exist on the target",
				Details: []string{"attributes: LOGIN CREATEROLE", "password: none (the source login cannot read password hashes, or the role has none)"},
				Hazards: []plan.Hazard{{Code: "STRIPS_SUPERUSER", Message: `role "ops" is a superuser on the source; it will be created without SUPERUSER`}}},
			{Address: roles[2], Type: plan.TypeRole, Kind: plan.Create, Name: "reporting", Reason: "role does not exist on the target",
				Details: []string{"attributes: NOINHERIT"}},
			{Address: plan.MembershipAddr("app_owner", "reporting"), Type: plan.TypeMembership, Kind: plan.Create, Name: "app_owner", Table: "reporting",
				Reason: `"app_owner" is a member of "reporting" on the source`, DependsOn: []string{roles[0], roles[2]}},
			{Address: dbAddr, Type: plan.TypeDatabase, Kind: plan.Create, Database: db, Reason: "database does not exist on the target",
				BytesEstimate: 1288490188, Details: []string{"owner app_owner, encoding UTF8, locale en_US.UTF-8/en_US.UTF-8"}, DependsOn: roles},
			{Address: plan.ExtensionAddr(db, "pgcrypto"), Type: plan.TypeExtension, Kind: plan.Create, Database: db, Schema: "public", Name: "pgcrypto",
				Reason:  "CREATE EXTENSION pgcrypto from pg_dump, before pre-data (which may use its types and functions)",
				Details: []string{"version 1.3, schema public"}, DependsOn: []string{dbAddr}},
			{Address: schema, Type: plan.TypeSchema, Kind: plan.Create, Database: db, Reason: "pre-data from pg_dump: schemas, types, functions, tables, views",
				DependsOn: []string{dbAddr, plan.ExtensionAddr(db, "pgcrypto")}, Details: []string{"extensions: pgcrypto 1.3 (public)", "objects: 2 functions, 3 tables, 1 view"}},
			{Address: orders, Type: plan.TypeTable, Kind: plan.Create, Database: db, Schema: "public", Name: "orders", Reason: "copy rows",
				RowsEstimate: 9_412_000, BytesEstimate: 1181116006, DependsOn: []string{schema}},
			{Address: customers, Type: plan.TypeTable, Kind: plan.Create, Database: db, Schema: "public", Name: "customers", Reason: "copy rows",
				RowsEstimate: 120_500, BytesEstimate: 48 * mib, DependsOn: []string{schema}},
			{Address: audit, Type: plan.TypeTable, Kind: plan.Create, Database: db, Schema: "audit", Name: "log", Reason: "copy rows",
				BytesEstimate: 8192, DependsOn: []string{schema}, Details: []string{"never analyzed on the source: row estimate unknown", "unlogged table"}},
			ix("orders_pkey", "orders", "primary key", 211*mib),
			ix("customers_pkey", "customers", "primary key", 2*mib+700*1024),
			ix("orders_customer_id_idx", "orders", "index", 64*mib),
			{Address: plan.PartAddr(db, plan.TypeSequences), Type: plan.TypeSequences, Kind: plan.Create, Database: db,
				Reason: "set 2 sequences to their source values", DependsOn: []string{schema}},
			{Address: post, Type: plan.TypePostData, Kind: plan.Create, Database: db,
				Reason:    "rest of post-data from pg_dump: triggers, rules, policies, materialized view data, index attachments, comments, privileges",
				DependsOn: []string{schema, orders, customers, audit}},
			{Address: fk, Type: plan.TypeConstraint, Kind: plan.Create, Database: db, Schema: "public", Name: "orders_customer_id_fkey", Table: "orders",
				Reason:    "add foreign key FOREIGN KEY (customer_id) REFERENCES public.customers(id)",
				DependsOn: []string{orders, post, customers, plan.IndexAddr(db, "public", "customers_pkey")}},
			{Address: plan.PartAddr(db, plan.TypeAnalyze), Type: plan.TypeAnalyze, Kind: plan.Create, Database: db,
				Reason: "gather planner statistics (ANALYZE)", DependsOn: []string{post, fk}},
			{Address: plan.PartAddr(db, plan.TypeVerify), Type: plan.TypeVerify, Kind: plan.Create, Database: db,
				Reason: "compare source and target (checksum)", DependsOn: []string{plan.PartAddr(db, plan.TypeAnalyze)}},
		},
		Validations: []state.Validation{
			ok("connectivity.source", "instance", "", "connected to 10.1.2.3:5432 as postgres (sslmode prefer)"),
			ok("connectivity.target", "instance", "", "connected to prod-flex.postgres.database.azure.com:5432 as pgadmin (sslmode require)"),
			{ID: "version", Level: "instance", Outcome: "Warning",
				Message: "source 13.16 → target 16.4 crosses major versions: read the release notes of 14, 15 and 16 for incompatibilities"},
			{ID: "roles.superuser", Level: "instance", Outcome: "Warning", Objects: []string{"ops"},
				Message: "1 superuser role on the source will be created without SUPERUSER (strip_superuser = true)"},
			{ID: "server_parameters", Level: "instance", Outcome: "Warning", Objects: []string{"work_mem", "max_connections"},
				Message: "2 server parameters differ from the target (server_parameters = \"report\"): work_mem 64MB → 4MB | max_connections 200 → 100"},
			ok("extensions", "database", db, "pgcrypto 1.3 is available on the target"),
			ok("collations", "database", db, "encoding UTF8 and collation en_US.UTF-8 exist on the target"),
			ok("target_database", "database", db, `database "app" does not exist on the target`),
			ok("pg_dump", "instance", "", "pg_dump and pg_restore 16.4 found in /usr/lib/postgresql/16/bin"),
		},
	})
}

// noChangesPlan is the plan after a successful apply.
func noChangesPlan() *plan.Plan {
	return finish(&plan.Plan{
		Migration:    "prod-to-flex",
		StateLineage: "8f14e45f-ceea-4e67-9c3a-1d2b3c4d5e6f",
		StateSerial:  42,
		Databases:    []string{"app"},
		Validations: []state.Validation{
			ok("connectivity.source", "instance", "", "connected to 10.1.2.3:5432 as postgres (sslmode prefer)"),
			ok("connectivity.target", "instance", "", "connected to prod-flex.postgres.database.azure.com:5432 as pgadmin (sslmode require)"),
			ok("extensions", "database", "app", "pgcrypto 1.3 is available on the target"),
		},
	})
}

// failedPlan replaces a non-empty target database but cannot proceed: a validation Failed.
func failedPlan() *plan.Plan {
	db := "billing"
	dbAddr := plan.DatabaseAddr(db)
	schema := plan.PartAddr(db, plan.TypeSchema)
	post := plan.PartAddr(db, plan.TypePostData)
	invoices := plan.TableAddr(db, "public", "invoices")
	return finish(&plan.Plan{
		Migration:    "billing-move",
		StateLineage: "0b5e1a7c-1f1e-4d1a-8c55-2f0a4e9b7d31",
		StateSerial:  3,
		Databases:    []string{db},
		Actions: []*plan.Action{
			{Address: plan.RoleAddr("billing"), Type: plan.TypeRole, Kind: plan.Update, Name: "billing",
				Reason: "role attributes differ from the source", Details: []string{"login: false → true", "connection limit: 10 → -1"}},
			{Address: dbAddr, Type: plan.TypeDatabase, Kind: plan.Replace, Database: db, BytesEstimate: 3 * gib,
				Reason:    "database exists on the target and overwrite_databases = true",
				Details:   []string{"owner billing, encoding UTF8, locale C/C, ICU locale und"},
				DependsOn: []string{plan.RoleAddr("billing")},
				Hazards:   []plan.Hazard{{Code: "DROPS_DATABASE", Message: `the target database "billing" and everything in it will be dropped`}}},
			{Address: schema, Type: plan.TypeSchema, Kind: plan.Create, Database: db,
				Reason: "pre-data from pg_dump: schemas, types, functions, tables, views", DependsOn: []string{dbAddr}},
			{Address: invoices, Type: plan.TypeTable, Kind: plan.Create, Database: db, Schema: "public", Name: "invoices", Reason: "copy rows",
				RowsEstimate: 2_750_000, BytesEstimate: 2*gib + 512*mib, DependsOn: []string{schema}},
			{Address: plan.IndexAddr(db, "public", "invoices_pkey"), Type: plan.TypeIndex, Kind: plan.Create, Database: db,
				Reason: "build btree primary key on invoices", BytesEstimate: 60 * mib, DependsOn: []string{invoices}},
			{Address: post, Type: plan.TypePostData, Kind: plan.Create, Database: db,
				Reason:    "rest of post-data from pg_dump: triggers, rules, policies, materialized view data, index attachments, comments, privileges",
				DependsOn: []string{schema, invoices, plan.IndexAddr(db, "public", "invoices_pkey")}},
			{Address: plan.PartAddr(db, plan.TypeAnalyze), Type: plan.TypeAnalyze, Kind: plan.Create, Database: db,
				Reason: "gather planner statistics (ANALYZE)", DependsOn: []string{post}},
		},
		Validations: []state.Validation{
			ok("connectivity.source", "instance", "", "connected to 10.1.2.3:5432 as postgres (sslmode prefer)"),
			ok("connectivity.target", "instance", "", "connected to prod-flex.postgres.database.azure.com:5432 as pgadmin (sslmode require)"),
			{ID: "extensions.preload", Level: "database", Database: db, Outcome: "Failed", Objects: []string{"pg_cron"},
				Message: "pg_cron must be in shared_preload_libraries on the target: add it to shared_preload_libraries (and azure.extensions), restart the server, then plan again"},
			{ID: "target_database", Level: "database", Database: db, Outcome: "Warning",
				Message: `database "billing" on the target is not empty; overwrite_databases = true: it will be dropped and recreated`},
		},
	})
}

var fixtures = []struct {
	name string
	plan func() *plan.Plan
}{
	{"full", fullPlan},
	{"no_changes", noChangesPlan},
	{"validation_failed", failedPlan},
	{"forecast", forecastPlan},
	{"forecast_unavailable", forecastUnavailablePlan},
}

// forecastPlan is fullPlan with a forecast scaled from a rehearsal, its critical path longer
// than the human form names.
func forecastPlan() *plan.Plan {
	p := fullPlan()
	p.Forecast = &state.Forecast{ExpectedMS: 72400, LowMS: 58000, HighMS: 86900, Basis: "rehearsal", BasisRun: 3, BasisRunMS: 71800, Jobs: 4,
		CriticalPath: []string{"role.app_owner", "role.ops", "role.reporting", "database.app", "database.app.schema",
			`database.app.table["public"."orders"]`, `database.app.index["public"."orders_pkey"]`,
			`database.app.constraint["public"."orders"."orders_customer_id_fkey"]`, "database.app.verify"},
		CriticalMS: []int64{20, 15, 15, 310, 1200, 48100, 15300, 4200, 2900},
		Note:       "2 actions not in run 3, priced from its actions of the same kind"}
	return p
}

// forecastUnavailablePlan is fullPlan whose forecast could not be made.
func forecastUnavailablePlan() *plan.Plan {
	p := fullPlan()
	p.Forecast = &state.Forecast{Unavailable: "measuring the servers: the target refused the temporary table (permission denied for schema pg_temp)"}
	return p
}

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/views -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (go test ./internal/views -update rewrites it):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first lines where want and got part, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(w), len(g)) && shown < 10; i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
			shown++
		}
	}
	return b.String()
}

func TestGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			p := f.plan()
			var human bytes.Buffer
			Plan(&human, p)
			golden(t, f.name+".human.golden", human.Bytes())

			var md bytes.Buffer
			Markdown(&md, p)
			golden(t, f.name+".md.golden", md.Bytes())

			js, err := PlanJSON(p)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, f.name+".json.golden", js)
		})
	}
}

// TestDeterministic renders every fixture twice from fresh plans: no map order, no clock.
func TestDeterministic(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			render := func() string {
				var b bytes.Buffer
				Markdown(&b, f.plan())
				js, err := PlanJSON(f.plan())
				if err != nil {
					t.Fatal(err)
				}
				return b.String() + string(js)
			}
			if a, b := render(), render(); a != b {
				t.Errorf("two renderings differ:\n%s", lineDiff(a, b))
			}
		})
	}
}
