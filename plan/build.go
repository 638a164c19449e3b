package plan

import (
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/state"
)

// Build computes the plan. It never fails for a mismatch the validations report; it fails only
// when the inputs are inconsistent (a selected database without a source catalog).
//
// Each object kind has its planner, a method of builder (or of dbPlanner, for what lives in a
// database) in the file named after the kind: roles and memberships (roles.go), server
// parameters (parameters.go), then for each database its database action (databases.go),
// extensions (extensions.go), pre-data (schema.go), tables and their parts (tables.go), indexes
// (indexes.go), data outside tables (data.go), foreign keys and post-data (constraints.go),
// ownership changes (ownership.go), analyze and verify (finish.go). The order in which they add
// their actions is the order of the plan.
func Build(in Input) (*Plan, error) {
	b, err := newBuilder(in)
	if err != nil {
		return nil, err
	}
	o := in.Migration.Options
	if o.Roles {
		b.memberships(b.roles())
		b.loginMemberships()
	}
	if o.ServerParameters == "apply" {
		b.serverParameters()
	}
	for _, db := range b.p.Databases {
		if err := b.database(db); err != nil {
			return nil, err
		}
	}
	b.p.Summary = Summarize(b.p.Actions, b.p.Validations)
	return b.p, nil
}

// builder is what the planners of one Build share: the inputs, the plan they add actions to, and
// what the actions on roles leave for the databases.
type builder struct {
	in Input
	p  *Plan
	// changes are the owner changes decided for the owners of every selected database
	// (catalog.OwnerChanges); p.OwnerMap holds those that can be made.
	changes map[string]catalog.OwnerChange
	// roleAddrs are the actions on roles and memberships, which every database action waits for.
	roleAddrs []string
}

// newBuilder starts the plan: the selected databases, the state it follows, the owner changes and
// the target login.
func newBuilder(in Input) (*builder, error) {
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
	changes := catalog.OwnerChanges(catalog.OwnerPolicy{Roles: m.Options.Roles, Map: m.Options.OwnerMap}, in.Source, in.Target, in.SourceDBs, dbs)
	if om := catalog.OwnerMap(changes); len(om) > 0 {
		p.OwnerMap = om
	}
	p.Login, p.LoginSuperuser = in.Target.CurrentUser, in.Target.IsSuperuser
	return &builder{in: in, p: p, changes: changes}, nil
}

// add appends a to the plan.
func (b *builder) add(a *Action) { b.p.Actions = append(b.p.Actions, a) }

// applied reports whether the state records the action at addr as applied.
func (b *builder) applied(addr string) bool {
	if b.in.State == nil {
		return false
	}
	a := b.in.State.Action(addr)
	return a != nil && a.Status == state.ActionApplied
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
