package plan

import (
	"fmt"
	"github.com/pgferry/pgferry/internal/pgver"
	"sort"
	"strings"
	"time"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/english"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/state"
)

// FormatVersion is the version of the saved-plan document (plan --out); plan --json has its own
// version, views.JSONFormatVersion.
const FormatVersion = "1.0"

// Kind is what an action does to its object.
type Kind string

// The action kinds, with Terraform's symbols.
const (
	Create  Kind = "create"
	Update  Kind = "update"
	Replace Kind = "replace"
	Delete  Kind = "delete"
)

// Symbol is the one-glyph form shown in plans.
func (k Kind) Symbol() string {
	switch k {
	case Create:
		return "+"
	case Update:
		return "~"
	case Replace:
		return "-/+"
	case Delete:
		return "-"
	}
	return "?"
}

// Action types.
const (
	TypeRole       = "role"
	TypeParameter  = "server_parameter"
	TypeMembership = "membership"
	TypeDatabase   = "database"
	TypeExtension  = "extension"
	TypeSchema     = "schema"
	TypeTable      = "table"
	TypeTablePart  = "table_part"
	TypeIndex      = "index"
	TypeConstraint = "constraint"
	TypeSequences  = "sequences"
	TypeLargeObj   = "large_objects"
	TypeExtData    = "extension_data"
	TypePostData   = "post_data"
	TypeAnalyze    = "analyze"
	TypeVerify     = "verify"
)

// TypeLoginMembership grants the target's login (not a superuser) a role that owns migrated
// objects, so that it can give them to it; its address is that of a membership,
// role.LOGIN.member_of["ROLE"].
const TypeLoginMembership = "login_membership"

// TypeOwnership gives the objects a source role owns in a database to another role on the
// target (catalog.DecideOwners): apply rewrites pg_dump's statements with Plan.OwnerMap as it
// runs them, and this action, after them, confirms that nothing migrated kept the source role.
// Its address is database.DB.ownership["ROLE"]; Name is the source role, Table the target one.
const TypeOwnership = "ownership"

// Action is one step of a plan. Its Address is stable across plans of the same inputs.
type Action struct {
	Address  string `json:"address"`
	Type     string `json:"type"`
	Kind     Kind   `json:"kind"`
	Database string `json:"database,omitempty"`
	Schema   string `json:"schema,omitempty"`
	Name     string `json:"name,omitempty"`
	Table    string `json:"table,omitempty"`
	Reason   string `json:"reason"`
	// RowsEstimate and BytesEstimate are catalog estimates for data actions.
	RowsEstimate  int64    `json:"rows_estimate,omitempty"`
	BytesEstimate int64    `json:"bytes_estimate,omitempty"`
	DependsOn     []string `json:"depends_on,omitempty"`
	// Details are lines shown under the action (never secrets).
	Details []string `json:"details,omitempty"`
	Hazards []Hazard `json:"hazards,omitempty"`
	// SourceOID identifies the source object (index or constraint) for apply.
	SourceOID uint32 `json:"source_oid,omitempty"`
	// ConstraintOID is set for an index that backs a constraint.
	ConstraintOID uint32 `json:"constraint_oid,omitempty"`
	// Parts is the number of parts a split table is copied in (its table action only empties it).
	Parts int `json:"parts,omitempty"`
	// Part numbers a table part from 1; PageFrom and PageTo bound its heap pages (PageTo 0: to the end).
	Part     int   `json:"part,omitempty"`
	PageFrom int64 `json:"page_from,omitempty"`
	PageTo   int64 `json:"page_to,omitempty"`
}

// TablePartAddr names part i of a table: database.DB.table["s"."t"].part[i].
func TablePartAddr(db, schema, name string, i int) string {
	return fmt.Sprintf("%s.part[%d]", TableAddr(db, schema, name), i)
}

// splitParts decides how many parts a table is copied in: only tables with more than
// split_tables_larger_than of data, heap and TOAST together (parts of about that size, at most one
// per job), only with several jobs, and only from sources that scan ctid ranges efficiently (14+).
// Parts are ranges of heap pages; a row's TOAST data goes with its part, so a table whose bulk is
// in TOAST (large text, bytea, jsonb) is split by its size as well.
func splitParts(t catalog.Table, o config.Options, sourceVersion pgver.V) int {
	size, limit := t.CopySize(), o.SplitTablesLargerThan
	if limit <= 0 || o.Jobs < 2 || sourceVersion.Before(14) || size <= limit || t.Pages < 2 {
		return 0
	}
	n := int((size + limit - 1) / limit)
	return min(n, o.Jobs, int(t.Pages))
}

// Hazard is a typed warning about an action, with a stable UPPER_SNAKE code.
type Hazard struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Plan is everything apply needs, and everything a reviewer reads.
type Plan struct {
	FormatVersion     string             `json:"format_version"`
	ToolVersion       string             `json:"tool_version"`
	Migration         string             `json:"migration"`
	CreatedAt         time.Time          `json:"created_at"`
	ConfigFingerprint string             `json:"config_fingerprint"`
	Source            state.Identity     `json:"source"`
	Target            state.Identity     `json:"target"`
	SourceFingerprint string             `json:"source_fingerprint"`
	TargetFingerprint string             `json:"target_fingerprint"`
	StateLineage      string             `json:"state_lineage,omitempty"`
	StateSerial       int64              `json:"state_serial"`
	Databases         []string           `json:"databases"`
	Validations       []state.Validation `json:"validations"`
	Actions           []*Action          `json:"actions"`
	Summary           Summary            `json:"summary"`
	// OwnerMap maps each source role whose objects go to another role on the target to that
	// role (catalog.DecideOwners): what apply rewrites pg_dump's owners, grants and default
	// privileges with.
	OwnerMap map[string]string `json:"owner_map,omitempty"`
	// Login is the target login (current_user) the plan was made with, and LoginSuperuser whether
	// it is a superuser: how apply runs pg_dump's grants made by another role.
	Login          string `json:"login,omitempty"`
	LoginSuperuser bool   `json:"login_superuser,omitempty"`
	// Variables holds the non-sensitive variable values the plan was made with.
	Variables map[string]string `json:"variables,omitempty"`
	// SourceDigest and TargetDigest hash each object the plan depends on, one entry per role,
	// database, table (with its indexes and constraints) and extension, so that a stale plan names
	// what changed; the fingerprints hash them whole. No entry holds a password hash.
	SourceDigest map[string]string `json:"source_digest,omitempty"`
	TargetDigest map[string]string `json:"target_digest,omitempty"`
}

// Summary counts the plan's actions.
type Summary struct {
	Add         int   `json:"add"`
	Change      int   `json:"change"`
	Destroy     int   `json:"destroy"`
	Roles       int   `json:"roles"`
	Databases   int   `json:"databases"`
	Tables      int   `json:"tables"`
	Indexes     int   `json:"indexes"`
	Constraints int   `json:"constraints"`
	Rows        int64 `json:"rows_estimate"`
	Bytes       int64 `json:"bytes_estimate"`
	Failed      int   `json:"validations_failed"`
	Warnings    int   `json:"validations_warning"`
}

// HasChanges reports whether applying the plan would do anything.
func (p *Plan) HasChanges() bool { return len(p.Actions) > 0 }

// ValidationFailed reports whether any validation Failed.
func (p *Plan) ValidationFailed() bool { return p.Summary.Failed > 0 }

// Action returns the action with that address, or nil.
func (p *Plan) Action(addr string) *Action {
	for _, a := range p.Actions {
		if a.Address == addr {
			return a
		}
	}
	return nil
}

// Input is everything Build looks at: a snapshot of the migration (SourceDBs as the table
// filters select them, TargetDBs the selected databases that exist on the target, State nil
// before the first apply) and the validations' results.
type Input struct {
	*snapshot.Snapshot
	Validations []state.Validation
}

// Addresses.

// RoleAddr is role.NAME.
func RoleAddr(name string) string { return "role." + addrName(name) }

// MembershipAddr is role.MEMBER.member_of["ROLE"].
func MembershipAddr(member, role string) string {
	return fmt.Sprintf("role.%s.member_of[%q]", addrName(member), role)
}

// ParameterAddr is server_parameter.NAME.
func ParameterAddr(name string) string { return "server_parameter." + addrName(name) }

// DatabaseAddr is database.NAME.
func DatabaseAddr(db string) string { return "database." + addrName(db) }

// ExtensionAddr is database.DB.extension.NAME.
func ExtensionAddr(db, name string) string { return DatabaseAddr(db) + ".extension." + addrName(name) }

// TableAddr is database.DB.table["schema"."name"].
func TableAddr(db, schema, name string) string {
	return fmt.Sprintf("%s.table[%q.%q]", DatabaseAddr(db), schema, name)
}

// IndexAddr is database.DB.index["schema"."name"].
func IndexAddr(db, schema, name string) string {
	return fmt.Sprintf("%s.index[%q.%q]", DatabaseAddr(db), schema, name)
}

// ConstraintAddr is database.DB.constraint["schema"."table"."name"].
func ConstraintAddr(db, schema, table, name string) string {
	return fmt.Sprintf("%s.constraint[%q.%q.%q]", DatabaseAddr(db), schema, table, name)
}

// OwnershipAddr is database.DB.ownership["ROLE"]: the objects of ROLE in DB given to another role.
func OwnershipAddr(db, role string) string {
	return fmt.Sprintf("%s.ownership[%q]", DatabaseAddr(db), role)
}

// PartAddr is DatabaseAddr(db) + "." + part (schema, sequences, post_data, analyze, verify).
func PartAddr(db, part string) string { return DatabaseAddr(db) + "." + part }

// addrName keeps plain identifiers bare and quotes the rest: role.app, role["my role"].
func addrName(n string) string {
	for i, r := range n {
		if !(r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')) {
			return fmt.Sprintf("[%q]", n)
		}
	}
	if n == "" {
		return `[""]`
	}
	return n
}

// SelectDatabases resolves the migration's database list against the source.
func SelectDatabases(m *config.Migration, src *catalog.Instance) ([]string, error) {
	if len(m.Databases) == 1 && m.Databases[0] == "*" {
		dbs := src.UserDatabases()
		if len(dbs) == 0 {
			return nil, fmt.Errorf("the source %s has no user databases to migrate", m.Source.Label())
		}
		return dbs, nil
	}
	var missing []string
	for _, d := range m.Databases {
		info := src.Database(d)
		if info == nil {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("database %s not found on %s; available: %s", quoteList(missing), m.Source.Label(), strings.Join(src.UserDatabases(), ", "))
	}
	return append([]string(nil), m.Databases...), nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// FilterDatabase is the source database d as a migration with options o sees it: without the
// tables include_tables and exclude_tables leave out, nor anything of theirs (see
// catalog.Database.Filter). Without filters it is d.
func FilterDatabase(o config.Options, d *catalog.Database) *catalog.Database {
	if d == nil || !o.Filters() {
		return d
	}
	return d.Filter(o.IncludeMatch, o.ExcludeMatch)
}

// DesiredRole is the role as it will be created on the target.
func DesiredRole(r catalog.Role, o config.Options) catalog.Role {
	if o.StripSuperuser && r.Superuser {
		r.Superuser = false
	}
	return r
}

// RoleDiff lists the attributes in which the target role differs from the wanted one.
func RoleDiff(want, have catalog.Role) []string {
	var d []string
	cmp := func(name string, w, h bool) {
		if w != h {
			d = append(d, fmt.Sprintf("%s: %v → %v", name, h, w))
		}
	}
	cmp("login", want.Login, have.Login)
	cmp("createdb", want.CreateDB, have.CreateDB)
	cmp("createrole", want.CreateRole, have.CreateRole)
	cmp("inherit", want.Inherit, have.Inherit)
	cmp("replication", want.Replication, have.Replication)
	cmp("bypassrls", want.BypassRLS, have.BypassRLS)
	if want.ConnLimit != have.ConnLimit {
		d = append(d, fmt.Sprintf("connection limit: %d → %d", have.ConnLimit, want.ConnLimit))
	}
	return d
}

// Build computes the plan. It never fails for a mismatch the validations report; it fails only
// when the inputs are inconsistent (a selected database without a source catalog).
func Build(in Input) (*Plan, error) {
	m := in.Migration
	p := &Plan{
		FormatVersion: FormatVersion,
		Migration:     m.Name,
		Validations:   in.Validations,
	}
	dbs, err := SelectDatabases(m, in.Source)
	if err != nil {
		return nil, err
	}
	p.Databases = dbs
	if in.State != nil {
		p.StateLineage, p.StateSerial = in.State.Lineage, in.State.Serial
	}
	applied := func(addr string) bool {
		if in.State == nil {
			return false
		}
		a := in.State.Action(addr)
		return a != nil && a.Status == state.ActionApplied
	}
	add := func(a *Action) { p.Actions = append(p.Actions, a) }

	changes := catalog.OwnerChanges(catalog.OwnerPolicy{Roles: m.Options.Roles, Map: m.Options.OwnerMap}, in.Source, in.Target, in.SourceDBs, dbs)
	if om := catalog.OwnerMap(changes); len(om) > 0 {
		p.OwnerMap = om
	}
	p.Login, p.LoginSuperuser = in.Target.CurrentUser, in.Target.IsSuperuser
	var roleAddrs []string
	if m.Options.Roles {
		migrated := map[string]bool{}
		for _, r := range in.Source.Roles {
			want := DesiredRole(r, m.Options)
			have := in.Target.Role(r.Name)
			addr := RoleAddr(r.Name)
			switch {
			case have == nil:
				a := &Action{Address: addr, Type: TypeRole, Kind: Create, Name: r.Name, Reason: "role does not exist on the target"}
				a.Details = roleDetails(r, want)
				if r.Superuser && m.Options.StripSuperuser {
					a.Hazards = append(a.Hazards, Hazard{"STRIPS_SUPERUSER", fmt.Sprintf("role %q is a superuser on the source; it will be created without SUPERUSER", r.Name)})
				}
				add(a)
				roleAddrs = append(roleAddrs, addr)
				migrated[r.Name] = true
			case have.Superuser || r.Name == in.Target.CurrentUser:
				// The target's administrators are never altered.
				migrated[r.Name] = true
			default:
				migrated[r.Name] = true
				if d := RoleDiff(want, *have); len(d) > 0 && !applied(addr) {
					add(&Action{Address: addr, Type: TypeRole, Kind: Update, Name: r.Name, Reason: "role attributes differ from the source", Details: d})
					roleAddrs = append(roleAddrs, addr)
				}
			}
		}
		have := map[[2]string]bool{}
		for _, tm := range in.Target.Memberships {
			have[[2]string{tm.Role, tm.Member}] = true
		}
		for _, sm := range in.Source.Memberships {
			if !migrated[sm.Role] || !migrated[sm.Member] || have[[2]string{sm.Role, sm.Member}] {
				continue
			}
			addr := MembershipAddr(sm.Member, sm.Role)
			a := &Action{Address: addr, Type: TypeMembership, Kind: Create, Name: sm.Member, Table: sm.Role,
				Reason: fmt.Sprintf("%q is a member of %q on the source", sm.Member, sm.Role)}
			for _, ra := range []string{RoleAddr(sm.Member), RoleAddr(sm.Role)} {
				if contains(roleAddrs, ra) {
					a.DependsOn = append(a.DependsOn, ra)
				}
			}
			if sm.AdminOption {
				a.Details = []string{"with admin option"}
			}
			add(a)
		}
		// A target login that is not a superuser restores the owners only as a member of each.
		for _, g := range catalog.LoginGrants(in.Source, in.Target, in.SourceDBs, dbs, p.OwnerMap) {
			if g.Blocked != "" {
				continue // the owner_membership validation fails and says what to do
			}
			login := in.Target.CurrentUser
			addr := MembershipAddr(login, g.Role)
			if p.Action(addr) != nil {
				roleAddrs = append(roleAddrs, addr) // the source has that membership too
				continue
			}
			a := &Action{Address: addr, Type: TypeLoginMembership, Kind: Create, Name: login, Table: g.Role,
				Reason: fmt.Sprintf("the target login %q is not a superuser: it needs membership in %q to give it its objects and make its grants (destroy revokes it)", login, g.Role)}
			if in.Target.VersionNum.AtLeast(16) {
				a.Details = append(a.Details, "with inherit true, set true")
			}
			if g.Exists {
				a.Details = append(a.Details, fmt.Sprintf("%q exists on the target", g.Role))
			}
			if contains(roleAddrs, RoleAddr(g.Role)) {
				a.DependsOn = []string{RoleAddr(g.Role)}
			}
			add(a)
			roleAddrs = append(roleAddrs, addr)
		}
	}

	if m.Options.ServerParameters == "apply" {
		diffs, _ := catalog.CompareSettings(in.Source, in.Target)
		for _, d := range diffs {
			if d.Missing {
				continue // the check reports it: there is nothing to set
			}
			a := &Action{Address: ParameterAddr(d.Name), Type: TypeParameter, Kind: Update, Name: d.Name,
				Reason:  fmt.Sprintf("set %s = %s as on the source (ALTER SYSTEM; destroy resets it)", d.Name, catalog.ShowSetting(d.Source)),
				Details: []string{fmt.Sprintf("%s: %s → %s", d.Name, catalog.ShowSetting(d.Target), catalog.ShowSetting(d.Source))},
				Hazards: []Hazard{{"ALTERS_SERVER_PARAMETER", fmt.Sprintf("changes %s for every database of the target", d.Name)}}}
			if d.Target.Context == "postmaster" {
				a.Details = append(a.Details, "takes effect only after a restart of the target")
			}
			add(a)
		}
	}

	for _, db := range dbs {
		sdb := FilterDatabase(m.Options, in.SourceDBs[db])
		if sdb == nil {
			return nil, fmt.Errorf("internal error: no catalog for source database %q", db)
		}
		tdb := in.TargetDBs[db]
		again := false // a finished database migrated again from scratch: the state's actions do not count
		ours := in.State != nil && in.State.Action(DatabaseAddr(db)) != nil && in.State.Action(DatabaseAddr(db)).Status == state.ActionApplied
		info := in.Source.Database(db)
		dbAddr := DatabaseAddr(db)
		var dbAction *Action
		switch {
		case tdb == nil:
			dbAction = &Action{Address: dbAddr, Type: TypeDatabase, Kind: Create, Database: db, Reason: "database does not exist on the target"}
		case ours:
			// Created by this migration: resume, or confirm that it is complete.
			if in.State.DatabaseComplete(db) {
				if catalog.SameObjects(sdb, tdb) {
					continue
				}
				if !m.Options.OverwriteDatabases {
					continue // a side changed since: the validation names what, and what to do
				}
				dbAction = &Action{Address: dbAddr, Type: TypeDatabase, Kind: Replace, Database: db,
					Reason:  "the source or the target changed since this migration copied the database (the target_database_empty validation names what), and overwrite_databases = true: migrated again",
					Hazards: []Hazard{{"DROPS_DATABASE", fmt.Sprintf("the target database %q and everything in it will be dropped", db)}}}
				again = true
			}
		case tdb.IsEmpty():
			dbAction = &Action{Address: dbAddr, Type: TypeDatabase, Kind: Update, Database: db, Reason: "database exists on the target and is empty; objects will be created in it"}
		case m.Options.OverwriteDatabases:
			dbAction = &Action{Address: dbAddr, Type: TypeDatabase, Kind: Replace, Database: db, Reason: "database exists on the target and overwrite_databases = true",
				Hazards: []Hazard{{"DROPS_DATABASE", fmt.Sprintf("the target database %q and everything in it will be dropped", db)}}}
		default:
			// Not empty and not ours: the validation reports it; nothing is planned for it.
			continue
		}
		// The database's size from its tables' and indexes' page counts, not pg_database_size,
		// which reads the size of every file of every database on each plan (slow at 100k tables).
		var sizes int64
		for _, t := range sdb.Tables {
			sizes += t.SizeBytes
		}
		for _, ix := range sdb.Indexes {
			sizes += ix.SizeBytes
		}
		if dbAction != nil {
			dbAction.BytesEstimate = sizes
			if info != nil {
				owner := info.Owner
				if to, ok := p.OwnerMap[owner]; ok {
					owner = fmt.Sprintf("%s (%s on the source)", to, info.Owner)
				}
				dbAction.Details = []string{fmt.Sprintf("owner %s, encoding %s, locale %s/%s%s", owner, info.Encoding, info.Collate, info.Ctype, icuDetail(info))}
			}
			dbAction.DependsOn = roleAddrs
			add(dbAction)
		}
		need := func(addr string) bool { return again || !applied(addr) }
		schemaAddr := PartAddr(db, TypeSchema)
		extAddrs := extensionActions(in, db, sdb, tdb, dbAction, need, add)
		if need(schemaAddr) {
			a := &Action{Address: schemaAddr, Type: TypeSchema, Kind: Create, Database: db, Reason: "pre-data from pg_dump: schemas, types, functions, tables, views",
				DependsOn: append(deps(dbAction), extAddrs...)}
			a.Details = schemaDetails(sdb)
			add(a)
		}
		// Rows users added to extensions' configuration tables (pg_extension_config_dump): data
		// that pg_dump's schema leaves out, and that foreign keys and post-data may need.
		extAddr := PartAddr(db, TypeExtData)
		var dataDeps []string
		if len(sdb.ExtensionConfig) > 0 && need(extAddr) {
			var names []string
			for _, c := range sdb.ExtensionConfig {
				names = append(names, c.Schema+"."+c.Name)
			}
			add(&Action{Address: extAddr, Type: TypeExtData, Kind: Create, Database: db,
				Reason:    fmt.Sprintf("copy the user rows of %s", english.Count(len(sdb.ExtensionConfig), "extension configuration relation")),
				Details:   []string{strings.Join(names, ", ")},
				DependsOn: []string{schemaAddr}})
			dataDeps = []string{extAddr}
		}
		var tableAddrs, indexAddrs, consAddrs []string
		// copyAddrs maps a table's key to what waits for its rows: its copy, or all of its parts.
		copyAddrs := map[string][]string{}
		tables := append([]catalog.Table(nil), sdb.Tables...)
		// Largest first: the long copies start early.
		sort.SliceStable(tables, func(i, j int) bool { return tables[i].SizeBytes > tables[j].SizeBytes })
		for _, t := range tables {
			if t.Kind != "r" {
				continue
			}
			addr := TableAddr(db, t.Schema, t.Name)
			parts := splitParts(t, m.Options, in.Source.VersionNum)
			var partAddrs []string
			for i := 1; i <= parts; i++ {
				partAddrs = append(partAddrs, TablePartAddr(db, t.Schema, t.Name, i))
			}
			// What the rest of the database waits for: the table, or all of its parts.
			if parts > 0 {
				tableAddrs = append(tableAddrs, partAddrs...)
				copyAddrs[t.Key()] = partAddrs
			} else {
				tableAddrs = append(tableAddrs, addr)
				copyAddrs[t.Key()] = []string{addr}
			}
			done := !need(addr)
			for _, pa := range partAddrs {
				// A split table is reloaded whole unless every part finished: its parts cannot be
				// told apart on the target.
				done = done && !need(pa)
			}
			if done {
				continue
			}
			rows := max(t.RowEstimate, 0)
			a := &Action{Address: addr, Type: TypeTable, Kind: Create, Database: db, Schema: t.Schema, Name: t.Name, Reason: "copy rows",
				RowsEstimate: rows, BytesEstimate: t.SizeBytes, DependsOn: []string{schemaAddr}, Parts: parts}
			if t.RowEstimate < 0 {
				a.Details = append(a.Details, "never analyzed on the source: row estimate unknown")
			}
			if t.Unlogged {
				a.Details = append(a.Details, "unlogged table")
			}
			if parts > 0 {
				a.Reason = fmt.Sprintf("copy rows in %d parts", parts)
			}
			add(a)
			for i := 1; i <= parts; i++ {
				from, to := t.Pages*int64(i-1)/int64(parts), t.Pages*int64(i)/int64(parts)
				if i == parts {
					to = 0 // the last part takes every page beyond the estimate too
				}
				add(&Action{Address: partAddrs[i-1], Type: TypeTablePart, Kind: Create, Database: db, Schema: t.Schema, Name: t.Name,
					Reason: fmt.Sprintf("copy part %d of %d", i, parts), RowsEstimate: rows / int64(parts), BytesEstimate: t.SizeBytes / int64(parts),
					DependsOn: []string{addr}, Part: i, Parts: parts, PageFrom: from, PageTo: to})
			}
		}
		// tableDeps is what an object on a table waits for: the table's copy (or all its parts).
		tableDeps := func(schema, name string) []string {
			if deps := copyAddrs[schema+"."+name]; len(deps) > 0 {
				return append([]string(nil), deps...)
			}
			return []string{schemaAddr}
		}
		// uniqueIndexes lists, per table key, the addresses of its unique indexes (what a foreign key
		// referencing the table waits for).
		partitioned := map[string]bool{}
		for _, t := range sdb.Tables {
			if t.Kind == "p" {
				partitioned[t.Key()] = true
			}
		}
		uniqueIndexes := map[string][]string{}
		for _, ix := range sdb.Indexes {
			if ix.Unique {
				k := ix.Schema + "." + ix.Table
				uniqueIndexes[k] = append(uniqueIndexes[k], IndexAddr(db, ix.Schema, ix.Name))
			}
		}
		for _, ix := range sdb.Indexes {
			addr := IndexAddr(db, ix.Schema, ix.Name)
			indexAddrs = append(indexAddrs, addr)
			if !need(addr) {
				continue
			}
			what := "index"
			switch ix.Constraint {
			case "p":
				what = "primary key"
			case "u":
				what = "unique constraint"
			case "x":
				what = "exclusion constraint"
			}
			a := &Action{Address: addr, Type: TypeIndex, Kind: Create, Database: db, Schema: ix.Schema, Name: ix.Name, Table: ix.Table,
				Reason: fmt.Sprintf("build %s %s on %s", ix.Method, what, ix.Table), BytesEstimate: ix.SizeBytes,
				DependsOn: tableDeps(ix.Schema, ix.Table), SourceOID: ix.OID, ConstraintOID: ix.ConstraintOID}
			add(a)
		}
		loAddr := PartAddr(db, TypeLargeObj)
		if need(loAddr) && sdb.LargeObjects > 0 {
			// pg_dump's pre-data creates them, with owners and privileges, empty: their contents
			// are data, streamed from the snapshot like a table's rows.
			add(&Action{Address: loAddr, Type: TypeLargeObj, Kind: Create, Database: db, Reason: fmt.Sprintf("copy the contents of %s", english.Count(sdb.LargeObjects, "large object")),
				RowsEstimate: sdb.LargeObjects, DependsOn: []string{schemaAddr}})
		}
		seqAddr := PartAddr(db, TypeSequences)
		if need(seqAddr) && len(sdb.Sequences) > 0 {
			add(&Action{Address: seqAddr, Type: TypeSequences, Kind: Create, Database: db, Reason: fmt.Sprintf("set %d sequences to their source values", len(sdb.Sequences)), DependsOn: []string{schemaAddr}})
		}
		postAddr := PartAddr(db, TypePostData)
		// Foreign keys need both tables' rows and the referenced key's unique indexes. Those on
		// plain tables run before the rest of post-data, overlapping with index builds (and never
		// beside post-data's transaction, whose locks they could deadlock with; post-data may also
		// comment on them). Those on or to a partitioned table run after it: their referenced key
		// is complete only once post-data attached the partitions' indexes.
		var earlyFKs, lateFKs []*Action
		for _, c := range sdb.Constraints {
			if c.Type != "f" || c.Inherited {
				continue
			}
			addr := ConstraintAddr(db, c.Schema, c.Table, c.Name)
			consAddrs = append(consAddrs, addr)
			late := partitioned[c.Schema+"."+c.Table] || partitioned[c.RefTable]
			if !need(addr) {
				continue
			}
			a := &Action{Address: addr, Type: TypeConstraint, Kind: Create, Database: db, Schema: c.Schema, Name: c.Name, Table: c.Table,
				Reason: "add foreign key " + c.Def, SourceOID: c.OID}
			a.DependsOn = append(tableDeps(c.Schema, c.Table), dataDeps...)
			if rs, rn, ok := strings.Cut(c.RefTable, "."); ok {
				for _, d := range tableDeps(rs, rn) {
					a.DependsOn = appendUnique(a.DependsOn, d)
				}
				for _, ia := range uniqueIndexes[rs+"."+rn] {
					a.DependsOn = appendUnique(a.DependsOn, ia)
				}
			}
			if late {
				if need(postAddr) {
					a.DependsOn = append(a.DependsOn, postAddr)
				}
				lateFKs = append(lateFKs, a)
			} else {
				earlyFKs = append(earlyFKs, a)
			}
		}
		for _, a := range earlyFKs {
			add(a)
		}
		if need(postAddr) {
			a := &Action{Address: postAddr, Type: TypePostData, Kind: Create, Database: db,
				Reason:    "rest of post-data from pg_dump: triggers, rules, policies, materialized view data, index attachments, comments, privileges",
				DependsOn: append(append(append([]string{schemaAddr}, dataDeps...), tableAddrs...), indexAddrs...)}
			for _, fk := range earlyFKs {
				a.DependsOn = append(a.DependsOn, fk.Address)
			}
			add(a)
		}
		for _, a := range lateFKs {
			add(a)
		}
		anAddr := PartAddr(db, TypeAnalyze)
		if need(anAddr) {
			add(&Action{Address: anAddr, Type: TypeAnalyze, Kind: Create, Database: db, Reason: "gather planner statistics (ANALYZE)", DependsOn: append([]string{postAddr}, consAddrs...)})
		}
		ownDeps := []string{postAddr}
		if sdb.LargeObjects > 0 {
			ownDeps = append(ownDeps, loAddr)
		}
		ownDeps = append(ownDeps, consAddrs...)
		ownAddrs := ownershipActions(in, db, sdb, changes, need, ownDeps, add)
		if m.Options.Verify != "none" {
			vAddr := PartAddr(db, TypeVerify)
			v := &Action{Address: vAddr, Type: TypeVerify, Kind: Create, Database: db, Reason: fmt.Sprintf("compare source and target (%s)", m.Options.Verify), DependsOn: append([]string{anAddr}, ownAddrs...)}
			if sdb.LargeObjects > 0 && need(loAddr) {
				v.DependsOn = append(v.DependsOn, loAddr)
			}
			add(v)
		}
	}
	p.Summary = Summarize(p.Actions, p.Validations)
	return p, nil
}

// ownershipActions plans, for each role owning objects of database db (or the database itself)
// whose objects go to another role on the target, one change action, and returns their addresses.
// The statements that give the objects their owners are pg_dump's, rewritten by apply; the action
// runs after all of them (deps) and confirms that none of the database's objects kept the role.
func ownershipActions(in Input, db string, sdb *catalog.Database, changes map[string]catalog.OwnerChange, need func(string) bool, deps []string, add func(*Action)) []string {
	roles := make([]string, 0, len(changes))
	for r := range changes {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	info := in.Source.Database(db)
	var addrs []string
	for _, r := range roles {
		c := changes[r]
		own := sdb.Owned[r]
		if c.Problem != "" || (own == nil && (info == nil || info.Owner != r)) {
			continue
		}
		addr := OwnershipAddr(db, r)
		if !need(addr) {
			continue
		}
		n, kinds := 1, "1 database"
		if own != nil {
			n, kinds = own.Total, own.KindsString()
		}
		add(&Action{Address: addr, Type: TypeOwnership, Kind: Update, Database: db, Name: r, Table: c.To,
			Reason:    fmt.Sprintf("ownership: %s of %q → %q", english.Count(n, "object"), r, c.To),
			Details:   []string{kinds, "because " + c.Reason},
			Hazards:   []Hazard{{"REASSIGNS_OWNER", fmt.Sprintf("objects owned by %q on the source are owned by %q on the target, and its grants and default privileges follow", r, c.To)}},
			DependsOn: append([]string(nil), deps...)})
		addrs = append(addrs, addr)
	}
	return addrs
}

// extensionActions plans one action per extension of the source database that the target database
// will not have when pre-data runs, in an order where each follows the extensions it requires, and
// returns their addresses. Each runs pg_dump's CREATE EXTENSION (with its comment, and the schema it
// is installed in when that does not exist yet) before pre-data, whose types, functions and columns
// may use it; one after the other, as two may share a schema that the first creates.
//
// A database pgferry creates comes from template0 and has plpgsql; a database that exists (empty)
// has what its pg_extension lists. A database an interrupted run of this migration worked in gets
// what the state does not record as applied, and what it lacks.
func extensionActions(in Input, db string, sdb, tdb *catalog.Database, dbAction *Action, need func(string) bool, add func(*Action)) []string {
	have := map[string]bool{"plpgsql": true}
	if tdb != nil && (dbAction == nil || dbAction.Kind == Update) {
		have = map[string]bool{}
		for _, e := range tdb.Extensions {
			have[e.Name] = true
		}
	}
	var addrs []string
	for _, e := range OrderExtensions(sdb.Extensions) {
		addr := ExtensionAddr(db, e.Name)
		if !need(addr) {
			continue
		}
		if have[e.Name] && (dbAction != nil || in.State == nil || in.State.Action(addr) == nil) {
			// On a resumed run, one the state lists as unfinished is planned again even when it
			// exists (created before the run stopped): its action is what completes the database.
			continue
		}
		a := &Action{Address: addr, Type: TypeExtension, Kind: Create, Database: db, Name: e.Name, Schema: e.Schema,
			Reason:    fmt.Sprintf("CREATE EXTENSION %s from pg_dump, before pre-data (which may use its types and functions)", e.Name),
			Details:   []string{fmt.Sprintf("version %s, schema %s", e.Version, e.Schema)},
			DependsOn: deps(dbAction)}
		if def := in.Target.DefaultExtensionVersions[e.Name]; def != "" && def != e.Version {
			a.Details = append(a.Details, fmt.Sprintf("created at the target's default version %s", def))
		}
		for _, r := range e.Requires {
			if ra := ExtensionAddr(db, r); contains(addrs, ra) {
				a.DependsOn = appendUnique(a.DependsOn, ra)
			}
		}
		if len(addrs) > 0 {
			a.DependsOn = appendUnique(a.DependsOn, addrs[len(addrs)-1])
		}
		add(a)
		addrs = append(addrs, addr)
	}
	return addrs
}

// OrderExtensions puts each extension after those it requires, otherwise keeping the order given.
func OrderExtensions(exts []catalog.Extension) []catalog.Extension {
	byName := map[string]int{}
	for i, e := range exts {
		byName[e.Name] = i
	}
	out := make([]catalog.Extension, 0, len(exts))
	state := make([]int, len(exts)) // 0 unvisited, 1 visiting, 2 done
	var visit func(i int)
	visit = func(i int) {
		if state[i] != 0 {
			return // done, or a cycle (which CREATE EXTENSION cannot have): keep the given order
		}
		state[i] = 1
		for _, r := range exts[i].Requires {
			if j, ok := byName[r]; ok {
				visit(j)
			}
		}
		state[i] = 2
		out = append(out, exts[i])
	}
	for i := range exts {
		visit(i)
	}
	return out
}

func icuDetail(d *catalog.DatabaseInfo) string {
	if d.LocaleProvider == "icu" {
		return ", ICU locale " + d.ICULocale
	}
	return ""
}

func deps(a *Action) []string {
	if a == nil {
		return nil
	}
	return []string{a.Address}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func appendUnique(s []string, x string) []string {
	if contains(s, x) {
		return s
	}
	return append(s, x)
}

func roleDetails(src, want catalog.Role) []string {
	var attrs []string
	flag := func(on bool, name string) {
		if on {
			attrs = append(attrs, name)
		}
	}
	flag(want.Superuser, "SUPERUSER")
	flag(want.Login, "LOGIN")
	flag(want.CreateDB, "CREATEDB")
	flag(want.CreateRole, "CREATEROLE")
	flag(want.Replication, "REPLICATION")
	flag(want.BypassRLS, "BYPASSRLS")
	flag(!want.Inherit, "NOINHERIT")
	out := []string{}
	if len(attrs) > 0 {
		out = append(out, "attributes: "+strings.Join(attrs, " "))
	}
	switch {
	case src.PasswordHash != "":
		out = append(out, "password: carried over (hash)")
	case src.Login:
		out = append(out, "password: none (the source login cannot read password hashes, or the role has none)")
	}
	return out
}

func schemaDetails(d *catalog.Database) []string {
	var out []string
	if len(d.Extensions) > 0 {
		var ex []string
		for _, e := range d.Extensions {
			ex = append(ex, fmt.Sprintf("%s %s (%s)", e.Name, e.Version, e.Schema))
		}
		out = append(out, "extensions: "+strings.Join(ex, ", "))
	}
	keys := make([]string, 0, len(d.Objects))
	for k := range d.Objects {
		if d.Objects[k] > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var objs []string
	for _, k := range keys {
		kind := strings.ReplaceAll(k, "_", " ")
		if kind == "other" {
			kind = "other relations"
		}
		objs = append(objs, english.Count(d.Objects[k], english.Singular(kind)))
	}
	if len(objs) > 0 {
		out = append(out, "objects: "+strings.Join(objs, ", "))
	}
	return out
}

// Summarize counts actions and validation outcomes.
func Summarize(actions []*Action, vals []state.Validation) Summary {
	var s Summary
	for _, a := range actions {
		switch a.Kind {
		case Create:
			s.Add++
		case Update:
			s.Change++
		case Replace:
			s.Add++
			s.Destroy++
		case Delete:
			s.Destroy++
		}
		switch a.Type {
		case TypeRole:
			if a.Kind == Create {
				s.Roles++
			}
		case TypeDatabase:
			if a.Kind != Update {
				s.Databases++
			}
		case TypeTable:
			s.Tables++
			s.Rows += a.RowsEstimate
			s.Bytes += a.BytesEstimate
		case TypeIndex:
			s.Indexes++
		case TypeConstraint:
			s.Constraints++
		}
	}
	for _, v := range vals {
		switch v.Outcome {
		case "Failed":
			s.Failed++
		case "Warning":
			s.Warnings++
		}
	}
	return s
}
