package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

var (
	sslModes    = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}
	sourceTypes = []string{"on-premises", "azure-vm", "other"}
	verifyModes = []string{"none", "count", "checksum"}
	paramModes  = []string{"report", "apply"}
	copyFormats = []string{CopyFormatAuto, CopyFormatBinary, CopyFormatText}
)

var serverAttrs = []string{"host", "port", "user", "password", "sslmode", "sslrootcert", "sslcert", "sslkey", "dbname"}

var serverSchemas = map[string]schema{
	"source": {
		where: "a source block",
		attrs: append(slices.Clone(serverAttrs), "type"),
		misplaced: map[string]string{
			"fqdn":      "fqdn is only valid in a target block; a source is dialled at its host.",
			"databases": "databases belongs in the migration block.",
		},
	},
	"target": {
		where: "a target block",
		attrs: append(slices.Clone(serverAttrs), "fqdn"),
		misplaced: map[string]string{
			"type":      "type is only valid in a source block (on-premises, azure-vm or other).",
			"databases": "databases belongs in the migration block.",
		},
	},
}

// decodeServer decodes a source or target block (kind says which).
func (l *loader) decodeServer(kind string, b *hclsyntax.Block, ctx *hcl.EvalContext) {
	name, diags := checkLabels(b, "name", kind+` "NAME"`)
	l.add(diags)
	if diags.HasErrors() {
		return
	}
	if prev := l.servers[kind][name]; prev != nil {
		l.duplicate(b, kind, name, prev.srv.DeclRange)
		return
	}
	s := &Server{Kind: kind, Name: name, DeclRange: b.DefRange()}
	st := &serverState{srv: s}
	l.servers[kind][name] = st
	l.serverOrder[kind] = append(l.serverOrder[kind], name)
	ok := true
	if !identRe.MatchString(name) {
		l.errorf(&b.LabelRanges[0], fmt.Sprintf("Invalid %s name", kind),
			"%q cannot be referred to as %s.NAME. A %s name starts with a letter and holds only letters, digits, '_' and '-', such as \"onprem\".",
			name, kind, kind)
		ok = false
	}

	c, diags := decodeBody(b.Body, serverSchemas[kind])
	l.add(diags)
	ok = ok && !diags.HasErrors()
	v := l.eval(b, c, ctx)
	v.require("host", `host = "db.example.com"`)
	v.require("user", `user = "postgres"`)

	s.Host = v.nonEmpty("host", "", "Give the host name or IP address of the server.")
	if v.has("host") {
		if h, p, err := net.SplitHostPort(s.Host); err == nil && net.ParseIP(s.Host) == nil {
			v.fail("host", "Invalid host", "host must not include a port. Write host = %q and port = %s.", h, p)
		}
	}
	s.Port = v.integer("port", 5432, 1, 65535)
	s.User = v.nonEmpty("user", "", "Give the login role, such as \"postgres\".")
	s.Password = v.str("password", "")
	s.SSLMode = v.oneOf("sslmode", "prefer", sslModes)
	s.SSLRootCert = v.str("sslrootcert", "")
	s.SSLCert = v.str("sslcert", "")
	s.SSLKey = v.str("sslkey", "")
	s.DBName = v.nonEmpty("dbname", "postgres", "Leave dbname out to use the \"postgres\" database.")
	if kind == "source" {
		s.Type = v.oneOf("type", "other", sourceTypes)
	} else {
		s.FQDN = v.str("fqdn", "")
	}

	st.ok = ok && v.ok
	if st.ok {
		if kind == "source" {
			l.cfg.Sources[name] = s
		} else {
			l.cfg.Targets[name] = s
		}
	}
}

var migrationSchema = schema{
	where:  "a migration block",
	attrs:  []string{"source", "target", "mode", "databases"},
	blocks: []string{"options"},
	misplaced: map[string]string{
		"host":                "host belongs in a source or target block; refer to one with source = source.NAME.",
		"overwrite_databases": "overwrite_databases belongs in the migration's options block.",
		"roles":               "roles belongs in the migration's options block.",
		"strip_superuser":     "strip_superuser belongs in the migration's options block.",
		"jobs":                "jobs belongs in the migration's options block.",
		"verify":              "verify belongs in the migration's options block.",
		"server_parameters":   "server_parameters belongs in the migration's options block.",
		"include_tables":      "include_tables belongs in the migration's options block.",
		"exclude_tables":      "exclude_tables belongs in the migration's options block.",
		"pg_bin_dir":          "pg_bin_dir belongs in the migration's options block.",
		"copy_format":         "copy_format belongs in the migration's options block.",
	},
}

// decodeMigration decodes a migration block and resolves its references.
func (l *loader) decodeMigration(b *hclsyntax.Block, ctx *hcl.EvalContext) {
	name, diags := checkLabels(b, "name", `migration "NAME"`)
	l.add(diags)
	if diags.HasErrors() {
		return
	}
	if prev, dup := l.migrations[name]; dup {
		l.duplicate(b, "migration", name, prev)
		return
	}
	l.migrations[name] = b.DefRange()
	l.cfg.MigrationNames = append(l.cfg.MigrationNames, name)
	ok := true
	if !migrationNameRe.MatchString(name) {
		l.errorf(&b.LabelRanges[0], "Invalid migration name",
			"%q is not a valid migration name. Use letters, digits and '-', starting with a letter or digit, such as \"prod-to-flex\".", name)
		ok = false
	}

	c, diags := decodeBody(b.Body, migrationSchema)
	l.add(diags)
	ok = ok && !diags.HasErrors()

	m := &Migration{Name: name, DeclRange: b.DefRange()}
	var refOK [2]bool
	m.Source, refOK[0] = l.reference(b, c.attrs["source"], "source")
	m.Target, refOK[1] = l.reference(b, c.attrs["target"], "target")
	ok = ok && refOK[0] && refOK[1]

	v := l.eval(b, c, ctx, "source", "target")
	m.Mode = "offline"
	if v.has("mode") {
		switch mode := v.str("mode", "offline"); mode {
		case "offline":
		case "online":
			v.fail("mode", "Online migrations are not supported",
				"online migrations are not supported yet; use mode = \"offline\" (or leave mode out).")
		default:
			if v.has("mode") {
				v.fail("mode", "Invalid mode", "mode must be \"offline\"; got %s. Write mode = \"offline\" or leave mode out.", v.show("mode", mode))
			}
		}
	}
	v.require("databases", `databases = ["app"]`)
	m.Databases = l.databases(v)

	m.Options = Options{Roles: true, StripSuperuser: true, Jobs: 4, Verify: "checksum", ServerParameters: "report", SplitTablesLargerThan: DefaultSplitTablesLargerThan, CopyFormat: CopyFormatAuto, OwnerMap: map[string]string{}}
	var optionsDecl *hcl.Range
	for _, ob := range c.blocks {
		if optionsDecl != nil {
			l.errorf(rangePtr(ob.DefRange()), "Duplicate options block",
				"A migration has at most one options block; one was already declared at %s. Merge them.", posString(*optionsDecl))
			ok = false
			continue
		}
		optionsDecl = rangePtr(ob.DefRange())
		var optOK bool
		m.Options, optOK = l.decodeOptions(ob, ctx)
		ok = ok && optOK
	}

	if m.Source != nil && m.Target != nil && strings.EqualFold(m.Source.Dialed(), m.Target.Dialed()) && m.Source.Port == m.Target.Port {
		l.errorf(rangePtr(c.attrs["target"].Expr.Range()), "Source and target are the same server",
			"source.%s and target.%s both dial %s:%d. A migration copies databases to another server: point the target at a different host or port.",
			m.Source.Name, m.Target.Name, m.Source.Dialed(), m.Source.Port)
		ok = false
	}

	if ok && v.ok {
		l.cfg.Migrations = append(l.cfg.Migrations, m)
	}
}

// databases validates the databases argument: a non-empty list of distinct names,
// or ["*"] alone.
func (l *loader) databases(v *values) []string {
	dbs, ranges, ok := v.stringList("databases")
	if !ok {
		return nil
	}
	if len(dbs) == 0 {
		v.fail("databases", "No databases to migrate",
			"databases must name at least one database, such as [\"app\", \"billing\"], or be [\"*\"] for every user database.")
		return nil
	}
	seen := make(map[string]int)
	for i, db := range dbs {
		switch {
		case db == "*" && len(dbs) > 1:
			v.failAt(ranges[i], "databases", "Invalid databases list",
				"\"*\" means every user database and must be the only element: write databases = [\"*\"], or list the names.")
			return nil
		case strings.TrimSpace(db) == "":
			v.failAt(ranges[i], "databases", "Invalid database name", "A database name must not be empty.")
			return nil
		case db != "*" && strings.ContainsAny(db, "*?"):
			v.failAt(ranges[i], "databases", "Invalid database name",
				"%q looks like a pattern; databases takes exact names, or [\"*\"] alone for every user database.", db)
			return nil
		case db == "template0" || db == "template1":
			// Writing into the target's template1 would put the source's objects into every
			// database created there afterwards; template0 takes no connections.
			v.failAt(ranges[i], "databases", "Template database",
				"%s is a template database of the server, not a user database: remove it from databases (the objects a source keeps in template1 are migrated with the user databases created from it).", db)
			return nil
		}
		if j, dup := seen[db]; dup {
			v.failAt(ranges[i], "databases", "Duplicate database",
				"%q is listed twice (also as element %d); remove one.", db, j+1)
			return nil
		}
		seen[db] = i
	}
	return dbs
}

var optionsSchema = schema{
	where: "an options block",
	attrs: []string{"overwrite_databases", "roles", "strip_superuser", "jobs", "verify", "server_parameters",
		"include_tables", "exclude_tables", "pg_bin_dir", "split_tables_larger_than", "copy_format", "owner_map"},
	misplaced: map[string]string{
		"databases": "databases belongs in the migration block itself, not in options.",
		"mode":      "mode belongs in the migration block itself, not in options.",
	},
}

// decodeOptions decodes a migration's options block, defaults applied.
func (l *loader) decodeOptions(b *hclsyntax.Block, ctx *hcl.EvalContext) (Options, bool) {
	diags := noLabels(b)
	l.add(diags)
	c, more := decodeBody(b.Body, optionsSchema)
	l.add(more)
	v := l.eval(b, c, ctx)
	o := Options{
		OverwriteDatabases:    v.boolean("overwrite_databases", false),
		Roles:                 v.boolean("roles", true),
		StripSuperuser:        v.boolean("strip_superuser", true),
		Jobs:                  v.integer("jobs", 4, 1, MaxJobs),
		Verify:                v.oneOf("verify", "checksum", verifyModes),
		ServerParameters:      v.oneOf("server_parameters", "report", paramModes),
		IncludeTables:         tablePatterns(v, "include_tables"),
		ExcludeTables:         tablePatterns(v, "exclude_tables"),
		PgBinDir:              v.str("pg_bin_dir", ""),
		SplitTablesLargerThan: v.size("split_tables_larger_than", DefaultSplitTablesLargerThan),
		CopyFormat:            v.oneOf("copy_format", CopyFormatAuto, copyFormats),
		OwnerMap:              ownerMap(v, "owner_map"),
	}
	if len(o.OwnerMap) > 0 && !o.Roles {
		v.fail("owner_map", "owner_map needs roles",
			"With roles = false every object is created owned by the target login and no owner is migrated, so owner_map has nothing to map: remove owner_map, or set roles = true.")
	}
	return o, v.ok && !diags.HasErrors() && !more.HasErrors()
}

// ownerMap validates owner_map: source role names to target role names, none empty, none a
// reserved pg_* role (pg_database_owner excepted: it owns what the database's owner owns).
func ownerMap(v *values, name string) map[string]string {
	m, ranges, ok := v.stringMap(name)
	if !ok {
		return map[string]string{}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t := m[k]
		switch {
		case strings.TrimSpace(k) == "":
			v.failAt(ranges[k], name, "Invalid role name", "owner_map's keys are source role names and must not be empty.")
			return map[string]string{}
		case strings.TrimSpace(t) == "":
			v.failAt(ranges[k], name, "Invalid role name",
				"owner_map maps %q to an empty name: write the target role that is to own its objects, such as { %s = \"app_admin\" }.", k, k)
			return map[string]string{}
		case strings.HasPrefix(t, "pg_"):
			v.failAt(ranges[k], name, "Reserved role",
				"owner_map maps %q to %q: roles named pg_* are reserved by PostgreSQL and cannot own objects; name a role that can.", k, t)
			return map[string]string{}
		}
	}
	return m
}

// tablePatterns validates a list of "schema.table" patterns.
func tablePatterns(v *values, name string) []string {
	pats, ranges, ok := v.stringList(name)
	if !ok {
		return nil
	}
	for i, p := range pats {
		if err := ValidateTablePattern(p); err != nil {
			v.failAt(ranges[i], name, "Invalid table pattern",
				"%q %v. Write \"schema.table\" with exactly one dot; * matches any run of characters and ? one character, for example \"public.orders\" or \"sales.*\".",
				p, err)
			return nil
		}
	}
	return pats
}

// reference resolves a migration's source or target argument (kind), which must be
// written kind.NAME and name a declared, valid block of that kind. A reference to a
// declared block that has errors of its own resolves to nil without a diagnostic.
func (l *loader) reference(b *hclsyntax.Block, attr *hclsyntax.Attribute, kind string) (*Server, bool) {
	example := fmt.Sprintf("%s = %s.NAME", kind, kind)
	if names := l.serverOrder[kind]; len(names) > 0 {
		example = fmt.Sprintf("%s = %s.%s", kind, kind, names[0])
	}
	if attr == nil {
		l.errorf(rangePtr(b.DefRange()), "Missing required argument",
			"A migration block needs the argument %q. Add it, for example: %s.", kind, example)
		return nil, false
	}
	rng := attr.Expr.Range()
	tr, diags := hcl.AbsTraversalForExpr(attr.Expr)
	var step hcl.TraverseAttr
	if !diags.HasErrors() && len(tr) == 2 {
		step, _ = tr[1].(hcl.TraverseAttr)
	}
	if step.Name == "" {
		detail := fmt.Sprintf("%s must refer to a %s block by name, without quotes, for example: %s.", kind, kind, example)
		if lit, ok := attr.Expr.(*hclsyntax.TemplateExpr); ok && lit.IsStringLiteral() {
			if s, _ := lit.Value(nil); s.Type() == cty.String && !s.IsNull() && identRe.MatchString(s.AsString()) {
				detail = fmt.Sprintf("Write %s = %s.%s, without quotes: %s is a reference, not a string.", kind, kind, s.AsString(), kind)
			}
		}
		l.errorf(&rng, fmt.Sprintf("Invalid %s reference", kind), "%s", detail)
		return nil, false
	}
	root := tr.RootName()
	switch root {
	case kind:
	case otherKind(kind):
		detail := fmt.Sprintf("%s must refer to a %s block, but %s.%s refers to a %s block.", kind, kind, root, step.Name, root)
		if l.servers[kind][step.Name] != nil {
			detail += fmt.Sprintf(" Did you mean %s.%s?", kind, step.Name)
		} else {
			detail += fmt.Sprintf(" Write %s.", example)
		}
		l.errorf(&rng, "Wrong kind of reference", "%s", detail)
		return nil, false
	default:
		l.errorf(&rng, fmt.Sprintf("Invalid %s reference", kind),
			"%s must refer to a %s block, such as %s; %s.%s is not a %s.", kind, kind, example, root, step.Name, kind)
		return nil, false
	}
	st := l.servers[kind][step.Name]
	if st == nil {
		l.errorf(&rng, fmt.Sprintf("Reference to undeclared %s", kind), "%s", l.undeclaredServer(kind, step.Name))
		return nil, false
	}
	if !st.ok {
		return nil, false
	}
	return st.srv, true
}

var (
	backendTypes  = []string{"local", "pg"}
	pgSchemaRe    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	backendSchema = map[string]schema{
		"local": {where: `a backend "local" block`, attrs: []string{"path"},
			misplaced: map[string]string{
				"conn_str": `conn_str belongs to backend "pg"; the local backend takes only path.`,
				"schema":   `schema belongs to backend "pg"; the local backend takes only path.`,
			}},
		"pg": {where: `a backend "pg" block`, attrs: []string{"conn_str", "schema"},
			misplaced: map[string]string{
				"path": `path belongs to backend "local"; the pg backend takes conn_str and schema.`,
			}},
	}
)

// decodeBackend decodes the backend block; there is at most one.
func (l *loader) decodeBackend(b *hclsyntax.Block, ctx *hcl.EvalContext) {
	typ, diags := checkLabels(b, "type", `backend "local"`)
	l.add(diags)
	if diags.HasErrors() {
		return
	}
	if l.backendDecl != nil {
		l.errorf(rangePtr(b.DefRange()), "Duplicate backend block",
			"A backend was previously declared at %s. A configuration has at most one backend block: remove one.", posString(*l.backendDecl))
		return
	}
	l.backendDecl = rangePtr(b.DefRange())
	sch, known := backendSchema[typ]
	if !known {
		detail := fmt.Sprintf("There is no backend %q. pgferry keeps state in backend \"local\" (a directory) or backend \"pg\" (a PostgreSQL table).", typ)
		if sug := suggest(typ, backendTypes); sug != "" {
			detail += fmt.Sprintf(" Did you mean %q?", sug)
		}
		l.errorf(&b.LabelRanges[0], "Unsupported backend type", "%s", detail)
		return
	}
	c, diags := decodeBody(b.Body, sch)
	l.add(diags)
	v := l.eval(b, c, ctx)
	be := &Backend{Type: typ}
	switch typ {
	case "local":
		be.Path = v.nonEmpty("path", ".pgferry", "Leave path out to keep state in .pgferry.")
	case "pg":
		v.require("conn_str", `conn_str = env("PGFERRY_STATE_DSN")`)
		be.ConnStr = v.nonEmpty("conn_str", "",
			"If it reads an environment variable, such as env(\"PGFERRY_STATE_DSN\"), set that variable to a PostgreSQL connection string.")
		if v.has("conn_str") && (strings.HasPrefix(be.ConnStr, "postgres://") || strings.HasPrefix(be.ConnStr, "postgresql://")) {
			if _, err := url.Parse(be.ConnStr); err != nil {
				v.fail("conn_str", "Invalid connection string",
					"conn_str is not a valid postgres:// URL. Check its syntax; characters such as '@' or '/' in a password must be percent-encoded.")
			}
		}
		be.Schema = v.str("schema", "pgferry")
		if v.has("schema") && !pgSchemaRe.MatchString(be.Schema) {
			v.fail("schema", "Invalid schema name",
				"schema must be a plain identifier (letters, digits and '_', not starting with a digit), such as \"pgferry\"; got %s.",
				v.show("schema", be.Schema))
		}
	}
	if v.ok && !diags.HasErrors() {
		l.cfg.Backend = be
	}
}
