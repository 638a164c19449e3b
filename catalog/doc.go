// Package catalog reads a PostgreSQL server's catalogs into plain Go values.
//
// It owns the SQL that inspects a server: instance facts (version, roles,
// memberships, databases, settings) and, per database, extensions, schemas,
// tables with size and row estimates, indexes, constraints and sequences.
// Every read is a set-based query (never one query per object), written to work
// on every supported source version (9.5 and later). The values it returns are
// plain data: plan, checks and apply decide what they mean.
package catalog
