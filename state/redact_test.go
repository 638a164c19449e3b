package state

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"
)

// closedPort returns a local TCP port nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	ln.Close()
	return port
}

func TestNewPGErrorsHidePassword(t *testing.T) {
	const pw = "S3cr3t-pw"
	port := closedPort(t)
	for name, dsn := range map[string]string{
		"url refused":         "postgres://ann:" + pw + "@127.0.0.1:" + port + "/db?sslmode=disable&connect_timeout=2",
		"url bad port":        "postgres://ann:" + pw + "@127.0.0.1:notaport/db",
		"url bad escape":      "postgres://ann:" + pw + "%zz@127.0.0.1/db",
		"url query password":  "postgres://ann@127.0.0.1:notaport/db?password=" + pw,
		"kv refused":          "host=127.0.0.1 port=" + port + " user=ann password=" + pw + " sslmode=disable connect_timeout=2",
		"kv quoted":           "host=127.0.0.1 port=" + port + " user=ann password='" + pw + " x' sslmode=disable connect_timeout=2",
		"kv bad port":         "host=127.0.0.1 port=x user=ann password=" + pw,
		"kv unterminated":     "host=127.0.0.1 password='" + pw,
		"kv bad sslmode":      "host=127.0.0.1 password=" + pw + " sslmode=sometimes",
		"url encoded":         "postgres://ann:" + strings.ReplaceAll(pw, "-", "%2D") + "@127.0.0.1:notaport/db",
		"url bad sslpassword": "postgres://ann@127.0.0.1/db?sslpassword=" + pw + "&sslmode=bogus",
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := NewPG(ctx, dsn, "s")
			if err == nil {
				t.Fatal("NewPG succeeded")
			}
			msg := err.Error()
			t.Log(msg)
			if strings.Contains(msg, pw) || strings.Contains(msg, "S3cr3t") {
				t.Fatalf("error shows the password: %s", msg)
			}
			_, err = Open(ctx, "pg", "", dsn, "")
			if err == nil || strings.Contains(err.Error(), "S3cr3t") {
				t.Fatalf("Open error shows the password: %v", err)
			}
		})
	}
}

func TestScrubber(t *testing.T) {
	s := newScrubber("postgres://u:p%40ss@h/db", "p@ss")
	if got := s.clean(`parse "postgres://u:p%40ss@h/db": x; password p@ss`); strings.Contains(got, "p@ss") || strings.Contains(got, "p%40ss") {
		t.Fatalf("clean left a secret: %s", got)
	}
	if got := newScrubber("host=h dbname=d").clean("nothing secret here"); got != "nothing secret here" {
		t.Fatalf("clean changed a message without secrets: %s", got)
	}
}
