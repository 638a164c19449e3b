package catalog

import (
	"reflect"
	"testing"
)

func TestDecideOwners(t *testing.T) {
	src := &Instance{Bootstrap: "postgres", Roles: []Role{
		{Name: "postgres", Superuser: true}, {Name: "shop_owner"}, {Name: "legacy_dba", Superuser: true}, {Name: "app_admin"},
	}}
	tgt := func(super bool) *Instance {
		return &Instance{CurrentUser: "flexadmin", IsSuperuser: super, Bootstrap: "azuresu", Roles: []Role{
			{Name: "azuresu", Superuser: true}, {Name: "postgres", Superuser: true}, {Name: "flexadmin", CreateRole: true, CreateDB: true},
			{Name: "sa", Superuser: true}, {Name: "existing"},
		}}
	}
	type ch = map[string]OwnerChange
	for name, tc := range map[string]struct {
		policy OwnerPolicy
		super  bool
		owners []string
		want   map[string]OwnerChange
	}{
		"superuser on the target and bootstrap: to the login": {
			policy: OwnerPolicy{Roles: true}, owners: []string{"postgres", "shop_owner"},
			want: ch{"postgres": {From: "postgres", To: "flexadmin", Reason: "it is a superuser on the target, which a login that is not one cannot give objects to"}},
		},
		"bootstrap superuser of the source, absent from the target": {
			policy: OwnerPolicy{Roles: true}, owners: []string{"postgres"},
			want: ch{"postgres": {From: "postgres", To: "flexadmin", Reason: "it is a superuser on the target, which a login that is not one cannot give objects to"}},
		},
		"a created superuser keeps its objects (strip_superuser)": {
			policy: OwnerPolicy{Roles: true}, owners: []string{"legacy_dba", "existing", "flexadmin", "pg_database_owner"},
			want: ch{},
		},
		"reserved and provider roles": {
			policy: OwnerPolicy{Roles: true}, owners: []string{"pg_monitor", "rds_superuser", "azure_pg_admin"},
			want: ch{
				"pg_monitor":     {From: "pg_monitor", To: "flexadmin", Reason: "PostgreSQL reserves it"},
				"rds_superuser":  {From: "rds_superuser", To: "flexadmin", Reason: "the managed service reserves it"},
				"azure_pg_admin": {From: "azure_pg_admin", To: "flexadmin", Reason: "the managed service reserves it"},
			},
		},
		"a superuser login: nothing moves": {
			policy: OwnerPolicy{Roles: true}, super: true, owners: []string{"postgres", "pg_monitor", "sa"},
			want: ch{},
		},
		"a superuser login: owner_map still applies": {
			policy: OwnerPolicy{Roles: true, Map: map[string]string{"postgres": "existing"}}, super: true, owners: []string{"postgres"},
			want: ch{"postgres": {From: "postgres", To: "existing", Mapped: true, Reason: `owner_map maps it to "existing"`}},
		},
		"owner_map to a role the migration creates, and to itself": {
			policy: OwnerPolicy{Roles: true, Map: map[string]string{"postgres": "app_admin", "shop_owner": "shop_owner"}}, owners: []string{"postgres", "shop_owner"},
			want: ch{"postgres": {From: "postgres", To: "app_admin", Mapped: true, Reason: `owner_map maps it to "app_admin"`}},
		},
		"owner_map of a role that would keep its objects": {
			policy: OwnerPolicy{Roles: true, Map: map[string]string{"shop_owner": "flexadmin"}}, owners: []string{"shop_owner"},
			want: ch{"shop_owner": {From: "shop_owner", To: "flexadmin", Mapped: true, Reason: `owner_map maps it to "flexadmin"`}},
		},
		"owner_map to a role that will not exist": {
			policy: OwnerPolicy{Roles: true, Map: map[string]string{"postgres": "nobody"}}, owners: []string{"postgres"},
			want: ch{"postgres": {From: "postgres", To: "nobody", Mapped: true, Reason: `owner_map maps it to "nobody"`,
				Problem: `owner_map maps "postgres" to "nobody", which neither exists on the target nor is a role of the source that the migration creates: create it on the target (CREATE ROLE nobody) or map "postgres" to a role that exists`}},
		},
		"owner_map to a superuser of the target": {
			policy: OwnerPolicy{Roles: true, Map: map[string]string{"postgres": "sa"}}, owners: []string{"postgres"},
			want: ch{"postgres": {From: "postgres", To: "sa", Mapped: true, Reason: `owner_map maps it to "sa"`,
				Problem: `owner_map maps "postgres" to "sa", a superuser on the target, which the target login "flexadmin" cannot give objects to: map it to a role that is not a superuser, or to "flexadmin"`}},
		},
		"owner_map entries for roles that own nothing are ignored": {
			policy: OwnerPolicy{Roles: true, Map: map[string]string{"ghost": "existing"}}, owners: []string{"shop_owner"},
			want: ch{},
		},
		"roles = false: pg_restore --no-owner, nothing decided": {
			policy: OwnerPolicy{Roles: false}, owners: []string{"postgres"},
			want: ch{},
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := *src
			if name == "bootstrap superuser of the source, absent from the target" {
				s.Bootstrap = "postgres"
			}
			got := DecideOwners(tc.policy, &s, tgt(tc.super), tc.owners)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %#v\nwant %#v", got, tc.want)
			}
		})
	}
	// The bootstrap superuser of the source, which the target does not have at all.
	s := *src
	s.Bootstrap = "olddba"
	got := DecideOwners(OwnerPolicy{Roles: true}, &s, tgt(false), []string{"olddba"})
	if c := got["olddba"]; c.To != "flexadmin" || c.Reason != "it is the source's bootstrap superuser" {
		t.Errorf("bootstrap superuser absent from the target: %#v", got)
	}
}

func TestLoginGrantsRemapped(t *testing.T) {
	src := &Instance{Bootstrap: "postgres", Roles: []Role{{Name: "postgres", Superuser: true}, {Name: "app_admin"}},
		Databases: []DatabaseInfo{{Name: "shop", Owner: "postgres"}}}
	tgt := &Instance{CurrentUser: "flexadmin", VersionNum: 160000, CanCreateRole: true, Roles: []Role{{Name: "postgres", Superuser: true}, {Name: "flexadmin", Inherit: true}}}
	dbs := map[string]*Database{"shop": {Owned: map[string]*Owned{"postgres": {Total: 3}}}}
	if g := LoginGrants(src, tgt, dbs, []string{"shop"}, nil); len(g) != 1 || g[0].Role != "postgres" || g[0].Blocked == "" {
		t.Errorf("without a mapping: %+v, want postgres blocked", g)
	}
	if g := LoginGrants(src, tgt, dbs, []string{"shop"}, map[string]string{"postgres": "flexadmin"}); len(g) != 0 {
		t.Errorf("mapped to the login: %+v, want none", g)
	}
	g := LoginGrants(src, tgt, dbs, []string{"shop"}, map[string]string{"postgres": "app_admin"})
	if len(g) != 1 || g[0].Role != "app_admin" || g[0].Blocked != "" || g[0].Exists {
		t.Errorf("mapped to a role the migration creates: %+v, want app_admin granted", g)
	}
}

func TestOwnedKinds(t *testing.T) {
	o := &Owned{Kinds: map[string]int{}}
	for _, d := range []string{"table public.a", "table public.b", "materialized view public.m", "default privileges for role postgres on tables",
		"large object 16400", "schema public", "database shop", "text search dictionary public.d", "text search dictionary public.e", "operator class public.c"} {
		o.Kinds[ownedKind(d)]++
	}
	if got, want := o.KindsString(), "2 tables, 2 text search dictionaries, 1 database, 1 default privileges, 1 large object, 1 materialized view, 1 operator class, 1 schema"; got != want {
		t.Errorf("KindsString = %q, want %q", got, want)
	}
}
