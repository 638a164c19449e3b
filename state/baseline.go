package state

import (
	"maps"
	"time"
)

// Baseline is what a finished apply left on the target, recorded so that destroy and cancel can
// tell whether the target was used since (rows written to migrated tables, objects created,
// migrated roles altered) before they drop it. It holds counters and hashes, never a secret
// (a password is kept only as part of a hash of the role's definition).
type Baseline struct {
	At time.Time `json:"at"`
	// XidNext is the target cluster's next transaction ID (txid_current_snapshot()'s xmax, with
	// epoch) when the baseline was taken: while it has not moved, no transaction has written
	// anything anywhere on the target since.
	XidNext int64 `json:"xid_next"`
	// TrackCounts is false when the target had track_counts off: the row counters do not move.
	TrackCounts bool `json:"track_counts"`
	// Databases by name: the migrated databases.
	Databases map[string]*DatabaseBaseline `json:"databases,omitempty"`
	// Roles by name: the roles the migration created or altered.
	Roles map[string]*RoleBaseline `json:"roles,omitempty"`
}

// DatabaseBaseline is one migrated database as apply left it.
type DatabaseBaseline struct {
	// StatsReset is pg_stat_database.stats_reset (RFC 3339, "" when never reset): a reset since
	// (pg_stat_reset, a crash) makes the counters incomparable.
	StatsReset string `json:"stats_reset,omitempty"`
	// Objects counts the user objects (schemas, relations, columns, functions, types,
	// constraints, triggers, rules, extensions; temporary ones excluded), MaxOID is the highest
	// of their OIDs and Hash a sum of hashes of their definitions.
	Objects int64 `json:"objects"`
	MaxOID  int64 `json:"max_oid"`
	Hash    int64 `json:"hash"`
	// Tables maps each user table ("schema"."name") to [relfilenode, n_tup_ins, n_tup_upd,
	// n_tup_del] from pg_stat_user_tables.
	Tables map[string][4]int64 `json:"tables,omitempty"`
}

// RoleBaseline holds hashes of a role's parts as apply left it; an empty field was not read.
type RoleBaseline struct {
	Attributes  string `json:"attributes"`
	Memberships string `json:"memberships"`
	Settings    string `json:"settings"`
	// Password is a hash of the role's password hash, set only when the target login could read
	// pg_authid (a superuser).
	Password string `json:"password,omitempty"`
}

// Clone returns a deep copy of b.
func (b *Baseline) Clone() *Baseline {
	if b == nil {
		return nil
	}
	c := *b
	if b.Databases != nil {
		c.Databases = make(map[string]*DatabaseBaseline, len(b.Databases))
		for k, d := range b.Databases {
			dc := *d
			dc.Tables = maps.Clone(d.Tables)
			c.Databases[k] = &dc
		}
	}
	if b.Roles != nil {
		c.Roles = make(map[string]*RoleBaseline, len(b.Roles))
		for k, r := range b.Roles {
			rc := *r
			c.Roles[k] = &rc
		}
	}
	return &c
}
