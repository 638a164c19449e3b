// Package apply executes a plan against the servers: roles, databases, schema from
// pg_dump, data streamed with COPY from one exported snapshot, indexes and constraints
// built in parallel, sequences, ANALYZE and verification. It reports what it does as
// events and records every finished action in the state before anything depends on it.
//
// A database's actions run in runGraph (graph.go) on internal/sched, the scheduler, with a worker
// per lane (worker.go: copy.go, postdata.go, largeobj.go, schema.go do the work) and the flusher
// (flush.go) confirming finished actions durable; database.go prepares a database's run,
// record.go keeps the state, roles.go runs the instance's actions. Connections are opened by
// internal/pgconn.
package apply
