package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/english"
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

// Input is everything Build looks at.
type Input struct {
	Migration *config.Migration
	Source    *catalog.Instance
	Target    *catalog.Instance
	// SourceDBs holds the catalog of every selected source database.
	SourceDBs map[string]*catalog.Database
	// TargetDBs holds the catalog of every selected database that exists on the target.
	TargetDBs map[string]*catalog.Database
	// State is the migration's state, or nil.
	State       *state.State
	Validations []state.Validation
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
