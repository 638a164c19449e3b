package plan

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pgferry/pgferry/state"
)

func undoAddrs(p *DestroyPlan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.Kind.Symbol()+" "+s.Address)
	}
	return out
}

func TestPlanDestroy(t *testing.T) {
	tests := []struct {
		name    string
		created []state.Change
		actions []*state.Action
		want    []string
		details map[string]string // address -> first detail
		notes   []string          // substrings, in order
	}{
		{
			name: "nothing",
		},
		{
			name: "reverse order, one step per object",
			created: []state.Change{
				{Type: "role", Name: "app_owner", Op: "created"},
				{Type: "role_attributes", Name: "app_reader", Op: "altered", Before: `ALTER ROLE "app_reader" WITH LOGIN`},
				{Type: "membership", Name: "app_writer in app_reader", Op: "created"},
				{Type: "server_parameter", Name: "work_mem", Op: "altered", Before: "4MB"},
				{Type: "server_parameter", Name: "azure.extensions", Op: "altered"},
				{Type: "database", Name: "app", Op: "created"},
			},
			want: []string{"- database.app", `~ server_parameter.azure.extensions`, "~ server_parameter.work_mem",
				`- role.app_writer.member_of["app_reader"]`, "~ role.app_reader", "- role.app_owner"},
			details: map[string]string{
				"role.app_reader":                   `ALTER ROLE "app_reader" WITH LOGIN`,
				"server_parameter.work_mem":         "ALTER SYSTEM SET work_mem = '4MB'",
				"server_parameter.azure.extensions": "ALTER SYSTEM RESET azure.extensions",
			},
		},
		{
			name: "owners given to another role: gone with the database, kept with one that existed",
			created: []state.Change{
				{Type: "database", Name: "app", Op: "created"},
				{Type: "ownership", Database: "app", Name: "postgres → flexadmin", Op: "reassigned"},
				{Type: "ownership", Database: "old", Name: "postgres → flexadmin", Op: "reassigned"},
			},
			want: []string{"- database.app"},
		},
		{
			name: "memberships of the target login: revoked after the database is dropped, or their options put back",
			created: []state.Change{
				{Type: "role", Name: "owner_a", Op: "created"},
				{Type: "login_membership", Name: "migrator in owner_a", Op: "created"},
				{Type: "login_membership", Name: "migrator in reader", Op: "altered", Before: "GRANT reader TO migrator WITH INHERIT FALSE, SET FALSE"},
				{Type: "database", Name: "app", Op: "created"},
			},
			want: []string{"- database.app", `~ role.migrator.member_of["reader"]`, `- role.migrator.member_of["owner_a"]`, "- role.owner_a"},
			details: map[string]string{
				`role.migrator.member_of["reader"]`: "GRANT reader TO migrator WITH INHERIT FALSE, SET FALSE",
			},
		},
		{
			name: "resumed runs recorded twice: one step, the oldest value restored",
			created: []state.Change{
				{Type: "role_attributes", Name: "r", Op: "altered", Before: "ALTER ROLE r WITH LOGIN"},
				{Type: "database", Name: "app", Op: "created"},
				{Type: "role_attributes", Name: "r", Op: "altered", Before: "ALTER ROLE r WITH NOLOGIN"},
				{Type: "database", Name: "app", Op: "created"},
			},
			want:    []string{"- database.app", "~ role.r"},
			details: map[string]string{"role.r": "ALTER ROLE r WITH LOGIN"},
		},
		{
			name: "overwritten database: dropped, noted as unrecoverable",
			created: []state.Change{
				{Type: "database", Name: "app", Op: "dropped"},
				{Type: "database", Name: "app", Op: "created"},
			},
			want:  []string{"- database.app"},
			notes: []string{"database.app existed before the migration and was dropped by it (overwrite_databases = true); destroy cannot restore it"},
		},
		{
			name: "extensions inside a dropped database go with it; others are dropped",
			created: []state.Change{
				{Type: "database", Name: "app", Op: "created"},
				{Type: "extension", Database: "app", Name: "pgcrypto", Op: "created"},
				{Type: "extension", Database: "kept", Name: "hstore", Op: "created"},
			},
			want: []string{"- database.kept.extension.hstore", "- database.app"},
		},
		{
			name: "a pre-existing empty database is noted, not dropped",
			actions: []*state.Action{
				{Address: "database.app", Kind: "~", Database: "app", Status: state.ActionApplied},
				{Address: "database.app.schema", Kind: "+", Database: "app", Status: state.ActionApplied},
				{Address: "database.other", Kind: "~", Database: "other", Status: state.ActionPending},
			},
			notes: []string{"database.app existed before the migration (it was empty)"},
		},
		{
			name:    "unknown change types are planned and fail when run",
			created: []state.Change{{Type: "tablespace", Name: "fast", Op: "created"}},
			want:    []string{"- tablespace.fast"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanDestroy(&state.State{Created: tt.created, Actions: tt.actions})
			if got := undoAddrs(p); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("steps:\n got %q\nwant %q", got, tt.want)
			}
			for _, s := range p.Steps {
				if want, ok := tt.details[s.Address]; ok && (len(s.Details) == 0 || s.Details[0] != want) {
					t.Errorf("%s details %q, want %q", s.Address, s.Details, want)
				}
			}
			if len(p.Notes) != len(tt.notes) {
				t.Fatalf("notes %q, want %d", p.Notes, len(tt.notes))
			}
			for i, n := range tt.notes {
				if !strings.Contains(p.Notes[i], n) {
					t.Errorf("note %q does not contain %q", p.Notes[i], n)
				}
			}
			if p.Empty() != (len(tt.want) == 0 && len(tt.notes) == 0) {
				t.Errorf("Empty() = %v", p.Empty())
			}
		})
	}
	if p := PlanDestroy(nil); !p.Empty() {
		t.Fatal("PlanDestroy(nil) is not empty")
	}
}

func TestDestroyPlanCounts(t *testing.T) {
	p := PlanDestroy(&state.State{Created: []state.Change{
		{Type: "role", Name: "a", Op: "created"},
		{Type: "role_attributes", Name: "b", Op: "altered", Before: "x"},
		{Type: "database", Name: "app", Op: "created"},
	}})
	if d, c := p.Counts(); d != 2 || c != 1 {
		t.Fatalf("Counts() = %d, %d; want 2, 1", d, c)
	}
}

func TestParseMembership(t *testing.T) {
	m, r, ok := ParseMembership("app_writer in app_reader")
	if !ok || m != "app_writer" || r != "app_reader" {
		t.Fatalf("got %q %q %v", m, r, ok)
	}
	if _, _, ok := ParseMembership("nonsense"); ok {
		t.Fatal("parsed a name without \" in \"")
	}
}
