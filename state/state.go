package state

import (
	"fmt"
	"os"
	"os/user"
	"slices"
	"time"

	"github.com/google/uuid"
)

// New returns the empty state of a new migration: current FormatVersion, a fresh
// Lineage, Serial 0 (the first Write makes it 1) and no status yet.
func New(migration string) *State {
	return &State{
		FormatVersion: FormatVersion,
		Lineage:       uuid.NewString(),
		Migration:     migration,
	}
}

// Action returns the action with that address, or nil. The pointer is the one
// stored in s.Actions, so changes through it change the state.
func (s *State) Action(addr string) *Action {
	if s == nil {
		return nil
	}
	if i := s.find(addr); i >= 0 {
		return s.Actions[i]
	}
	return nil
}

// Upsert stores a under its address: it replaces the action with the same
// address in place (keeping plan order), or appends a when there is none.
// a itself is stored, not a copy.
func (s *State) Upsert(a *Action) {
	if a == nil {
		return
	}
	if i := s.find(a.Address); i >= 0 {
		s.Actions[i] = a
		return
	}
	s.Actions = append(s.Actions, a)
}

// find returns the index in s.Actions of the action with that address, or -1. It
// indexes the actions appended since the last call, and rebuilds the index when a hit
// no longer matches (Actions was replaced or reordered by someone else).
func (s *State) find(addr string) int {
	return s.byAddr.Find(len(s.Actions), func(i int) string {
		if a := s.Actions[i]; a != nil {
			return a.Address
		}
		return ""
	}, addr)
}

// Clone returns a deep copy of s that shares no memory with it, so either can
// be changed without affecting the other (e.g. to compare before and after).
func (s *State) Clone() *State {
	if s == nil {
		return nil
	}
	c := *s
	c.byAddr.Reset()
	c.Databases = slices.Clone(s.Databases)
	c.StartedAt = cloneTime(s.StartedAt)
	c.FinishedAt = cloneTime(s.FinishedAt)
	c.UpdatedAt = cloneTime(s.UpdatedAt)
	if s.Run != nil {
		r := *s.Run
		r.Forecast = r.Forecast.Clone()
		c.Run = &r
	}
	if s.Validations != nil {
		c.Validations = make([]Validation, len(s.Validations))
		for i, v := range s.Validations {
			v.Objects = slices.Clone(v.Objects)
			c.Validations[i] = v
		}
	}
	if s.Actions != nil {
		c.Actions = make([]*Action, len(s.Actions))
		for i, a := range s.Actions {
			c.Actions[i] = a.Clone()
		}
	}
	c.Created = slices.Clone(s.Created) // Change holds only values
	c.Baseline = s.Baseline.Clone()
	return &c
}

// Clone returns a deep copy of a.
func (a *Action) Clone() *Action {
	if a == nil {
		return nil
	}
	c := *a
	c.StartedAt = cloneTime(a.StartedAt)
	c.FinishedAt = cloneTime(a.FinishedAt)
	return &c
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// NewLockInfo describes a lock about to be taken by this process for an
// operation (apply, destroy, cancel) of the given pgferry version: a fresh ID,
// Who as user@host, Created now. Lock fills Path.
func NewLockInfo(operation, version string) LockInfo {
	return LockInfo{
		ID:        uuid.NewString(),
		Operation: operation,
		Who:       whoAmI(),
		Version:   version,
		Created:   time.Now().UTC(),
	}
}

// complete fills the fields a caller left empty.
func (info LockInfo) complete(path string) LockInfo {
	if info.ID == "" {
		info.ID = uuid.NewString()
	}
	if info.Who == "" {
		info.Who = whoAmI()
	}
	if info.Created.IsZero() {
		info.Created = time.Now().UTC()
	}
	if info.Path == "" {
		info.Path = path
	}
	return info
}

func whoAmI() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	if name == "" {
		name = "unknown"
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return name + "@" + host
}

// checkMigrationName refuses names that cannot safely be a directory name or a
// key: the config allows letters, digits and '-', not starting with '-'; this
// also accepts '_' and '.' (not first) so that the state never rejects a name
// the config might accept in the future, while keeping paths inside the state
// directory.
func checkMigrationName(name string) error {
	if name == "" {
		return fmt.Errorf("invalid migration name: empty")
	}
	if len(name) > 200 {
		return fmt.Errorf("invalid migration name %q: longer than 200 characters", name)
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case (r == '-' || r == '_' || r == '.') && i > 0:
		default:
			return fmt.Errorf("invalid migration name %q: use letters, digits and '-', not starting with '-'", name)
		}
	}
	return nil
}

// DatabaseComplete reports whether the state records actions of database db and every one of
// them is applied: the database's migration finished.
func (s *State) DatabaseComplete(db string) bool {
	if s == nil {
		return false
	}
	n := 0
	for _, a := range s.Actions {
		if a != nil && a.Database == db {
			n++
			if a.Status != ActionApplied {
				return false
			}
		}
	}
	return n > 0
}

// FirstUnfinished is the first of dbs whose migration s does not show complete
// (DatabaseComplete), "" when all are.
func (s *State) FirstUnfinished(dbs []string) string {
	for _, db := range dbs {
		if !s.DatabaseComplete(db) {
			return db
		}
	}
	return ""
}

// Dead reports whether s is the state of an apply whose process died: it still says In
// progress while nobody holds the migration's lock (held, from Backend.Locked). A live apply
// holds its lock from before it writes In progress until after it writes its outcome.
func (s *State) Dead(held bool) bool {
	return s != nil && s.Status == StatusInProgress && !held
}

// AsInterrupted returns a copy of s recording what a dead apply (Dead) could not: the run is
// Interrupted, it stopped at its last state write (UpdatedAt, the last time known to pgferry), and
// the actions it was running were interrupted then. Nothing of it counts on in time.
func (s *State) AsInterrupted() *State {
	if s == nil {
		return nil
	}
	c := s.Clone()
	stop := c.UpdatedAt
	if stop == nil {
		stop = c.StartedAt
	}
	c.Status = StatusInterrupted
	c.FinishedAt = cloneTime(stop)
	for _, a := range c.Actions {
		if a == nil || a.Status != ActionRunning {
			continue
		}
		a.Status = ActionInterrupted
		if stop != nil {
			a.FinishedAt = cloneTime(stop)
			if a.StartedAt != nil && stop.After(*a.StartedAt) {
				a.DurationMS = stop.Sub(*a.StartedAt).Milliseconds()
			}
		}
	}
	return c
}
