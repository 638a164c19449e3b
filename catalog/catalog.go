package catalog

import (
	"context"
	"fmt"
	"github.com/pgferry/pgferry/internal/pgver"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Instance is what a server says about itself and its global objects.
type Instance struct {
	Version          string  // server_version, e.g. "15.18"
	VersionNum       pgver.V // server_version_num, e.g. 150018
	SystemIdentifier string
	CurrentUser      string
	IsSuperuser      bool
	// Bootstrap is the name of the bootstrap superuser (OID 10), which initdb made: "postgres"
	// on most servers.
	Bootstrap     string
	CanCreateDB   bool
	CanCreateRole bool
	// SSL reports whether the connection the catalog was read through is encrypted (pg_stat_ssl).
	SSL bool
	// PasswordsReadable reports whether role password hashes could be read (pg_authid).
	PasswordsReadable bool
	Roles             []Role
	Memberships       []Membership
	// LoginAccess says, for every role (pg_* excepted), what the connected login holds of it.
	LoginAccess map[string]RoleAccess
	Databases   []DatabaseInfo
	// Settings holds every server parameter (pg_settings) by name.
	Settings map[string]Setting
	// AvailableExtensions maps an extension name to the versions the server can install.
	AvailableExtensions map[string][]string
	// DefaultExtensionVersions maps an extension name to its default version.
	DefaultExtensionVersions map[string]string
	ReplicationSlots         []string
	Standbys                 int
	// Collations available in the maintenance database: name -> provider ("c", "i", "d").
	Collations map[string]string
	// CollationVersions maps a collation of the maintenance database (schema.name) to the version
	// its library reports now (pg_collation_actual_version, PostgreSQL 10+), when it has one.
	CollationVersions map[string]string
	// InRecovery is true on a standby (pg_is_in_recovery()): nothing can be written to it.
	InRecovery bool
	// DBRoleSettings are the rows of pg_db_role_setting: ALTER ROLE/DATABASE ... SET.
	DBRoleSettings []DBRoleSetting
	// ExtensionNeedsSuperuser is true for an available extension whose default version only a
	// superuser may create (superuser and not trusted).
	ExtensionNeedsSuperuser map[string]bool
}

// DBRoleSetting is one row of pg_db_role_setting. Database or Role is "" when the setting
// applies to every database or every role.
type DBRoleSetting struct {
	Database string
	Role     string
	// Settings are "name=value" strings.
	Settings []string
}

// LoginSettings returns the name=value settings that apply to role in database db ("" for
// none), from the most general to the most specific (ALTER ROLE ALL, database, role, role in
// database): the last one of a name wins.
func (i *Instance) LoginSettings(role, db string) []string {
	var out []string
	ranks := [][2]string{{"", ""}, {db, ""}, {"", role}, {db, role}}
	if db == "" {
		ranks = [][2]string{{"", ""}, {"", role}}
	}
	for _, rank := range ranks {
		for _, s := range i.DBRoleSettings {
			if s.Database == rank[0] && s.Role == rank[1] {
				out = append(out, s.Settings...)
			}
		}
	}
	return out
}

// MajorString is the major as users write it: "9.6", "13".
func (i *Instance) MajorString() string { return i.VersionNum.MajorString() }

// Role is one role and its attributes.
type Role struct {
	Name        string
	Superuser   bool
	Inherit     bool
	CreateRole  bool
	CreateDB    bool
	Login       bool
	Replication bool
	BypassRLS   bool
	ConnLimit   int
	ValidUntil  string // "" when unset; else a timestamptz literal
	// PasswordHash is the stored hash (SCRAM or md5) when readable. Secret: never print.
	PasswordHash string
	HasPassword  bool
	// Config holds "name=value" settings of ALTER ROLE ... SET (all databases).
	Config  []string
	Comment string
}

// RoleAccess is what the connected login holds of a role, through its memberships.
type RoleAccess struct {
	// Usage: it has the role's privileges without SET ROLE (pg_has_role USAGE); an object
	// given to the role stays the login's to alter.
	Usage bool
	// Set: it may SET ROLE to the role (MEMBER before PostgreSQL 16, SET from 16), which
	// ALTER ... OWNER TO the role needs.
	Set bool
	// Admin: it may grant the role (WITH ADMIN OPTION).
	Admin bool
}

// Membership is one role granted to another.
type Membership struct {
	Role        string
	Member      string
	AdminOption bool
}

// DatabaseInfo describes one database of the instance.
type DatabaseInfo struct {
	Name           string
	Owner          string
	Encoding       string
	Collate        string
	Ctype          string
	LocaleProvider string // "libc" or "icu"
	ICULocale      string
	IsTemplate     bool
	AllowConn      bool
	// CollVersion is the collation version recorded for the database (datcollversion, 15+), or "".
	CollVersion string
	// Tablespace is the database's default tablespace.
	Tablespace string
}

// Setting is one server parameter.
type Setting struct {
	Name    string
	Setting string
	Unit    string
	Context string
	Source  string
}

// Database is the contents of one database.
type Database struct {
	Name        string
	Extensions  []Extension
	Schemas     []Schema
	Tables      []Table
	Indexes     []Index
	Constraints []Constraint
	Sequences   []Sequence
	// Objects counts user objects by kind (tables, views, functions, types, ...), extension members excluded.
	Objects map[string]int
	// LargeObjects is the number of large objects.
	LargeObjects int64
	// ExtensionConfig lists the tables and sequences extensions marked with
	// pg_extension_config_dump: user data inside an extension, which pg_dump's schema leaves out.
	ExtensionConfig []ExtensionConfig
	// UsedCollations are collations (schema.name) used by columns or indexes, with their provider.
	UsedCollations map[string]string
	// CollationVersions holds the versions recorded (pg_collation.collversion) for the collations
	// of UsedCollations and UserCollations that have one.
	CollationVersions map[string]string
	// UserCollations are collations created in user schemas (CREATE COLLATION), extension members excluded.
	UserCollations []Collation
	// Tablespaces maps a non-default tablespace to the relations (kind schema.name) stored in it.
	Tablespaces map[string][]string
	// SuperuserObjects describes user objects only a superuser may create: casts between built-in
	// types or binary-coercible ones, base types, text search parsers and templates, event triggers,
	// procedural languages and functions in untrusted languages, foreign-data wrappers, operator
	// classes and families, publications FOR ALL TABLES. Extension members are excluded.
	SuperuserObjects []string
	// MultirangeClashes describes the range types of a source before 14 whose multirange type,
	// which PostgreSQL 14 and later make with every range type, would take a name another type
	// or relation of the schema has: "range type s.r: multirange s.m is taken by table s.m".
	// Read from servers before 14 only.
	MultirangeClashes []string
	// CatalogACLs describes system catalog objects (pg_catalog, information_schema) whose
	// privileges differ from initdb's (pg_init_privs, 9.6+).
	CatalogACLs []string
	// Languages are the procedural languages of the database (internal, c and sql excluded).
	Languages []Language
	// Owners counts the user objects (schemas, relations, functions, types) each role owns.
	Owners map[string]int
	// SuperuserOwned maps a superuser role to the user objects it owns (the public schema excluded).
	SuperuserOwned map[string][]string
	// OwnerRoles lists every role that owns something in the database, of any kind (collations,
	// operators, publications, large objects, default privileges, ...), from pg_shdepend; the
	// bootstrap superuser, whose ownerships are not recorded there, is not listed.
	OwnerRoles []string
	// Owned is what each role owns in the database, of every kind pg_dump gives an owner: the
	// database itself, schemas (public included), relations, functions, types, large objects,
	// default privileges, ... (see ownedObjectsSQL). The bootstrap superuser is listed too.
	Owned map[string]*Owned
	// Grantors are the roles that granted privileges on objects of the database they do not own.
	Grantors []string
	// Dependents are the objects that depend on a table (its definition or its row type) without
	// belonging to it: views, functions, other tables' foreign keys, columns, policies, children.
	Dependents []Dependent
	// Excluded lists the tables (schema.name) that Filter left out, sorted; nil for a database
	// read as it is.
	Excluded []string
}

// ExtensionConfig is an extension's configuration table or sequence. The rows of a table that
// match Condition (all rows when it is empty) are user data: pg_dump dumps them with the data, and
// a migration must copy them after CREATE EXTENSION made the table.
type ExtensionConfig struct {
	Extension string
	Schema    string
	Name      string
	Kind      string // "r" table, "S" sequence
	Condition string // e.g. "WHERE NOT standard_entry", or ""
}

// Qualified is the quoted schema.name.
func (c ExtensionConfig) Qualified() string { return pgx.Identifier{c.Schema, c.Name}.Sanitize() }

// Collation is a user-defined collation.
type Collation struct {
	Schema   string
	Name     string
	Provider string // "c" libc, "i" ICU, "b" builtin, "d" default
	Locale   string
}

// Key is schema.name.
func (c *Collation) Key() string { return c.Schema + "." + c.Name }

// Language is a procedural language.
type Language struct {
	Name    string
	Trusted bool
	// Extension is the extension that created the language, or "".
	Extension string
	// Functions counts the user functions written in it, extension members excluded.
	Functions int
}

// Extension is an installed extension.
type Extension struct {
	Name    string
	Version string
	Schema  string
	// OID is the extension's pg_extension OID (how pg_dump's archive names it).
	OID uint32
	// Requires lists the extensions this one needs (its control file's requires), by name.
	Requires []string
	// SchemaExtension names the extension the schema belongs to as a member, or "" when the
	// schema is an ordinary one (created by pg_dump).
	SchemaExtension string
}

// Schema is a user schema.
type Schema struct {
	Name  string
	Owner string
}

// Table is a table that holds rows: a plain table, a partition, or a partitioned parent
// (which holds none itself).
type Table struct {
	OID    uint32
	Schema string
	Name   string
	Owner  string
	// Kind is 'r' (ordinary, including partitions) or 'p' (partitioned parent).
	Kind        string
	Unlogged    bool
	IsPartition bool
	// Parent is the partitioned parent's qualified name for partitions.
	Parent string
	// HasInheritChildren is true when other tables inherit from this one (not partitions).
	HasInheritChildren bool
	RowEstimate        int64 // reltuples; -1 when never analyzed
	Pages              int64 // pages of the heap alone (parts of a split copy are page ranges)
	SizeBytes          int64 // pages of heap + toast, times block size (an estimate)
	Columns            []Column
	HasPrimaryKey      bool
	HasOIDs            bool
	// HasExtendedStats is true when CREATE STATISTICS objects are defined on the table (10+).
	HasExtendedStats bool
	// Triggers counts the table's user triggers (not internal ones).
	Triggers int
}

// relationPages is the number of pages of the relation aliased alias: relpages, as VACUUM,
// ANALYZE or CREATE INDEX last counted them, or the size of its files when it was never counted
// (a bulk-loaded table autovacuum has not reached yet would otherwise look empty).
func relationPages(alias string) string {
	return fmt.Sprintf(`CASE WHEN %[1]s.relpages > 0 OR %[1]s.relkind = 'p' THEN %[1]s.relpages::bigint
		ELSE pg_relation_size(%[1]s.oid) / current_setting('block_size')::bigint END`, alias)
}

// Qualified is "schema"."name", quoted.
func (t *Table) Qualified() string { return QuoteQualified(t.Schema, t.Name) }

// Key is schema.name, unquoted, for maps and patterns.
func (t *Table) Key() string { return t.Schema + "." + t.Name }

// CopySize is the size of a table's data as a copy moves it: heap and TOAST together, or the
// heap's pages when the estimate of both is smaller. split_tables_larger_than compares it.
func (t *Table) CopySize() int64 { return max(t.Pages*8192, t.SizeBytes) }

// Column is one column of a table.
type Column struct {
	Name      string
	Type      string // format_type
	TypeOID   uint32
	Generated bool
	// Builtin is true when the type (and an array's element type) lives in pg_catalog and is safe
	// for binary COPY across versions.
	Builtin   bool
	Collation string // schema.name when not default
}

// Index is one index.
type Index struct {
	OID        uint32
	Schema     string
	Name       string
	Table      string // table name, same schema
	Method     string
	Def        string // pg_get_indexdef
	Primary    bool
	Unique     bool
	Constraint string // 'p', 'u', 'x' when the index backs a constraint of that type, else ""
	// ConstraintOID is the OID of that constraint, 0 otherwise.
	ConstraintOID uint32
	Valid         bool
	SizeBytes     int64
	// Partitioned is true for an index on a partitioned parent.
	Partitioned bool
}

// Constraint is a constraint that is built after the data (foreign keys, and
// check constraints dumped separately), or any other constraint for inventory.
type Constraint struct {
	OID    uint32
	Schema string
	Table  string
	Name   string
	Type   string // p u f c x t
	Def    string
	// Inherited is true for constraints a partition got from its parent (not created separately).
	Inherited bool
	// RefTable is the referenced table (schema.name) for foreign keys.
	RefTable string
}

// Sequence is one sequence and its current position.
type Sequence struct {
	OID       uint32
	Schema    string
	Name      string
	LastValue int64
	IsCalled  bool
	// OwnedBy is "schema.table.column" for sequences owned by a column (serial, identity).
	OwnedBy  string
	Identity bool
}

// Qualified is "schema"."name", quoted.
func (s *Sequence) Qualified() string { return QuoteQualified(s.Schema, s.Name) }

// QuoteQualified quotes a schema-qualified name.
func QuoteQualified(schema, name string) string {
	return pgx.Identifier{schema, name}.Sanitize()
}

// Querier is what the catalog reads need from a connection.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ReadInstance reads the instance-level catalog through conn (connected to any database).
func ReadInstance(ctx context.Context, conn Querier) (*Instance, error) {
	in := &Instance{Settings: map[string]Setting{}, AvailableExtensions: map[string][]string{}, DefaultExtensionVersions: map[string]string{}, Collations: map[string]string{}}
	if err := conn.QueryRow(ctx, `SELECT current_setting('server_version'), current_setting('server_version_num')::int, current_user,
		(SELECT rolsuper FROM pg_roles WHERE rolname = current_user),
		(SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user),
		(SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user),
		coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false),
		coalesce((SELECT rolname::text FROM pg_roles WHERE oid = 10), '')`).
		Scan(&in.Version, &in.VersionNum, &in.CurrentUser, &in.IsSuperuser, &in.CanCreateDB, &in.CanCreateRole, &in.SSL, &in.Bootstrap); err != nil {
		return nil, fmt.Errorf("reading server version: %w", err)
	}
	if in.VersionNum.AtLeast(9, 6) {
		// pg_control_system() needs superuser or pg_read_all_stats on some versions; tolerate refusal.
		var sysid int64
		if err := queryRowTolerant(ctx, conn, `SELECT system_identifier FROM pg_control_system()`, &sysid); err == nil {
			in.SystemIdentifier = fmt.Sprint(sysid)
		}
	}
	if err := readRoles(ctx, conn, in); err != nil {
		return nil, err
	}
	if err := readDatabases(ctx, conn, in); err != nil {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT name, setting, coalesce(unit, ''), context, source FROM pg_settings`)
	if err != nil {
		return nil, fmt.Errorf("reading settings: %w", err)
	}
	for rows.Next() {
		var s Setting
		if err := rows.Scan(&s.Name, &s.Setting, &s.Unit, &s.Context, &s.Source); err != nil {
			return nil, err
		}
		in.Settings[s.Name] = s
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = conn.Query(ctx, `SELECT v.name, v.version, coalesce(a.default_version, '')
		FROM pg_available_extension_versions v LEFT JOIN pg_available_extensions a ON a.name = v.name ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("reading available extensions: %w", err)
	}
	for rows.Next() {
		var n, v, d string
		if err := rows.Scan(&n, &v, &d); err != nil {
			return nil, err
		}
		in.AvailableExtensions[n] = append(in.AvailableExtensions[n], v)
		in.DefaultExtensionVersions[n] = d
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	in.ReplicationSlots, err = collectStrings(ctx, conn, `SELECT slot_name::text FROM pg_replication_slots ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("reading replication slots: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication`).Scan(&in.Standbys); err != nil {
		return nil, fmt.Errorf("reading standbys: %w", err)
	}
	rows, err = conn.Query(ctx, `SELECT n.nspname || '.' || c.collname, `+collProvider(in.VersionNum)+`
		FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
		WHERE c.collencoding IN (-1, pg_char_to_encoding(current_setting('server_encoding')))`)
	if err != nil {
		return nil, fmt.Errorf("reading collations: %w", err)
	}
	for rows.Next() {
		var n, p string
		if err := rows.Scan(&n, &p); err != nil {
			return nil, err
		}
		in.Collations[n] = p
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := readInstanceExtras(ctx, conn, in); err != nil {
		return nil, err
	}
	return in, nil
}

// readInstanceExtras reads what the premigration checks need beyond the inventory: recovery,
// per-role and per-database settings, extension privileges, collation versions, and the
// databases' collation versions and tablespaces.
func readInstanceExtras(ctx context.Context, conn Querier, in *Instance) error {
	in.CollationVersions = map[string]string{}
	in.ExtensionNeedsSuperuser = map[string]bool{}
	if err := conn.QueryRow(ctx, `SELECT pg_is_in_recovery()`).Scan(&in.InRecovery); err != nil {
		return fmt.Errorf("reading recovery status: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT coalesce(d.datname::text, ''), coalesce(r.rolname::text, ''), coalesce(s.setconfig, '{}')
		FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole
		ORDER BY 1, 2`)
	if err != nil {
		return fmt.Errorf("reading role and database settings: %w", err)
	}
	for rows.Next() {
		var s DBRoleSetting
		if err := rows.Scan(&s.Database, &s.Role, &s.Settings); err != nil {
			return fmt.Errorf("reading role and database settings: %w", err)
		}
		in.DBRoleSettings = append(in.DBRoleSettings, s)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading role and database settings: %w", err)
	}
	trusted := "false"
	if in.VersionNum.AtLeast(13) {
		trusted = "v.trusted"
	}
	rows, err = conn.Query(ctx, `SELECT v.name::text, v.superuser AND NOT `+trusted+`
		FROM pg_available_extension_versions v JOIN pg_available_extensions a ON a.name = v.name AND a.default_version = v.version`)
	if err != nil {
		return fmt.Errorf("reading available extensions: %w", err)
	}
	for rows.Next() {
		var n string
		var su bool
		if err := rows.Scan(&n, &su); err != nil {
			return fmt.Errorf("reading available extensions: %w", err)
		}
		in.ExtensionNeedsSuperuser[n] = su
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading available extensions: %w", err)
	}
	if in.VersionNum.AtLeast(10) {
		// One call per collation, but all in one statement; ~800 ICU collations take ~10 ms.
		rows, err = conn.Query(ctx, `SELECT n.nspname || '.' || c.collname, v
			FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace, pg_collation_actual_version(c.oid) AS v
			WHERE v IS NOT NULL AND v <> '' AND c.collencoding IN (-1, pg_char_to_encoding(current_setting('server_encoding')))`)
		if err != nil {
			return fmt.Errorf("reading collation versions: %w", err)
		}
		for rows.Next() {
			var n, v string
			if err := rows.Scan(&n, &v); err != nil {
				return fmt.Errorf("reading collation versions: %w", err)
			}
			in.CollationVersions[n] = v
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("reading collation versions: %w", err)
		}
	}
	collVersion := "''"
	if in.VersionNum.AtLeast(15) {
		collVersion = "coalesce(d.datcollversion, '')"
	}
	rows, err = conn.Query(ctx, `SELECT d.datname::text, `+collVersion+`, coalesce(t.spcname::text, '')
		FROM pg_database d LEFT JOIN pg_tablespace t ON t.oid = d.dattablespace`)
	if err != nil {
		return fmt.Errorf("reading databases: %w", err)
	}
	for rows.Next() {
		var n, v, ts string
		if err := rows.Scan(&n, &v, &ts); err != nil {
			return fmt.Errorf("reading databases: %w", err)
		}
		if d := in.Database(n); d != nil {
			d.CollVersion, d.Tablespace = v, ts
		}
	}
	return rows.Err()
}

func collProvider(v pgver.V) string {
	if v.AtLeast(10) {
		return "c.collprovider::text"
	}
	return "'c'::text"
}

func queryRowTolerant(ctx context.Context, conn Querier, sql string, dest ...any) error {
	return conn.QueryRow(ctx, sql).Scan(dest...)
}

func collectStrings(ctx context.Context, conn Querier, sql string, args ...any) ([]string, error) {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func readRoles(ctx context.Context, conn Querier, in *Instance) error {
	// pg_authid holds the password hashes but only superusers (and some managed admins) may read it.
	src := "pg_authid"
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT has_table_privilege('pg_catalog.pg_authid', 'SELECT')`).Scan(&ok); err != nil {
		return fmt.Errorf("reading roles: %w", err)
	}
	pw := "rolpassword"
	if !ok {
		src, pw = "pg_roles", "NULL::text"
	}
	in.PasswordsReadable = ok
	q := fmt.Sprintf(`SELECT a.rolname::text, a.rolsuper, a.rolinherit, a.rolcreaterole, a.rolcreatedb, a.rolcanlogin,
		a.rolreplication, a.rolbypassrls, a.rolconnlimit, coalesce(a.rolvaliduntil::text, ''), coalesce(%s, ''),
		coalesce((SELECT s.setconfig FROM pg_db_role_setting s WHERE s.setrole = a.oid AND s.setdatabase = 0), '{}'),
		coalesce(shobj_description(a.oid, 'pg_authid'), '')
		FROM %s a WHERE a.rolname !~ '^pg_' ORDER BY 1`, pw, src)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("reading roles: %w", err)
	}
	for rows.Next() {
		var r Role
		if err := rows.Scan(&r.Name, &r.Superuser, &r.Inherit, &r.CreateRole, &r.CreateDB, &r.Login, &r.Replication,
			&r.BypassRLS, &r.ConnLimit, &r.ValidUntil, &r.PasswordHash, &r.Config, &r.Comment); err != nil {
			return fmt.Errorf("reading roles: %w", err)
		}
		r.HasPassword = r.PasswordHash != ""
		in.Roles = append(in.Roles, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading roles: %w", err)
	}
	set := "MEMBER"
	if in.VersionNum.AtLeast(16) {
		set = "SET"
	}
	in.LoginAccess = map[string]RoleAccess{}
	rows, err = conn.Query(ctx, `SELECT r.rolname::text, pg_has_role(r.oid, 'USAGE'), pg_has_role(r.oid, '`+set+`'),
		pg_has_role(r.oid, 'MEMBER WITH ADMIN OPTION')
		FROM pg_roles r WHERE r.rolname !~ '^pg_'`)
	if err != nil {
		return fmt.Errorf("reading the login's role memberships: %w", err)
	}
	for rows.Next() {
		var name string
		var a RoleAccess
		if err := rows.Scan(&name, &a.Usage, &a.Set, &a.Admin); err != nil {
			return fmt.Errorf("reading the login's role memberships: %w", err)
		}
		in.LoginAccess[name] = a
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the login's role memberships: %w", err)
	}
	rows, err = conn.Query(ctx, `SELECT r.rolname::text, m.rolname::text, am.admin_option
		FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
		WHERE r.rolname !~ '^pg_' OR m.rolname !~ '^pg_' ORDER BY 1, 2`)
	if err != nil {
		return fmt.Errorf("reading role memberships: %w", err)
	}
	for rows.Next() {
		var m Membership
		if err := rows.Scan(&m.Role, &m.Member, &m.AdminOption); err != nil {
			return err
		}
		in.Memberships = append(in.Memberships, m)
	}
	return rows.Err()
}

func readDatabases(ctx context.Context, conn Querier, in *Instance) error {
	prov, icu := "'libc'", "''"
	switch {
	case in.VersionNum.AtLeast(17):
		prov, icu = "CASE d.datlocprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END", "coalesce(d.datlocale, '')"
	case in.VersionNum.AtLeast(15):
		prov, icu = "CASE d.datlocprovider WHEN 'i' THEN 'icu' ELSE 'libc' END", "coalesce(d.daticulocale, '')"
	}
	q := fmt.Sprintf(`SELECT d.datname::text, pg_get_userbyid(d.datdba)::text, pg_encoding_to_char(d.encoding)::text,
		d.datcollate::text, d.datctype::text, %s, %s, d.datistemplate, d.datallowconn
		FROM pg_database d ORDER BY 1`, prov, icu)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("reading databases: %w", err)
	}
	for rows.Next() {
		var d DatabaseInfo
		if err := rows.Scan(&d.Name, &d.Owner, &d.Encoding, &d.Collate, &d.Ctype, &d.LocaleProvider, &d.ICULocale,
			&d.IsTemplate, &d.AllowConn); err != nil {
			return fmt.Errorf("reading databases: %w", err)
		}
		in.Databases = append(in.Databases, d)
	}
	return rows.Err()
}

// Database returns the named database's info, or nil.
func (i *Instance) Database(name string) *DatabaseInfo {
	for k := range i.Databases {
		if i.Databases[k].Name == name {
			return &i.Databases[k]
		}
	}
	return nil
}

// Role returns the named role, or nil.
func (i *Instance) Role(name string) *Role {
	for k := range i.Roles {
		if i.Roles[k].Name == name {
			return &i.Roles[k]
		}
	}
	return nil
}

// UserDatabases returns the names of non-template databases that accept connections,
// excluding the maintenance databases (postgres) and cloud-provider system databases.
func (i *Instance) UserDatabases() []string {
	var out []string
	for _, d := range i.Databases {
		if d.IsTemplate || !d.AllowConn || SystemDatabase(d.Name) {
			continue
		}
		out = append(out, d.Name)
	}
	return out
}

// SystemDatabase reports whether a database belongs to the server rather than the user.
func SystemDatabase(name string) bool {
	switch name {
	case "postgres", "template0", "template1", "azure_maintenance", "azure_sys", "rdsadmin", "cloudsqladmin":
		return true
	}
	return false
}

// IsEmpty reports whether a database holds no user objects at all.
func (d *Database) IsEmpty() bool {
	for k, n := range d.Objects {
		if n > 0 && k != "schemas" {
			return false
		}
	}
	return len(d.Extensions) == 0 || (len(d.Extensions) == 1 && d.Extensions[0].Name == "plpgsql")
}

// Table returns the table with that schema and name, or nil.
func (d *Database) Table(schema, name string) *Table {
	for k := range d.Tables {
		if d.Tables[k].Schema == schema && d.Tables[k].Name == name {
			return &d.Tables[k]
		}
	}
	return nil
}

// builtinTypeSQL decides whether a column type is safe for binary COPY between servers: a base or
// range type of pg_catalog with binary send/receive functions, or an array of one. reg* types are
// excluded: their binary form is an OID, which differs between servers. So are tsvector and tsquery:
// their binary receive functions read unaligned data, which crashes the receiving server on
// strict-alignment machines (ARM64; pgcopydb #894, #994).
const builtinTypeSQL = `(
	(SELECT tn.nspname = 'pg_catalog' AND t.typtype IN ('b', 'r') AND t.typsend <> 0 AND t.typreceive <> 0 AND t.typname !~ '^_?reg'
		AND t.typname NOT IN ('tsvector', '_tsvector', 'tsquery', '_tsquery')
		FROM pg_type t JOIN pg_namespace tn ON tn.oid = t.typnamespace WHERE t.oid = a.atttypid)
	AND coalesce((SELECT en.nspname = 'pg_catalog' AND et.typtype IN ('b', 'r') AND et.typsend <> 0 AND et.typreceive <> 0 AND et.typname !~ '^reg'
		AND et.typname NOT IN ('tsvector', 'tsquery')
		FROM pg_type t JOIN pg_type et ON et.oid = t.typelem JOIN pg_namespace en ON en.oid = et.typnamespace
		WHERE t.oid = a.atttypid AND t.typelem <> 0 AND t.typlen = -1), true)
)`

// notExtensionMember filters objects that belong to an extension (they are created by CREATE EXTENSION).
func notExtensionMember(classid, oidExpr string) string {
	return fmt.Sprintf(`NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '%s'::regclass AND dep.objid = %s AND dep.deptype = 'e')`, classid, oidExpr)
}

// notImplicit filters objects the server created as part of another object (pg_depend deptype
// 'i': range constructors, multirange types and their constructors, array types, row types of
// relations, a view's rule, the cast from a range to its multirange) or that belong to an
// extension ('e'). Only for catalogs whose user objects never carry an internal dependency
// (pg_proc, pg_type, pg_cast): a standalone composite type's relation and a constraint's index do.
func notImplicit(classid, oidExpr string) string {
	return fmt.Sprintf(`NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '%s'::regclass AND dep.objid = %s AND dep.deptype IN ('e', 'i'))`, classid, oidExpr)
}

// userProcFilter selects functions (alias p, schema alias n) the user created: not extension
// members and not implicit. The range constructors (and, on 14+, the multirange constructors) are
// recognized by their internal dependency and, should a catalog lack it, by what they are: internal
// functions returning a range or multirange type with the server's constructor source.
func userProcFilter(v pgver.V) string {
	types := "r.rngtypid"
	if v.AtLeast(14) {
		types += ", r.rngmultitypid"
	}
	return userSchemaFilter + ` AND ` + notImplicit("pg_proc", "p.oid") + `
		AND NOT (p.prolang = (SELECT l.oid FROM pg_language l WHERE l.lanname = 'internal') AND p.prosrc ~ '^(multi)?range_constructor[0-9]$'
			AND EXISTS (SELECT 1 FROM pg_range r WHERE p.prorettype IN (` + types + `)))`
}

// userTypeFilter selects types (alias t, schema alias n) the user created on their own: not
// extension members, not array types (an element type whose typarray is this one), not a
// relation's row type (a standalone composite type's is, CREATE TYPE ... AS), not a multirange
// type (14+, made with its range type), nor anything else the server marks internal.
func userTypeFilter(v pgver.V) string {
	f := userSchemaFilter + ` AND ` + notImplicit("pg_type", "t.oid") + `
		AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
		AND (t.typrelid = 0 OR (SELECT rc.relkind FROM pg_class rc WHERE rc.oid = t.typrelid) = 'c')`
	if v.AtLeast(14) {
		f += ` AND NOT EXISTS (SELECT 1 FROM pg_range r WHERE r.rngmultitypid = t.oid)`
	}
	return f
}

// userTrigger selects triggers (alias g) the user created: not the server's (foreign keys, deferred
// constraints), nor the clones a row trigger of a partitioned table gets on each partition, which
// servers before 15 mark internal and later ones do not (they have a tgparentid, 13+).
func userTrigger(v pgver.V) string {
	if v.AtLeast(13) {
		return "NOT g.tgisinternal AND g.tgparentid = 0"
	}
	return "NOT g.tgisinternal"
}

const userSchemaFilter = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast' AND n.nspname !~ '^pg_temp_'`

// ReadDatabase reads one database's contents through conn, which must be connected to it.
// versionNum is the server's server_version_num.
func ReadDatabase(ctx context.Context, conn Querier, name string, versionNum pgver.V) (*Database, error) {
	d := &Database{Name: name, Objects: map[string]int{}, UsedCollations: map[string]string{}}
	var err error
	rows, err := conn.Query(ctx, `SELECT e.extname::text, e.extversion::text, n.nspname::text, e.oid,
		ARRAY(SELECT r.extname::text FROM pg_depend dep JOIN pg_extension r ON r.oid = dep.refobjid
			WHERE dep.classid = 'pg_extension'::regclass AND dep.objid = e.oid AND dep.refclassid = 'pg_extension'::regclass ORDER BY 1)
		FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("reading extensions of %s: %w", name, err)
	}
	for rows.Next() {
		var e Extension
		if err := rows.Scan(&e.Name, &e.Version, &e.Schema, &e.OID, &e.Requires); err != nil {
			return nil, err
		}
		d.Extensions = append(d.Extensions, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = conn.Query(ctx, `SELECT n.nspname::text, pg_get_userbyid(n.nspowner)::text FROM pg_namespace n
		WHERE `+userSchemaFilter+` AND `+notExtensionMember("pg_namespace", "n.oid")+` ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("reading schemas of %s: %w", name, err)
	}
	for rows.Next() {
		var s Schema
		if err := rows.Scan(&s.Name, &s.Owner); err != nil {
			return nil, err
		}
		d.Schemas = append(d.Schemas, s)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := readTables(ctx, conn, d, versionNum); err != nil {
		return nil, fmt.Errorf("reading tables of %s: %w", name, err)
	}
	if err := readIndexes(ctx, conn, d, versionNum); err != nil {
		return nil, fmt.Errorf("reading indexes of %s: %w", name, err)
	}
	if err := readConstraints(ctx, conn, d, versionNum); err != nil {
		return nil, fmt.Errorf("reading constraints of %s: %w", name, err)
	}
	if err := readSequences(ctx, conn, d, versionNum); err != nil {
		return nil, fmt.Errorf("reading sequences of %s: %w", name, err)
	}
	if err := readExtensionConfig(ctx, conn, d); err != nil {
		return nil, fmt.Errorf("reading extension configuration tables of %s: %w", name, err)
	}
	if err := readObjectCounts(ctx, conn, d, versionNum); err != nil {
		return nil, fmt.Errorf("reading objects of %s: %w", name, err)
	}
	if err := readOwned(ctx, conn, d, versionNum); err != nil {
		return nil, err
	}
	if err := readDatabaseExtras(ctx, conn, d, versionNum); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return d, nil
}

// describeRows runs a query whose rows are (key, text) and groups the texts by key.
func describeRows(ctx context.Context, conn Querier, q string) (map[string][]string, error) {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, err
		}
		out[k] = append(out[k], v)
	}
	return out, rows.Err()
}

// Descriptions of catalog rows, always schema-qualified (pg_describe_object leaves out the schema
// of objects on the search_path).
const (
	relDescSQL = `CASE WHEN c.relkind IN ('r', 'p') THEN 'table ' WHEN c.relkind = 'v' THEN 'view ' WHEN c.relkind = 'm' THEN 'materialized view '
		WHEN c.relkind = 'S' THEN 'sequence ' WHEN c.relkind = 'f' THEN 'foreign table ' WHEN c.relkind = 'c' THEN 'type '
		WHEN c.relkind IN ('i', 'I') THEN 'index ' ELSE 'relation ' END || n.nspname || '.' || c.relname`
	funcDescSQL = `'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'`
)

// userObjectsSQL selects (owner oid, description) of the user objects that carry an owner:
// schemas (public excluded), relations, functions and types, extension members and implicit
// objects (range constructors, array and multirange types) excluded. v is server_version_num.
func userObjectsSQL(v pgver.V) string {
	return `SELECT n.nspowner AS owner, 'schema ' || n.nspname AS d FROM pg_namespace n
		WHERE ` + userSchemaFilter + ` AND n.nspname <> 'public' AND ` + notExtensionMember("pg_namespace", "n.oid") + `
		UNION ALL
		SELECT c.relowner, ` + relDescSQL + ` FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_class", "c.oid") + `
		UNION ALL
		SELECT p.proowner, ` + funcDescSQL + ` FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE ` + userProcFilter(v) + `
		UNION ALL
		SELECT t.typowner, 'type ' || n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE t.typtype IN ('b', 'd', 'e', 'r') AND ` + userTypeFilter(v)
}

// readDatabaseExtras reads what the premigration checks need beyond the inventory. Every query
// reads a whole catalog at once.
func readDatabaseExtras(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	d.CollationVersions = map[string]string{}
	d.Tablespaces = map[string][]string{}
	d.Owners = map[string]int{}
	d.SuperuserOwned = map[string][]string{}

	memberOf := func(classid, oidExpr string) string {
		return fmt.Sprintf(`coalesce((SELECT x.extname::text FROM pg_depend dep JOIN pg_extension x ON x.oid = dep.refobjid
			WHERE dep.classid = '%s'::regclass AND dep.objid = %s AND dep.refclassid = 'pg_extension'::regclass AND dep.deptype = 'e' LIMIT 1), '')`, classid, oidExpr)
	}
	schemaExt, err := describeRows(ctx, conn, `SELECT e.extname::text, `+memberOf("pg_namespace", "e.extnamespace")+` FROM pg_extension e`)
	if err != nil {
		return fmt.Errorf("reading extension schemas: %w", err)
	}
	for k := range d.Extensions {
		if x := schemaExt[d.Extensions[k].Name]; len(x) > 0 {
			d.Extensions[k].SchemaExtension = x[0]
		}
	}

	// Collations: providers and recorded versions of the used ones, and the user-defined ones.
	prov, version, locale := "'c'", "''", "coalesce(c.collcollate::text, '')"
	if v.AtLeast(10) {
		prov, version = "c.collprovider::text", "coalesce(c.collversion, '')"
	}
	switch {
	case v.AtLeast(17):
		locale = "coalesce(c.colllocale, c.collcollate, '')"
	case v.AtLeast(15):
		locale = "coalesce(c.colliculocale, c.collcollate, '')"
	}
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT n.nspname::text, c.collname::text, %s, %s, %s,
		`+userSchemaFilter+` AND `+notExtensionMember("pg_collation", "c.oid")+`
		FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
		WHERE c.collencoding IN (-1, pg_char_to_encoding(current_setting('server_encoding')))
		ORDER BY 1, 2`, prov, version, locale))
	if err != nil {
		return fmt.Errorf("reading collations: %w", err)
	}
	for rows.Next() {
		var c Collation
		var ver string
		var user bool
		if err := rows.Scan(&c.Schema, &c.Name, &c.Provider, &ver, &c.Locale, &user); err != nil {
			return fmt.Errorf("reading collations: %w", err)
		}
		p, used := d.UsedCollations[c.Key()]
		if used && p == "" {
			d.UsedCollations[c.Key()] = c.Provider
		}
		if user {
			d.UserCollations = append(d.UserCollations, c)
		}
		if ver != "" && (used || user) {
			d.CollationVersions[c.Key()] = ver
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading collations: %w", err)
	}

	if d.Tablespaces, err = describeRows(ctx, conn, `SELECT t.spcname::text,
		CASE WHEN c.relkind IN ('i', 'I') THEN 'index ' WHEN c.relkind = 'm' THEN 'materialized view ' ELSE 'table ' END || n.nspname || '.' || c.relname
		FROM pg_class c JOIN pg_tablespace t ON t.oid = c.reltablespace JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'm', 'i', 'I') AND `+userSchemaFilter+` AND `+notExtensionMember("pg_class", "c.oid")+`
		ORDER BY 1, 2`); err != nil {
		return fmt.Errorf("reading tablespaces: %w", err)
	}

	// Objects only a superuser may create (CREATE CAST WITHOUT FUNCTION or between types nobody
	// but a superuser owns, CREATE TYPE with I/O functions, CREATE TEXT SEARCH PARSER/TEMPLATE,
	// CREATE EVENT TRIGGER, CREATE LANGUAGE, functions in untrusted languages, CREATE FOREIGN
	// DATA WRAPPER, CREATE OPERATOR CLASS/FAMILY, CREATE PUBLICATION ... FOR ALL TABLES).
	// Aggregates are written in "internal" (an untrusted language) but any user may create them.
	notAggregate := "NOT p.proisagg"
	if v.AtLeast(11) {
		notAggregate = "p.prokind <> 'a'"
	}
	su := `SELECT 'cast (' || format_type(c.castsource, NULL) || ' AS ' || format_type(c.casttarget, NULL) || ')' AS d FROM pg_cast c
		WHERE c.oid >= 16384 AND ` + notImplicit("pg_cast", "c.oid") + ` AND (c.castmethod = 'b' OR (
			(SELECT t.typnamespace FROM pg_type t WHERE t.oid = c.castsource) = 'pg_catalog'::regnamespace AND
			(SELECT t.typnamespace FROM pg_type t WHERE t.oid = c.casttarget) = 'pg_catalog'::regnamespace))
		UNION ALL
		SELECT 'base type ' || n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE t.typtype = 'b' AND ` + userTypeFilter(v) + `
		UNION ALL
		SELECT 'text search parser ' || n.nspname || '.' || p.prsname FROM pg_ts_parser p JOIN pg_namespace n ON n.oid = p.prsnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_ts_parser", "p.oid") + `
		UNION ALL
		SELECT 'text search template ' || n.nspname || '.' || p.tmplname FROM pg_ts_template p JOIN pg_namespace n ON n.oid = p.tmplnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_ts_template", "p.oid") + `
		UNION ALL
		SELECT 'event trigger ' || e.evtname FROM pg_event_trigger e WHERE ` + notExtensionMember("pg_event_trigger", "e.oid") + `
		UNION ALL
		SELECT 'language ' || l.lanname FROM pg_language l WHERE l.oid >= 16384 AND ` + notExtensionMember("pg_language", "l.oid") + `
		UNION ALL
		SELECT ` + funcDescSQL + ` || ' (LANGUAGE ' || l.lanname || ')' FROM pg_proc p
		JOIN pg_language l ON l.oid = p.prolang JOIN pg_namespace n ON n.oid = p.pronamespace
		WHERE NOT l.lanpltrusted AND ` + notAggregate + ` AND ` + userProcFilter(v) + `
		UNION ALL
		SELECT 'foreign-data wrapper ' || w.fdwname FROM pg_foreign_data_wrapper w WHERE ` + notExtensionMember("pg_foreign_data_wrapper", "w.oid") + `
		UNION ALL
		SELECT 'operator class ' || n.nspname || '.' || c.opcname || ' USING ' || (SELECT a.amname FROM pg_am a WHERE a.oid = c.opcmethod) FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_opclass", "c.oid") + `
		UNION ALL
		SELECT 'operator family ' || n.nspname || '.' || f.opfname || ' USING ' || (SELECT a.amname FROM pg_am a WHERE a.oid = f.opfmethod) FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace
		WHERE NOT EXISTS (SELECT 1 FROM pg_opclass c WHERE c.opcfamily = f.oid) AND ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_opfamily", "f.oid")
	if v.AtLeast(10) {
		su += `
		UNION ALL
		SELECT 'publication ' || p.pubname || ' (FOR ALL TABLES)' FROM pg_publication p WHERE p.puballtables`
	}
	if d.SuperuserObjects, err = collectStrings(ctx, conn, `SELECT d FROM (`+su+`) o ORDER BY 1`); err != nil {
		return fmt.Errorf("reading superuser-only objects: %w", err)
	}

	if v.Before(14) {
		// The server names a multirange type after its range type: "multi" before the first
		// "range" in the name, else "_multirange" after (at most 63 bytes).
		if d.MultirangeClashes, err = collectStrings(ctx, conn, `SELECT 'range type ' || n.nspname || '.' || t.typname || ': multirange ' || n.nspname || '.' || m.name || ' is taken by '
			|| coalesce((SELECT `+relDescSQL+` FROM pg_class c WHERE c.oid = o.typrelid), 'type ' || n.nspname || '.' || o.typname)
			FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
			CROSS JOIN LATERAL (SELECT left(CASE WHEN strpos(t.typname::text, 'range') > 0
				THEN overlay(t.typname::text PLACING 'multirange' FROM strpos(t.typname::text, 'range') FOR 5)
				ELSE left(t.typname::text, 51) || '_multirange' END, 63) AS name) m
			JOIN pg_type o ON o.typnamespace = t.typnamespace AND o.typname::text = m.name
			WHERE t.typtype = 'r' AND `+userSchemaFilter+` AND `+notExtensionMember("pg_type", "t.oid")+`
			ORDER BY 1`); err != nil {
			return fmt.Errorf("reading range types: %w", err)
		}
	}

	if v.AtLeast(9, 6) {
		// pg_init_privs records initdb's privileges on pg_catalog; information_schema's come from
		// GRANTs to PUBLIC that it does not record (SELECT on relations, USAGE on the schema).
		acl := func(cat, aclCol, alias, nsCol, desc, infoDefault string) string {
			return fmt.Sprintf(`SELECT %[5]s FROM %[1]s %[3]s JOIN pg_namespace n ON n.oid = %[3]s.%[4]s
				WHERE n.nspname IN ('pg_catalog', 'information_schema')
				AND %[3]s.%[2]s IS DISTINCT FROM coalesce((SELECT i.initprivs FROM pg_init_privs i
					WHERE i.objoid = %[3]s.oid AND i.classoid = '%[1]s'::regclass AND i.objsubid = 0),
					CASE WHEN n.nspname = 'information_schema' AND %[3]s.%[2]s IS NOT NULL THEN %[6]s END)`, cat, aclCol, alias, nsCol, desc, infoDefault)
		}
		q := acl("pg_class", "relacl", "c", "relnamespace", relDescSQL, "acldefault('r', c.relowner) || makeaclitem(0, c.relowner, 'SELECT', false)") +
			" UNION ALL " + acl("pg_proc", "proacl", "p", "pronamespace", funcDescSQL, "NULL::aclitem[]") +
			" UNION ALL " + acl("pg_namespace", "nspacl", "s", "oid", "'schema ' || n.nspname", "acldefault('n', s.nspowner) || makeaclitem(0, s.nspowner, 'USAGE', false)") +
			" ORDER BY 1"
		if d.CatalogACLs, err = collectStrings(ctx, conn, q); err != nil {
			return fmt.Errorf("reading privileges on system catalogs: %w", err)
		}
	}

	rows, err = conn.Query(ctx, `SELECT l.lanname::text, l.lanpltrusted, `+memberOf("pg_language", "l.oid")+`, coalesce(f.n, 0)
		FROM pg_language l LEFT JOIN (SELECT p.prolang, count(*)::int AS n FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE `+userSchemaFilter+` AND `+notExtensionMember("pg_proc", "p.oid")+` GROUP BY 1) f ON f.prolang = l.oid
		WHERE l.lanname NOT IN ('internal', 'c', 'sql') ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("reading languages: %w", err)
	}
	for rows.Next() {
		var l Language
		if err := rows.Scan(&l.Name, &l.Trusted, &l.Extension, &l.Functions); err != nil {
			return fmt.Errorf("reading languages: %w", err)
		}
		d.Languages = append(d.Languages, l)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading languages: %w", err)
	}

	// Owners of every object, and the objects themselves for superuser owners, in one pass.
	rows, err = conn.Query(ctx, `SELECT r.rolname::text, r.rolsuper, CASE WHEN r.rolsuper THEN o.d ELSE '' END
		FROM (`+userObjectsSQL(v)+`) o JOIN pg_roles r ON r.oid = o.owner ORDER BY 1, 3`)
	if err != nil {
		return fmt.Errorf("reading owners: %w", err)
	}
	for rows.Next() {
		var r, obj string
		var super bool
		if err := rows.Scan(&r, &super, &obj); err != nil {
			return fmt.Errorf("reading owners: %w", err)
		}
		d.Owners[r]++
		if super {
			d.SuperuserOwned[r] = append(d.SuperuserOwned[r], obj)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading owners: %w", err)
	}
	rows, err = conn.Query(ctx, `SELECT DISTINCT r.rolname::text FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
		WHERE d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND d.refclassid = 'pg_authid'::regclass AND d.deptype = 'o' ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("reading owners: %w", err)
	}
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return fmt.Errorf("reading owners: %w", err)
		}
		d.OwnerRoles = append(d.OwnerRoles, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading owners: %w", err)
	}
	return nil
}

func readTables(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	relkinds := "'r'"
	partition, parent := "false", "''"
	if v.AtLeast(10) {
		relkinds = "'r', 'p'"
		partition = "c.relispartition"
		parent = `coalesce((SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid AND c.relispartition LIMIT 1), '')`
	}
	oids := "false"
	if v.Before(12) {
		oids = "c.relhasoids"
	}
	extStats := "false"
	if v.AtLeast(10) {
		extStats = "EXISTS (SELECT 1 FROM pg_statistic_ext x WHERE x.stxrelid = c.oid)"
	}
	q := fmt.Sprintf(`SELECT c.oid, n.nspname::text, c.relname::text, pg_get_userbyid(c.relowner)::text, c.relkind::text,
		c.relpersistence = 'u', %[1]s, %[2]s,
		EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhparent = c.oid) AND c.relkind = 'r',
		c.reltuples::bigint, %[7]s,
		(%[7]s + coalesce((SELECT %[8]s FROM pg_class t WHERE t.oid = c.reltoastrelid), 0)) * current_setting('block_size')::bigint,
		EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'),
		%[3]s, %[9]s,
		(SELECT count(*)::int FROM pg_trigger g WHERE g.tgrelid = c.oid AND %[10]s)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN (%[4]s) AND %[5]s AND %[6]s
		ORDER BY 2, 3`, partition, parent, oids, relkinds, userSchemaFilter, notExtensionMember("pg_class", "c.oid"),
		relationPages("c"), relationPages("t"), extStats, userTrigger(v))
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	byOID := map[uint32]int{}
	for rows.Next() {
		var t Table
		if err := rows.Scan(&t.OID, &t.Schema, &t.Name, &t.Owner, &t.Kind, &t.Unlogged, &t.IsPartition, &t.Parent,
			&t.HasInheritChildren, &t.RowEstimate, &t.Pages, &t.SizeBytes, &t.HasPrimaryKey, &t.HasOIDs, &t.HasExtendedStats, &t.Triggers); err != nil {
			return err
		}
		byOID[t.OID] = len(d.Tables)
		d.Tables = append(d.Tables, t)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	gen := "false"
	if v.AtLeast(12) {
		gen = "a.attgenerated <> ''"
	}
	q = fmt.Sprintf(`SELECT a.attrelid, a.attname::text, format_type(a.atttypid, a.atttypmod), a.atttypid, %s, %s,
		CASE WHEN a.attcollation <> 0 AND a.attcollation <> (SELECT t.typcollation FROM pg_type t WHERE t.oid = a.atttypid)
			THEN (SELECT cn.nspname || '.' || co.collname FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace WHERE co.oid = a.attcollation)
			ELSE '' END
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN (%s) AND %s
		ORDER BY a.attrelid, a.attnum`, gen, builtinTypeSQL, relkinds, userSchemaFilter)
	rows, err = conn.Query(ctx, q)
	if err != nil {
		return err
	}
	for rows.Next() {
		var oid uint32
		var c Column
		var builtin *bool
		if err := rows.Scan(&oid, &c.Name, &c.Type, &c.TypeOID, &c.Generated, &builtin, &c.Collation); err != nil {
			return err
		}
		c.Builtin = builtin != nil && *builtin
		if k, ok := byOID[oid]; ok {
			d.Tables[k].Columns = append(d.Tables[k].Columns, c)
		}
	}
	return rows.Err()
}

func readIndexes(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	partitioned := "false"
	if v.AtLeast(11) {
		partitioned = "ic.relkind = 'I'"
	}
	q := fmt.Sprintf(`SELECT i.indexrelid, n.nspname::text, ic.relname::text, tc.relname::text, am.amname::text, pg_get_indexdef(i.indexrelid),
		i.indisprimary, i.indisunique, coalesce(k.contype::text, ''), coalesce(k.oid, 0),
		i.indisvalid, ic.relpages::bigint * current_setting('block_size')::bigint, %s
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid
		JOIN pg_namespace n ON n.oid = ic.relnamespace JOIN pg_am am ON am.oid = ic.relam
		LEFT JOIN pg_constraint k ON k.conindid = i.indexrelid AND k.conrelid = i.indrelid AND k.contype IN ('p','u','x')
		WHERE tc.relkind IN ('r', 'p', 'm') AND %s AND %s
		ORDER BY 2, 3`, partitioned, userSchemaFilter, notExtensionMember("pg_class", "tc.oid"))
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	for rows.Next() {
		var ix Index
		if err := rows.Scan(&ix.OID, &ix.Schema, &ix.Name, &ix.Table, &ix.Method, &ix.Def, &ix.Primary, &ix.Unique,
			&ix.Constraint, &ix.ConstraintOID, &ix.Valid, &ix.SizeBytes, &ix.Partitioned); err != nil {
			return err
		}
		d.Indexes = append(d.Indexes, ix)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Collations used by index columns.
	rows, err = conn.Query(ctx, `SELECT DISTINCT cn.nspname || '.' || co.collname, `+strings.Replace(collProvider(v), "c.", "co.", 1)+`
		FROM pg_index i, unnest(i.indcollation::oid[]) AS ic(coll)
		JOIN pg_collation co ON co.oid = ic.coll JOIN pg_namespace cn ON cn.oid = co.collnamespace
		WHERE ic.coll <> 0 AND co.collname <> 'default' AND i.indexrelid >= 16384`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var n, p string
		if err := rows.Scan(&n, &p); err != nil {
			return err
		}
		d.UsedCollations[n] = p
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range d.Tables {
		for _, c := range t.Columns {
			if c.Collation != "" {
				d.UsedCollations[c.Collation] = ""
			}
		}
	}
	return nil
}

func readConstraints(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	inherited := "NOT k.conislocal"
	if v.AtLeast(11) {
		inherited = "(k.conparentid <> 0 OR NOT k.conislocal)"
	}
	q := fmt.Sprintf(`SELECT k.oid, n.nspname::text, c.relname::text, k.conname::text, k.contype::text, pg_get_constraintdef(k.oid), %s,
		coalesce((SELECT rn.nspname || '.' || rc.relname FROM pg_class rc JOIN pg_namespace rn ON rn.oid = rc.relnamespace WHERE rc.oid = k.confrelid), '')
		FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE k.contype IN ('p','u','f','c','x','t') AND %s AND %s
		ORDER BY 1, 2, 3`, inherited, userSchemaFilter, notExtensionMember("pg_class", "c.oid"))
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	for rows.Next() {
		var c Constraint
		if err := rows.Scan(&c.OID, &c.Schema, &c.Table, &c.Name, &c.Type, &c.Def, &c.Inherited, &c.RefTable); err != nil {
			return err
		}
		d.Constraints = append(d.Constraints, c)
	}
	return rows.Err()
}

func readSequences(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	identity := "false"
	if v.AtLeast(10) {
		identity = "dep.deptype = 'i'"
	}
	q := fmt.Sprintf(`SELECT c.oid, n.nspname::text, c.relname::text,
		coalesce((SELECT tn.nspname || '.' || tc.relname || '.' || a.attname FROM pg_class tc JOIN pg_namespace tn ON tn.oid = tc.relnamespace
			JOIN pg_attribute a ON a.attrelid = tc.oid AND a.attnum = dep.refobjsubid WHERE tc.oid = dep.refobjid), ''),
		coalesce(%s, false)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_depend dep ON dep.classid = 'pg_class'::regclass AND dep.objid = c.oid AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
		WHERE c.relkind = 'S' AND %s AND %s
		ORDER BY 1, 2`, identity, userSchemaFilter, notExtensionMember("pg_class", "c.oid"))
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	for rows.Next() {
		var s Sequence
		if err := rows.Scan(&s.OID, &s.Schema, &s.Name, &s.OwnedBy, &s.Identity); err != nil {
			return err
		}
		d.Sequences = append(d.Sequences, s)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(d.Sequences) == 0 {
		return nil
	}
	// One statement reads every sequence's position: a UNION ALL of one-row selects.
	const chunk = 500
	for start := 0; start < len(d.Sequences); start += chunk {
		end := min(start+chunk, len(d.Sequences))
		var b strings.Builder
		for k := start; k < end; k++ {
			if k > start {
				b.WriteString(" UNION ALL ")
			}
			fmt.Fprintf(&b, "SELECT %d, last_value, is_called FROM %s", k, d.Sequences[k].Qualified())
		}
		rows, err := conn.Query(ctx, b.String())
		if err != nil {
			return err
		}
		for rows.Next() {
			var k int
			var last int64
			var called bool
			if err := rows.Scan(&k, &last, &called); err != nil {
				return err
			}
			d.Sequences[k].LastValue, d.Sequences[k].IsCalled = last, called
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

func readObjectCounts(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	prokind := "CASE WHEN p.proisagg THEN 'aggregates' ELSE 'functions' END"
	if v.AtLeast(11) {
		prokind = "CASE p.prokind WHEN 'a' THEN 'aggregates' WHEN 'p' THEN 'procedures' ELSE 'functions' END"
	}
	q := `SELECT kind, count(*)::int FROM (
		SELECT CASE c.relkind WHEN 'r' THEN 'tables' WHEN 'p' THEN 'tables' WHEN 'v' THEN 'views' WHEN 'm' THEN 'materialized_views'
			WHEN 'S' THEN 'sequences' WHEN 'i' THEN 'indexes' WHEN 'I' THEN 'indexes' WHEN 'f' THEN 'foreign_tables' WHEN 'c' THEN 'composite_types' ELSE 'other' END AS kind
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ` + userSchemaFilter + ` AND c.relkind <> 't' AND ` + notExtensionMember("pg_class", "c.oid") + `
			AND ` + notExtensionMember("pg_class", "(SELECT x.indrelid FROM pg_index x WHERE x.indexrelid = c.oid)") + `
		UNION ALL
		SELECT ` + prokind + ` FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ` + userProcFilter(v) + `
		UNION ALL
		SELECT CASE t.typtype WHEN 'e' THEN 'enums' WHEN 'd' THEN 'domains' WHEN 'r' THEN 'range_types' WHEN 'b' THEN 'base_types' ELSE 'other_types' END
		FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype IN ('e','d','r','b') AND ` + userTypeFilter(v) + `
		UNION ALL
		SELECT 'triggers' FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ` + userTrigger(v) + ` AND ` + userSchemaFilter + `
			AND ` + notExtensionMember("pg_class", "c.oid") + `
		UNION ALL
		SELECT 'constraints' FROM pg_constraint k JOIN pg_namespace n ON n.oid = k.connamespace WHERE ` + userSchemaFilter + ` AND k.contype <> 'n'
			AND ` + notExtensionMember("pg_class", "k.conrelid") + ` AND ` + notExtensionMember("pg_type", "k.contypid") + `
		UNION ALL
		SELECT 'schemas' FROM pg_namespace n WHERE ` + userSchemaFilter + ` AND n.nspname <> 'public' AND ` + notExtensionMember("pg_namespace", "n.oid") + `
	) o GROUP BY kind`
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return err
		}
		d.Objects[k] = n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return conn.QueryRow(ctx, `SELECT count(*) FROM pg_largeobject_metadata`).Scan(&d.LargeObjects)
}

// SameObjects reports whether the target database holds the same tables, indexes, foreign keys
// and other constraints, sequences and extensions as the source database, by name.
func SameObjects(src, tgt *Database) bool {
	onlySrc, onlyTgt := ObjectDiff(src, tgt)
	return len(onlySrc) == 0 && len(onlyTgt) == 0
}

func readExtensionConfig(ctx context.Context, conn Querier, d *Database) error {
	rows, err := conn.Query(ctx, `SELECT e.extname::text, n.nspname::text, c.relname::text, c.relkind::text, coalesce(x.cond, '')
		FROM pg_extension e CROSS JOIN LATERAL unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
		JOIN pg_class c ON c.oid = x.cfg JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'S') ORDER BY 1, 2, 3`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var c ExtensionConfig
		if err := rows.Scan(&c.Extension, &c.Schema, &c.Name, &c.Kind, &c.Condition); err != nil {
			return err
		}
		d.ExtensionConfig = append(d.ExtensionConfig, c)
	}
	return rows.Err()
}

// LoginGrant is a role the target's login must be made a member of (SET and INHERIT) to give
// migrated objects to it: ALTER ... OWNER TO a role needs SET ROLE rights on it (membership
// before PostgreSQL 16), and altering the object afterwards needs the role's privileges.
type LoginGrant struct {
	Role string
	// Exists: the role is on the target before the migration (otherwise the migration creates it).
	Exists bool
	// Blocked says why the login cannot grant itself the role ("" when it can), and Fix what
	// to do about it.
	Blocked, Fix string
}

// LoginGrants lists, by name, the roles that will own migrated objects on the target (the
// owners of the named databases of the source and of everything in them, each replaced by its
// role in remap when it has one, see DecideOwners) and that the target's login (tgt is read
// through it) lacks SET or USAGE on. A superuser login needs none. It is what a migration with
// roles = true grants the login.
func LoginGrants(src, tgt *Instance, dbs map[string]*Database, names []string, remap map[string]string) []LoginGrant {
	if tgt.IsSuperuser {
		return nil
	}
	owners := map[string]bool{}
	for _, o := range MigratedOwners(src, dbs, names) {
		if to, ok := remap[o]; ok {
			o = to
		}
		owners[o] = true
	}
	login := tgt.Role(tgt.CurrentUser)
	var out []LoginGrant
	for _, sr := range loginGrantCandidates(src, tgt, owners) {
		if sr.Name == tgt.CurrentUser {
			continue
		}
		g := LoginGrant{Role: sr.Name}
		acc := tgt.LoginAccess[sr.Name]
		if tr := tgt.Role(sr.Name); tr != nil {
			if acc.Usage && acc.Set {
				continue
			}
			g.Exists = true
			grant := fmt.Sprintf("as a superuser or an administrator of %s, run GRANT %s TO %s",
				quoteIdent(sr.Name), quoteIdent(sr.Name), quoteIdent(tgt.CurrentUser))
			switch {
			case tr.Superuser:
				g.Blocked = fmt.Sprintf("%q is a superuser on the target, and a login that is not one cannot be made its member", sr.Name)
				g.Fix = fmt.Sprintf("give the objects of %s to a role that is not a superuser, on the source (ALTER ... OWNER TO)", quoteIdent(sr.Name))
			case tgt.VersionNum.AtLeast(16) && !acc.Admin:
				g.Blocked = fmt.Sprintf("%q has no ADMIN OPTION on %q (PostgreSQL 16 and later ask for it: CREATEROLE is not enough)", tgt.CurrentUser, sr.Name)
				g.Fix = grant
			case tgt.VersionNum.Before(16) && !acc.Admin && !tgt.CanCreateRole:
				g.Blocked = fmt.Sprintf("%q has neither CREATEROLE nor ADMIN OPTION on %q", tgt.CurrentUser, sr.Name)
				g.Fix = grant
			}
		}
		if g.Blocked == "" && tgt.VersionNum.Before(16) && login != nil && !login.Inherit {
			// Before 16 a membership inherits as its member says: a NOINHERIT login would be able
			// to give the objects away but not to alter them afterwards.
			g.Blocked = fmt.Sprintf("%q is NOINHERIT, so a membership in %q would not give it the role's privileges", tgt.CurrentUser, sr.Name)
			g.Fix = fmt.Sprintf("run ALTER ROLE %s INHERIT", quoteIdent(tgt.CurrentUser))
		}
		out = append(out, g)
	}
	return out
}

// loginGrantCandidates lists the owners that are roles of the source or of the target (an
// owner_map target may exist on the target only), sorted by name.
func loginGrantCandidates(src, tgt *Instance, owners map[string]bool) []Role {
	names := make([]string, 0, len(owners))
	for o := range owners {
		names = append(names, o)
	}
	sort.Strings(names)
	var out []Role
	for _, n := range names {
		if r := src.Role(n); r != nil {
			out = append(out, *r)
		} else if r := tgt.Role(n); r != nil {
			out = append(out, *r)
		}
	}
	return out
}

// quoteIdent quotes a name as an SQL identifier when it needs it.
func quoteIdent(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == "" && (s[0] < '0' || s[0] > '9') {
		return s
	}
	return pgx.Identifier{s}.Sanitize()
}
