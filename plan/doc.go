// Package plan turns (configuration, source catalog, target catalog, state) into a Plan:
// an ordered list of actions with stable addresses. It is a pure function: it never
// connects to a server, so the same inputs always give the same plan.
//
// plan.go holds the plan's types and addr.go its addresses. Build (build.go) composes one
// planner per object kind, each in its own file: roles.go, parameters.go, databases.go,
// extensions.go, schema.go, tables.go, indexes.go, data.go (extension configuration rows,
// large objects, sequences), constraints.go (foreign keys and post-data), ownership.go and
// finish.go (analyze, verify); summary.go counts the result.
package plan
