package state

import (
	"context"
	"fmt"
)

// Backend types accepted by Open.
const (
	TypeLocal = "local"
	TypePG    = "pg"
)

// Open returns the backend of type typ: "local" (or "") keeps states under the
// directory path (default ".pgferry"); "pg" keeps them in schema (default
// "pgferry") of the database connStr points to.
func Open(ctx context.Context, typ, path, connStr, schema string) (Backend, error) {
	switch typ {
	case "", TypeLocal:
		return NewLocal(path)
	case TypePG:
		if connStr == "" {
			return nil, fmt.Errorf(`backend "pg": conn_str is empty (set it, e.g. conn_str = env("PGFERRY_STATE_DSN"))`)
		}
		return NewPG(ctx, connStr, schema)
	default:
		return nil, fmt.Errorf("unknown state backend %q: use %q or %q", typ, TypeLocal, TypePG)
	}
}
