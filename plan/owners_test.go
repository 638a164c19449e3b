package plan

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/state"
)

// A target login that is not a superuser: postgres's objects go to it, one change per database
// and role, counted as a change, after post-data and before verify; nothing moves with a
// superuser login unless owner_map says so; a finished migration plans no change.
func TestOwnershipActions(t *testing.T) {
	src, tgt := instances()
	src.Bootstrap = "postgres"
	tgt.CurrentUser, tgt.IsSuperuser, tgt.CanCreateRole, tgt.CanCreateDB = "flexadmin", false, true, true
	tgt.Roles = append(tgt.Roles, catalog.Role{Name: "flexadmin", Login: true, CreateRole: true, CreateDB: true, Inherit: true})
	src.Databases[0].Owner = "postgres"
	db := sourceDB()
	db.Owned = map[string]*catalog.Owned{
		"postgres": {Total: 4, Kinds: map[string]int{"table": 2, "schema": 1, "database": 1}, Sample: []string{"database app", "schema public", "table public.big", "table public.small"}},
		"app":      {Total: 1, Kinds: map[string]int{"function": 1}, Sample: []string{"function public.f()"}},
	}
	build := func(o config.Options, tgt *catalog.Instance, st *state.State) *Plan {
		t.Helper()
		p, err := Build(Input{Snapshot: &snapshot.Snapshot{Migration: migration(o), Source: src, Target: tgt, State: st,
			SourceDBs: map[string]*catalog.Database{"app": db}, TargetDBs: map[string]*catalog.Database{}}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := build(config.Options{}, tgt, nil)
	a := p.Action(`database.app.ownership["postgres"]`)
	if a == nil {
		t.Fatalf("no ownership action in %v", addrs(p))
	}
	if a.Kind != Update || a.Type != TypeOwnership || a.Name != "postgres" || a.Table != "flexadmin" {
		t.Errorf("ownership action = %+v", a)
	}
	if a.Reason != `ownership: 4 objects of "postgres" → "flexadmin"` {
		t.Errorf("reason = %q", a.Reason)
	}
	if len(a.Hazards) != 1 || a.Hazards[0].Code != "REASSIGNS_OWNER" {
		t.Errorf("hazards = %+v", a.Hazards)
	}
	if !reflect.DeepEqual(a.Details, []string{"2 tables, 1 database, 1 schema", "because it is a superuser on the target, which a login that is not one cannot give objects to"}) {
		t.Errorf("details = %q", a.Details)
	}
	if !contains(a.DependsOn, "database.app.post_data") || !contains(p.Action("database.app.verify").DependsOn, a.Address) {
		t.Errorf("ownership after post-data and before verify: %v / %v", a.DependsOn, p.Action("database.app.verify").DependsOn)
	}
	if p.Action(`database.app.ownership["app"]`) != nil || p.Action(`role.flexadmin.member_of["postgres"]`) != nil {
		t.Errorf("app keeps its objects and postgres needs no membership: %v", addrs(p))
	}
	if p.Action(`role.flexadmin.member_of["app"]`) == nil {
		t.Errorf("the login is made a member of app, which keeps its objects: %v", addrs(p))
	}
	if p.Summary.Change != 1 || !reflect.DeepEqual(p.OwnerMap, map[string]string{"postgres": "flexadmin"}) || p.Login != "flexadmin" || p.LoginSuperuser {
		t.Errorf("summary %+v, owner map %v, login %q %v", p.Summary, p.OwnerMap, p.Login, p.LoginSuperuser)
	}
	if d := p.Action("database.app").Details[0]; !strings.HasPrefix(d, "owner flexadmin (postgres on the source)") {
		t.Errorf("database details = %q", d)
	}

	// owner_map to a third role the migration creates: the login is made its member.
	p = build(config.Options{Jobs: 2, Verify: "checksum", Roles: true, StripSuperuser: true, OwnerMap: map[string]string{"postgres": "reader"}}, tgt, nil)
	if a := p.Action(`database.app.ownership["postgres"]`); a == nil || a.Table != "reader" || !strings.Contains(a.Details[1], `owner_map maps it to "reader"`) {
		t.Errorf("owner_map: %+v", a)
	}
	if p.Action(`role.flexadmin.member_of["reader"]`) == nil {
		t.Errorf("owner_map: the login is not made a member of reader: %v", addrs(p))
	}

	// A superuser login: nothing moves.
	_, super := instances()
	if p := build(config.Options{}, super, nil); p.Action(`database.app.ownership["postgres"]`) != nil || len(p.OwnerMap) != 0 {
		t.Errorf("superuser login: %v %v", addrs(p), p.OwnerMap)
	}

	// The ownership action applied: not planned again.
	st := &state.State{Actions: []*state.Action{{Address: `database.app.ownership["postgres"]`, Status: state.ActionApplied}}}
	if p := build(config.Options{}, tgt, st); p.Action(`database.app.ownership["postgres"]`) != nil {
		t.Errorf("applied ownership planned again: %v", addrs(p))
	}
}
