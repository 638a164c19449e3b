package pgtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// serverUser is the OS account that owns clusters and runs server programs.
// PostgreSQL refuses to run as root, so when we are root everything runs as
// the postgres user; otherwise it runs as ourselves and ids are nil.
type serverUser struct {
	Name     string
	UID, GID int
}

var (
	serverUserOnce sync.Once
	serverUserVal  *serverUser
	serverUserErr  error
)

// osServerUser returns the account to run servers as, or nil when we are not
// root (servers then run as the calling user).
func osServerUser() (*serverUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	serverUserOnce.Do(func() {
		u, err := user.Lookup("postgres")
		if err != nil {
			serverUserErr = fmt.Errorf("pgtest: running as root, PostgreSQL needs an unprivileged OS user "+
				"named postgres (install postgresql-common or `useradd -r postgres`): %w", err)
			return
		}
		uid, err1 := strconv.Atoi(u.Uid)
		gid, err2 := strconv.Atoi(u.Gid)
		if err1 != nil || err2 != nil {
			serverUserErr = fmt.Errorf("pgtest: odd ids for OS user postgres: uid %q gid %q", u.Uid, u.Gid)
			return
		}
		serverUserVal = &serverUser{Name: "postgres", UID: uid, GID: gid}
	})
	return serverUserVal, serverUserErr
}

// MkdirTemp creates a new directory for a cluster under os.TempDir() (the
// pattern is as for os.MkdirTemp) that the server user owns.
func MkdirTemp(pattern string) (string, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return "", err
	}
	if err := prepareDir(dir); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// prepareDir creates dir if needed, hands it to the server user, and checks
// that this user can reach it through every ancestor.
func prepareDir(dir string) error {
	// Parents we create must let the server user through; the cluster
	// directory itself is private to it.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("pgtest: creating %s: %w", filepath.Dir(dir), err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !os.IsExist(err) {
		return fmt.Errorf("pgtest: creating %s: %w", dir, err)
	}
	su, err := osServerUser()
	if err != nil || su == nil {
		return err
	}
	if err := os.Chown(dir, su.UID, su.GID); err != nil {
		return fmt.Errorf("pgtest: handing %s to the postgres OS user: %w", dir, err)
	}
	return checkReachable(dir, su)
}

// checkReachable returns an error naming the first ancestor of dir that su
// cannot search, the usual trap being a root-only 0700 temp directory.
func checkReachable(dir string, su *serverUser) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		perm := fi.Mode().Perm()
		searchable := perm&0o001 != 0 ||
			(ok && int(st.Uid) == su.UID && perm&0o100 != 0) ||
			(ok && int(st.Gid) == su.GID && perm&0o010 != 0)
		if !searchable {
			return fmt.Errorf("pgtest: %s is not searchable by the %s OS user, so a cluster in %s cannot "+
				"work; use a directory it can reach (e.g. under /tmp, or set TMPDIR)", d, su.Name, dir)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// chownToServer gives a file we created (password file, config) to the server
// user, so the server can read it.
func chownToServer(path string) error {
	su, err := osServerUser()
	if err != nil || su == nil {
		return err
	}
	return os.Chown(path, su.UID, su.GID)
}

// serverCmd builds a command that runs a server program as the server user,
// in its own process group so that a terminal's Ctrl-C aimed at the test or
// CLI does not reach a server that must be stopped in order.
func serverCmd(ctx context.Context, name string, args ...string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = serverEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	su, err := osServerUser()
	if err != nil {
		return nil, err
	}
	if su != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(su.UID), Gid: uint32(su.GID)}
		cmd.Dir = "/"
	}
	return cmd, nil
}

// serverEnv is our environment without what would steer a server or its
// tools elsewhere (PGDATA, PGPORT, ...) or localise their messages, which
// LogTail readers and port-clash detection rely on.
func serverEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "PG") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "LANG=C", "LC_ALL=C")
}
