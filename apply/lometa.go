package apply

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// largeObjectMeta returns, per large object of the source database, the statements that give a
// large object created empty on the target (lo_create) the source's privileges and comment. pg_dump
// 17 and later dump large objects' metadata in the data section, which pgferry does not restore:
// their owners are set as they are created, and these statements do the rest. Privileges are
// left out without roles (as pg_restore --no-privileges does). They are granted in the order of
// the source's ACL, so that the target's lists them alike; the grantor of each is the one of the
// statement's session, as when pg_restore runs as a superuser. Owners and grantees are mapped by
// owner (owners.go); nil maps none.
func largeObjectMeta(ctx context.Context, src *pgx.Conn, roles bool, owners *ownerRewriter) (map[uint32][]string, error) {
	rows, err := src.Query(ctx, `SELECT m.oid, pg_catalog.pg_get_userbyid(m.lomowner)::text, m.lomacl IS NOT NULL,
		coalesce((SELECT array_agg(CASE WHEN a.grantee = 0 THEN '' ELSE pg_catalog.pg_get_userbyid(a.grantee)::text END
			|| '|' || a.privilege_type || '|' || a.is_grantable::text ORDER BY a.n)
			FROM pg_catalog.aclexplode(m.lomacl) WITH ORDINALITY a(grantor, grantee, privilege_type, is_grantable, n)), '{}'::text[]),
		d.description
		FROM pg_catalog.pg_largeobject_metadata m
		LEFT JOIN pg_catalog.pg_description d ON d.classoid = 'pg_catalog.pg_largeobject'::regclass AND d.objoid = m.oid AND d.objsubid = 0
		WHERE m.lomacl IS NOT NULL OR d.description IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("reading large objects' privileges and comments: %w", err)
	}
	defer rows.Close()
	out := map[uint32][]string{}
	for rows.Next() {
		var oid uint32
		var owner string
		var hasACL bool
		var grants []string
		var comment *string
		if err := rows.Scan(&oid, &owner, &hasACL, &grants, &comment); err != nil {
			return nil, err
		}
		var stmts []string
		if roles && hasACL {
			// An explicit ACL replaces the defaults (the owner's own rights included): start from none.
			stmts = append(stmts, fmt.Sprintf("REVOKE ALL ON LARGE OBJECT %d FROM PUBLIC", oid),
				fmt.Sprintf("REVOKE ALL ON LARGE OBJECT %d FROM %s", oid, ident(owners.owner(owner))))
			for _, g := range grants {
				f := strings.SplitN(g, "|", 3)
				if len(f) != 3 {
					return nil, fmt.Errorf("large object %d: unexpected privilege %q", oid, g)
				}
				grantee := "PUBLIC"
				if f[0] != "" {
					grantee = ident(owners.owner(f[0]))
				}
				s := fmt.Sprintf("GRANT %s ON LARGE OBJECT %d TO %s", f[1], oid, grantee)
				if f[2] == "true" {
					s += " WITH GRANT OPTION"
				}
				stmts = append(stmts, s)
			}
		}
		if comment != nil {
			stmts = append(stmts, fmt.Sprintf("COMMENT ON LARGE OBJECT %d IS %s", oid, literal(*comment)))
		}
		if len(stmts) > 0 {
			out[oid] = stmts
		}
	}
	return out, rows.Err()
}
