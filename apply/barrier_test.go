package apply

import (
	"context"
	"testing"

	"github.com/pgferry/pgferry/config"
)

// The durability barrier commits a transaction that wrote WAL (a logical message) synchronously;
// a login not allowed to emit one waits for the WAL writer to pass the insert position instead.
func TestBarrier(t *testing.T) {
	c := start15(t)
	ctx := context.Background()
	if err := c.Exec(ctx, "postgres", `CREATE ROLE plain LOGIN PASSWORD 'plain-pw';
		REVOKE EXECUTE ON FUNCTION pg_catalog.pg_logical_emit_message(boolean, text, text) FROM PUBLIC`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user, password string
		byLSN          bool
	}{
		{c.User, c.Password, false},
		{"plain", "plain-pw", true},
	} {
		d := &dbRun{r: &Runner{m: &config.Migration{Target: serverOf(c, "target", tc.user, tc.password)}}, db: "postgres"}
		if err := d.openBarrier(ctx); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if err := d.confirmDurable(ctx); err != nil {
				t.Fatalf("%s: confirmDurable: %v", tc.user, err)
			}
		}
		if d.barrierByLSN != tc.byLSN {
			t.Errorf("%s: barrier by LSN = %v, want %v", tc.user, d.barrierByLSN, tc.byLSN)
		}
		d.barrier.Close(ctx)
	}
}
