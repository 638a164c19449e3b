package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
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

// Setting is one server parameter.
type Setting struct {
	Name    string
	Setting string
	Unit    string
	Context string
	Source  string
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
	var st Setting
	if err := forEachRow(ctx, conn, `SELECT name, setting, coalesce(unit, ''), context, source FROM pg_settings`,
		[]any{&st.Name, &st.Setting, &st.Unit, &st.Context, &st.Source}, func() { in.Settings[st.Name] = st }); err != nil {
		return nil, fmt.Errorf("reading settings: %w", err)
	}
	var name, version, def string
	if err := forEachRow(ctx, conn, `SELECT v.name, v.version, coalesce(a.default_version, '')
		FROM pg_available_extension_versions v LEFT JOIN pg_available_extensions a ON a.name = v.name ORDER BY 1, 2`,
		[]any{&name, &version, &def}, func() {
			in.AvailableExtensions[name] = append(in.AvailableExtensions[name], version)
			in.DefaultExtensionVersions[name] = def
		}); err != nil {
		return nil, fmt.Errorf("reading available extensions: %w", err)
	}
	var err error
	in.ReplicationSlots, err = collectStrings(ctx, conn, `SELECT slot_name::text FROM pg_replication_slots ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("reading replication slots: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication`).Scan(&in.Standbys); err != nil {
		return nil, fmt.Errorf("reading standbys: %w", err)
	}
	var provider string
	if err := forEachRow(ctx, conn, `SELECT n.nspname || '.' || c.collname, `+collProvider(in.VersionNum)+`
		FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
		WHERE c.collencoding IN (-1, pg_char_to_encoding(current_setting('server_encoding')))`,
		[]any{&name, &provider}, func() { in.Collations[name] = provider }); err != nil {
		return nil, fmt.Errorf("reading collations: %w", err)
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
	var err error
	in.DBRoleSettings, err = appendRows(ctx, conn, in.DBRoleSettings, pgx.RowToStructByName[DBRoleSetting],
		`SELECT coalesce(d.datname::text, '') AS database, coalesce(r.rolname::text, '') AS role, coalesce(s.setconfig, '{}') AS settings
		FROM pg_db_role_setting s LEFT JOIN pg_database d ON d.oid = s.setdatabase LEFT JOIN pg_roles r ON r.oid = s.setrole
		ORDER BY 1, 2`)
	if err != nil {
		return fmt.Errorf("reading role and database settings: %w", err)
	}
	trusted := "false"
	if in.VersionNum.AtLeast(13) {
		trusted = "v.trusted"
	}
	var name string
	var su bool
	if err := forEachRow(ctx, conn, `SELECT v.name::text, v.superuser AND NOT `+trusted+`
		FROM pg_available_extension_versions v JOIN pg_available_extensions a ON a.name = v.name AND a.default_version = v.version`,
		[]any{&name, &su}, func() { in.ExtensionNeedsSuperuser[name] = su }); err != nil {
		return fmt.Errorf("reading available extensions: %w", err)
	}
	if in.VersionNum.AtLeast(10) {
		// One call per collation, but all in one statement; ~800 ICU collations take ~10 ms.
		var version string
		if err := forEachRow(ctx, conn, `SELECT n.nspname || '.' || c.collname, v
			FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace, pg_collation_actual_version(c.oid) AS v
			WHERE v IS NOT NULL AND v <> '' AND c.collencoding IN (-1, pg_char_to_encoding(current_setting('server_encoding')))`,
			[]any{&name, &version}, func() { in.CollationVersions[name] = version }); err != nil {
			return fmt.Errorf("reading collation versions: %w", err)
		}
	}
	collVersion := "''"
	if in.VersionNum.AtLeast(15) {
		collVersion = "coalesce(d.datcollversion, '')"
	}
	var version, tablespace string
	if err := forEachRow(ctx, conn, `SELECT d.datname::text, `+collVersion+`, coalesce(t.spcname::text, '')
		FROM pg_database d LEFT JOIN pg_tablespace t ON t.oid = d.dattablespace`,
		[]any{&name, &version, &tablespace}, func() {
			if d := in.Database(name); d != nil {
				d.CollVersion, d.Tablespace = version, tablespace
			}
		}); err != nil {
		return fmt.Errorf("reading databases: %w", err)
	}
	return nil
}
