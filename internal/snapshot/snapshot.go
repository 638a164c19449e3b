package snapshot

import (
	"strings"
	"time"

	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/state"
)

// Snapshot is one reading of a migration's servers and state. It is plain data: nothing in it
// holds a connection, and nothing changes it after app.Inspect returns.
type Snapshot struct {
	// Config is the loaded configuration (for its non-sensitive variables, which a plan records).
	Config    *config.Config
	Migration *config.Migration
	// Source and Target are the instances' catalogs (roles, databases, settings, version).
	Source *catalog.Instance
	Target *catalog.Instance
	// Databases are the selected databases (plan.SelectDatabases), in migration order.
	Databases []string
	// SourceDBs holds the catalog of every selected source database as the table filters
	// (include_tables, exclude_tables) select it: filtered once, when the snapshot is taken.
	SourceDBs map[string]*catalog.Database
	// TargetDBs holds the catalog of every selected database that exists on the target and
	// accepts connections.
	TargetDBs map[string]*catalog.Database
	// Tools is the pg_dump/pg_restore pair found, or nil with ToolsErr saying why not.
	Tools    *pgdump.Tools
	ToolsErr error
	// State is the migration's state, or nil when it has none yet.
	State *state.State
	// CopySamples holds, by database and then by table (catalog.Table.Key), the samples of
	// the tables whose COPY format copy_format = "auto" decides by one (plan.CopySampled):
	// the same rows measured as each format streams them (apply.SampleCopyFormats).
	CopySamples map[string]map[string]CopySample
	// LinkBytesPerSec is how fast the slower of the two links pgferry stands between carried
	// plain bytes when the samples were taken (source to pgferry, pgferry to target), and
	// CopyBytesPerSec how fast the source streamed the samples in binary COPY: only a link clearly
	// slower than COPY bounds the copies (plan.LinkBoundsCopy). 0 when not measured.
	LinkBytesPerSec, CopyBytesPerSec int64
}

// CopySample is what a sample of a table's rows measured: the bytes of the same rows as the
// source's COPY streams them in text and in binary format, or why it could not be taken.
type CopySample struct {
	Rows   int64
	Text   int64
	Binary int64
	// BinaryTime is how long the binary sample took to stream.
	BinaryTime time.Duration
	// Err says why the sample failed ("" when it was taken); the table is then copied in binary.
	Err string
}

// FirstUnfinished is the first selected database whose migration the state does not show
// complete, or "".
func (s *Snapshot) FirstUnfinished() string { return s.State.FirstUnfinished(s.Databases) }

// SourceIdentity names the source server as a plan and the state record it: with the system
// identifier and version when its catalog was read.
func (s *Snapshot) SourceIdentity() state.Identity { return Identity(s.Migration.Source, s.Source) }

// TargetIdentity names the target server as SourceIdentity names the source.
func (s *Snapshot) TargetIdentity() state.Identity { return Identity(s.Migration.Target, s.Target) }

// Identity names srv without secrets; in, when not nil, is its catalog.
func Identity(srv *config.Server, in *catalog.Instance) state.Identity {
	id := state.Identity{Name: srv.Name, Host: srv.Dialed(), Port: srv.Port, User: srv.User, Type: srv.Type}
	if in != nil {
		id.SystemIdentifier, id.Version, id.VersionNum = in.SystemIdentifier, strings.Fields(in.Version + " ")[0], in.VersionNum
	}
	return id
}
