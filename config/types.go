package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Config is one whole configuration: every *.hcl file of a directory, decoded.
// It never holds a connection; it is plain data.
type Config struct {
	// Dir is the directory the files were read from.
	Dir string
	// Files maps file name to its bytes, for rendering diagnostics with snippets.
	// It holds the configuration's own *.hcl files only (a saved plan may snapshot
	// them, after Redact): variables files, which typically hold secrets, are kept
	// apart in VarFiles.
	Files map[string][]byte
	// VarFiles maps the variables files that were read (pgferry.pgfvars, *.auto.pgfvars
	// and --var-file files) to their bytes. They may hold secrets: use them to render
	// diagnostics (see SnippetFiles, which quote only their lines that set plain
	// variables), never store them.
	VarFiles map[string][]byte
	// Variables are the declared variables with their resolved values.
	Variables map[string]*Variable
	Sources   map[string]*Server
	Targets   map[string]*Server
	// Migrations in declaration order.
	Migrations []*Migration
	// MigrationNames are the names of the migration blocks declared, in order, valid or not.
	MigrationNames []string
	// Backend is never nil after a successful Load: the default is {Type: "local", Path: ".pgferry"}
	// (Path relative to Dir).
	Backend *Backend
}

// Variable is one declared variable and the value it resolved to.
type Variable struct {
	Name        string
	Type        string // "string", "number", "bool" or "" (any)
	Description string
	// Sensitive is true when declared so, and also when the variable is used in a
	// password or a backend conn_str: its value is then never printed or recorded.
	Sensitive bool
	// Value is the resolved value rendered as a string (numbers and bools in their HCL form).
	Value string
	// Set reports whether Value came from --var, --var-file, PGFERRY_VAR_* or a default.
	Set       bool
	DeclRange hcl.Range
}

// Server is a source or a target block.
type Server struct {
	Kind string // "source" or "target"
	Name string
	Host string
	Port int // default 5432
	User string
	// Password may be empty: then PGPASSWORD / .pgpass are honoured by the driver.
	// Secret: never print, log, or persist it.
	Password    string
	SSLMode     string // default "prefer"
	SSLRootCert string
	SSLCert     string
	SSLKey      string
	Type        string // source only: on-premises | azure-vm | other (default "other")
	DBName      string // maintenance database, default "postgres"
	FQDN        string // optional: the address actually dialled instead of Host
	DeclRange   hcl.Range
}

// Migration is one migration block, with its references resolved.
type Migration struct {
	Name      string
	Source    *Server
	Target    *Server
	Mode      string   // "offline"
	Databases []string // ["*"] means every non-template user database
	Options   Options
	DeclRange hcl.Range
}

// MaxJobs is the most parallel workers options.jobs (and apply --jobs) may ask for.
const MaxJobs = 64

// Options is the options block of a migration, defaults applied.
type Options struct {
	OverwriteDatabases bool     // default false
	Roles              bool     // default true
	StripSuperuser     bool     // default true
	Jobs               int      // default 4, >= 1
	Verify             string   // none | count | checksum; default checksum
	ServerParameters   string   // report | apply; default report
	IncludeTables      []string // "schema.table" patterns, * and ? wildcards
	ExcludeTables      []string
	// PgBinDir optionally names the directory holding pg_dump and pg_restore.
	PgBinDir string
	// SplitTablesLargerThan is the heap size in bytes above which a table is copied in parts by
	// several workers (as pgcopydb's --split-tables-larger-than); 0 never splits. Default 1 GiB:
	// a table copied whole is loaded with COPY FREEZE, which parts cannot be, so splitting pays
	// only for tables whose single stream would dominate the copy.
	SplitTablesLargerThan int64
	// CopyFormat is the COPY format of table data (copy_format): CopyFormatAuto (the default:
	// per table, the smaller on the wire as a sample at plan time measures it, binary when close),
	// CopyFormatBinary (binary wherever it is safe) or CopyFormatText (always text). Binary is
	// never used for a column type whose binary form is not safe between servers, whatever this
	// says. "" means CopyFormatAuto.
	CopyFormat string
	// OwnerMap maps a source role to the target role that is to own its objects (owner_map);
	// never nil. See plan.DecideOwners for the roles remapped without an entry.
	OwnerMap map[string]string
}

// The values of copy_format.
const (
	CopyFormatAuto   = "auto"
	CopyFormatBinary = "binary"
	CopyFormatText   = "text"
)

// DefaultSplitTablesLargerThan is split_tables_larger_than's default, "1GB".
const DefaultSplitTablesLargerThan = 1 << 30

// Backend is where state is kept.
type Backend struct {
	Type    string // "local" or "pg"
	Path    string // local: state directory, default ".pgferry" (relative to Config.Dir)
	ConnStr string // pg: connection string (secret: may hold a password)
	Schema  string // pg: default "pgferry"
}

// Dialed returns the address that is actually dialled: FQDN when set, else Host.
func (s *Server) Dialed() string {
	if s.FQDN != "" {
		return s.FQDN
	}
	return s.Host
}

// Label is how a server is named in messages: `source "onprem" (10.1.2.3:5432)`. No secrets.
func (s *Server) Label() string {
	return fmt.Sprintf("%s %q (%s:%d)", s.Kind, s.Name, s.Dialed(), s.Port)
}

// ConnString returns a URL connection string for database dbname ("" = the maintenance
// database). It contains the password when one is set: never print it.
func (s *Server) ConnString(dbname string) string {
	if dbname == "" {
		dbname = s.DBName
	}
	u := &url.URL{Scheme: "postgres", Host: fmt.Sprintf("%s:%d", s.Dialed(), s.Port), Path: "/" + dbname}
	if strings.Contains(s.Dialed(), ":") && !strings.HasPrefix(s.Dialed(), "[") {
		u.Host = fmt.Sprintf("[%s]:%d", s.Dialed(), s.Port)
	}
	if s.Password != "" {
		u.User = url.UserPassword(s.User, s.Password)
	} else if s.User != "" {
		u.User = url.User(s.User)
	}
	q := url.Values{}
	if s.SSLMode != "" {
		q.Set("sslmode", s.SSLMode)
	}
	if s.SSLRootCert != "" {
		q.Set("sslrootcert", s.SSLRootCert)
	}
	if s.SSLCert != "" {
		q.Set("sslcert", s.SSLCert)
	}
	if s.SSLKey != "" {
		q.Set("sslkey", s.SSLKey)
	}
	q.Set("application_name", "pgferry")
	u.RawQuery = q.Encode()
	return u.String()
}
