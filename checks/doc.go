// Package checks holds the premigration validations. Each check is a small analyzer with a
// stable id that looks at both catalogs (never at a live connection) and reports outcomes:
// Succeeded, Warning or Failed, with a message that says what to do.
package checks
