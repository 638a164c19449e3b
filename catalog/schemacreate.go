package catalog

import (
	"context"
	"fmt"
	"strings"

	"github.com/pgferry/pgferry/internal/pgver"
)

// SchemaCreateNeed is a superuser role of the source that owns objects in a schema it does not
// own. A superuser never needs CREATE on a schema; a role that is not one does, to be given an
// object in it (ALTER ... OWNER TO checks the new owner's CREATE on the object's schema). On a
// target where the role is not a superuser, only the schema's privileges (which pg_dump restores)
// can give it that.
type SchemaCreateNeed struct {
	// Role owns Objects objects (relations, functions, types, operators, ...) in Schema.
	Role    string
	Schema  string
	Objects int
	// SchemaOwner owns the schema on the source (pg_database_owner: public from 15 on).
	SchemaOwner string
	// Grantees are the roles the schema's privileges (their default when it has none) give
	// CREATE to, "PUBLIC" for PUBLIC, sorted bytewise.
	Grantees []string
	// MemberOf are the roles whose privileges Role inherits on the source, directly or through
	// other roles, sorted bytewise.
	MemberOf []string
}

// schemaCreateNeedsSQL selects, for every superuser role and schema it owns objects in without
// owning the schema, the row of a SchemaCreateNeed. Extension members and implicit objects are
// left out, as in userObjectsSQL.
func schemaCreateNeedsSQL(v pgver.V) string {
	inherits := "r.rolinherit"
	if v.AtLeast(16) {
		inherits = "am.inherit_option"
	}
	objs := `SELECT c.relowner AS owner, c.relnamespace AS ns FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c') AND ` + userSchemaFilter + ` AND ` + notExtensionMember("pg_class", "c.oid") + `
		UNION ALL
		SELECT p.proowner, p.pronamespace FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE ` + userProcFilter(v) + `
		UNION ALL
		SELECT t.typowner, t.typnamespace FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
		WHERE t.typtype IN ('b', 'd', 'e', 'r') AND ` + userTypeFilter(v) + `
		UNION ALL
		` + namespacedOwnedSQL(v)
	return `WITH o AS (` + objs + `),
	need AS (SELECT o.owner, o.ns, count(*)::int AS objects FROM o
		JOIN pg_roles r ON r.oid = o.owner JOIN pg_namespace n ON n.oid = o.ns
		WHERE r.rolsuper AND n.nspowner <> o.owner GROUP BY 1, 2)
	SELECT pg_get_userbyid(need.owner)::text, n.nspname::text, need.objects, pg_get_userbyid(n.nspowner)::text,
		ARRAY(SELECT g.r FROM (SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee)::text END AS r
			FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a WHERE a.privilege_type = 'CREATE') g ORDER BY g.r COLLATE "C"),
		ARRAY(WITH RECURSIVE m(roleid) AS (
				SELECT am.roleid FROM pg_auth_members am JOIN pg_roles r ON r.oid = am.member
				WHERE am.member = need.owner AND ` + inherits + `
				UNION
				SELECT am.roleid FROM pg_auth_members am JOIN m ON am.member = m.roleid JOIN pg_roles r ON r.oid = am.member
				WHERE ` + inherits + `)
			SELECT pg_get_userbyid(m.roleid)::text FROM m ORDER BY pg_get_userbyid(m.roleid)::text COLLATE "C")
	FROM need JOIN pg_namespace n ON n.oid = need.ns ORDER BY 1, 2`
}

// namespacedOwned are the catalogs of the other objects in a schema that carry an owner, each with
// its alias and column prefix (collowner, collnamespace, ...): the same kinds, with the same
// filters, as otherOwnedObjectsSQL (owners.go). A filter is added to the user schemas and
// extension-member ones.
var namespacedOwned = []struct{ catalog, alias, prefix, filter string }{
	{"pg_collation", "c", "coll", ""},
	{"pg_conversion", "c", "con", ""},
	{"pg_operator", "o", "opr", ""},
	{"pg_opclass", "c", "opc", ""},
	// An operator class's implicit family goes with the class.
	{"pg_opfamily", "f", "opf", "NOT EXISTS (SELECT 1 FROM pg_opclass c WHERE c.opcfamily = f.oid)"},
	{"pg_ts_config", "c", "cfg", ""},
	{"pg_ts_dict", "c", "dict", ""},
	{"pg_statistic_ext", "s", "stx", ""}, // from 10
}

// namespacedOwnedSQL selects (owner oid, schema oid) of the user objects of namespacedOwned's
// catalogs of a source of version v.
func namespacedOwnedSQL(v pgver.V) string {
	var b strings.Builder
	for _, k := range namespacedOwned {
		if k.catalog == "pg_statistic_ext" && !v.AtLeast(10) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\t\tUNION ALL\n\t\t")
		}
		a := k.alias
		fmt.Fprintf(&b, "SELECT %s.%sowner, %s.%snamespace FROM %s %s JOIN pg_namespace n ON n.oid = %s.%snamespace WHERE ",
			a, k.prefix, a, k.prefix, k.catalog, a, a, k.prefix)
		if k.filter != "" {
			b.WriteString(k.filter + " AND ")
		}
		b.WriteString(userSchemaFilter + " AND " + notExtensionMember(k.catalog, a+".oid"))
	}
	return b.String()
}

// readSchemaCreateNeeds fills d.SchemaCreateNeeds.
func readSchemaCreateNeeds(ctx context.Context, conn Querier, d *Database, v pgver.V) error {
	d.SchemaCreateNeeds = nil
	var n SchemaCreateNeed
	return forEachRow(ctx, conn, schemaCreateNeedsSQL(v),
		[]any{&n.Role, &n.Schema, &n.Objects, &n.SchemaOwner, &n.Grantees, &n.MemberOf}, func() {
			d.SchemaCreateNeeds = append(d.SchemaCreateNeeds, n)
			n = SchemaCreateNeed{}
		})
}
