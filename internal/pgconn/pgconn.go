// Package pgconn opens pgferry's connections to the source and the target: Connect (one-line
// errors that name the server and never the password, a buffered reader for COPY), ToolConn (the
// same server for pg_dump and pg_restore), SessionSettings (what every migrating session sets)
// and ServerVersion.
package pgconn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/pgferry/pgferry/catalog"
	"github.com/pgferry/pgferry/config"
	"github.com/pgferry/pgferry/internal/pgdump"
	"github.com/pgferry/pgferry/internal/pgver"
)

// Connect opens a connection to database db ("" = the maintenance database) of s.
// Errors name the server and the cause in one line, never the password.
func Connect(ctx context.Context, s *config.Server, db string) (*pgx.Conn, error) {
	return connect(ctx, s, db, false)
}

// ConnectOneShot is Connect for a session whose queries each run once, as a catalog read's do:
// each query goes in one round trip (pgx.QueryExecModeExec: an unnamed statement, parsed, bound
// and run in one message train, results in text), where pgx's default prepares a named statement
// first, a round trip more per query that nothing reuses. Scanning text results into Go values
// gives what the binary format gave for the types pgx knows (every type of the catalogs).
func ConnectOneShot(ctx context.Context, s *config.Server, db string) (*pgx.Conn, error) {
	return connect(ctx, s, db, true)
}

func connect(ctx context.Context, s *config.Server, db string, oneShot bool) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(s.ConnString(db))
	if err != nil {
		return nil, fmt.Errorf("%s: invalid connection settings: %s", s.Label(), scrub(err.Error(), s.Password))
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	if oneShot {
		cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
		cfg.StatementCacheCapacity, cfg.DescriptionCacheCapacity = 0, 0
	}
	cfg.BuildFrontend = bufferedFrontend
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		if db == "" {
			db = s.DBName
		}
		return nil, &ConnectError{Msg: fmt.Sprintf("%s: %s", s.Label(), scrub(ConnectCause(err, s.User, db), s.Password)), Err: err}
	}
	return conn, nil
}

// ConnectError is a failed connection: its message (Msg) is ConnectCause's short one, and it
// unwraps to pgx's error (Err) so that a retry decision still sees the SQLSTATE (57P03 while a
// server starts up) or the network error under the reworded message.
type ConnectError struct {
	Msg string
	Err error
}

func (e *ConnectError) Error() string { return e.Msg }
func (e *ConnectError) Unwrap() error { return e.Err }

// bufferedFrontend reads from the server through a 128 KiB buffer: a COPY out of the source
// arrives as one message per row, which pgx would otherwise read 8 KiB per system call.
func bufferedFrontend(r io.Reader, w io.Writer) *pgproto3.Frontend {
	return pgproto3.NewFrontend(bufio.NewReaderSize(r, 128<<10), w)
}

// Opener opens sessions to database db on s for a catalog read on several connections
// (catalog.ReadDatabaseParallel, ReadDatabaseInSnapshot); each is closed by the function it returns.
func Opener(s *config.Server, db string) catalog.Opener {
	return func(ctx context.Context) (catalog.Querier, func(), error) {
		c, err := ConnectOneShot(ctx, s, db)
		if err != nil {
			return nil, nil, err
		}
		// The server's timeouts off, its formatting settings kept (a catalog read's definitions
		// print as a plain session's do).
		if _, err := c.Exec(ctx, timeoutsOffSQL(c)); err != nil {
			c.Close(context.WithoutCancel(ctx))
			return nil, nil, fmt.Errorf("%s: %w", s.Label(), err)
		}
		return c, func() { c.Close(context.WithoutCancel(ctx)) }, nil
	}
}

// ConnectCause turns a connection error into a short cause a user can act on.
func ConnectCause(err error, user, db string) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01":
			return fmt.Sprintf("password authentication failed for user %q: check the password (variable, env() or PGPASSWORD)", user)
		case "28000":
			return fmt.Sprintf("authentication rejected for user %q: %s (check pg_hba.conf and the user name)", user, pe.Message)
		case "3D000":
			return fmt.Sprintf("database %q does not exist: %s", db, "check the database name")
		case "53300":
			return "too many connections: the server has no free connection slot; lower jobs or raise max_connections"
		case "57P03":
			return "the server is starting up or shutting down: retry in a moment"
		}
		return fmt.Sprintf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	var ne *net.OpError
	if errors.As(err, &ne) {
		msg := ne.Err.Error()
		switch {
		case strings.Contains(msg, "connection refused"):
			return "connection refused: is the server running and listening on that host and port?"
		case strings.Contains(msg, "i/o timeout"):
			return "connection timed out: check the host, the port and any firewall"
		case strings.Contains(msg, "no such host"):
			return "unknown host name: check host (or fqdn)"
		}
		return msg
	}
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "failed to connect") {
		msg = msg[i+2:]
	}
	if strings.Contains(msg, "connection refused") {
		return "connection refused: is the server running and listening on that host and port?"
	}
	if strings.Contains(msg, "SSL is not enabled on the server") || strings.Contains(msg, "server refused TLS") {
		return "the server does not accept SSL: use sslmode = \"prefer\" or \"disable\", or enable SSL on the server"
	}
	return msg
}

func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "********")
}

// ToolConn describes s for pg_dump/pg_restore (password through the environment).
func ToolConn(s *config.Server, db string) pgdump.Conn {
	if db == "" {
		db = s.DBName
	}
	return pgdump.Conn{Host: s.Dialed(), Port: s.Port, User: s.User, Password: s.Password, DBName: db,
		SSLMode: s.SSLMode, SSLRootCert: s.SSLRootCert, SSLCert: s.SSLCert, SSLKey: s.SSLKey}
}

// SessionSettings make text output identical on both sides and keep long work alive: no statement,
// lock, idle or transaction timeout of the server, database or role can cut a long copy.
func SessionSettings(ctx context.Context, conn *pgx.Conn, floatDigits int) error {
	_, err := conn.Exec(ctx, SessionSettingsSQL(conn, floatDigits))
	return err
}

// SessionSettingsSQL is SessionSettings' statements, for a caller that sends more settings in the
// same message (one round trip).
func SessionSettingsSQL(conn *pgx.Conn, floatDigits int) string {
	return timeoutsOffSQL(conn) + fmt.Sprintf(`; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET TimeZone = 'UTC';
		SET extra_float_digits = %d; SET bytea_output = 'hex'`, floatDigits)
}

// timeoutsOffSQL turns off, for this session, every timeout a server or role may set against stuck
// sessions: pgferry's statements and its waits between them are long by design.
func timeoutsOffSQL(conn *pgx.Conn) string {
	sql := "SET statement_timeout = 0; SET lock_timeout = 0; SET idle_in_transaction_session_timeout = 0"
	v := ServerVersion(conn)
	if v.AtLeast(14) {
		sql += "; SET idle_session_timeout = 0"
	}
	if v.AtLeast(17) {
		sql += "; SET transaction_timeout = 0"
	}
	return sql
}

// ServerVersion reads the server's version from the connection's startup parameters (0 when
// it has none: every version test then takes the oldest server's path).
func ServerVersion(conn *pgx.Conn) pgver.V {
	v, _ := pgver.Parse(conn.PgConn().ParameterStatus("server_version"))
	return v
}
