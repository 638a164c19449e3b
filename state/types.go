package state

import (
	"context"
	"github.com/pgferry/pgferry/internal/addrindex"
	"github.com/pgferry/pgferry/internal/pgver"
	"time"
)

// FormatVersion is the version of the state document written by this build.
const FormatVersion = 1

// Status is a migration's status, as Azure's migration service names them, plus Interrupted.
type Status string

// Status values.
const (
	StatusInProgress       Status = "In progress"
	StatusSucceeded        Status = "Succeeded"
	StatusFailed           Status = "Failed"
	StatusValidationFailed Status = "Validation failed"
	StatusCanceled         Status = "Canceled"
	// StatusInterrupted: the apply stopped before it finished without failing: Ctrl-C or
	// SIGTERM (recorded so), or its process died (never recorded: the state still says In
	// progress while nobody holds the lock, which Interrupted derives).
	StatusInterrupted Status = "Interrupted"
)

// Substatus values.
const (
	SubPrerequisites = "Performing prerequisite steps"
	SubValidation    = "Validation in progress"
	SubMigratingData = "Migrating data"
	SubCompleting    = "Completing migration"
	SubCompleted     = "Completed"
)

// ActionStatus is what became of one action.
type ActionStatus string

// Action status values.
const (
	ActionPending ActionStatus = "pending"
	ActionRunning ActionStatus = "running"
	ActionApplied ActionStatus = "applied"
	ActionFailed  ActionStatus = "failed"
	ActionTainted ActionStatus = "tainted" // half done: must be cleaned up and redone
	// ActionInterrupted: the action was running when the apply was interrupted (or its process
	// died); the next apply does it again, from empty for a table.
	ActionInterrupted ActionStatus = "interrupted"
)

// Outcome is a validation's result.
type Outcome string

// The outcomes, as Azure's migration service names them.
const (
	Succeeded Outcome = "Succeeded"
	Warning   Outcome = "Warning"
	Failed    Outcome = "Failed"
)

// ActionKind is an action's kind as the state keeps it: the plan's symbol.
type ActionKind string

// The action kinds (plan.Kind's symbols).
const (
	KindCreate  ActionKind = "+"
	KindUpdate  ActionKind = "~"
	KindReplace ActionKind = "-/+"
	KindDelete  ActionKind = "-"
)

// State is everything pgferry knows about one migration. It never holds a password.
type State struct {
	FormatVersion int    `json:"format_version"`
	Lineage       string `json:"lineage"` // UUID fixed when the state is first created
	Serial        int64  `json:"serial"`  // bumped by every Write
	Migration     string `json:"migration"`
	ToolVersion   string `json:"tool_version"`

	Source Identity `json:"source"`
	Target Identity `json:"target"`
	// ConfigFingerprint is a hash of the migration's non-secret configuration.
	ConfigFingerprint string   `json:"config_fingerprint"`
	MigrationMode     string   `json:"migration_mode"` // "Offline"
	MigrationType     string   `json:"migration_type"` // e.g. "On-premises to Azure Database for PostgreSQL" / "PostgreSQL to PostgreSQL"
	Databases         []string `json:"databases"`

	Status     Status     `json:"status"`
	Substatus  string     `json:"substatus"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	UpdatedAt  *time.Time `json:"updated_at,omitempty"`
	Error      string     `json:"error,omitempty"`
	// Run is the latest apply's own start (StartedAt stays the migration's through resumes), jobs
	// and forecast: what its run needs to be recorded by the next command should its process die
	// before it records the run itself (State.DeadRun). Nil in states of an older pgferry.
	Run *RunStart `json:"run,omitempty"`

	Validations []Validation `json:"validations"`
	// Actions in plan order.
	Actions []*Action `json:"actions"`
	// Created lists every object created or changed on the target, in the order it happened,
	// with what it was before, so destroy can undo exactly that in reverse.
	Created []Change `json:"changes"`
	// DestroyedAt is when `destroy` or `cancel` last rolled the migration back
	// (Created and Actions are then empty: the next apply starts afresh).
	DestroyedAt time.Time `json:"destroyed_at,omitzero"`
	// Baseline is what the last finished apply left on the target (nil: no apply finished since
	// the last rollback, or the migration was applied by a pgferry that did not record it).
	Baseline *Baseline `json:"baseline,omitempty"`

	// byAddr indexes Actions by address for Action and Upsert (a state holds an action per table,
	// index and constraint: tens of thousands). It is a cache, never the truth: every hit is
	// checked against Actions, and a stale index is rebuilt.
	byAddr addrindex.Index
}

// RunStart is what an apply says of its run when it starts (State.Run).
type RunStart struct {
	StartedAt time.Time `json:"started_at"`
	Jobs      int       `json:"jobs,omitempty"`
	// Forecast is what the apply's plan expected (nil: none made).
	Forecast *Forecast `json:"forecast,omitempty"`
}

// Identity names a server without secrets.
type Identity struct {
	Name             string  `json:"name"`
	Host             string  `json:"host"`
	Port             int     `json:"port"`
	User             string  `json:"user"`
	Type             string  `json:"type,omitempty"`
	SystemIdentifier string  `json:"system_identifier,omitempty"`
	Version          string  `json:"version,omitempty"` // server_version
	VersionNum       pgver.V `json:"version_num,omitempty"`
}

// Validation is one check's result.
type Validation struct {
	ID       string   `json:"id"`
	Level    string   `json:"level"` // instance | database
	Database string   `json:"database,omitempty"`
	Outcome  Outcome  `json:"outcome"`
	Message  string   `json:"message"`
	Objects  []string `json:"objects,omitempty"`
}

// Action is one plan action and what happened to it.
type Action struct {
	Address    string       `json:"address"`
	Kind       ActionKind   `json:"kind"`
	Database   string       `json:"database,omitempty"`
	Status     ActionStatus `json:"status"`
	StartedAt  *time.Time   `json:"started_at,omitempty"`
	FinishedAt *time.Time   `json:"finished_at,omitempty"`
	DurationMS int64        `json:"duration_ms,omitempty"`
	// Rows and Bytes are what the action moved; while a copy runs, Bytes is its progress so far
	// (saved every ProgressSaveEvery), against the plan's BytesEstimate and RowsEstimate.
	Rows          int64  `json:"rows,omitempty"`
	Bytes         int64  `json:"bytes,omitempty"`
	RowsEstimate  int64  `json:"rows_estimate,omitempty"`
	BytesEstimate int64  `json:"bytes_estimate,omitempty"`
	Error         string `json:"error,omitempty"`
	// Attempt counts how many times the action was started.
	Attempt int `json:"attempt,omitempty"`
	// Lane is the worker that ran the action (0 to jobs-1), for the run's timeline.
	Lane int `json:"lane,omitempty"`
}

// Change records one object created or changed on the target.
type Change struct {
	Type     string `json:"type"` // role | database | extension | role_attributes | server_parameter | membership | login_membership | ownership
	Name     string `json:"name"` // role or database name, parameter name, ...
	Database string `json:"database,omitempty"`
	Op       string `json:"op"` // created | altered
	// Before is what the object was before, for altered objects (SQL to restore, or the old value).
	Before string    `json:"before,omitempty"`
	At     time.Time `json:"at"`
}

// LockInfo describes a lock holder.
type LockInfo struct {
	ID        string    `json:"id"`
	Path      string    `json:"path"`
	Operation string    `json:"operation"` // apply | destroy | cancel
	Who       string    `json:"who"`       // user@host
	Version   string    `json:"version"`
	Created   time.Time `json:"created"`
}

// Backend persists and locks the states of migrations.
type Backend interface {
	// Read returns the state of a migration, or (nil, nil) when there is none.
	Read(ctx context.Context, migration string) (*State, error)
	// Write stores s durably and atomically, bumping s.Serial first; the previous
	// version is kept as a backup.
	Write(ctx context.Context, s *State) error
	// List returns every stored state.
	List(ctx context.Context) ([]*State, error)
	// Lock takes the migration's lock, waiting up to timeout (0: fail at once with *LockedError).
	// The returned Unlock releases it.
	Lock(ctx context.Context, migration string, info LockInfo, timeout time.Duration) (Unlock func() error, err error)
	// Locked reports whether an operation holds the migration's lock now. It only looks: it
	// never takes the lock from its holder, nor keeps a new holder from taking it.
	Locked(ctx context.Context, migration string) (bool, error)
	// ForceUnlock removes the lock with that ID, whoever holds it; the local backend refuses a
	// lock its process still holds (only a dead holder's is left behind there).
	ForceUnlock(ctx context.Context, migration, id string) error
	// Close releases the backend's resources.
	Close() error
	// RunStore keeps the migration's runs beside its state (SPEC §7).
	RunStore
}
