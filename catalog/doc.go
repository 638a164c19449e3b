// Package catalog reads a PostgreSQL server's catalogs into plain Go values.
//
// It owns the SQL that inspects a server: instance facts (version, roles,
// memberships, databases, settings) and, per database, extensions, schemas,
// tables with size and row estimates, indexes, constraints and sequences.
// Every read is a set-based query (never one query per object), written to work
// on every supported source version (9.5 and later). The values it returns are
// plain data: plan, checks and apply decide what they mean.
//
// Each kind of object has its types and readers in a file of its name (instance.go, roles.go,
// databases.go, tables.go, indexes.go, ...); ReadDatabase runs the per-database readers from one
// table (databaseReaders), and query.go holds the SQL filters and row helpers they share.
package catalog
