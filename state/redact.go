package state

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// scrubber removes a connection string's secrets from error messages. pgx keeps
// passwords out of its connect and query errors, but a connection string that
// fails to parse is echoed (redacted only on a best-effort basis, and net/url
// errors quote the raw URL, password included), so every error the pg backend
// returns goes through scrub.
type scrubber struct {
	secrets []string
}

var (
	kvPassword  = regexp.MustCompile(`(?i)\b(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s]*)`)
	urlPassword = regexp.MustCompile(`(?i)[?&](?:ssl)?password=([^&#]*)`)
)

func newScrubber(connStr string, passwords ...string) *scrubber {
	s := &scrubber{}
	add := func(v string) {
		v = strings.TrimSpace(v)
		if v == "" {
			return
		}
		s.secrets = append(s.secrets, v)
		if u, err := url.PathUnescape(v); err == nil && u != v {
			s.secrets = append(s.secrets, u)
		}
		if q := url.QueryEscape(v); q != v {
			s.secrets = append(s.secrets, q)
		}
	}
	for _, p := range passwords {
		add(p)
	}
	// URL form: postgres://user:PASSWORD@host..., possibly malformed.
	if _, rest, ok := strings.Cut(connStr, "://"); ok {
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			userinfo := rest[:at]
			if i := strings.IndexAny(userinfo, "/?#"); i < 0 {
				if _, pw, ok := strings.Cut(userinfo, ":"); ok {
					add(pw)
				}
			}
		}
		for _, m := range urlPassword.FindAllStringSubmatch(rest, -1) {
			add(m[1])
		}
	}
	// keyword=value form.
	for _, m := range kvPassword.FindAllStringSubmatch(connStr, -1) {
		v := m[1]
		add(v)
		if strings.HasPrefix(v, "'") && strings.HasSuffix(v, "'") && len(v) >= 2 {
			add(strings.ReplaceAll(v[1:len(v)-1], `\'`, `'`))
		}
	}
	// Longest first, so that a secret containing another is masked whole.
	slices.SortStableFunc(s.secrets, func(a, b string) int { return len(b) - len(a) })
	return s
}

func (s *scrubber) clean(msg string) string {
	for _, v := range s.secrets {
		msg = strings.ReplaceAll(msg, v, "xxxxx")
	}
	return msg
}

// scrub returns err with every known secret masked in its message. The result
// still unwraps to err (for errors.As on *pgconn.PgError and the like); only its
// message changes.
func (s *scrubber) scrub(err error) error {
	if err == nil {
		return nil
	}
	var pce *pgconn.ParseConfigError
	if errors.As(err, &pce) {
		// The whole message derives from the connection string: never expose
		// the original through Unwrap either.
		return errors.New(s.clean(strings.ReplaceAll(err.Error(), pce.ConnString, "<conn_str>")))
	}
	msg := err.Error()
	if c := s.clean(msg); c != msg {
		return &scrubbedError{msg: c, err: err}
	}
	return err
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
