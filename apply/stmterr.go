package apply

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/pgferry/pgferry/internal/pgdump"
)

// Statements the target refused.
//
// A statement that fails at apply — an entry of pg_dump's script, or one pgferry composed — is
// reported as a *StatementError: what apply was doing to which object, the statement (on one line,
// shortened, passwords redacted), the server's error and what to do about it. Its Error() is one
// line, which is also what the state records (never the statement); Lines() gives the rest, which
// the views print under it.

// StatementError is a statement the target refused. It unwraps to the server's *pgconn.PgError.
type StatementError struct {
	// Op is what the statement does to Object: "creating", "building", "granting privileges on".
	Op string
	// Object names the object, as a reader finds it in psql: `schema "public"`, `table
	// "public"."orders"`, `function "public".f(integer)`; "" when it is not known.
	Object string
	// Statement is the statement, on one line, at most statementMax characters, with its password
	// literals redacted; "" when it is not known.
	Statement string
	// Near is the text where the server places the error (its position), when it gave one.
	Near string
	// PgErr is the server's error. Its Code is "" when it was read from pg_restore's output, which
	// does not print it.
	PgErr *pgconn.PgError
	// Hint is pgferry's advice for this failure; "" when it has none. PgErr.Hint is the server's.
	Hint string
}

// Error is one line: `creating schema "public": must be able to SET ROLE "postgres" (SQLSTATE 42501)`.
func (e *StatementError) Error() string {
	msg := e.PgErr.Message
	if e.PgErr.Code != "" {
		msg += " (SQLSTATE " + e.PgErr.Code + ")"
	}
	if w := e.what(); w != "" {
		return w + ": " + msg
	}
	return msg
}

func (e *StatementError) what() string { return strings.TrimSpace(e.Op + " " + e.Object) }

func (e *StatementError) Unwrap() error { return e.PgErr }

// Lines are what the error says beyond Error(), one item a line, each "label: text": the statement,
// where in it, the server's detail, its hint and pgferry's.
func (e *StatementError) Lines() []string {
	var l []string
	add := func(label, s string) {
		if s = strings.TrimSpace(s); s != "" {
			l = append(l, label+": "+strings.Join(strings.Fields(s), " "))
		}
	}
	add("statement", e.Statement)
	if e.Near != "" {
		add("near", "«"+e.Near+"»")
	}
	add("detail", e.PgErr.Detail)
	add("hint", e.PgErr.Hint)
	add("hint", e.Hint)
	return l
}

// statementMax is how long a statement shown with an error may be.
const statementMax = 200

// execStatements runs sql, one statement or several, on c as c.Exec does (the simple query
// protocol, in c's current transaction), and tells which statement failed: the index of the
// statement (as pgdump.SplitStatements counts them) and its text. The server runs a string's
// statements in order and stops at the first error: the results read before it are those of the
// statements that succeeded.
func execStatements(ctx context.Context, c *pgx.Conn, sql string) (index int, failed string, err error) {
	mrr := c.PgConn().Exec(ctx, sql)
	n := 0
	for mrr.NextResult() {
		if _, err := mrr.ResultReader().Close(); err != nil {
			break
		}
		n++
	}
	if err = mrr.Close(); err == nil {
		return 0, "", nil
	}
	return n, failedStatement(sql, n), err
}

// failedStatement is statement n of sql (as pgdump.SplitStatements counts them), or sql when it
// cannot be told.
func failedStatement(sql string, n int) string {
	if stmts := pgdump.SplitStatements(sql); n < len(stmts) {
		return stmts[n]
	}
	return sql
}

// execPipelined runs msgs on c in order, each as one Query message of the simple query protocol,
// as execStatements runs one: a message of several statements is one implicit transaction outside
// a transaction block, and every message its own, committed before the next one starts; in a
// transaction block (BEGIN) they all run in it. Unlike a loop of execStatements, it does not wait
// for a message's reply before sending the next: it keeps up to window bytes of messages sent
// ahead of the replies it has read (a message larger than window is sent alone), so that a link's
// round trip is paid once per window rather than once per message. done(k), when not nil, is
// called as soon as message k's reply has been read (it was committed, outside a block).
//
// At the first message the server refuses, it returns the message's index, its statement that
// failed (as execStatements names it) and the server's error. The messages sent after it were
// sent already: outside a transaction block the server may run some of them before it notices c
// is closed, inside one they fail too. Either way c then has replies left unread, and the caller
// must close it.
//
// Sending never waits on replies nobody reads: the replies to window bytes of statements (a few
// bytes per statement) fit in the sockets' buffers.
func execPipelined(ctx context.Context, c *pgx.Conn, msgs []string, window int, done func(k int)) (index int, failed string, err error) {
	pc := c.PgConn()
	fe := pc.Frontend()
	// A write blocks only while the server runs statements instead of reading: a cancelled ctx
	// ends it (ReceiveMessage ends a read in the same way).
	stop := context.AfterFunc(ctx, func() { _ = pc.Conn().SetDeadline(time.Now()) })
	defer stop()
	sizes := make([]int, len(msgs))
	for k, m := range msgs {
		sizes[k] = len(m)
	}
	sent, inflight := 0, 0
	for k := range msgs {
		if n := sendAhead(sizes, k, sent, inflight, window); n > sent {
			for ; sent < n; sent++ {
				fe.SendQuery(&pgproto3.Query{String: msgs[sent]})
				inflight += sizes[sent]
			}
			if err := fe.Flush(); err != nil {
				return k, "", contextOr(ctx, err)
			}
		}
		n, pgErr, err := readReply(ctx, pc, fe)
		if err != nil {
			return k, "", contextOr(ctx, err)
		}
		if pgErr != nil {
			return k, failedStatement(msgs[k], n), pgErr
		}
		inflight -= sizes[k]
		if done != nil {
			done(k)
		}
	}
	if !stop() && ctx.Err() != nil {
		return len(msgs) - 1, "", ctx.Err() // a deadline was set on c: it is not to be used again
	}
	return 0, "", nil
}

// sendAhead is how many of the messages (of the given sizes) execPipelined has sent before it reads
// the reply to message read, sent of them having been sent with inflight bytes not yet replied to:
// more while they fit in window, and always message read itself.
func sendAhead(sizes []int, read, sent, inflight, window int) int {
	for sent < len(sizes) && (sent <= read || inflight+sizes[sent] <= window) {
		inflight += sizes[sent]
		sent++
	}
	return sent
}

// readReply reads the reply to one Query message, up to its ReadyForQuery: how many statements
// completed and the server's error, if it refused one.
func readReply(ctx context.Context, pc *pgconn.PgConn, fe *pgproto3.Frontend) (completed int, pgErr *pgconn.PgError, err error) {
	for {
		msg, err := pc.ReceiveMessage(ctx)
		if err != nil {
			if pgErr != nil {
				return completed, pgErr, nil // a FATAL error: the server closed the connection after it
			}
			return completed, nil, err
		}
		switch m := msg.(type) {
		case *pgproto3.CommandComplete:
			completed++
		case *pgproto3.ErrorResponse:
			if pgErr == nil {
				pgErr = pgconn.ErrorResponseToPgError(m)
			}
		case *pgproto3.CopyInResponse:
			// A COPY FROM STDIN has no data here: end it (it fails, and says so).
			fe.Send(&pgproto3.CopyFail{Message: "no COPY data is sent with this statement"})
			if err := fe.Flush(); err != nil {
				return completed, nil, err
			}
		case *pgproto3.ReadyForQuery:
			return completed, pgErr, nil
		}
	}
}

// contextOr is ctx's error when ctx is done (a write or read it ended), err otherwise.
func contextOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// newStatementError describes err, returned by running sql (failed is its statement that failed),
// as op applied to object: a *StatementError when the server refused the statement, err with that
// context otherwise (a lost connection).
func newStatementError(op, object, sql, failed string, err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", strings.TrimSpace(op+" "+object), err)
	}
	e := &StatementError{Op: op, Object: object, Statement: shortStatement(failed), PgErr: pe}
	e.Near = near(sql, pe.Position)
	e.Hint = hintFor(pe, failed)
	return e
}

// restoreQueryError describes a statement pg_restore ran that the server refused (op applied to
// object), from what pg_restore printed of it.
func restoreQueryError(op, object string, q pgdump.QueryError) error {
	pe := &pgconn.PgError{Severity: "ERROR", Message: q.Message, Detail: q.Detail, Hint: q.Hint}
	return &StatementError{Op: op, Object: object, Statement: shortStatement(q.Command), PgErr: pe, Hint: hintFor(pe, q.Command)}
}

// chunkError describes err, returned by running a chunk of pg_restore's script (failed is its
// statement that failed), naming the object from the chunk's header.
func chunkError(ch pgdump.Chunk, failed string, err error) error {
	op, object := "running", "an entry of pg_dump's script"
	if h, ok := ch.Header(); ok {
		op, object = entryObject(h)
	}
	return newStatementError(op, object, ch.SQL, failed, err)
}

// near returns the one-line text of sql from the error position pos (1-based, in characters), or ""
// without one, or when sql holds a password (the text might show part of it).
func near(sql string, pos int32) string {
	if pos <= 0 || redactSecrets(sql) != sql {
		return ""
	}
	i := 0
	for n := int32(1); n < pos && i < len(sql); n++ {
		_, size := utf8.DecodeRuneInString(sql[i:])
		i += size
	}
	if i >= len(sql) {
		return ""
	}
	return truncate(strings.Join(strings.Fields(sql[i:]), " "), 40)
}

var (
	// passwordLiteral matches the value of PASSWORD 'x' (CREATE/ALTER ROLE) and of the options
	// password 'x' (user mappings, foreign servers).
	passwordLiteral = regexp.MustCompile(`(?i)\b(password\s+)(?:E'(?:[^'\\]|\\.|'')*(?:'|$)|'(?:[^']|'')*(?:'|$))`)
	// passwordSetting matches password=x in a connection string (CREATE SUBSCRIPTION).
	passwordSetting = regexp.MustCompile(`(?i)\b(password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s']+)`)
)

// redactSecrets replaces password literals in a statement with '[redacted]'.
func redactSecrets(s string) string {
	s = passwordLiteral.ReplaceAllString(s, "${1}'[redacted]'")
	return passwordSetting.ReplaceAllString(s, "${1}[redacted]")
}

// shortStatement is a statement as an error shows it: passwords redacted, comments dropped, on one
// line, at most statementMax characters.
func shortStatement(s string) string {
	s = redactSecrets(s)
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "--") {
			continue
		}
		b.WriteString(l)
		b.WriteByte(' ')
	}
	return truncate(strings.Join(strings.Fields(b.String()), " "), statementMax)
}

// truncate cuts s to at most n characters, marking the cut with "…".
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// quoteName quotes a name as an identifier for messages.
func quoteName(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// qualifiedName is "schema"."name" (or "name" without a schema); a function's signature keeps its
// arguments unquoted: "public".f(integer).
func qualifiedName(schema, name string) string {
	n := quoteName(name)
	if i := strings.IndexByte(name, '('); i > 0 {
		n = quoteName(name[:i]) + name[i:]
	}
	if schema == "" {
		return n
	}
	return quoteName(schema) + "." + n
}

// taggedKinds are the kinds of more than one word that a comment's or privilege's tag may start
// with ("MATERIALIZED VIEW sales"): the longest first.
var taggedKinds = []string{"TEXT SEARCH CONFIGURATION", "TEXT SEARCH DICTIONARY", "TEXT SEARCH PARSER", "TEXT SEARCH TEMPLATE",
	"FOREIGN DATA WRAPPER", "MATERIALIZED VIEW", "PROCEDURAL LANGUAGE", "EVENT TRIGGER", "FOREIGN SERVER", "FOREIGN TABLE",
	"LARGE OBJECT", "OPERATOR CLASS", "OPERATOR FAMILY", "ACCESS METHOD", "USER MAPPING"}

// taggedObject names the object of a tag "KIND name", as COMMENT, ACL and SECURITY LABEL entries
// print it, in schema (of the object, "" for one outside schemas).
func taggedObject(tag, schema string) string {
	kind, name := "", tag
	for _, k := range taggedKinds {
		if strings.HasPrefix(tag, k+" ") {
			kind, name = k, tag[len(k)+1:]
			break
		}
	}
	if kind == "" {
		kind, name, _ = strings.Cut(tag, " ")
	}
	switch kind {
	case "COLUMN":
		// COLUMN table.column
		if t, c, ok := strings.Cut(name, "."); ok {
			return "column " + quoteName(c) + " of table " + qualifiedName(schema, t)
		}
	case "LARGE OBJECT", "CAST", "USER MAPPING":
		return strings.ToLower(kind) + " " + name
	}
	return strings.ToLower(kind) + " " + qualifiedName(schema, name)
}

// entryObject says what a pg_dump entry does and to which object, from its header.
func entryObject(h pgdump.Header) (op, object string) {
	// "table name" tags: constraints, triggers, rules, policies, column defaults, publications.
	onTable := func() (string, string) {
		t, n, ok := strings.Cut(h.Name, " ")
		if !ok {
			return h.Name, ""
		}
		return t, n
	}
	switch h.Type {
	case "CONSTRAINT", "FK CONSTRAINT", "CHECK CONSTRAINT":
		t, n := onTable()
		return "adding", "constraint " + quoteName(n) + " on table " + qualifiedName(h.Schema, t)
	case "TRIGGER", "POLICY":
		t, n := onTable()
		return "creating", strings.ToLower(h.Type) + " " + quoteName(n) + " on table " + qualifiedName(h.Schema, t)
	case "RULE":
		t, n := onTable()
		return "creating", "rule " + quoteName(n) + " on " + qualifiedName(h.Schema, t)
	case "DEFAULT":
		t, n := onTable()
		return "setting", "the default of column " + quoteName(n) + " of table " + qualifiedName(h.Schema, t)
	case "PUBLICATION TABLE":
		p, t := onTable()
		return "adding", "table " + qualifiedName(h.Schema, t) + " to publication " + quoteName(p)
	case "PUBLICATION TABLES IN SCHEMA":
		p, s := onTable()
		return "adding", "schema " + quoteName(s) + " to publication " + quoteName(p)
	case "ROW SECURITY":
		return "enabling row security on", "table " + qualifiedName(h.Schema, h.Name)
	case "ACL":
		return "granting privileges on", taggedObject(h.Name, h.Schema)
	case "COMMENT":
		return "setting the comment on", taggedObject(h.Name, h.Schema)
	case "SECURITY LABEL":
		return "setting the security label on", taggedObject(h.Name, h.Schema)
	case "DEFAULT ACL":
		o := strings.ToLower(h.Name)
		if h.Schema != "" {
			o += " in schema " + quoteName(h.Schema)
		}
		if h.Owner != "" {
			o += " of role " + quoteName(h.Owner)
		}
		return "setting", o
	case "SEQUENCE OWNED BY":
		return "setting the owning column of", "sequence " + qualifiedName(h.Schema, h.Name)
	case "SEQUENCE SET":
		return "setting", "sequence " + qualifiedName(h.Schema, h.Name)
	case "INDEX ATTACH":
		return "attaching", "index " + qualifiedName(h.Schema, h.Name)
	case "TABLE ATTACH":
		return "attaching", "table " + qualifiedName(h.Schema, h.Name)
	case "MATERIALIZED VIEW DATA":
		return "refreshing", "materialized view " + qualifiedName(h.Schema, h.Name)
	case "INDEX":
		return "building", "index " + qualifiedName(h.Schema, h.Name)
	case "DATABASE PROPERTIES":
		return "setting the properties of", "database " + quoteName(h.Name)
	case "BLOB", "LARGE OBJECT", "BLOB METADATA":
		return "creating", "large object " + h.Name
	case "CAST", "USER MAPPING":
		return "creating", strings.ToLower(h.Name[:min(len(h.Name), len(h.Type))]) + h.Name[min(len(h.Name), len(h.Type)):]
	case "STATISTICS DATA":
		return "restoring the statistics of", qualifiedName(h.Schema, h.Name)
	case "SHELL TYPE":
		return "creating", "type " + qualifiedName(h.Schema, h.Name)
	case "PROCEDURAL LANGUAGE":
		return "creating", "language " + quoteName(h.Name)
	case "SERVER":
		return "creating", "foreign server " + quoteName(h.Name)
	}
	return "creating", strings.ToLower(h.Type) + " " + qualifiedName(h.Schema, h.Name)
}

// quotedName is the first double-quoted name in a server message: role "x" does not exist.
var quotedName = regexp.MustCompile(`"((?:[^"]|"")*)"`)

func firstQuoted(msg string) string {
	if m := quotedName.FindStringSubmatch(msg); m != nil {
		return strings.ReplaceAll(m[1], `""`, `"`)
	}
	return ""
}

// hintFor is pgferry's advice for the failures it knows on a target, above all a managed one whose
// login is not a superuser; "" for others. stmt is the statement that failed.
func hintFor(pe *pgconn.PgError, stmt string) string {
	msg := pe.Message
	has := func(s ...string) bool {
		for _, x := range s {
			if strings.Contains(msg, x) {
				return true
			}
		}
		return false
	}
	upper := strings.ToUpper(strings.TrimSpace(stmt))
	// pg_restore's output has no SQLSTATE: the message tells the same.
	code := pe.Code
	if code == "" && strings.HasSuffix(msg, "does not exist") {
		code = "42704"
	} else if code == "" && strings.HasSuffix(msg, "already exists") {
		code = "42710"
	}
	switch {
	case has("must be able to SET ROLE", "must be member of role"):
		role := firstQuoted(msg)
		return fmt.Sprintf("the target login is not a member of role %s, so it cannot give it objects: map that role's objects to one the login can own with options.owner_map (e.g. owner_map = { %s = \"<role>\" }), or have an administrator GRANT %s TO the login; plan's owner_membership check lists the roles it needs",
			quoteName(role), role, sqlName(role))
	case has("is not available", "could not open extension control file", "allow-listed", "allowlisted", "allow listed"):
		return "the extension is not installed or not allowed on the target: install its package on the target server (on a managed service, allow-list it, e.g. in azure.extensions), then run pgferry apply again; plan's extensions check lists what the target lacks"
	case has("permission denied to create extension", "must be owner of extension", "to create this extension", "to alter this extension"):
		return "the target login may not create or alter this extension: have an administrator create it in the target database (on a managed service, allow-list it first), then run pgferry apply again"
	case has("permission denied to set parameter"):
		return fmt.Sprintf("only a superuser, or a role granted it (PostgreSQL 15+: GRANT SET ON PARAMETER %s TO the login), may set %s: have an administrator grant it, or remove the setting on the source (ALTER ... RESET %s)",
			sqlName(firstQuoted(msg)), quoteName(firstQuoted(msg)), sqlName(firstQuoted(msg)))
	case code == "42501" && (strings.HasPrefix(upper, "CREATE ROLE") || strings.HasPrefix(upper, "ALTER ROLE")):
		return "the target login may not give a role these attributes (SUPERUSER, REPLICATION, BYPASSRLS need a role that has them): have an administrator create the role on the target, or remove the attribute on the source; plan's superuser_roles and role_clashes checks say more"
	case code == "42704" && strings.HasPrefix(msg, "role "):
		return fmt.Sprintf("role %s does not exist on the target: create it there, or set options.roles = true to have pgferry migrate the roles, then run pgferry apply again", quoteName(firstQuoted(msg)))
	case code == "42704" && strings.HasPrefix(msg, "tablespace "):
		return fmt.Sprintf("create tablespace %s on the target (or move the objects to the default tablespace on the source); plan's tablespaces check lists what uses one", quoteName(firstQuoted(msg)))
	case code == "42704" && strings.HasPrefix(msg, "collation "):
		return fmt.Sprintf("the target has no collation %s (collation names differ across operating systems and ICU versions): create it on the target, or use one the target has on the source; plan's collations check lists them", quoteName(firstQuoted(msg)))
	case code == "42704" && strings.HasPrefix(msg, "unrecognized configuration parameter"):
		return "the target does not know this setting (an extension's, or one of another PostgreSQL version): load the extension on the target (shared_preload_libraries), or remove the setting on the source"
	case code == "53200" || has("max_locks_per_transaction"):
		return "the target ran out of lock table space: raise max_locks_per_transaction on the target (it takes a restart; plan's max_locks check says how high), then run pgferry apply again"
	case code == "42P07" || code == "42710" || code == "42P06" || code == "42723" || code == "42P04":
		return "the object exists on the target already: someone created it since the plan was made, or an interrupted earlier run did. Run pgferry plan to see what differs; drop the object on the target (or run pgferry destroy) if it is not to be kept, then run pgferry apply again"
	case code == "0A000":
		return "the target server does not support what this statement does (another PostgreSQL version, or a managed service's restriction): change the object on the source, or leave its table out with options.exclude_tables"
	case code == "42501" || has("must be owner of"):
		return "the target login lacks a privilege this statement needs: grant it as an administrator, or map the object's owner with options.owner_map; plan's target_privileges and owner_membership checks list what the login must hold"
	}
	return ""
}

var plainName = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// sqlName is a name as SQL the user would type holds it: quoted only when it needs quotes.
func sqlName(s string) string {
	if plainName.MatchString(s) {
		return s
	}
	return ident(s)
}
