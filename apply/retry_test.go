package apply

import (
	"fmt"
	"testing"

	pgxconn "github.com/jackc/pgx/v5/pgconn"

	"github.com/pgferry/pgferry/internal/pgconn"
)

// TestConnectErrorRetryable: a connection refused while the server starts up (57P03) is retried
// although Connect rewords its message; a wrong password is not.
func TestConnectErrorRetryable(t *testing.T) {
	for _, tc := range []struct {
		name string
		code string
		want bool
	}{
		{"starting up", "57P03", true},
		{"too many connections", "53300", true},
		{"wrong password", "28P01", false},
		{"no such database", "3D000", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pe := &pgxconn.PgError{Severity: "FATAL", Code: tc.code, Message: "the database system is starting up"}
			err := &pgconn.ConnectError{Msg: `target "tgt" (127.0.0.1:5432): ` + pgconn.ConnectCause(pe, "u", "d"), Err: pe}
			if got := retryable(fmt.Errorf("copying: %w", err)); got != tc.want {
				t.Errorf("retryable(%v) = %v, want %v", err, got, tc.want)
			}
		})
	}
}
