package planfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/plan"
	"github.com/pgferry/pgferry/state"
)

// TestStale: each way a saved plan stops fitting is named, in the order apply checks them.
func TestStale(t *testing.T) {
	base := func() *plan.Plan {
		return &plan.Plan{ToolVersion: "1.2.0", ConfigFingerprint: "cfg",
			Source:            state.Identity{Host: "src", Port: 5432, SystemIdentifier: "111"},
			Target:            state.Identity{Host: "tgt", Port: 5432, SystemIdentifier: "222"},
			SourceFingerprint: "sf", TargetFingerprint: "tf", StateLineage: "L", StateSerial: 4}
	}
	for _, tc := range []struct {
		name   string
		change func(now *plan.Plan)
		want   string
	}{
		{"fits", func(*plan.Plan) {}, ""},
		{"another pgferry", func(p *plan.Plan) { p.ToolVersion = "1.3.0"; p.StateSerial = 9 }, "The plan was made by pgferry 1.2.0; this is pgferry 1.3.0."},
		{"configuration", func(p *plan.Plan) { p.ConfigFingerprint = "other" }, "The migration's configuration changed since the plan was made."},
		{"source server", func(p *plan.Plan) { p.Source.SystemIdentifier = "999" }, "The source server is not the one the plan was made for."},
		{"source port", func(p *plan.Plan) { p.Source.Port = 5433 }, "The source server is not the one the plan was made for."},
		{"target host", func(p *plan.Plan) { p.Target.Host = "elsewhere" }, "The target server is not the one the plan was made for."},
		{"target catalog, no digests", func(p *plan.Plan) { p.TargetFingerprint = "tf2" },
			"The target's catalog changed since the plan was made (objects or roles were created, altered or dropped)."},
		{"both catalogs", func(p *plan.Plan) { p.SourceFingerprint, p.TargetFingerprint = "sf2", "tf2" },
			"The source's catalog changed since the plan was made (objects or roles were created, altered or dropped).\nThe target's catalog changed since the plan was made (objects or roles were created, altered or dropped)."},
		{"state serial", func(p *plan.Plan) { p.StateSerial = 5 }, "The state changed since the plan was made (serial 4, now 5)."},
		{"state lineage", func(p *plan.Plan) { p.StateLineage = "M" }, "The state changed since the plan was made (serial 4, now 4)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := base()
			tc.change(now)
			if got := Stale(base(), now); got != tc.want {
				t.Errorf("Stale = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestReadWrite: a written plan reads back; what is not a plan file of this major format is
// refused with what to do.
func TestReadWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.plan")
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Migration: "m", ToolVersion: "1.2.0", Databases: []string{"app"}}
	if err := Write(path, p); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode: %v, %v", fi, err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("the temporary file is left: %v", err)
	}
	got, err := Read(path)
	if err != nil || got.Migration != "m" || got.ToolVersion != "1.2.0" || strings.Join(got.Databases, ",") != "app" {
		t.Fatalf("Read = %+v, %v", got, err)
	}
	major := strings.Split(plan.FormatVersion, ".")[0]
	for _, tc := range []struct{ name, content, want string }{
		{"not JSON", "hello", "is not a pgferry plan file: invalid character"},
		{"other JSON", `{"a": 1}`, "is not a pgferry plan file (no format_version or migration)"},
		{"newer major format", `{"format_version": "9` + major + `.0", "migration": "m"}`, "has plan format 9" + major + ".0; this pgferry reads " + plan.FormatVersion + ": plan again with this version"},
		{"newer minor format", `{"format_version": "` + major + `.99", "migration": "m"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_"))
			if err := os.WriteFile(f, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Read(f)
			if tc.want == "" {
				if err != nil {
					t.Errorf("Read: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), f) {
				t.Errorf("Read: %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := Read(filepath.Join(dir, "missing")); !os.IsNotExist(err) {
		t.Errorf("Read of a missing file: %v", err)
	}
}

// TestDigest: one entry per role, database and object; password hashes only together; the
// fingerprint depends on the entries, not on their order or on databases not selected.
func TestDigest(t *testing.T) {
	in := &catalog.Instance{
		Roles:       []catalog.Role{{Name: "app", Login: true, PasswordHash: "SCRAM-SHA-256$secret"}, {Name: "ro"}},
		Memberships: []catalog.Membership{{Member: "ro", Role: "app"}},
		Databases:   []catalog.DatabaseInfo{{Name: "app", Owner: "app"}, {Name: "other", Owner: "app"}},
	}
	dbs := map[string]*catalog.Database{"app": {Name: "app", Objects: map[string]int{}, Tables: []catalog.Table{{Schema: "public", Name: "t", Kind: "r"}}},
		"other": {Name: "other", Objects: map[string]int{}, Tables: []catalog.Table{{Schema: "public", Name: "u", Kind: "r"}}}}
	d := Digest(in, dbs, []string{"app"})
	for _, k := range []string{"role app", "role ro", "role passwords", "database app", "database other", "database app: table public.t"} {
		if len(d[k]) != digestLen {
			t.Errorf("digest entry %q = %q", k, d[k])
		}
	}
	for k, v := range d {
		if strings.Contains(k, "other:") || strings.Contains(k+v, "secret") {
			t.Errorf("digest entry %q %q", k, v)
		}
	}
	fp := Fingerprint(d)
	if len(fp) != 16 || Fingerprint(Digest(in, dbs, []string{"app"})) != fp {
		t.Errorf("fingerprint %q is not stable", fp)
	}
	in.Roles[0].PasswordHash = "SCRAM-SHA-256$changed"
	d2 := Digest(in, dbs, []string{"app"})
	if d2["role app"] != d["role app"] || d2["role passwords"] == d["role passwords"] || Fingerprint(d2) == fp {
		t.Errorf("a changed password moves only the passwords entry: %q→%q, %q→%q", d["role app"], d2["role app"], d["role passwords"], d2["role passwords"])
	}
	if got := catalog.DigestChanges(d, d2); strings.Join(got, ",") != "role passwords (altered)" {
		t.Errorf("changes: %v", got)
	}
}
