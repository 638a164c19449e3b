package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

const testdata = "../testdata/config"

// loadOne loads a single file of testdata/config/valid as a whole configuration.
func loadOne(t *testing.T, name string, in Inputs) *Config {
	t.Helper()
	path := filepath.Join(testdata, "valid", name)
	cfg, diags := loadFiles(filepath.Dir(path), []string{path}, nil, in)
	if diags.HasErrors() {
		var buf bytes.Buffer
		_ = diags.Write(&buf, cfg.SnippetFiles(), false, 0)
		t.Fatalf("loading %s:\n%s", name, buf.String())
	}
	return cfg
}

// loadSrc writes src as main.hcl in a temporary directory and loads it.
func loadSrc(t *testing.T, src string, in Inputs) (*Config, Diagnostics) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(dir, in)
}

func mustMigration(t *testing.T, cfg *Config, name string) *Migration {
	t.Helper()
	m, err := cfg.Migration(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestValid(t *testing.T) {
	tests := map[string]struct {
		file  string
		in    Inputs
		check func(t *testing.T, cfg *Config)
	}{
		"spec example": {
			file: "full.hcl",
			in: Inputs{
				Args: []Arg{Var("target_password=t0p-secret")},
				Env:  []string{"PGFERRY_SOURCE_PASSWORD=s3cret", "PGFERRY_STATE_DSN=postgres://state:st%40te@db/state"},
			},
			check: func(t *testing.T, cfg *Config) {
				m := mustMigration(t, cfg, "")
				want := &Migration{
					Name: "prod-to-flex",
					Mode: "offline",
					Source: &Server{Kind: "source", Name: "onprem", Host: "10.1.2.3", Port: 5432, User: "postgres",
						Password: "s3cret", SSLMode: "prefer", Type: "on-premises", DBName: "postgres"},
					Target: &Server{Kind: "target", Name: "flex", Host: "127.0.0.1", Port: 5433, User: "admin",
						Password: "t0p-secret", SSLMode: "require", DBName: "postgres", FQDN: "prod-flex.example.com"},
					Databases: []string{"app", "billing"},
					Options: Options{Roles: true, StripSuperuser: true, Jobs: 4, Verify: "checksum",
						ServerParameters: "report", SplitTablesLargerThan: DefaultSplitTablesLargerThan,
						CopyFormat: CopyFormatAuto, OwnerMap: map[string]string{"postgres": "app_admin", "My Role": "app"}},
				}
				assertMigration(t, m, want)
				if m.Source != cfg.Sources["onprem"] || m.Target != cfg.Targets["flex"] {
					t.Error("migration references do not point at the declared servers")
				}
				wantBackend := &Backend{Type: "pg", ConnStr: "postgres://state:st%40te@db/state", Schema: "pgferry"}
				if !reflect.DeepEqual(cfg.Backend, wantBackend) {
					t.Errorf("backend = %+v, want %+v", cfg.Backend, wantBackend)
				}
				if got := m.Target.Dialed(); got != "prod-flex.example.com" {
					t.Errorf("Dialed() = %q", got)
				}
			},
		},
		"defaults": {
			file: "minimal.hcl",
			check: func(t *testing.T, cfg *Config) {
				m := mustMigration(t, cfg, "move")
				want := &Migration{
					Name: "move",
					Mode: "offline",
					Source: &Server{Kind: "source", Name: "onprem", Host: "db1.internal", Port: 5432, User: "postgres",
						SSLMode: "prefer", Type: "other", DBName: "postgres"},
					Target: &Server{Kind: "target", Name: "flex", Host: "db2.internal", Port: 5432, User: "admin",
						SSLMode: "prefer", DBName: "postgres"},
					Databases: []string{"*"},
					Options:   Options{Roles: true, StripSuperuser: true, Jobs: 4, Verify: "checksum", ServerParameters: "report", SplitTablesLargerThan: DefaultSplitTablesLargerThan, CopyFormat: CopyFormatAuto, OwnerMap: map[string]string{}},
				}
				assertMigration(t, m, want)
				if want := (&Backend{Type: "local", Path: ".pgferry"}); !reflect.DeepEqual(cfg.Backend, want) {
					t.Errorf("backend = %+v, want the default %+v", cfg.Backend, want)
				}
				if len(cfg.Variables) != 0 {
					t.Errorf("variables = %v, want none", cfg.Variables)
				}
			},
		},
		"functions, options and several migrations": {
			file: "multi.hcl",
			in:   Inputs{Args: []Arg{Var("env=prod")}},
			check: func(t *testing.T, cfg *Config) {
				if len(cfg.Migrations) != 2 || cfg.Migrations[0].Name != "app" || cfg.Migrations[1].Name != "billing-2" {
					t.Fatalf("migrations not in declaration order: %v", cfg.Migrations)
				}
				m := cfg.Migrations[0]
				want := &Migration{
					Name: "app",
					Mode: "offline",
					Source: &Server{Kind: "source", Name: "onprem", Host: "prod-db.internal", Port: 5433, User: "postgres",
						SSLMode: "verify-full", SSLRootCert: "/etc/ssl/root.crt", SSLCert: "/etc/ssl/client.crt",
						SSLKey: "/etc/ssl/client.key", Type: "azure-vm", DBName: "admin_db"},
					Target: &Server{Kind: "target", Name: "flex", Host: "10.0.0.5", Port: 5432, User: "ADMIN",
						SSLMode: "prefer", DBName: "postgres", FQDN: "prod.flex.example.com"},
					Databases: []string{"app", "prod_reports"},
					Options: Options{Jobs: 8, Verify: "count", ServerParameters: "apply",
						IncludeTables: []string{"public.*", "sales.order?"}, ExcludeTables: []string{"public.tmp_*"},
						PgBinDir: "/usr/lib/postgresql/17/bin", SplitTablesLargerThan: 512 << 20, CopyFormat: CopyFormatText, OwnerMap: map[string]string{}},
				}
				assertMigration(t, m, want)
				if got := cfg.Migrations[1].Databases; !reflect.DeepEqual(got, []string{"billing"}) {
					t.Errorf("conditional databases = %v", got)
				}
				if got := cfg.Migrations[1].Options.Verify; got != "none" {
					t.Errorf("verify = %q", got)
				}
				if cfg.Backend.Type != "local" || cfg.Backend.Path != "state/prod" {
					t.Errorf("backend = %+v", cfg.Backend)
				}
				if _, err := cfg.Migration(""); err == nil || !strings.Contains(err.Error(), "--migration NAME") {
					t.Errorf("Migration(\"\") with two migrations: err = %v", err)
				}
			},
		},
		"variables, sensitive and env()": {
			file: "vars.hcl",
			in: Inputs{
				Args: []Arg{Var("source_host=db.internal"), Var("source_password=pa55")},
				Env:  []string{"PGFERRY_TARGET_PASSWORD=tpass", "PGFERRY_TEST_USER=migrator", "PGFERRY_VAR_port=6543"},
			},
			check: func(t *testing.T, cfg *Config) {
				m := mustMigration(t, cfg, "m1")
				if s := m.Source; s.Host != "db.internal" || s.Port != 6543 || s.User != "migrator" || s.Password != "pa55" {
					t.Errorf("source = %+v", s)
				}
				if m.Target.Password != "tpass" {
					t.Errorf("target password from env() = %q", m.Target.Password)
				}
				v := cfg.Variables["source_password"]
				if v == nil || !v.Sensitive || v.Value != "pa55" || !v.Set || v.Type != "string" {
					t.Errorf("source_password = %+v", v)
				}
				if v := cfg.Variables["untyped"]; v == nil || v.Type != "" || v.Value != "x" {
					t.Errorf("untyped = %+v", v)
				}
				want := map[string]string{"source_host": "db.internal", "port": "6543", "untyped": "x"}
				if got := cfg.NonSensitiveVars(); !reflect.DeepEqual(got, want) {
					t.Errorf("NonSensitiveVars() = %v, want %v", got, want)
				}
			},
		},
		"env() of an unset variable is empty": {
			file: "vars.hcl",
			in:   Inputs{Args: []Arg{Var("source_host=h"), Var("source_password=p")}},
			check: func(t *testing.T, cfg *Config) {
				m := mustMigration(t, cfg, "m1")
				if m.Target.Password != "" || m.Source.User != "postgres" || m.Source.Port != 5432 {
					t.Errorf("target password %q, source user %q port %d", m.Target.Password, m.Source.User, m.Source.Port)
				}
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			tt.check(t, loadOne(t, tt.file, tt.in))
		})
	}
}

func assertMigration(t *testing.T, got, want *Migration) {
	t.Helper()
	if got.Name != want.Name || got.Mode != want.Mode {
		t.Errorf("name, mode = %q, %q; want %q, %q", got.Name, got.Mode, want.Name, want.Mode)
	}
	for _, pair := range [][2]*Server{{got.Source, want.Source}, {got.Target, want.Target}} {
		g, w := *pair[0], *pair[1]
		g.DeclRange = hcl.Range{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", w.Kind, g, w)
		}
	}
	if !reflect.DeepEqual(got.Databases, want.Databases) {
		t.Errorf("databases = %q, want %q", got.Databases, want.Databases)
	}
	if !reflect.DeepEqual(got.Options, want.Options) {
		t.Errorf("options:\n got %+v\nwant %+v", got.Options, want.Options)
	}
}

func TestVariablePrecedence(t *testing.T) {
	const src = `
variable "a" {
  default = "default"
}

source "s" {
  host = var.a
  user = "u"
}

target "t" {
  host = "t.example.com"
  user = "u"
}

migration "m" {
  source    = source.s
  target    = target.t
  databases = ["app"]
}
`
	dir := t.TempDir()
	file1 := filepath.Join(dir, "one.vars")
	file2 := filepath.Join(dir, "two.vars")
	if err := os.WriteFile(file1, []byte(`a = "file1"`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file2, []byte(`a = "file2"`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		in   Inputs
		want string
	}{
		"default":                   {Inputs{}, "default"},
		"env over default":          {Inputs{Env: []string{"PGFERRY_VAR_a=env"}}, "env"},
		"later env entry wins":      {Inputs{Env: []string{"PGFERRY_VAR_a=env1", "PGFERRY_VAR_a=env2"}}, "env2"},
		"var file over env":         {Inputs{Env: []string{"PGFERRY_VAR_a=env"}, Args: []Arg{VarFile(file1)}}, "file1"},
		"later var file wins":       {Inputs{Args: []Arg{VarFile(file1), VarFile(file2)}}, "file2"},
		"var over var file and env": {Inputs{Env: []string{"PGFERRY_VAR_a=env"}, Args: []Arg{VarFile(file1), Var("a=flag")}}, "flag"},
		"later var wins":            {Inputs{Args: []Arg{Var("a=one"), Var("a=two")}}, "two"},
		"value with equals sign":    {Inputs{Args: []Arg{Var("a=x=y")}}, "x=y"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			cfg, diags := loadSrc(t, src, tt.in)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if got := cfg.Sources["s"].Host; got != tt.want {
				t.Errorf("host = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestInputErrors(t *testing.T) {
	const src = `
variable "port" {
  type = number
}

source "s" {
  host = "s.example.com"
  port = var.port
  user = "u"
}

target "t" {
  host = "t.example.com"
  user = "u"
}

migration "m" {
  source    = source.s
  target    = target.t
  databases = ["app"]
}
`
	tests := map[string]struct {
		in   Inputs
		want string // matches the detail of the only error
	}{
		"unknown --var":         {Inputs{Args: []Arg{Var("port=5432"), Var("prot=1")}}, `--var prot=\.\.\. sets a variable named "prot".*Did you mean "port"`},
		"--var without equals":  {Inputs{Args: []Arg{Var("port=1"), Var("s3cret")}}, `--var takes NAME=VALUE.*the 2nd --var option has no '='`},
		"--var name only":       {Inputs{Args: []Arg{Var("port=1"), Var("port")}}, `--var port has no value: write --var port=VALUE`},
		"--var not a number":    {Inputs{Args: []Arg{Var("port=abc")}}, `--var port=\.\.\. must be a number`},
		"env not a number":      {Inputs{Env: []string{"PGFERRY_VAR_port=x"}}, `PGFERRY_VAR_port .* must be a number`},
		"missing var file":      {Inputs{Args: []Arg{VarFile("/nonexistent/x.vars"), Var("port=1")}}, `Check the path given to --var-file`},
		"no value at all":       {Inputs{}, `--var port=\.\.\.`},
		"out of range from var": {Inputs{Args: []Arg{Var("port=0")}}, `port must be a whole number from 1 to 65535; got 0`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, diags := loadSrc(t, src, tt.in)
			if diags.ErrorCount() != 1 {
				t.Fatalf("want exactly one error, got %d: %v", diags.ErrorCount(), diags)
			}
			if d := diags[0]; !regexp.MustCompile(tt.want).MatchString(d.Detail) {
				t.Errorf("detail %q does not match %q", d.Detail, tt.want)
			}
		})
	}
}

func TestVarFileUndeclaredIsWarning(t *testing.T) {
	dir := t.TempDir()
	vf := filepath.Join(dir, "x.pgfvars")
	// A misspelt name: its value may well be the password it was meant for.
	if err := os.WriteFile(vf, []byte("target_pasword = \"Hunter2Secret\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := loadSrc(t, readValid(t, "minimal.hcl"), Inputs{Args: []Arg{VarFile(vf)}})
	if diags.HasErrors() || diags.WarningCount() != 1 || diags[0].Subject == nil || diags[0].Subject.Filename != vf {
		t.Fatalf("want one warning on %s, got %v", vf, diags)
	}
	out := render(t, diags, cfg)
	if !strings.Contains(out, "Warning: Value for undeclared variable") || !strings.Contains(out, vf+":1:1") ||
		strings.Contains(out, "Hunter2Secret") {
		t.Errorf("warning rendered as:\n%s", out)
	}
}

// render returns diags as text and as JSON, rendered with every file Load read.
func render(t *testing.T, diags Diagnostics, cfg *Config) string {
	t.Helper()
	var buf bytes.Buffer
	if err := diags.Write(&buf, cfg.SnippetFiles(), false, 0); err != nil {
		t.Fatal(err)
	}
	if err := diags.WriteJSON(&buf, cfg.SnippetFiles()); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// varsConfig declares a sensitive variable (target_password), one used as a password
// (source_password, sensitive because of that use) and a plain one (target_port).
const varsConfig = `
variable "target_password" {
  type      = string
  sensitive = true
}

variable "source_password" {}

variable "target_port" {
  type    = number
  default = 5433
}

source "s" {
  host     = "s.example.com"
  user     = "u"
  password = var.source_password
}

target "t" {
  host     = "t.example.com"
  port     = var.target_port
  user     = "u"
  password = var.target_password
}

migration "m" {
  source    = source.s
  target    = target.t
  databases = ["app"]
}
`

// TestVariablesFileSecrets: no diagnostic about a variables file, or a --var, shows a
// value that may be a secret; each still says where the problem is and what to do.
func TestVariablesFileSecrets(t *testing.T) {
	const secret = "Hunter2Secret"
	tests := map[string]struct {
		files   map[string]string // written beside main.hcl
		args    []Arg             // VarFile paths are relative to the directory
		errors  int
		want    []string // in the rendered text (regexps)
		snippet string   // a line that must be quoted ("" when none may be)
	}{
		"syntax error in --var-file": {
			files:  map[string]string{"prod.pgfvars": "target_port = 1\ntarget_password = \"" + secret + "\n"},
			args:   []Arg{VarFile("prod.pgfvars")},
			errors: 2,
			want:   []string{`prod\.pgfvars:2:\d+`, `Invalid multi-line string`, `lines are not shown`},
		},
		"escape sequence error quotes no character": {
			files:  map[string]string{"prod.pgfvars": `target_password = "Hunter2\qSecret"` + "\n"},
			args:   []Arg{VarFile("prod.pgfvars")},
			errors: 1,
			want:   []string{`Invalid escape sequence`, `The variables file does not parse`},
		},
		"syntax error in pgferry.pgfvars": {
			files:  map[string]string{"pgferry.pgfvars": "target_password = " + secret + "\"\n"},
			errors: 2,
			want:   []string{`pgferry\.pgfvars:1:\d+`},
		},
		"sensitive value of the wrong type": {
			files:  map[string]string{"pgferry.pgfvars": "target_password = [\"" + secret + "\"]\n"},
			errors: 1,
			want:   []string{`pgferry\.pgfvars:1:19`, `The value of variable "target_password" must be a string`},
		},
		"function error about a password variable's value": {
			files:  map[string]string{"a.auto.pgfvars": "source_password = parseint(\"" + secret + "\", 10)\n"},
			errors: 1,
			want:   []string{`a\.auto\.pgfvars:1:\d+`, `Invalid function argument`},
		},
		"a plain variable's line is quoted": {
			files:   map[string]string{"prod.pgfvars": "target_password = \"" + secret + "\"\ntarget_port = \"abc\"\n"},
			args:    []Arg{VarFile("prod.pgfvars")},
			errors:  1,
			want:    []string{`prod\.pgfvars:2:15`, `The value of variable "target_port" must be a number`},
			snippet: `   2: target_port = "abc"`,
		},
		"--var without a name": {
			args:   []Arg{Var(secret)},
			errors: 1,
			want:   []string{`the 1st --var option has no '='`},
		},
		"--var with a name that is not one": {
			args:   []Arg{Var("target_port=1"), Var("p@ss=" + secret)},
			errors: 1,
			want:   []string{`The 2nd --var option sets a variable the configuration does not declare \(declared: target_password, source_password, target_port\)`},
		},
		"--var of a secret holding '='": {
			args:   []Arg{Var("Hunter2=Secret")},
			errors: 1,
			want:   []string{`The 1st --var option sets a variable the configuration does not declare`, `Its text is not shown`},
		},
		"--var of an undeclared variable": {
			args:   []Arg{Var("target_pasword=" + secret)},
			errors: 1,
			want:   []string{`--var target_pasword=\.\.\. sets a variable named "target_pasword"`, `Did you mean "target_password"`},
		},
		"--var naming a variable without a value": {
			args:   []Arg{Var("target_password")},
			errors: 1,
			want:   []string{`--var target_password has no value: write --var target_password=VALUE`},
		},
		"--var with an empty name": {
			args:   []Arg{Var("=" + secret)},
			errors: 1,
			want:   []string{`the 1st --var option has no name before '='`},
		},
		"vars.hcl beside main.hcl": {
			files:  map[string]string{"vars.hcl": "target_password = \"" + secret + "\"\nsource_password = \"" + secret + "\"\n"},
			errors: 1,
			want: []string{`Error: Variables file read as configuration`, `vars\.hcl:1:1`,
				`vars\.hcl holds only variable values \(target_password, source_password\)`,
				`Rename it to pgferry\.pgfvars \(read automatically\), to vars\.auto\.pgfvars`},
		},
		"vars.hcl with a syntax error": {
			files:  map[string]string{"vars.hcl": "target_password = \"" + secret + "\n"},
			errors: 2,
			want:   []string{`vars\.hcl:1:\d+`, `Rename it to pgferry\.pgfvars`},
		},
		"a variable's value in a configuration file": {
			files:  map[string]string{"extra.hcl": "target_password = \"" + secret + "\"\n\nbackend \"local\" {}\n"},
			errors: 1,
			want:   []string{`extra\.hcl:1:1`, `Unsupported argument`, `To give variable "target_password" a value, write the line in a variables file`},
		},
		"a password outside its block": {
			files:  map[string]string{"extra.hcl": "password = \"" + secret + "\"\n\nbackend \"local\" {}\n"},
			errors: 1,
			want:   []string{`extra\.hcl:1:1`, `password belongs inside a source or target block`},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			write := func(name, src string) {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write("main.hcl", varsConfig)
			for name, src := range tt.files {
				write(name, src)
			}
			var args []Arg
			for _, a := range tt.args {
				if a.File {
					a.Value = filepath.Join(dir, a.Value)
				}
				args = append(args, a)
			}
			cfg, diags := Load(dir, Inputs{Args: args, Env: []string{"PGFERRY_VAR_target_password=x", "PGFERRY_VAR_source_password=y"}})
			out := render(t, diags, cfg)
			if diags.ErrorCount() != tt.errors {
				t.Errorf("%d errors, want %d:\n%s", diags.ErrorCount(), tt.errors, out)
			}
			if strings.Contains(out, secret) || strings.Contains(out, "Hunter2") {
				t.Errorf("the secret is in the output:\n%s", out)
			}
			flat := strings.Join(strings.Fields(out), " ")
			for _, w := range tt.want {
				if !regexp.MustCompile(w).MatchString(flat) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.snippet != "" && !strings.Contains(out, tt.snippet) {
				t.Errorf("output lacks the line %q:\n%s", tt.snippet, out)
			}
			if tt.snippet == "" && strings.Contains(out, `"snippet"`) {
				t.Errorf("a snippet is quoted:\n%s", out)
			}
		})
	}
}

// TestAutoVariablesFiles: pgferry.pgfvars and *.auto.pgfvars of the directory are
// read without being named, after PGFERRY_VAR_*, before --var-file and --var (which
// apply in command-line order), as terraform.tfvars and *.auto.tfvars are; other
// *.pgfvars files are read only when named, and none is configuration.
func TestAutoVariablesFiles(t *testing.T) {
	const src = `
variable "a" {
  default = "default"
}

variable "b" {
  default = "default"
}

source "s" {
  host = var.a
  user = var.b
}

target "t" {
  host = "t.example.com"
  user = "u"
}

migration "m" {
  source    = source.s
  target    = target.t
  databases = ["app"]
}
`
	tests := map[string]struct {
		files map[string]string
		in    Inputs
		a, b  string
	}{
		"pgferry.pgfvars":                     {map[string]string{"pgferry.pgfvars": `a = "auto"`}, Inputs{}, "auto", "default"},
		"over env":                            {map[string]string{"pgferry.pgfvars": `a = "auto"`}, Inputs{Env: []string{"PGFERRY_VAR_a=env", "PGFERRY_VAR_b=env"}}, "auto", "env"},
		"*.auto.pgfvars over pgferry.pgfvars": {map[string]string{"pgferry.pgfvars": "a = \"p\"\nb = \"p\"", "x.auto.pgfvars": `a = "x"`}, Inputs{}, "x", "p"},
		"*.auto.pgfvars in name order":        {map[string]string{"b.auto.pgfvars": `a = "b"`, "a.auto.pgfvars": `a = "a"`}, Inputs{}, "b", "default"},
		"other .pgfvars only when named":      {map[string]string{"prod.pgfvars": `a = "prod"`}, Inputs{}, "default", "default"},
		"--var-file over auto files":          {map[string]string{"pgferry.pgfvars": `a = "auto"`, "prod.pgfvars": `a = "prod"`}, Inputs{Args: []Arg{VarFile("prod.pgfvars")}}, "prod", "default"},
		"--var over auto files":               {map[string]string{"z.auto.pgfvars": `a = "auto"`}, Inputs{Args: []Arg{Var("a=flag")}}, "flag", "default"},
		"--var then --var-file: file wins":    {map[string]string{"prod.pgfvars": `a = "prod"`}, Inputs{Args: []Arg{Var("a=flag"), VarFile("prod.pgfvars")}}, "prod", "default"},
		"--var-file then --var: var wins":     {map[string]string{"prod.pgfvars": `a = "prod"`}, Inputs{Args: []Arg{VarFile("prod.pgfvars"), Var("a=flag")}}, "flag", "default"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			files := map[string]string{"main.hcl": src}
			for k, v := range tt.files {
				files[k] = v
			}
			for k, v := range files {
				if err := os.WriteFile(filepath.Join(dir, k), []byte(v+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			in := tt.in
			in.Args = nil
			for _, a := range tt.in.Args {
				if a.File {
					a.Value = filepath.Join(dir, a.Value)
				}
				in.Args = append(in.Args, a)
			}
			cfg, diags := Load(dir, in)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if s := cfg.Sources["s"]; s.Host != tt.a || s.User != tt.b {
				t.Errorf("a, b = %q, %q; want %q, %q", s.Host, s.User, tt.a, tt.b)
			}
			if len(cfg.Files) != 1 {
				t.Errorf("configuration files: %v; a .pgfvars file is never configuration", slices.Collect(maps.Keys(cfg.Files)))
			}
		})
	}
}

func TestPasswordVariablesAreSensitive(t *testing.T) {
	const src = `
variable "pw" {}

variable "dsn" {}

variable "host" {}

source "s" {
  host     = var.host
  user     = "u"
  password = "x${var.pw}"
}

target "t" {
  host = "t.example.com"
  user = "u"
}

migration "m" {
  source    = source.s
  target    = target.t
  databases = ["app"]
}

backend "pg" {
  conn_str = var.dsn
}
`
	dir := t.TempDir()
	vf := filepath.Join(dir, "secrets.vars")
	if err := os.WriteFile(vf, []byte("pw = \"hunter2\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := loadSrc(t, src, Inputs{Args: []Arg{VarFile(vf), Var("dsn=host=db password=dsnpw"), Var("host=h")}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got, want := cfg.NonSensitiveVars(), map[string]string{"host": "h"}; !reflect.DeepEqual(got, want) {
		t.Errorf("NonSensitiveVars() = %v, want %v", got, want)
	}
	secrets := cfg.Secrets()
	for _, want := range []string{"hunter2", "xhunter2", "dsnpw", "host=db password=dsnpw"} {
		if !slices.Contains(secrets, want) {
			t.Errorf("Secrets() = %q lacks %q", secrets, want)
		}
	}
	if _, in := cfg.Files[vf]; in || cfg.VarFiles[vf] == nil || cfg.SnippetFiles()[vf] == nil {
		t.Error("a --var-file must be in VarFiles and SnippetFiles, not in Files")
	}
}

func readValid(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "valid", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// marker is an inline "# ERROR: <regexp>" comment of an invalid fixture.
type marker struct {
	file string
	line int
	re   *regexp.Regexp
}

var markerRe = regexp.MustCompile(`#\s*ERROR:\s*(.+?)\s*$`)

func readMarkers(t *testing.T, path string) []marker {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []marker
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if m := markerRe.FindStringSubmatch(sc.Text()); m != nil {
			out = append(out, marker{file: path, line: line, re: regexp.MustCompile(m[1])})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInvalid loads every testdata/config/invalid/<case> directory: each "# ERROR:"
// marker must be matched (summary or detail) by an error starting on its line, and
// every error must be matched by a marker.
func TestInvalid(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(testdata, "invalid", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 15 {
		t.Fatalf("only %d invalid fixtures", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
			var markers []marker
			for _, f := range files {
				markers = append(markers, readMarkers(t, f)...)
			}
			if len(markers) == 0 {
				t.Fatal("fixture has no # ERROR: marker")
			}
			cfg, diags := Load(dir, Inputs{})
			matches := func(m marker, d *hcl.Diagnostic) bool {
				return d.Severity == hcl.DiagError && d.Subject != nil &&
					d.Subject.Filename == m.file && d.Subject.Start.Line == m.line &&
					(m.re.MatchString(d.Summary) || m.re.MatchString(d.Detail))
			}
			for _, m := range markers {
				found := false
				for _, d := range diags {
					found = found || matches(m, d)
				}
				if !found {
					t.Errorf("%s:%d: no error matching %q", m.file, m.line, m.re)
				}
			}
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				found := false
				for _, m := range markers {
					found = found || matches(m, d)
				}
				if !found {
					t.Errorf("unexpected error: %s", Diagnostics{d}.Error())
				}
				if d.Summary == "" || d.Detail == "" || d.Subject == nil {
					t.Errorf("incomplete diagnostic (summary, detail and subject are required): %#v", d)
				}
			}
			if t.Failed() {
				var buf bytes.Buffer
				_ = diags.Write(&buf, cfg.SnippetFiles(), false, 0)
				t.Log("\n" + buf.String())
			}
		})
	}
}

func TestMigrationSelection(t *testing.T) {
	cfg := &Config{Migrations: []*Migration{{Name: "alpha"}, {Name: "beta"}}}
	if m, err := cfg.Migration("beta"); err != nil || m.Name != "beta" {
		t.Errorf("Migration(beta) = %v, %v", m, err)
	}
	if _, err := cfg.Migration(""); err == nil || !strings.Contains(err.Error(), "alpha, beta") || !strings.Contains(err.Error(), "--migration NAME") {
		t.Errorf("ambiguous: err = %v", err)
	}
	if _, err := cfg.Migration("alpah"); err == nil || !strings.Contains(err.Error(), "alpha, beta") || !strings.Contains(err.Error(), `did you mean "alpha"`) {
		t.Errorf("unknown: err = %v", err)
	}
	one := &Config{Migrations: []*Migration{{Name: "only"}}}
	if m, err := one.Migration(""); err != nil || m.Name != "only" {
		t.Errorf("single: %v, %v", m, err)
	}
}

// TestSecretsLeavesPublicValues: a secret that is too short, or that the configuration also holds
// in the open (a user or database named like the password), is not listed: redacting it would
// garble every message that names that user or database without hiding anything.
func TestSecretsLeavesPublicValues(t *testing.T) {
	cfg := &Config{Migrations: []*Migration{{
		Name:      "m",
		Databases: []string{"app"},
		Source:    &Server{Name: "src", Host: "db1", User: "postgres", Password: "postgres", DBName: "postgres"},
		Target:    &Server{Name: "tgt", Host: "db2", User: "admin", Password: "x", DBName: "postgres"},
	}}, Variables: map[string]*Variable{"v": {Sensitive: true, Value: "app"}, "w": {Sensitive: true, Value: "s3cret!"}}}
	got := cfg.Secrets()
	for _, not := range []string{"postgres", "x", "app"} {
		if slices.Contains(got, not) {
			t.Errorf("Secrets() = %q lists %q", got, not)
		}
	}
	if !slices.Contains(got, "s3cret!") {
		t.Errorf("Secrets() = %q lacks %q", got, "s3cret!")
	}
	if msg := Redact(`connected to "src" as postgres, database postgres`, got); msg != `connected to "src" as postgres, database postgres` {
		t.Errorf("Redact garbled a message: %q", msg)
	}
}

func TestSecretsAndRedact(t *testing.T) {
	cfg := loadOne(t, "full.hcl", Inputs{
		Args: []Arg{Var("target_password=t@rget pw")},
		Env:  []string{"PGFERRY_SOURCE_PASSWORD=src-pass", "PGFERRY_STATE_DSN=postgres://state:dsn%2Fpw@db:5432/state"},
	})
	secrets := cfg.Secrets()
	for _, want := range []string{"t@rget pw", "src-pass", "dsn/pw", "t%40rget%20pw"} {
		if !slices.Contains(secrets, want) {
			t.Errorf("Secrets() = %q lacks %q", secrets, want)
		}
	}
	m := mustMigration(t, cfg, "")
	out := strings.Join([]string{
		"source password src-pass",
		"target password t@rget pw",
		m.Target.ConnString("app"),
		cfg.Backend.ConnStr,
		"dsn/pw",
	}, "\n")
	red := Redact(out, secrets)
	for _, leak := range []string{"src-pass", "t@rget", "rget pw", "t%40rget", "dsn/pw", "dsn%2Fpw"} {
		if strings.Contains(red, leak) {
			t.Errorf("redacted output still holds %q:\n%s", leak, red)
		}
	}
	if !strings.Contains(red, "********") || !strings.Contains(red, "prod-flex.example.com") {
		t.Errorf("redacted output lost too much or too little:\n%s", red)
	}

	kv := &Config{Backend: &Backend{Type: "pg", ConnStr: `host=db user=x password='it\'s secret' dbname=s`}}
	if got := kv.Secrets(); !slices.Contains(got, "it's secret") {
		t.Errorf("keyword/value password not found: %q", got)
	}
}

func TestFingerprint(t *testing.T) {
	load := func(pw, vars string) *Migration {
		in := Inputs{Args: []Arg{Var("target_password=" + pw)}, Env: []string{"PGFERRY_SOURCE_PASSWORD=" + pw, "PGFERRY_STATE_DSN=postgres://x@y/z"}}
		if vars != "" {
			in.Args = append(in.Args, Var(vars))
		}
		return mustMigration(t, loadOne(t, "full.hcl", in), "")
	}
	a, b := load("one", ""), load("two", "")
	if a.Fingerprint() != b.Fingerprint() {
		t.Error("fingerprint changed when only passwords changed")
	}
	if len(a.Fingerprint()) != 64 {
		t.Errorf("fingerprint %q is not a sha256 hex", a.Fingerprint())
	}
	c := *a
	c.Databases = []string{"billing", "app"}
	if c.Fingerprint() != a.Fingerprint() {
		t.Error("fingerprint depends on the order of databases")
	}
	c.Options.Jobs = 5
	if c.Fingerprint() == a.Fingerprint() {
		t.Error("fingerprint ignores options")
	}
	// copy_format: the default keeps the fingerprint of a configuration made before the option
	// existed (a saved plan stays valid); choosing a format changes it (the plan records formats).
	e := *a
	e.Options.CopyFormat = ""
	if e.Fingerprint() != a.Fingerprint() || a.Options.CopyFormat != CopyFormatAuto {
		t.Errorf("copy_format = %q and unset give different fingerprints", a.Options.CopyFormat)
	}
	for _, f := range []string{CopyFormatBinary, CopyFormatText} {
		e.Options.CopyFormat = f
		if e.Fingerprint() == a.Fingerprint() {
			t.Errorf("fingerprint ignores copy_format = %q", f)
		}
	}
	d := *a
	tgt := *a.Target
	tgt.Port = 6000
	d.Target = &tgt
	if d.Fingerprint() == a.Fingerprint() {
		t.Error("fingerprint ignores the target port")
	}
}

func TestMatchTable(t *testing.T) {
	tests := []struct {
		pattern, schema, table string
		want                   bool
	}{
		{"public.orders", "public", "orders", true},
		{"public.*", "public", "anything", true},
		{"public.*", "sales", "orders", false},
		{"*.orders", "sales", "orders", true},
		{"sales.order?", "sales", "orders", true},
		{"sales.order?", "sales", "order", false},
		{"s*s.*_tmp", "sales", "x_tmp", true},
		{"s*s.*_tmp", "sales", "x_tmpx", false},
		{"public.Orders", "public", "orders", false},
	}
	for _, tt := range tests {
		if got := MatchTable(tt.pattern, tt.schema, tt.table); got != tt.want {
			t.Errorf("MatchTable(%q, %q, %q) = %v", tt.pattern, tt.schema, tt.table, got)
		}
	}
	o := Options{IncludeTables: []string{"public.*"}, ExcludeTables: []string{"public.tmp_*"}}
	if !o.IncludesTable("public", "orders") || o.IncludesTable("public", "tmp_x") || o.IncludesTable("sales", "orders") {
		t.Error("IncludesTable applies include/exclude wrongly")
	}
	if !(Options{}).IncludesTable("any", "thing") {
		t.Error("no filters must include every table")
	}
}

func TestFormat(t *testing.T) {
	src := []byte("source \"a\" {\nhost=\"h\"\n  port    =   5432\n}\n")
	want := "source \"a\" {\n  host = \"h\"\n  port = 5432\n}\n"
	if got := string(Format(src)); got != want {
		t.Errorf("Format:\n%s\nwant:\n%s", got, want)
	}
	if got := Format([]byte(want)); string(got) != want {
		t.Error("Format is not idempotent")
	}
}

func TestFormatDir(t *testing.T) {
	const messy = "source \"a\" {\nhost=\"h\"\n}\n"
	const tidy = "source \"a\" {\n  host = \"h\"\n}\n"
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		for name, src := range map[string]string{"a.hcl": messy, "b.hcl": tidy, "notes.txt": messy} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o640); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}

	t.Run("check with diff", func(t *testing.T) {
		dir := setup(t)
		var out bytes.Buffer
		changed, err := FormatDir(dir, true, true, &out)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{filepath.Join(dir, "a.hcl")}; !reflect.DeepEqual(changed, want) {
			t.Errorf("changed = %v, want %v", changed, want)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "a.hcl")); string(b) != messy {
			t.Error("check mode rewrote the file")
		}
		d := out.String()
		for _, want := range []string{"--- old/", "+++ new/", "@@ -1,3 +1,3 @@", "-host=\"h\"\n", "+  host = \"h\"\n", " source \"a\" {\n"} {
			if !strings.Contains(d, want) {
				t.Errorf("diff lacks %q:\n%s", want, d)
			}
		}
		if strings.Contains(d, "b.hcl") {
			t.Errorf("diff mentions a tidy file:\n%s", d)
		}
	})

	t.Run("write", func(t *testing.T) {
		dir := setup(t)
		var out bytes.Buffer
		changed, err := FormatDir(dir, false, false, &out)
		if err != nil || len(changed) != 1 {
			t.Fatalf("changed = %v, err = %v", changed, err)
		}
		if out.Len() != 0 {
			t.Errorf("wrote output without --diff: %q", out.String())
		}
		path := filepath.Join(dir, "a.hcl")
		b, _ := os.ReadFile(path)
		if string(b) != tidy {
			t.Errorf("file not formatted:\n%s", b)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
			t.Errorf("mode = %v, want 0640", fi.Mode().Perm())
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "notes.txt")); string(b) != messy {
			t.Error("a non-.hcl file was touched")
		}
		changed, err = FormatDir(dir, true, false, nil)
		if err != nil || len(changed) != 0 {
			t.Errorf("second run: changed = %v, err = %v", changed, err)
		}
	})

	t.Run("syntax error", func(t *testing.T) {
		dir := setup(t)
		if err := os.WriteFile(filepath.Join(dir, "c.hcl"), []byte("source \"x\" {\n  host = = 1\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		changed, err := FormatDir(dir, false, false, nil)
		var diags Diagnostics
		if err == nil || !errors.As(err, &diags) || !diags.HasErrors() {
			t.Fatalf("err = %v, want Diagnostics", err)
		}
		if len(changed) != 1 {
			t.Errorf("the valid files were not formatted: %v", changed)
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "c.hcl")); !strings.Contains(string(b), "= = 1") {
			t.Error("a file with syntax errors was rewritten")
		}
	})
}

func TestDiagnosticsOutput(t *testing.T) {
	cfg, diags := loadSrc(t, `source "onprem" {
  host    = "h"
  user    = "u"
  sslmode = "requir"
}
`, Inputs{})
	if diags.ErrorCount() != 2 { // bad sslmode, no migration
		t.Fatalf("want 2 errors, got %v", diags)
	}
	file := ""
	for name := range cfg.Files {
		file = name
	}

	var text bytes.Buffer
	if err := diags.Write(&text, cfg.Files, false, 0); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Error: Invalid sslmode",
		"on " + file + ":4:13, in source \"onprem\":",
		`   4:   sslmode = "requir"`,
		"\n                  ^^^^^^^^\n",
		`Did you mean "require"?`,
		"Error: No migration block",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, text.String())
		}
	}
	var colored bytes.Buffer
	_ = diags.Write(&colored, cfg.Files, true, 80)
	if !strings.Contains(colored.String(), "\x1b[") || strings.Contains(colored.String(), "^^^") {
		t.Errorf("colour output should highlight with escapes, not carets:\n%s", colored.String())
	}

	var js bytes.Buffer
	if err := diags.WriteJSON(&js, cfg.Files); err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep["valid"] != false || rep["error_count"] != 2.0 || rep["warning_count"] != 0.0 {
		t.Errorf("report header = %v", rep)
	}
	d0 := rep["diagnostics"].([]any)[1].(map[string]any) // after "No migration block" on line 1
	if d0["severity"] != "error" || d0["summary"] != "Invalid sslmode" {
		t.Errorf("diagnostic = %v", d0)
	}
	rng := d0["range"].(map[string]any)
	start := rng["start"].(map[string]any)
	if rng["filename"] != file || start["line"] != 4.0 || start["column"] != 13.0 {
		t.Errorf("range = %v", rng)
	}
	sn := d0["snippet"].(map[string]any)
	if sn["code"] != `  sslmode = "requir"` || sn["start_line"] != 4.0 || sn["context"] != `source "onprem"` ||
		sn["highlight_start_offset"] != 12.0 || sn["highlight_end_offset"] != 20.0 {
		t.Errorf("snippet = %v", sn)
	}

	var empty bytes.Buffer
	_ = Diagnostics(nil).WriteJSON(&empty, nil)
	if !strings.Contains(empty.String(), `"diagnostics": []`) || !strings.Contains(empty.String(), `"valid": true`) {
		t.Errorf("empty report = %s", empty.String())
	}
}

func TestDiagnosticsAppend(t *testing.T) {
	var d Diagnostics
	d.Append(nil)
	d.Append(os.ErrNotExist)
	d.Append(hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "w"}})
	d.Append(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: "e", Detail: "do this"})
	if len(d) != 3 || d.ErrorCount() != 2 || d.WarningCount() != 1 || d[0].Summary != os.ErrNotExist.Error() {
		t.Fatalf("Append: %v", d)
	}
	if d.Err() == nil || (Diagnostics{d[1]}).Err() != nil {
		t.Error("Err() must be nil exactly when there is no error")
	}
}

func TestLoadDirectoryProblems(t *testing.T) {
	_, diags := Load(t.TempDir(), Inputs{})
	if diags.ErrorCount() != 1 || diags[0].Summary != "No configuration files" {
		t.Errorf("empty dir: %v", diags)
	}
	_, diags = Load(filepath.Join(t.TempDir(), "missing"), Inputs{})
	if !diags.HasErrors() {
		t.Error("missing dir: no error")
	}
}

func TestMultipleFilesAndDuplicateAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a_servers.hcl", "source \"s\" {\n  host = \"a\"\n  user = \"u\"\n}\n\ntarget \"t\" {\n  host = \"b\"\n  user = \"u\"\n}\n")
	write("b_migration.hcl", "migration \"m\" {\n  source    = source.s\n  target    = target.t\n  databases = [\"app\"]\n}\n")
	cfg, diags := Load(dir, Inputs{})
	if diags.HasErrors() || len(cfg.Files) != 2 || mustMigration(t, cfg, "").Source.Host != "a" {
		t.Fatalf("two files: %v", diags)
	}
	write("c_dup.hcl", "source \"s\" {\n  host = \"c\"\n  user = \"u\"\n}\n")
	_, diags = Load(dir, Inputs{})
	want := "previously declared at " + filepath.Join(dir, "a_servers.hcl") + ":1"
	if diags.ErrorCount() != 1 || !strings.Contains(diags[0].Detail, want) || diags[0].Subject.Filename != filepath.Join(dir, "c_dup.hcl") {
		t.Errorf("duplicate across files: %v", diags)
	}
}

// TestCheckMigration: validate --migration NAME finds every declared block, also one that does not
// decode (it is not in Migrations), and names the declared ones otherwise.
func TestCheckMigration(t *testing.T) {
	src := `
source "s" {
  host = "10.0.0.1"
  user = "postgres"
}
target "t" {
  host = "10.0.0.2"
  user = "postgres"
}
migration "ok" {
  source    = source.s
  target    = target.t
  databases = ["app"]
}
migration "broken" {
  source = source.s
  target = target.t
}
`
	cfg, diags := loadSrc(t, src, Inputs{})
	if !diags.HasErrors() {
		t.Fatal("a migration without databases loaded without errors")
	}
	if len(cfg.Migrations) != 1 || !slices.Equal(cfg.MigrationNames, []string{"ok", "broken"}) {
		t.Fatalf("Migrations %d, MigrationNames %v; want 1 and [ok broken]", len(cfg.Migrations), cfg.MigrationNames)
	}
	for _, name := range []string{"ok", "broken"} {
		if err := cfg.CheckMigration(name); err != nil {
			t.Errorf("CheckMigration(%q): %v", name, err)
		}
	}
	err := cfg.CheckMigration("okk")
	if err == nil || !strings.Contains(err.Error(), `the configuration declares: ok, broken`) || !strings.Contains(err.Error(), `did you mean "ok"?`) {
		t.Errorf("CheckMigration(okk) = %v", err)
	}
}

// TestDatabasesList: the databases list is refused with a diagnostic at the offending element for
// what cannot be migrated: nothing, "*" among names, patterns, duplicates, the server's templates.
func TestDatabasesList(t *testing.T) {
	for list, want := range map[string]string{
		`[]`:                   "No databases to migrate",
		`["*", "app"]`:         "Invalid databases list",
		`["app*"]`:             "looks like a pattern",
		`["app", "app"]`:       "Duplicate database",
		`["app", "template1"]`: "template1 is a template database of the server, not a user database",
		`["template0"]`:        "template0 is a template database of the server",
	} {
		src := "source \"s\" {\n  host = \"h\"\n  user = \"u\"\n}\ntarget \"t\" {\n  host = \"h2\"\n  user = \"u\"\n}\n" +
			"migration \"m\" {\n  source    = source.s\n  target    = target.t\n  databases = " + list + "\n}\n"
		_, diags := loadSrc(t, src, Inputs{})
		if !diags.HasErrors() || !strings.Contains(diags.Error(), want) {
			t.Errorf("databases = %s: diagnostics %v, want one saying %q", list, diags, want)
		}
	}
	if _, diags := loadSrc(t, "source \"s\" {\n  host = \"h\"\n  user = \"u\"\n}\ntarget \"t\" {\n  host = \"h2\"\n  user = \"u\"\n}\nmigration \"m\" {\n  source    = source.s\n  target    = target.t\n  databases = [\"postgres\", \"app\"]\n}\n", Inputs{}); diags.HasErrors() {
		t.Errorf("databases = [\"postgres\", \"app\"]: %v", diags)
	}
}

// TestVarFileNamedHCL: --var-file takes a file of any name (SPEC §1); one named *.hcl in the
// configuration's directory holds values, not configuration, when it is passed so. Without the
// flag it is configuration, and refused as a values-only file.
func TestVarFileNamedHCL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	main := "variable \"pw\" {\n  sensitive = true\n}\nsource \"s\" {\n  host = \"h\"\n  user = \"u\"\n}\n" +
		"target \"t\" {\n  host     = \"h2\"\n  user     = \"u\"\n  password = var.pw\n}\n" +
		"migration \"m\" {\n  source    = source.s\n  target    = target.t\n  databases = [\"app\"]\n}\n"
	if err := os.WriteFile("main.hcl", []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("secrets.hcl", []byte("pw = \"s3cret\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"secrets.hcl", "./secrets.hcl", filepath.Join(dir, "secrets.hcl")} {
		cfg, diags := Load(".", Inputs{Args: []Arg{VarFile(path)}})
		if diags.HasErrors() {
			t.Fatalf("--var-file %s: %v", path, diags)
		}
		if v := cfg.Variables["pw"]; v == nil || v.Value != "s3cret" {
			t.Errorf("--var-file %s: pw = %+v", path, v)
		}
		if _, ok := cfg.Files["secrets.hcl"]; ok {
			t.Errorf("--var-file %s: secrets.hcl kept among the configuration's files", path)
		}
	}
	if _, diags := Load(".", Inputs{}); !diags.HasErrors() || !strings.Contains(diags.Error(), "Variables file read as configuration") {
		t.Errorf("without --var-file: %v", diags)
	}
}

// TestFormatDiffHidesValues: fmt --diff prints a configuration file's changes, but not those of a
// file of variable values (a --var-file named *.hcl), which may be secrets; both are formatted.
func TestFormatDiffHidesValues(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.hcl"), []byte("source \"s\" {\nhost=\"h\"\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets.hcl"), []byte("pw=\"s3cret\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	changed, err := FormatDir(dir, true, true, &out)
	if err != nil || len(changed) != 2 {
		t.Fatalf("FormatDir: changed %v, err %v", changed, err)
	}
	if s := out.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, `+  host = "h"`) || !strings.Contains(s, "secrets.hcl\n(the changes are not shown") {
		t.Errorf("diff:\n%s", s)
	}
}
