package catalog

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pgferry/pgferry/internal/pgver"
)

// Owned is what one role owns in a database: every object pg_dump gives an owner (ALTER ...
// OWNER TO, ALTER DEFAULT PRIVILEGES FOR ROLE), extension members excluded.
type Owned struct {
	// Total counts the objects.
	Total int
	// Kinds counts them by kind: "table", "function", "schema", "database", "large object", ...
	Kinds map[string]int
	// Sample describes the first OwnedSampleMax of them, sorted.
	Sample []string
}

// OwnedSampleMax caps Owned.Sample.
const OwnedSampleMax = 50

// KindsString is the counts by kind as "3 tables, 1 schema", largest first.
func (o *Owned) KindsString() string {
	kinds := make([]string, 0, len(o.Kinds))
	for k := range o.Kinds {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if o.Kinds[kinds[i]] != o.Kinds[kinds[j]] {
			return o.Kinds[kinds[i]] > o.Kinds[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", o.Kinds[k], plural(k, o.Kinds[k]))
	}
	return strings.Join(parts, ", ")
}

func plural(kind string, n int) string {
	if n == 1 {
		return kind
	}
	switch {
	case strings.HasSuffix(kind, "privileges"):
		return kind
	case strings.HasSuffix(kind, "ry"):
		return strings.TrimSuffix(kind, "y") + "ies"
	case strings.HasSuffix(kind, "ss"):
		return kind + "es"
	}
	return kind + "s"
}

// ownedKinds are the description prefixes of userObjectsSQL's rows and ownedObjectsSQL's, longest
// first: the kind of an object is the prefix its description starts with.
var ownedKinds = []string{
	"default privileges", "materialized view", "foreign table", "foreign-data wrapper", "foreign server",
	"text search configuration", "text search dictionary", "event trigger", "large object", "operator class",
	"operator family", "statistics object", "sequence", "publication", "collation", "conversion", "operator",
	"language", "database", "function", "schema", "table", "view", "type", "index", "relation",
}

func ownedKind(desc string) string {
	for _, k := range ownedKinds {
		if strings.HasPrefix(desc, k+" ") {
			return k
		}
	}
	return "object"
}

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

// ownedObjectsSQL selects (owner oid, description) of every object of the database pg_dump gives
// an owner: userObjectsSQL's (schemas, relations, functions, types), the public schema, the
// database itself, and the kinds the premigration checks otherwise only look at.
func ownedObjectsSQL(v pgver.V) string {
	return userObjectsSQL(v) + `
		UNION ALL
		` + otherOwnedObjectsSQL(v)
}

// otherOwnedObjectsSQL selects (owner oid, description) of the objects of ownedObjectsSQL that
// userObjectsSQL leaves out.
func otherOwnedObjectsSQL(v pgver.V) string {
	q := `SELECT n.nspowner, 'schema ' || n.nspname FROM pg_namespace n WHERE n.nspname = 'public' AND ` + notExtensionMember("pg_namespace", "n.oid") + `
		UNION ALL
		SELECT d.datdba, 'database ' || d.datname FROM pg_database d WHERE d.datname = current_database()
		UNION ALL
		SELECT m.lomowner, 'large object ' || m.oid FROM pg_largeobject_metadata m
		UNION ALL
		SELECT e.evtowner, 'event trigger ' || e.evtname FROM pg_event_trigger e WHERE ` + notExtensionMember("pg_event_trigger", "e.oid") + `
		UNION ALL
		SELECT w.fdwowner, 'foreign-data wrapper ' || w.fdwname FROM pg_foreign_data_wrapper w WHERE ` + notExtensionMember("pg_foreign_data_wrapper", "w.oid") + `
		UNION ALL
		SELECT s.srvowner, 'foreign server ' || s.srvname FROM pg_foreign_server s WHERE ` + notExtensionMember("pg_foreign_server", "s.oid") + `
		UNION ALL
		SELECT c.collowner, 'collation ' || n.nspname || '.' || c.collname FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_collation", "c.oid") + `
		UNION ALL
		SELECT c.conowner, 'conversion ' || n.nspname || '.' || c.conname FROM pg_conversion c JOIN pg_namespace n ON n.oid = c.connamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_conversion", "c.oid") + `
		UNION ALL
		SELECT o.oprowner, 'operator ' || n.nspname || '.' || o.oprname || '(' || format_type(o.oprleft, NULL) || ', ' || format_type(o.oprright, NULL) || ')'
		FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_operator", "o.oid") + `
		UNION ALL
		SELECT c.opcowner, 'operator class ' || n.nspname || '.' || c.opcname FROM pg_opclass c JOIN pg_namespace n ON n.oid = c.opcnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_opclass", "c.oid") + `
		UNION ALL
		SELECT f.opfowner, 'operator family ' || n.nspname || '.' || f.opfname FROM pg_opfamily f JOIN pg_namespace n ON n.oid = f.opfnamespace
		WHERE NOT EXISTS (SELECT 1 FROM pg_opclass c WHERE c.opcfamily = f.oid) AND ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_opfamily", "f.oid") + `
		UNION ALL
		SELECT c.cfgowner, 'text search configuration ' || n.nspname || '.' || c.cfgname FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_ts_config", "c.oid") + `
		UNION ALL
		SELECT c.dictowner, 'text search dictionary ' || n.nspname || '.' || c.dictname FROM pg_ts_dict c JOIN pg_namespace n ON n.oid = c.dictnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_ts_dict", "c.oid") + `
		UNION ALL
		SELECT l.lanowner, 'language ' || l.lanname FROM pg_language l WHERE l.oid >= 16384 AND ` + notExtensionMember("pg_language", "l.oid") + `
		UNION ALL
		SELECT a.defaclrole, 'default privileges for role ' || pg_get_userbyid(a.defaclrole)
			|| coalesce(' in schema ' || (SELECT nspname FROM pg_namespace WHERE oid = a.defaclnamespace), '')
			|| ' on ' || CASE a.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences' WHEN 'f' THEN 'functions'
				WHEN 'T' THEN 'types' WHEN 'n' THEN 'schemas' ELSE a.defaclobjtype::text END
		FROM pg_default_acl a`
	if v.AtLeast(10) {
		q += `
		UNION ALL
		SELECT p.pubowner, 'publication ' || p.pubname FROM pg_publication p
		UNION ALL
		SELECT s.stxowner, 'statistics object ' || n.nspname || '.' || s.stxname FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
		WHERE ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_statistic_ext", "s.oid")
	}
	return q
}

// grantorsSQL selects the roles that granted a privilege on an object of the database they do not
// own: pg_dump restores such a grant as its grantor (SET SESSION AUTHORIZATION, which apply turns
// into SET ROLE for a login that is not a superuser, see apply/owners.go).
const grantorsSQL = `SELECT DISTINCT pg_get_userbyid(a.grantor)::text FROM (
	SELECT c.relowner AS owner, c.relacl AS acl FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relacl IS NOT NULL AND ` + userSchemaFilter + `
	UNION ALL SELECT n.nspowner, n.nspacl FROM pg_namespace n WHERE n.nspacl IS NOT NULL AND ` + userSchemaFilter + `
	UNION ALL SELECT p.proowner, p.proacl FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proacl IS NOT NULL AND ` + userSchemaFilter + `
	UNION ALL SELECT t.typowner, t.typacl FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.typacl IS NOT NULL AND ` + userSchemaFilter + `
	UNION ALL SELECT m.lomowner, m.lomacl FROM pg_largeobject_metadata m WHERE m.lomacl IS NOT NULL
	UNION ALL SELECT d.datdba, d.datacl FROM pg_database d WHERE d.datname = current_database() AND d.datacl IS NOT NULL
	UNION ALL SELECT w.fdwowner, w.fdwacl FROM pg_foreign_data_wrapper w WHERE w.fdwacl IS NOT NULL
	UNION ALL SELECT s.srvowner, s.srvacl FROM pg_foreign_server s WHERE s.srvacl IS NOT NULL
) o CROSS JOIN LATERAL aclexplode(o.acl) a WHERE a.grantor <> o.owner ORDER BY 1`

func readGrantors(ctx context.Context, conn Querier, d *Database, _ pgver.V) error {
	var err error
	d.Grantors, err = collectStrings(ctx, conn, grantorsSQL)
	return err
}

// readOwners fills d.Owned from every object with an owner (ownedObjectsSQL), and d.Owners and
// d.SuperuserOwned from the user objects among them (userObjectsSQL), in one pass.
func readOwners(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	d.Owned = map[string]*Owned{}
	d.Owners = map[string]int{}
	d.SuperuserOwned = map[string][]string{}
	var role, desc string
	var user, super bool
	return forEachRow(ctx, conn, `SELECT pg_get_userbyid(o.owner)::text, o.d, o.user_object AND r.oid IS NOT NULL, coalesce(r.rolsuper, false)
		FROM (SELECT u.owner, u.d, true AS user_object FROM (`+userObjectsSQL(v)+`) u
			UNION ALL
			SELECT x.owner, x.d, false FROM (`+otherOwnedObjectsSQL(v)+`) x(owner, d)) o
		LEFT JOIN pg_roles r ON r.oid = o.owner
		ORDER BY 1, 2`, []any{&role, &desc, &user, &super}, func() {
		o := d.Owned[role]
		if o == nil {
			o = &Owned{Kinds: map[string]int{}}
			d.Owned[role] = o
		}
		o.Total++
		o.Kinds[ownedKind(desc)]++
		if len(o.Sample) < OwnedSampleMax {
			o.Sample = append(o.Sample, desc)
		}
		if user {
			d.Owners[role]++
			if super {
				d.SuperuserOwned[role] = append(d.SuperuserOwned[role], desc)
			}
		}
	})
}

// readOwnerRoles fills d.OwnerRoles from pg_shdepend.
func readOwnerRoles(ctx context.Context, conn Querier, d *Database, _ pgver.V) error {
	var err error
	d.OwnerRoles, err = appendRows(ctx, conn, d.OwnerRoles, pgx.RowTo[string], `SELECT DISTINCT r.rolname::text FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
		WHERE d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND d.refclassid = 'pg_authid'::regclass AND d.deptype = 'o' ORDER BY 1`)
	return err
}

// ProviderRoles are roles managed PostgreSQL services reserve for themselves: objects are never
// given to them on a target (the service owns them, or they cannot log in).
var ProviderRoles = map[string]bool{
	"azure_pg_admin": true, "azuresu": true, "azure_superuser": true, "replication": true,
	"rds_superuser": true, "rdsadmin": true, "rds_replication": true, "rdstopmgr": true,
	"cloudsqlsuperuser": true, "cloudsqladmin": true, "cloudsqlagent": true, "cloudsqlreplica": true,
	"alloydbsuperuser": true, "alloydbadmin": true,
}

// OwnerChange is the decision for one source role that owns migrated objects and whose
// objects go to another role on the target.
type OwnerChange struct {
	From, To string
	// Reason says why, for plans and validations: `owner_map maps it to "x"`, `it is a
	// superuser on the target`, ...
	Reason string
	// Mapped is true when owner_map asked for it.
	Mapped bool
	// Problem, when not "", says why the change cannot be made and what to do (a Failed
	// validation): owner_map names a role that will not exist on the target, or one the login
	// cannot give objects to.
	Problem string
}

// OwnerPolicy is what decides owners: options.roles and options.owner_map.
type OwnerPolicy struct {
	Roles bool
	Map   map[string]string
}

// DecideOwners decides, for each role of owners (the roles that own migrated objects on the
// source), whether its objects keep it as their owner on the target or go to another role, and
// returns the changes by source role. A role R changes when
//   - owner_map has R (to that role; an entry mapping R to itself keeps it), or,
//   - without an entry, when the target login is not a superuser and R cannot own objects
//     on the target: R is a superuser there, the source's bootstrap superuser, a reserved pg_*
//     role other than pg_database_owner, or a role a managed service reserves (ProviderRoles).
//     Its objects then go to the target login.
//
// Every other role keeps its objects: one the migration creates, or one that exists on the
// target (the login is made a member of it, see LoginGrants). With roles = false nothing is
// decided: pg_restore --no-owner gives every object to the login.
func DecideOwners(p OwnerPolicy, src, tgt *Instance, owners []string) map[string]OwnerChange {
	out := map[string]OwnerChange{}
	if !p.Roles {
		return out
	}
	login := tgt.CurrentUser
	for _, r := range owners {
		if to, ok := p.Map[r]; ok {
			if to == r {
				continue
			}
			c := OwnerChange{From: r, To: to, Mapped: true, Reason: fmt.Sprintf("owner_map maps it to %q", to)}
			tr := tgt.Role(to)
			switch {
			case to == login:
			case tr != nil && tr.Superuser && !tgt.IsSuperuser:
				c.Problem = fmt.Sprintf("owner_map maps %q to %q, a superuser on the target, which the target login %q cannot give objects to: map it to a role that is not a superuser, or to %q", r, to, login, login)
			case tr == nil && src.Role(to) == nil:
				c.Problem = fmt.Sprintf("owner_map maps %q to %q, which neither exists on the target nor is a role of the source that the migration creates: create it on the target (CREATE ROLE %s) or map %q to a role that exists", r, to, quoteIdent(to), r)
			}
			out[r] = c
			continue
		}
		if r == login || tgt.IsSuperuser {
			continue
		}
		why := ""
		tr := tgt.Role(r)
		switch {
		case tr != nil && tr.Superuser:
			why = "it is a superuser on the target, which a login that is not one cannot give objects to"
		case r == src.Bootstrap:
			why = "it is the source's bootstrap superuser"
		case strings.HasPrefix(r, "pg_") && r != "pg_database_owner":
			why = "PostgreSQL reserves it"
		case ProviderRoles[r]:
			why = "the managed service reserves it"
		}
		if why != "" {
			out[r] = OwnerChange{From: r, To: login, Reason: why}
		}
	}
	return out
}

// MigratedOwners lists, sorted, the roles that own something in the named databases of the
// source (the databases themselves and every object of Database.Owned), and those that granted
// privileges on objects they do not own (Database.Grantors): apply acts as each of them.
func MigratedOwners(src *Instance, dbs map[string]*Database, names []string) []string {
	set := map[string]bool{}
	for _, n := range names {
		if info := src.Database(n); info != nil && info.Owner != "" {
			set[info.Owner] = true
		}
		if d := dbs[n]; d != nil {
			for o := range d.Owned {
				set[o] = true
			}
			for o := range d.Owners {
				set[o] = true
			}
			for _, o := range d.OwnerRoles {
				set[o] = true
			}
			for _, o := range d.Grantors {
				set[o] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for o := range set {
		out = append(out, o)
	}
	sort.Strings(out)
	return out
}

// OwnerMap returns the target owner of each source role whose objects change owner (changes
// with a Problem left out): what apply rewrites pg_dump's statements with.
func OwnerMap(changes map[string]OwnerChange) map[string]string {
	m := map[string]string{}
	for r, c := range changes {
		if c.Problem == "" {
			m[r] = c.To
		}
	}
	return m
}

// OwnerChanges is DecideOwners for the owners of the named databases (MigratedOwners).
func OwnerChanges(p OwnerPolicy, src, tgt *Instance, dbs map[string]*Database, names []string) map[string]OwnerChange {
	return DecideOwners(p, src, tgt, MigratedOwners(src, dbs, names))
}

// OwnedBy describes, sorted, the objects of the database conn is connected to that role owns,
// of every kind Database.Owned counts (v is the server's server_version_num); none when the role
// does not exist.
func OwnedBy(ctx context.Context, conn Querier, role string, v pgver.V) ([]string, error) {
	var out []string
	return appendRows(ctx, conn, out, pgx.RowTo[string], `SELECT o.d FROM (`+ownedObjectsSQL(v)+`) o(owner, d)
		WHERE o.owner = (SELECT oid FROM pg_roles WHERE rolname = $1) ORDER BY 1`, role)
}
