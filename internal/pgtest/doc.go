// Package pgtest owns real PostgreSQL servers for tests, benchmarks and the
// demo: it finds server binaries of a given major version, creates throw-away
// clusters with initdb on free loopback ports, starts, stops and restarts them,
// and describes what a database holds in forms that two databases can be
// compared by after a migration:
//
//   - Fingerprint: row counts and order-independent content hashes of every
//     table and materialized view, plus every sequence's position;
//   - SchemaDump: pg_dump --schema-only, normalised to drop what varies
//     between dumps of equal schemas;
//   - Roles: the non-system roles with their attributes and memberships.
//
// Binaries come from /usr/lib/postgresql/<major>/bin (Debian packages) or
// from the npm cache that `make pg-versions` fills
// ($PGFERRY_PG_CACHE/<major>, default /opt/pgferry-pg/<major>).
//
// PostgreSQL refuses to run as root. When the calling process is root, every
// server program runs as the `postgres` OS user and every cluster directory is
// chowned to it; such directories must therefore live where that user can
// reach them (os.TempDir, /opt, ...), never under a root-only 0700 directory
// such as t.TempDir() or testscript's $WORK.
//
// script.go plugs the same machinery into testscript as commands (pgstart,
// sql, fingerprint, schemacmp, ...) and conditions ([pg13]), so CLI scripts
// can start servers and check what pgferry did to them.
package pgtest
