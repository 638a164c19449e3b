package planfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/plan"
)

// digestInput is a source of one database with n tables (a primary key and one more index each)
// and an empty target, as pgferry plan reads them.
func digestInput(n int) plan.Input {
	db := &catalog.Database{Name: "app", Objects: map[string]int{"tables": n, "indexes": 2 * n}}
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("t%05d", i)
		db.Tables = append(db.Tables, catalog.Table{OID: uint32(20000 + i), Schema: "public", Name: name, Owner: "app", Kind: "r",
			RowEstimate: 1000, Pages: 10, SizeBytes: 81920, HasPrimaryKey: true,
			Columns: []catalog.Column{{Name: "id", Type: "integer", TypeOID: 23, Builtin: true}, {Name: "v", Type: "text", TypeOID: 25, Builtin: true}}})
		db.Indexes = append(db.Indexes,
			catalog.Index{OID: uint32(40000 + i), Schema: "public", Name: name + "_pkey", Table: name, Method: "btree",
				Def: fmt.Sprintf("CREATE UNIQUE INDEX %s_pkey ON public.%s USING btree (id)", name, name), Primary: true, Unique: true,
				Constraint: "p", ConstraintOID: uint32(60000 + i), Valid: true, SizeBytes: 16384},
			catalog.Index{OID: uint32(80000 + i), Schema: "public", Name: name + "_v_idx", Table: name, Method: "btree",
				Def: fmt.Sprintf("CREATE INDEX %s_v_idx ON public.%s USING btree (v)", name, name), Valid: true, SizeBytes: 16384})
	}
	src := &catalog.Instance{VersionNum: 150000, CurrentUser: "postgres", IsSuperuser: true,
		Roles:     []catalog.Role{{Name: "postgres", Superuser: true, Login: true, PasswordHash: "SCRAM-SHA-256$4096:c2FsdA==$x:y"}, {Name: "app", Login: true}},
		Databases: []catalog.DatabaseInfo{{Name: "app", Owner: "app", AllowConn: true}, {Name: "postgres", AllowConn: true}}}
	tgt := &catalog.Instance{VersionNum: 150000, CurrentUser: "postgres", IsSuperuser: true,
		Roles: []catalog.Role{{Name: "postgres", Superuser: true, Login: true}}}
	m := &config.Migration{Name: "m", Source: &config.Server{Kind: "source", Name: "src", Host: "h1", Port: 5432},
		Target: &config.Server{Kind: "target", Name: "tgt", Host: "h2", Port: 5432}, Databases: []string{"app"},
		Options: config.Options{Jobs: 2, Verify: "checksum", Roles: true, StripSuperuser: true}}
	return plan.Input{Snapshot: &snapshot.Snapshot{Migration: m, Source: src, Target: tgt,
		SourceDBs: map[string]*catalog.Database{"app": db}, TargetDBs: map[string]*catalog.Database{}}}
}

func planWithDigests(t *testing.T, in plan.Input) *plan.Plan {
	t.Helper()
	p, err := plan.Build(in)
	if err != nil {
		t.Fatal(err)
	}
	p.SourceDigest, p.TargetDigest = Digest(in.Source, in.SourceDBs, []string{"app"}), Digest(in.Target, in.TargetDBs, []string{"app"})
	p.SourceFingerprint, p.TargetFingerprint = Fingerprint(p.SourceDigest), Fingerprint(p.TargetDigest)
	return p
}

// TestPlanFileDigestSize: the per-object digests keep a saved plan of 1,000 tables small next to
// its actions, and hold no password hash.
func TestPlanFileDigestSize(t *testing.T) {
	p := planWithDigests(t, digestInput(1000))
	dir := t.TempDir()
	with, without := filepath.Join(dir, "with.plan"), filepath.Join(dir, "without.plan")
	if err := Write(with, p); err != nil {
		t.Fatal(err)
	}
	src, tgt := p.SourceDigest, p.TargetDigest
	p.SourceDigest, p.TargetDigest = nil, nil
	if err := Write(without, p); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(with)
	b, _ := os.Stat(without)
	t.Logf("plan file of 1,000 tables: %d bytes, of which %d for the digests (%d source entries, %d target entries)",
		a.Size(), a.Size()-b.Size(), len(src), len(tgt))
	if extra := a.Size() - b.Size(); extra > b.Size()/5 {
		t.Errorf("the digests add %d bytes to a plan file of %d", extra, b.Size())
	}
	data, _ := os.ReadFile(with)
	if strings.Contains(string(data), "SCRAM") || strings.Contains(string(data), "c2FsdA") {
		t.Error("the plan file holds a password hash")
	}
}

// TestStaleNamesChanges: a stale plan says which side changed and names the objects, at most ten.
func TestStaleNamesChanges(t *testing.T) {
	in := digestInput(30)
	saved := planWithDigests(t, in)

	// The target gets the database and one table; the source loses one index and alters a role.
	in2 := digestInput(30)
	sdb := in2.SourceDBs["app"]
	sdb.Indexes = sdb.Indexes[1:]
	in2.Source.Roles[1].CreateDB = true
	in2.Target.Databases = append(in2.Target.Databases, catalog.DatabaseInfo{Name: "app", Owner: "postgres", AllowConn: true})
	in2.TargetDBs["app"] = &catalog.Database{Name: "app", Objects: map[string]int{}, Tables: []catalog.Table{{Schema: "public", Name: "extra", Kind: "r"}}}
	now := planWithDigests(t, in2)
	now.StateLineage, now.StateSerial = saved.StateLineage, saved.StateSerial
	got := Stale(saved, now)
	for _, want := range []string{
		"The source's catalog changed since the plan was made:\n  database app: table public.t00000 (altered)\n  role app (altered)\n",
		"The target's catalog changed since the plan was made:\n  database app (created)\n  database app: other objects (created)\n",
		"  database app: table public.extra (created)",
	} {
		if !strings.Contains(got+"\n", want) {
			t.Errorf("stale() lacks %q:\n%s", want, got)
		}
	}

	// Many changes: ten named, the rest counted.
	in3 := digestInput(30)
	for i := range in3.SourceDBs["app"].Tables {
		in3.SourceDBs["app"].Tables[i].Columns = in3.SourceDBs["app"].Tables[i].Columns[:1]
	}
	now = planWithDigests(t, in3)
	got = Stale(saved, now)
	if !strings.Contains(got, "  ... and 20 more") || strings.Count(got, "(altered)") != 10 {
		t.Errorf("stale() with 30 changed tables:\n%s", got)
	}

	// A plan file made before digests: the side, without names.
	saved.SourceDigest = nil
	if got := Stale(saved, now); got != "The source's catalog changed since the plan was made (objects or roles were created, altered or dropped)." {
		t.Errorf("stale() of a plan without digests = %q", got)
	}
}
