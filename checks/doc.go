// Package checks holds the premigration validations. Each check is a small analyzer with a
// stable id that looks at both catalogs (never at a live connection) and reports outcomes:
// Succeeded, Warning or Failed, with a message that says what to do and the objects concerned.
// Any Failed outcome makes the plan "Validation failed", so apply does nothing.
//
// The facts come from package catalog, which reads each catalog with a few set-based queries;
// a check that needs a new fact adds it there rather than querying here. Instance-level checks
// are in instance.go, database-level ones (run for every selected database) in database.go.
package checks
