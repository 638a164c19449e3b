// Command pgcluster starts and stops a throw-away PostgreSQL server for the
// demo and benchmarks, using internal/pgtest:
//
//	pgcluster start --dir DIR --major N [--port P] [--conf key=value]...
//	pgcluster stop --dir DIR [--immediate] [--remove]
//	pgcluster status --dir DIR
//
// start creates the cluster in DIR on first use (later it restarts the one
// there), leaves it running, and prints shell-style lines:
// HOST=, PORT=, USER=, PASSWORD=, DSN= (database postgres), MAJOR=, DIR=.
// The cluster's settings live in DIR/cluster.json, which stop reads. A DIR
// copied from another cluster's (cp -a of a stopped cluster) is made its own on
// first use: its socket directory and a free port are written to cluster.json
// and data/pgferry.conf (pgtest.Load); a copy of a running cluster is refused.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgferry/pgferry/internal/pgtest"
)

type confFlag []string

func (c *confFlag) String() string     { return strings.Join(*c, ",") }
func (c *confFlag) Set(v string) error { *c = append(*c, v); return nil }

const usage = `usage:
  pgcluster start --dir DIR --major N [--port P] [--conf key=value]...
  pgcluster stop --dir DIR [--immediate] [--remove]
  pgcluster status --dir DIR`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pgcluster:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("pgcluster "+args[0], flag.ContinueOnError)
	dir := fs.String("dir", "", "cluster directory (created if missing)")
	major := fs.Int("major", 0, "PostgreSQL major version (start)")
	port := fs.Int("port", 0, "port to listen on (start; default: a free one)")
	var conf confFlag
	fs.Var(&conf, "conf", "extra postgresql.conf setting key=value (start; repeatable)")
	immediate := fs.Bool("immediate", false, "stop without a shutdown checkpoint, as a crash would (stop)")
	remove := fs.Bool("remove", false, "remove DIR after stopping (stop)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() != 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "start":
		return start(*dir, *major, *port, conf)
	case "stop":
		return stop(*dir, *immediate, *remove)
	case "status":
		c, err := pgtest.Load(*dir)
		if err != nil {
			return err
		}
		if !c.Running() {
			fmt.Printf("PostgreSQL %d in %s is stopped\n", c.Major, c.Dir)
			os.Exit(3)
		}
		fmt.Printf("PostgreSQL %d in %s is running on %s:%d\n", c.Major, c.Dir, c.Host, c.Port)
		return nil
	default:
		return errors.New(usage)
	}
}

func start(dir string, major, port int, conf []string) error {
	var c *pgtest.Cluster
	if _, err := os.Stat(filepath.Join(dir, "cluster.json")); err == nil {
		if c, err = pgtest.Load(dir); err != nil {
			return err
		}
		if major != 0 && major != c.Major {
			return fmt.Errorf("%s holds PostgreSQL %d, not %d; stop it with --remove first", dir, c.Major, major)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := c.Start(ctx); err != nil {
			return err
		}
	} else {
		if major == 0 {
			return errors.New("start: --major is required for a new cluster")
		}
		opts := []pgtest.Option{pgtest.WithPort(port)}
		for _, kv := range conf {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				return fmt.Errorf("--conf %q is not key=value", kv)
			}
			opts = append(opts, pgtest.WithConf(k, v))
		}
		if c, err = pgtest.New(dir, major, opts...); err != nil {
			return err
		}
	}
	fmt.Printf("HOST=%s\nPORT=%d\nUSER=%s\nPASSWORD=%s\nDSN=%s\nMAJOR=%d\nDIR=%s\n",
		c.Host, c.Port, c.User, c.Password, c.DSN("postgres"), c.Major, c.Dir)
	return nil
}

func stop(dir string, immediate, remove bool) error {
	c, err := pgtest.Load(dir)
	if err != nil {
		return err
	}
	if immediate {
		err = c.StopImmediate()
	} else {
		err = c.Stop()
	}
	if err != nil {
		return err
	}
	if remove {
		return os.RemoveAll(c.Dir)
	}
	return nil
}
