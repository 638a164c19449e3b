package apply

import (
	"testing"

	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgtest"
)

// start15 starts a throwaway PostgreSQL 15 cluster, or skips the test when 15 is not installed.
func start15(t *testing.T) *pgtest.Cluster {
	t.Helper()
	if !pgtest.Available(15) {
		t.Skip("PostgreSQL 15 is not installed")
	}
	return pgtest.Start(t, 15)
}

// serverOf is the configuration of cluster c as a source or target logging in as user.
func serverOf(c *pgtest.Cluster, kind, user, password string) *config.Server {
	return &config.Server{Kind: kind, Name: kind[:3], Host: c.Host, Port: c.Port, User: user, Password: password, SSLMode: "disable", DBName: "postgres"}
}
