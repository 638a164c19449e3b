package apply

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgconn"
	"github.com/pgferry/pgferry/internal/pgver"
)

// Connect is pgconn.Connect, kept while verify.go, destroy.go and drift.go call it here.
func Connect(ctx context.Context, s *config.Server, db string) (*pgx.Conn, error) {
	return pgconn.Connect(ctx, s, db)
}

// serverVersionNum is pgconn.ServerVersion, kept while drift.go calls it here.
func serverVersionNum(conn *pgx.Conn) pgver.V { return pgconn.ServerVersion(conn) }
