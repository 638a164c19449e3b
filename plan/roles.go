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

// roles plans a create for each source role the target lacks and an update for each one whose
// attributes differ, and returns the source roles that will be on the target. The target's
// superusers and its login are never altered.
func (b *builder) roles() (migrated map[string]bool) {
	in, o := b.in, b.in.Migration.Options
	migrated = map[string]bool{}
	for _, r := range in.Source.Roles {
		want := DesiredRole(r, o)
		have := in.Target.Role(r.Name)
		addr := RoleAddr(r.Name)
		switch {
		case have == nil:
			a := &Action{Address: addr, Type: TypeRole, Kind: Create, Name: r.Name, Reason: "role does not exist on the target"}
			a.Details = roleDetails(r, want)
			if r.Superuser && o.StripSuperuser {
				a.Hazards = append(a.Hazards, Hazard{"STRIPS_SUPERUSER", fmt.Sprintf("role %q is a superuser on the source; it will be created without SUPERUSER", r.Name)})
			}
			b.add(a)
			b.roleAddrs = append(b.roleAddrs, addr)
			migrated[r.Name] = true
		case have.Superuser || r.Name == in.Target.CurrentUser:
			// The target's administrators are never altered.
			migrated[r.Name] = true
		default:
			migrated[r.Name] = true
			if d := RoleDiff(want, *have); len(d) > 0 && !b.applied(addr) {
				b.add(&Action{Address: addr, Type: TypeRole, Kind: Update, Name: r.Name, Reason: "role attributes differ from the source", Details: d})
				b.roleAddrs = append(b.roleAddrs, addr)
			}
		}
	}
	return migrated
}

// memberships plans the source's memberships between migrated roles that the target lacks.
func (b *builder) memberships(migrated map[string]bool) {
	have := map[[2]string]bool{}
	for _, tm := range b.in.Target.Memberships {
		have[[2]string{tm.Role, tm.Member}] = true
	}
	for _, sm := range b.in.Source.Memberships {
		if !migrated[sm.Role] || !migrated[sm.Member] || have[[2]string{sm.Role, sm.Member}] {
			continue
		}
		addr := MembershipAddr(sm.Member, sm.Role)
		a := &Action{Address: addr, Type: TypeMembership, Kind: Create, Name: sm.Member, Table: sm.Role,
			Reason: fmt.Sprintf("%q is a member of %q on the source", sm.Member, sm.Role)}
		for _, ra := range []string{RoleAddr(sm.Member), RoleAddr(sm.Role)} {
			if contains(b.roleAddrs, ra) {
				a.DependsOn = append(a.DependsOn, ra)
			}
		}
		if sm.AdminOption {
			a.Details = []string{"with admin option"}
		}
		b.add(a)
	}
}

// loginMemberships plans the memberships a target login that is not a superuser needs to restore
// the owners: one in each role that will own migrated objects (catalog.LoginGrants).
func (b *builder) loginMemberships() {
	in := b.in
	for _, g := range catalog.LoginGrants(in.Source, in.Target, in.SourceDBs, b.p.Databases, b.p.OwnerMap) {
		if g.Blocked != "" {
			continue // the owner_membership validation fails and says what to do
		}
		login := in.Target.CurrentUser
		addr := MembershipAddr(login, g.Role)
		if b.p.Action(addr) != nil {
			b.roleAddrs = append(b.roleAddrs, addr) // the source has that membership too
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
		if contains(b.roleAddrs, RoleAddr(g.Role)) {
			a.DependsOn = []string{RoleAddr(g.Role)}
		}
		b.add(a)
		b.roleAddrs = append(b.roleAddrs, addr)
	}
}
