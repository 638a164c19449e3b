package plan

// The destroy planner: what destroy undoes, in reverse order, of what a migration recorded in
// State.Created — and nothing else. Running the steps is apply's (apply.Destroy).

import (
	"fmt"
	"strings"

	"github.com/pgferry/pgferry/state"
)

// Change types and operations recorded in State.Created that destroy knows how to undo.
const (
	ChangeRole           = "role"
	ChangeRoleAttributes = "role_attributes"
	ChangeMembership     = "membership"
	// ChangeLoginMembership is a membership of the target's login in a role that owns migrated
	// objects (Name "LOGIN in ROLE"): created (revoked by destroy), or altered (Before restores
	// its options).
	ChangeLoginMembership = "login_membership"
	ChangeDatabase        = "database"
	ChangeExtension       = "extension"
	ChangeServerParameter = "server_parameter"
	// ChangeOwnership records that the objects of a source role in a database were given to
	// another role on the target (Name "FROM → TO", Op OpReassigned): nothing to undo outside the
	// database, which destroy drops when the migration created it.
	ChangeOwnership = "ownership"

	OpCreated = "created"
	OpAltered = "altered"
	OpDropped = "dropped"
	// OpReassigned: objects given to another owner (ChangeOwnership).
	OpReassigned = "reassigned"
)

// UndoStep is one thing destroy does on the target: drop an object the migration created
// (Kind Delete) or put back one it changed (Kind Update).
type UndoStep struct {
	Address string
	Kind    Kind
	Reason  string
	// Details are lines shown under the step (never secrets).
	Details []string
	// Change is what is undone; for an altered object, Before is the earliest recorded value,
	// which is what the object was before the migration first touched it.
	Change state.Change
	// covers are the indexes in State.Created this step undoes (the same object may have
	// been recorded more than once by resumed runs, and a database drop takes its
	// extensions with it).
	covers []int
}

// Covers returns the indexes in State.Created this step undoes: recording a destroy drops them
// from the state once the step succeeded.
func (s *UndoStep) Covers() []int { return s.covers }

// DestroyPlan is what destroy will do, in order, and what it cannot undo.
type DestroyPlan struct {
	Steps []*UndoStep
	// Notes say what cannot be undone (a database dropped by overwrite_databases) or is
	// deliberately left alone.
	Notes []string
	// forget are the indexes in State.Created that need no step (notes).
	forget []int
}

// Counts returns how many objects the plan drops and how many it puts back.
func (p *DestroyPlan) Counts() (destroy, change int) {
	for _, s := range p.Steps {
		if s.Kind == Delete {
			destroy++
		} else {
			change++
		}
	}
	return destroy, change
}

// Forgotten returns the indexes in State.Created that need no step (the notes' entries):
// recording a destroy drops them from the state.
func (p *DestroyPlan) Forgotten() []int { return p.forget }

// Empty reports whether there is nothing to do and nothing to say.
func (p *DestroyPlan) Empty() bool { return len(p.Steps) == 0 && len(p.Notes) == 0 }

// ParseMembership splits a membership change's Name, "MEMBER in ROLE".
func ParseMembership(name string) (member, role string, ok bool) {
	return strings.Cut(name, " in ")
}

func changeKey(c state.Change) string {
	return c.Type + "\x00" + c.Database + "\x00" + c.Name
}

// PlanDestroy builds the destroy plan of a state: State.Created in reverse order, one step per
// object. Objects not listed there existed before the migration and are never touched.
func PlanDestroy(st *state.State) *DestroyPlan {
	p := &DestroyPlan{}
	if st == nil {
		return p
	}
	droppedDBs := map[string]bool{} // databases this destroy drops
	for _, c := range st.Created {
		if c.Type == ChangeDatabase && c.Op == OpCreated {
			droppedDBs[c.Name] = true
		}
	}
	byKey := map[string]*UndoStep{}
	dbStep := map[string]*UndoStep{}
	var deferred []int // extensions inside dropped databases: covered by the database's step
	for i := len(st.Created) - 1; i >= 0; i-- {
		c := st.Created[i]
		if c.Type == ChangeExtension && c.Op == OpCreated && c.Database != "" && droppedDBs[c.Database] {
			deferred = append(deferred, i)
			continue
		}
		if c.Type == ChangeOwnership {
			// Inside the database: gone with it, or kept with a database that existed before.
			if droppedDBs[c.Database] {
				deferred = append(deferred, i)
			} else {
				p.forget = append(p.forget, i)
			}
			continue
		}
		if c.Op == OpDropped {
			p.forget = append(p.forget, i)
			what := c.Type + " " + c.Name
			if c.Type == ChangeDatabase {
				what = DatabaseAddr(c.Name)
			}
			p.Notes = append(p.Notes, fmt.Sprintf("%s existed before the migration and was dropped by it (overwrite_databases = true); destroy cannot restore it: restore it from a backup if you need it.", what))
			continue
		}
		key := changeKey(c)
		if s := byKey[key]; s != nil {
			s.covers = append(s.covers, i)
			if c.Op == OpAltered {
				// An earlier record holds the older value: the one to restore.
				s.Change.Before = c.Before
				s.Details = undoDetails(s.Change)
			}
			continue
		}
		s := undoStep(c)
		s.covers = []int{i}
		byKey[key] = s
		p.Steps = append(p.Steps, s)
		if c.Type == ChangeDatabase {
			dbStep[c.Name] = s
		}
	}
	for _, i := range deferred {
		if s := dbStep[st.Created[i].Database]; s != nil {
			s.covers = append(s.covers, i)
		}
	}
	// A database that existed (empty) before the migration keeps what the migration created
	// in it: it is not the migration's to drop, and its former contents are unknown.
	for _, a := range st.Actions {
		if a == nil || a.Kind != state.KindUpdate || a.Status == state.ActionPending || a.Database == "" ||
			a.Address != DatabaseAddr(a.Database) || droppedDBs[a.Database] {
			continue
		}
		p.Notes = append(p.Notes, fmt.Sprintf("%s existed before the migration (it was empty); the objects the migration created in it, extensions included, are not removed: drop them, or the database, by hand if you need it empty again.", a.Address))
	}
	return p
}

func undoStep(c state.Change) *UndoStep {
	s := &UndoStep{Change: c, Kind: Delete}
	switch c.Type {
	case ChangeDatabase:
		s.Address = DatabaseAddr(c.Name)
		s.Reason = "created by the migration; its sessions are terminated first"
	case ChangeRole:
		s.Address = RoleAddr(c.Name)
		s.Reason = "created by the migration"
	case ChangeMembership:
		member, role, _ := ParseMembership(c.Name)
		s.Address = MembershipAddr(member, role)
		s.Reason = fmt.Sprintf("membership of %q in %q granted by the migration", member, role)
	case ChangeLoginMembership:
		member, role, _ := ParseMembership(c.Name)
		s.Address = MembershipAddr(member, role)
		s.Reason = fmt.Sprintf("membership of the target login %q in %q granted by the migration", member, role)
		if c.Op == OpAltered {
			s.Kind = Update
			s.Reason = fmt.Sprintf("options of the target login %q's membership in %q changed by the migration are put back", member, role)
		}
	case ChangeExtension:
		s.Address = ExtensionAddr(c.Database, c.Name)
		s.Reason = "created by the migration"
	case ChangeRoleAttributes:
		s.Kind = Update
		s.Address = RoleAddr(c.Name)
		s.Reason = "role attributes changed by the migration are put back"
	case ChangeServerParameter:
		s.Kind = Update
		s.Address = "server_parameter." + c.Name
		s.Reason = "server parameter changed by the migration is put back"
	default:
		s.Address = c.Type + "." + c.Name
		s.Reason = fmt.Sprintf("recorded as %s %s, which this pgferry cannot undo", c.Type, c.Op)
	}
	s.Details = undoDetails(c)
	return s
}

func undoDetails(c state.Change) []string {
	switch c.Type {
	case ChangeRoleAttributes, ChangeLoginMembership:
		if c.Before != "" {
			return []string{c.Before}
		}
	case ChangeServerParameter:
		if c.Before == "" {
			return []string{fmt.Sprintf("ALTER SYSTEM RESET %s", c.Name)}
		}
		return []string{fmt.Sprintf("ALTER SYSTEM SET %s = %s", c.Name, settingLiteral(c.Before))}
	}
	return nil
}

// settingLiteral quotes a parameter value as a SQL string literal (ALTER SYSTEM SET).
func settingLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
