package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Migration returns the migration called name. With name "" it returns the only
// migration, and fails when there are several: the user must pick one with
// --migration NAME.
func (c *Config) Migration(name string) (*Migration, error) {
	names := make([]string, len(c.Migrations))
	for i, m := range c.Migrations {
		names[i] = m.Name
	}
	if name == "" {
		switch len(c.Migrations) {
		case 0:
			return nil, fmt.Errorf("the configuration declares no migration; add a migration block")
		case 1:
			return c.Migrations[0], nil
		default:
			return nil, fmt.Errorf("the configuration declares %d migrations (%s); pass --migration NAME to choose one",
				len(names), strings.Join(names, ", "))
		}
	}
	for _, m := range c.Migrations {
		if m.Name == name {
			return m, nil
		}
	}
	return nil, unknownMigration(name, names)
}

// MigrationName returns the name of the migration called name, as Migration picks it (with ""
// the only one), among every declared block, valid or not: what the state commands, which read
// the state alone, need of a migration whose block depends on values they do without.
func (c *Config) MigrationName(name string) (string, error) {
	if name == "" {
		switch len(c.MigrationNames) {
		case 0:
			return "", fmt.Errorf("the configuration declares no migration; add a migration block")
		case 1:
			return c.MigrationNames[0], nil
		default:
			return "", fmt.Errorf("the configuration declares %d migrations (%s); pass --migration NAME to choose one",
				len(c.MigrationNames), strings.Join(c.MigrationNames, ", "))
		}
	}
	if err := c.CheckMigration(name); err != nil {
		return "", err
	}
	return name, nil
}

// CheckMigration returns nil when a migration block called name is declared, and otherwise an
// error naming the declared ones. Unlike Migration it also finds a block that did not decode, or
// that depends on values unknown with TypesOnly: validate --migration NAME checks the name only.
func (c *Config) CheckMigration(name string) error {
	if slices.Contains(c.MigrationNames, name) {
		return nil
	}
	return unknownMigration(name, c.MigrationNames)
}

func unknownMigration(name string, names []string) error {
	if len(names) == 0 {
		return fmt.Errorf("no migration named %q: the configuration declares none", name)
	}
	msg := fmt.Sprintf("no migration named %q; the configuration declares: %s", name, strings.Join(names, ", "))
	if sug := suggest(name, names); sug != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", sug)
	}
	return fmt.Errorf("%s", msg)
}

// SnippetFiles returns the configuration files and the --var-file files together:
// the files map Diagnostics.Write and Diagnostics.JSON need to quote the source of
// every diagnostic Load returned. It may hold secrets; never store it.
func (c *Config) SnippetFiles() map[string][]byte {
	out := make(map[string][]byte, len(c.Files)+len(c.VarFiles))
	for name, src := range c.Files {
		out[name] = src
	}
	for name, src := range c.VarFiles {
		out[name] = src
	}
	return out
}

// redacted replaces secrets in output.
const redacted = "********"

// minSecretLen is the length from which Secrets lists a value.
const minSecretLen = 4

// Secrets returns every secret the configuration holds, for Redact: the servers'
// passwords, the password in the pg backend's conn_str, and the values of sensitive
// variables; each also in its URL-escaped forms, as it appears in connection
// strings. Empty values are left out; longer secrets come first.
func (c *Config) Secrets() []string {
	set := make(map[string]bool)
	add := func(s string) {
		if s == "" {
			return
		}
		set[s] = true
		set[url.QueryEscape(s)] = true
		set[url.PathEscape(s)] = true
		if u := url.UserPassword("u", s).String(); strings.HasPrefix(u, "u:") {
			set[u[2:]] = true
		}
	}
	servers := make([]*Server, 0, len(c.Sources)+len(c.Targets))
	for _, s := range c.Sources {
		servers = append(servers, s)
	}
	for _, s := range c.Targets {
		servers = append(servers, s)
	}
	for _, m := range c.Migrations {
		servers = append(servers, m.Source, m.Target)
	}
	for _, s := range servers {
		if s != nil {
			add(s.Password)
		}
	}
	if c.Backend != nil && c.Backend.ConnStr != "" {
		add(connStrPassword(c.Backend.ConnStr))
	}
	for _, v := range c.Variables {
		if v.Sensitive {
			add(v.Value)
		}
	}
	// Not hidden: values too short to be told apart from the words around them (a password "x"
	// would turn every x of the output into asterisks), and values the configuration also holds
	// in the open (a password "postgres" that is also the user's or a database's name): those
	// are printed by design, and hiding them would garble messages without hiding anything.
	public := map[string]bool{}
	for _, srv := range servers {
		if srv != nil {
			for _, v := range []string{srv.Name, srv.Host, srv.FQDN, srv.User, srv.DBName} {
				public[v] = true
			}
		}
	}
	for _, m := range c.Migrations {
		public[m.Name] = true
		for _, db := range m.Databases {
			public[db] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		if len(s) >= minSecretLen && !public[s] {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}

// Redact returns s with every occurrence of each secret replaced by "********".
// Longer secrets are replaced first, so one that contains another is hidden whole.
func Redact(s string, secrets []string) string {
	sorted := slices.Clone(secrets)
	sort.SliceStable(sorted, func(i, j int) bool { return len(sorted[i]) > len(sorted[j]) })
	for _, sec := range sorted {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redacted)
		}
	}
	return s
}

// connStrPassword extracts the password of a PostgreSQL connection string, in URL
// form (postgres://user:password@host/db?password=...) or keyword/value form
// (host=... password='...'). It returns "" when there is none.
func connStrPassword(cs string) string {
	if strings.HasPrefix(cs, "postgres://") || strings.HasPrefix(cs, "postgresql://") {
		u, err := url.Parse(cs)
		if err != nil {
			return ""
		}
		if p := u.Query().Get("password"); p != "" {
			return p
		}
		if u.User != nil {
			p, _ := u.User.Password()
			return p
		}
		return ""
	}
	return keywordValue(cs)["password"]
}

// keywordValue parses a libpq keyword/value connection string: key = value pairs
// separated by spaces, values optionally single-quoted with \' and \\ escapes.
func keywordValue(s string) map[string]string {
	out := make(map[string]string)
	r := []rune(s)
	i := 0
	skipSpace := func() {
		for i < len(r) && unicode.IsSpace(r[i]) {
			i++
		}
	}
	for {
		skipSpace()
		if i >= len(r) {
			return out
		}
		start := i
		for i < len(r) && r[i] != '=' && !unicode.IsSpace(r[i]) {
			i++
		}
		key := string(r[start:i])
		skipSpace()
		if i >= len(r) || r[i] != '=' {
			return out // malformed: stop rather than guess
		}
		i++
		skipSpace()
		var val strings.Builder
		if i < len(r) && r[i] == '\'' {
			i++
			for i < len(r) && r[i] != '\'' {
				if r[i] == '\\' && i+1 < len(r) {
					i++
				}
				val.WriteRune(r[i])
				i++
			}
			i++ // closing quote
		} else {
			for i < len(r) && !unicode.IsSpace(r[i]) {
				if r[i] == '\\' && i+1 < len(r) {
					i++
				}
				val.WriteRune(r[i])
				i++
			}
		}
		out[key] = val.String()
	}
}

// NonSensitiveVars returns the resolved values of the variables that are not
// sensitive: what a saved plan records to detect a changed input at apply.
func (c *Config) NonSensitiveVars() map[string]string {
	out := make(map[string]string)
	for name, v := range c.Variables {
		if !v.Sensitive && v.Set {
			out[name] = v.Value
		}
	}
	return out
}

// fingerprintVersion is bumped whenever the fingerprinted document changes shape,
// so that plans saved by an older pgferry are reported as stale, not misread.
const fingerprintVersion = 1

type fpServer struct {
	Host        string `json:"host"`
	Port        int    `json:"port"`
	User        string `json:"user"`
	DBName      string `json:"dbname"`
	SSLMode     string `json:"sslmode"`
	SSLRootCert string `json:"sslrootcert"`
	SSLCert     string `json:"sslcert"`
	SSLKey      string `json:"sslkey"`
	FQDN        string `json:"fqdn"`
}

type fpOptions struct {
	OverwriteDatabases bool              `json:"overwrite_databases"`
	Roles              bool              `json:"roles"`
	StripSuperuser     bool              `json:"strip_superuser"`
	Jobs               int               `json:"jobs"`
	Verify             string            `json:"verify"`
	ServerParameters   string            `json:"server_parameters"`
	IncludeTables      []string          `json:"include_tables"`
	ExcludeTables      []string          `json:"exclude_tables"`
	PgBinDir           string            `json:"pg_bin_dir"`
	SplitTablesLarger  int64             `json:"split_tables_larger_than"`
	CopyFormat         string            `json:"copy_format,omitempty"`
	OwnerMap           map[string]string `json:"owner_map,omitempty"`
}

type fpMigration struct {
	Version   int       `json:"version"`
	Name      string    `json:"name"`
	Mode      string    `json:"mode"`
	Source    *fpServer `json:"source"`
	Target    *fpServer `json:"target"`
	Databases []string  `json:"databases"`
	Options   fpOptions `json:"options"`
}

// Fingerprint returns the SHA-256 (hex) of a canonical JSON document of the
// migration's settings: its name and mode, where both servers are and how they are
// reached (host, port, user, dbname, TLS settings, fqdn), the databases and the
// options. Passwords are left out, so changing only a password keeps the
// fingerprint; list order that carries no meaning (databases, table patterns) is
// normalised.
func (m *Migration) Fingerprint() string {
	doc := fpMigration{
		Version:   fingerprintVersion,
		Name:      m.Name,
		Mode:      m.Mode,
		Source:    fingerprintServer(m.Source),
		Target:    fingerprintServer(m.Target),
		Databases: sortedCopy(m.Databases),
		Options: fpOptions{
			OverwriteDatabases: m.Options.OverwriteDatabases,
			Roles:              m.Options.Roles,
			StripSuperuser:     m.Options.StripSuperuser,
			Jobs:               m.Options.Jobs,
			Verify:             m.Options.Verify,
			ServerParameters:   m.Options.ServerParameters,
			IncludeTables:      sortedCopy(m.Options.IncludeTables),
			ExcludeTables:      sortedCopy(m.Options.ExcludeTables),
			PgBinDir:           m.Options.PgBinDir,
			SplitTablesLarger:  m.Options.SplitTablesLargerThan,
			CopyFormat:         copyFormatFingerprint(m.Options.CopyFormat),
			OwnerMap:           m.Options.OwnerMap,
		},
	}
	b, err := json.Marshal(doc)
	if err != nil {
		// Only strings, ints and bools: Marshal cannot fail.
		panic(fmt.Sprintf("config: marshalling fingerprint: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func fingerprintServer(s *Server) *fpServer {
	if s == nil {
		return nil
	}
	return &fpServer{
		Host: s.Host, Port: s.Port, User: s.User, DBName: s.DBName, SSLMode: s.SSLMode,
		SSLRootCert: s.SSLRootCert, SSLCert: s.SSLCert, SSLKey: s.SSLKey, FQDN: s.FQDN,
	}
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// copyFormatFingerprint is copy_format as the fingerprint holds it: "" for the default, so that a
// configuration that does not set it keeps the fingerprint it had before the option existed.
func copyFormatFingerprint(f string) string {
	if f == CopyFormatAuto {
		return ""
	}
	return f
}
