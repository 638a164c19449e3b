package app

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/state"
)

// Session is one command's hold on a migration: the configuration, the migration it names and the
// migration's state backend, open until Close.
type Session struct {
	Config    *config.Config
	Migration *config.Migration
	// Secrets are the configuration's secret values, which no output may show (config.Redact).
	Secrets []string
	Backend state.Backend
	// ToolVersion is this pgferry's version, which plans and states record.
	ToolVersion string
	early       *earlyProbe    // the forecast's measures taken while the tables are sampled (plan.go)
	ahead       *aheadSessions // the probe's sessions, opened as the catalogs start to be read (plan.go)
	// Prefetch says that the apply forecast opens its first database's source (snapshot, schema
	// dump) while its plan is made, before its run starts: apply --auto-approve and apply PLANFILE
	// do, and so does the apply of a plan made by `plan` (saved, or reviewed and then applied
	// without a prompt); an apply that asks first does not.
	Prefetch bool
	// ProbeAfter, when set, is closed once the work the forecast's probe must not measure beside
	// is done: the schema dump an apply without a prompt starts while its plan is made
	// (apply.Prefetch.Done). Measured beside it, the servers look slower than the run will find them.
	ProbeAfter <-chan struct{}
}

// Open picks the migration named (or the only one, for "") from cfg and opens its state backend:
// backend.path is relative to the configuration's directory, .pgferry there by default.
func Open(ctx context.Context, cfg *config.Config, migration, toolVersion string) (*Session, error) {
	s := &Session{Config: cfg, Secrets: cfg.Secrets(), ToolVersion: toolVersion}
	m, err := cfg.Migration(migration)
	if err != nil {
		return nil, err
	}
	s.Migration = m
	if s.Backend, err = OpenBackend(ctx, cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// OpenBackend opens the state backend cfg declares: backend.path is relative to the
// configuration's directory, .pgferry there by default.
func OpenBackend(ctx context.Context, cfg *config.Config) (state.Backend, error) {
	b := cfg.Backend
	path := b.Path
	if path == "" {
		path = ".pgferry"
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(cfg.Dir, path)
	}
	backend, err := state.Open(ctx, b.Type, path, b.ConnStr, b.Schema)
	if err != nil {
		return nil, fmt.Errorf("opening the state backend: %w", err)
	}
	return backend, nil
}

// Close releases the state backend.
func (s *Session) Close() {
	if s != nil && s.Backend != nil {
		s.Backend.Close()
	}
}

// Redact removes the configuration's secrets from msg.
func (s *Session) Redact(msg string) string { return config.Redact(msg, s.Secrets) }
