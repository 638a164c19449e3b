// Package app is pgferry's application layer, between the CLI (package main, which parses flags
// and renders through internal/views) and the domain packages. It opens a migration (Open: the
// configuration's migration and its state backend), reads it once (Inspect: both servers'
// catalogs and the state, as one snapshot.Snapshot that checks, plan and apply take), plans it
// (Plan: validations, plan.Build, the stamp and the catalogs' digests) and records what the
// commands decide in the state (a refused apply, a finished apply's baseline, a rollback).
//
// Its functions return errors, never exit codes, and print nothing: what the user sees is the
// caller's (views'). Errors may hold secrets only through the servers' own messages; callers
// redact them with Session.Secrets.
package app
