package pgconn

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	pgxconn "github.com/jackc/pgx/v5/pgconn"

	"github.com/pgferry/pgferry/config"
)

// TestConnectCause: connection errors become one short cause a user can act on.
func TestConnectCause(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"wrong password", &pgxconn.PgError{Code: "28P01"}, `password authentication failed for user "u": check the password`},
		{"no such database", &pgxconn.PgError{Code: "3D000"}, `database "d" does not exist`},
		{"no free slot", &pgxconn.PgError{Code: "53300"}, "too many connections"},
		{"starting up", &pgxconn.PgError{Code: "57P03"}, "the server is starting up or shutting down"},
		{"other SQLSTATE", &pgxconn.PgError{Code: "XX000", Message: "boom"}, "boom (SQLSTATE XX000)"},
		{"refused", &net.OpError{Op: "dial", Err: errors.New("connect: connection refused")}, "connection refused: is the server running"},
		{"no host", &net.OpError{Op: "dial", Err: errors.New("lookup x: no such host")}, "unknown host name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ConnectCause(tc.err, "u", "d"); !strings.HasPrefix(got, tc.want) {
				t.Errorf("ConnectCause = %q, want it to start with %q", got, tc.want)
			}
		})
	}
}

// TestConnectRefused: a server that is not there is named in one line, without the password,
// and the error still unwraps to the network error (a retry decision needs it).
func TestConnectRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	s := &config.Server{Kind: "target", Name: "tgt", Host: "127.0.0.1", Port: port, User: "u", Password: "s3cret-pw", SSLMode: "disable", DBName: "postgres"}
	_, err = Connect(context.Background(), s, "")
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	msg := err.Error()
	if strings.Contains(msg, "s3cret-pw") || strings.Contains(msg, "\n") {
		t.Errorf("error shows the password or spans lines: %q", msg)
	}
	if !strings.HasPrefix(msg, s.Label()+": connection refused") {
		t.Errorf("error %q, want it to name %s and the refusal", msg, s.Label())
	}
	var ce *ConnectError
	var ne *net.OpError
	if !errors.As(err, &ce) || !errors.As(err, &ne) {
		t.Errorf("error %T does not unwrap to a ConnectError and a network error", err)
	}
}

// TestToolConn: pg_dump connects to the same server, to the maintenance database by default.
func TestToolConn(t *testing.T) {
	s := &config.Server{Host: "h", FQDN: "h.example", Port: 5433, User: "u", Password: "p", DBName: "postgres", SSLMode: "require"}
	c := ToolConn(s, "")
	if c.Host != "h.example" || c.Port != 5433 || c.DBName != "postgres" || c.Password != "p" || c.SSLMode != "require" {
		t.Errorf("ToolConn = %+v", c)
	}
	if ToolConn(s, "app").DBName != "app" {
		t.Error("ToolConn ignores the database")
	}
}
