package plan

import (
	"fmt"
	"strings"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
)

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
