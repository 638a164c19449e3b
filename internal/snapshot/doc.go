// Package snapshot holds what pgferry learns about a migration before it acts: the configuration,
// both instances' catalogs, the selected databases as read on each side, the pg_dump tools and the
// state. internal/app reads it once (app.Inspect); checks, plan and apply then only read it, so a
// filter or a selection is applied in exactly one place.
package snapshot
