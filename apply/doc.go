// Package apply executes a plan against the servers: roles, databases, schema from
// pg_dump, data streamed with COPY from one exported snapshot, indexes and constraints
// built in parallel, sequences, ANALYZE and verification. It reports what it does as
// events and records every finished action in the state before anything depends on it.
package apply
