package catalog

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
)

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

func readDatabases(ctx context.Context, conn Querier, in *Instance) error {
	prov, icu := "'libc'", "''"
	switch {
	case in.VersionNum.AtLeast(17):
		prov, icu = "CASE d.datlocprovider WHEN 'i' THEN 'icu' WHEN 'b' THEN 'builtin' ELSE 'libc' END", "coalesce(d.datlocale, '')"
	case in.VersionNum.AtLeast(15):
		prov, icu = "CASE d.datlocprovider WHEN 'i' THEN 'icu' ELSE 'libc' END", "coalesce(d.daticulocale, '')"
	}
	// CollVersion and Tablespace come later, from readInstanceExtras.
	var err error
	in.Databases, err = appendRows(ctx, conn, in.Databases, pgx.RowToStructByNameLax[DatabaseInfo], fmt.Sprintf(`SELECT
		d.datname::text AS name, pg_get_userbyid(d.datdba)::text AS owner, pg_encoding_to_char(d.encoding)::text AS encoding,
		d.datcollate::text AS "collate", d.datctype::text AS ctype, %s AS locale_provider, %s AS icu_locale,
		d.datistemplate AS is_template, d.datallowconn AS allow_conn
		FROM pg_database d ORDER BY 1`, prov, icu))
	if err != nil {
		return fmt.Errorf("reading databases: %w", err)
	}
	return nil
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
	// SchemaCreateNeeds are the superuser roles owning objects in schemas they do not own (schemacreate.go).
	SchemaCreateNeeds []SchemaCreateNeed
	// Dependents are the objects that depend on a table (its definition or its row type) without
	// belonging to it: views, functions, other tables' foreign keys, columns, policies, children.
	Dependents []Dependent
	// Excluded lists the tables (schema.name) that Filter left out, sorted; nil for a database
	// read as it is.
	Excluded []string
}

// Schema is a user schema.
type Schema struct {
	Name  string
	Owner string
}

// databaseReader reads one part of a database's catalog into d; what names it in errors, and
// parallel says how ReadDatabaseParallel runs it.
type databaseReader struct {
	what     string
	read     func(ctx context.Context, conn Querier, d *Database, v pgver.V) error
	parallel parallelRole
}

// parallelRole is how ReadDatabaseParallel runs a reader (readParallel).
type parallelRole int

const (
	// atOnce: it needs nothing read before it, and runs beside the others on any connection.
	atOnce parallelRole = iota
	// inParts: readParallel reads what it reads itself, in parts run at once (the tables' rows
	// and columns, the index rows and definitions, the constraints).
	inParts
	// afterAll: it needs what the others read (the collations the tables and indexes use), and
	// runs once they are done, on the first connection.
	afterAll
)

// databaseReaders read a database in this order: the collations' reader needs the collations
// that readTables and readIndexes found used.
var databaseReaders = []databaseReader{
	{"extensions", readExtensions, atOnce},
	{"schemas", readSchemas, atOnce},
	{"tables", readTables, inParts},
	{"indexes", readIndexes, inParts},
	{"constraints", readConstraints, inParts},
	{"sequences", readSequences, atOnce},
	{"extension configuration tables", readExtensionConfig, atOnce},
	{"objects", readObjectCounts, atOnce},
	{"owners", readOwners, atOnce},
	{"owners", readOwnerRoles, atOnce},
	{"the grantors of privileges", readGrantors, atOnce},
	{"the schema privileges superuser owners need", readSchemaCreateNeeds, atOnce},
	{"extension schemas", readExtensionSchemas, afterAll},
	{"collations", readCollations, afterAll},
	{"tablespaces", readTablespaces, atOnce},
	{"superuser-only objects", readSuperuserObjects, atOnce},
	{"range types", readMultirangeClashes, atOnce},
	{"privileges on system catalogs", readCatalogACLs, atOnce},
	{"languages", readLanguages, atOnce},
}

// ReadDatabase reads one database's contents through conn, which must be connected to it.
// versionNum is the server's server_version_num.
func ReadDatabase(ctx context.Context, conn Querier, name string, versionNum pgver.V) (*Database, error) {
	d := &Database{Name: name, Objects: map[string]int{}, UsedCollations: map[string]string{}}
	err := withoutJIT(ctx, conn, func() error {
		for _, r := range databaseReaders {
			if err := r.read(ctx, conn, d, versionNum); err != nil {
				return fmt.Errorf("reading %s of %s: %w", r.what, name, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

func readSchemas(ctx context.Context, conn Querier, d *Database, _ pgver.V) error {
	var err error
	d.Schemas, err = appendRows(ctx, conn, d.Schemas, pgx.RowToStructByName[Schema],
		`SELECT n.nspname::text AS name, pg_get_userbyid(n.nspowner)::text AS owner FROM pg_namespace n
		WHERE `+userSchemaFilter+` AND `+notExtensionMember("pg_namespace", "n.oid")+` ORDER BY 1`)
	return err
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

// SameObjects reports whether the target database holds the same tables, indexes, foreign keys
// and other constraints, sequences and extensions as the source database, by name.
func SameObjects(src, tgt *Database) bool {
	onlySrc, onlyTgt := ObjectDiff(src, tgt)
	return len(onlySrc) == 0 && len(onlyTgt) == 0
}
