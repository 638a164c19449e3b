package plan

import (
	"sync"
	"time"

	"github.com/pgferry/pgferry/internal/addrindex"
	"github.com/pgferry/pgferry/internal/snapshot"
	"github.com/pgferry/pgferry/state"
)

// FormatVersion is the version of the saved-plan document (plan --out); plan --json has its own
// version, views.JSONFormatVersion.
const FormatVersion = "1.0"

// Kind is what an action does to its object.
type Kind string

// The action kinds, with Terraform's symbols.
const (
	Create  Kind = "create"
	Update  Kind = "update"
	Replace Kind = "replace"
	Delete  Kind = "delete"
)

// Symbol is the one-glyph form shown in plans.
func (k Kind) Symbol() string {
	switch k {
	case Create:
		return "+"
	case Update:
		return "~"
	case Replace:
		return "-/+"
	case Delete:
		return "-"
	}
	return "?"
}

// Action types.
const (
	TypeRole       = "role"
	TypeParameter  = "server_parameter"
	TypeMembership = "membership"
	TypeDatabase   = "database"
	TypeExtension  = "extension"
	TypeSchema     = "schema"
	TypeTable      = "table"
	TypeTablePart  = "table_part"
	TypeIndex      = "index"
	TypeConstraint = "constraint"
	TypeSequences  = "sequences"
	TypeLargeObj   = "large_objects"
	TypeExtData    = "extension_data"
	TypePostData   = "post_data"
	TypeAnalyze    = "analyze"
	TypeVerify     = "verify"
)

// TypeLoginMembership grants the target's login (not a superuser) a role that owns migrated
// objects, so that it can give them to it; its address is that of a membership,
// role.LOGIN.member_of["ROLE"].
const TypeLoginMembership = "login_membership"

// TypeOwnership gives the objects a source role owns in a database to another role on the
// target (catalog.DecideOwners): apply rewrites pg_dump's statements with Plan.OwnerMap as it
// runs them, and this action, after them, confirms that nothing migrated kept the source role.
// Its address is database.DB.ownership["ROLE"]; Name is the source role, Table the target one.
const TypeOwnership = "ownership"

// Action is one step of a plan. Its Address is stable across plans of the same inputs.
type Action struct {
	Address  string `json:"address"`
	Type     string `json:"type"`
	Kind     Kind   `json:"kind"`
	Database string `json:"database,omitempty"`
	Schema   string `json:"schema,omitempty"`
	Name     string `json:"name,omitempty"`
	Table    string `json:"table,omitempty"`
	Reason   string `json:"reason"`
	// RowsEstimate and BytesEstimate are catalog estimates for data actions.
	RowsEstimate  int64    `json:"rows_estimate,omitempty"`
	BytesEstimate int64    `json:"bytes_estimate,omitempty"`
	DependsOn     []string `json:"depends_on,omitempty"`
	// Details are lines shown under the action (never secrets).
	Details []string `json:"details,omitempty"`
	Hazards []Hazard `json:"hazards,omitempty"`
	// SourceOID identifies the source object (index or constraint) for apply.
	SourceOID uint32 `json:"source_oid,omitempty"`
	// ConstraintOID is set for an index that backs a constraint.
	ConstraintOID uint32 `json:"constraint_oid,omitempty"`
	// Parts is the number of parts a split table is copied in (its table action only empties it).
	Parts int `json:"parts,omitempty"`
	// Part numbers a table part from 1; PageFrom and PageTo bound its heap pages (PageTo 0: to the end).
	Part     int   `json:"part,omitempty"`
	PageFrom int64 `json:"page_from,omitempty"`
	PageTo   int64 `json:"page_to,omitempty"`
	// CopyFormat is the COPY format of a table's (or part's) rows, "binary" or "text" (copy_format,
	// plan/data.go); "" in plans made before it was recorded: binary where safe.
	CopyFormat string `json:"copy_format,omitempty"`
}

// Hazard is a typed warning about an action, with a stable UPPER_SNAKE code.
type Hazard struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Plan is everything apply needs, and everything a reviewer reads.
type Plan struct {
	FormatVersion     string             `json:"format_version"`
	ToolVersion       string             `json:"tool_version"`
	Migration         string             `json:"migration"`
	CreatedAt         time.Time          `json:"created_at"`
	ConfigFingerprint string             `json:"config_fingerprint"`
	Source            state.Identity     `json:"source"`
	Target            state.Identity     `json:"target"`
	SourceFingerprint string             `json:"source_fingerprint"`
	TargetFingerprint string             `json:"target_fingerprint"`
	StateLineage      string             `json:"state_lineage,omitempty"`
	StateSerial       int64              `json:"state_serial"`
	Databases         []string           `json:"databases"`
	Validations       []state.Validation `json:"validations"`
	Actions           []*Action          `json:"actions"`
	Summary           Summary            `json:"summary"`
	// OwnerMap maps each source role whose objects go to another role on the target to that
	// role (catalog.DecideOwners): what apply rewrites pg_dump's owners, grants and default
	// privileges with.
	OwnerMap map[string]string `json:"owner_map,omitempty"`
	// Login is the target login (current_user) the plan was made with, and LoginSuperuser whether
	// it is a superuser: how apply runs pg_dump's grants made by another role.
	Login          string `json:"login,omitempty"`
	LoginSuperuser bool   `json:"login_superuser,omitempty"`
	// Variables holds the non-sensitive variable values the plan was made with.
	Variables map[string]string `json:"variables,omitempty"`
	// SourceDigest and TargetDigest hash each object the plan depends on, one entry per role,
	// database, table (with its indexes and constraints) and extension, so that a stale plan names
	// what changed; the fingerprints hash them whole. No entry holds a password hash.
	SourceDigest map[string]string `json:"source_digest,omitempty"`
	TargetDigest map[string]string `json:"target_digest,omitempty"`
	// Forecast is how long apply is expected to take (internal/forecast), or why no forecast
	// could be made (Unavailable); nil when there is nothing to apply.
	Forecast *state.Forecast `json:"forecast,omitempty"`
	// byAddr finds Actions by address (Action).
	byAddr actionIndex
}

// actionIndex finds a plan's actions by address (A plan of 100,000 tables has 310,000 actions, and
// the forecast looks many of them up); Action may be called from several goroutines.
type actionIndex struct {
	mu sync.Mutex
	addrindex.Index
}

// Summary counts the plan's actions.
type Summary struct {
	Add         int   `json:"add"`
	Change      int   `json:"change"`
	Destroy     int   `json:"destroy"`
	Roles       int   `json:"roles"`
	Databases   int   `json:"databases"`
	Tables      int   `json:"tables"`
	Indexes     int   `json:"indexes"`
	Constraints int   `json:"constraints"`
	Rows        int64 `json:"rows_estimate"`
	Bytes       int64 `json:"bytes_estimate"`
	Failed      int   `json:"validations_failed"`
	Warnings    int   `json:"validations_warning"`
}

// HasChanges reports whether applying the plan would do anything.
func (p *Plan) HasChanges() bool { return len(p.Actions) > 0 }

// ValidationFailed reports whether any validation Failed.
func (p *Plan) ValidationFailed() bool { return p.Summary.Failed > 0 }

// Action returns the action with that address, or nil.
func (p *Plan) Action(addr string) *Action {
	if len(p.Actions) > 16 {
		x := &p.byAddr
		x.mu.Lock()
		defer x.mu.Unlock()
		if i := x.Find(len(p.Actions), func(i int) string { return p.Actions[i].Address }, addr); i >= 0 {
			return p.Actions[i]
		}
		return nil
	}
	for _, a := range p.Actions {
		if a.Address == addr {
			return a
		}
	}
	return nil
}

// Input is everything Build looks at: a snapshot of the migration (SourceDBs as the table
// filters select them, TargetDBs the selected databases that exist on the target, State nil
// before the first apply) and the validations' results.
type Input struct {
	*snapshot.Snapshot
	Validations []state.Validation
}
