#!/usr/bin/env bash
# bench.sh — `make bench`: pgferry against pg_dump/pg_restore, pgcopydb and a single COPY stream, on two
# throwaway PostgreSQL clusters with full durability, then the accuracy of plan's forecast (issue 14).
# Writes docs/benchmarks.md. `make bench-forecast` and `make bench-field` run parts of it.
#
#   scripts/bench.sh [extra flags for bench/, e.g. -reuse -datasets pgbench]
#   SCALE=50 RUNS=3 scripts/bench.sh
#
# Installs what it lacks (PostgreSQL 15 via install-deps.sh, pgcopydb and GNU time from Debian), builds
# bin/pgferry and bin/pgferry-bench, then runs the bench (bench/main.go; `bin/pgferry-bench -h` for flags).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
GO="${GO:-go}"
export GO
SCALE="${SCALE:-50}"
RUNS="${RUNS:-3}"
BENCH_DIR="${BENCH_DIR:-/var/tmp/pgferry-bench}"

"$root/scripts/install-deps.sh"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo -n)
fi
apt_install() {
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "$@"
}

# pgcopydb must be built against the same client major as the clusters (15 on bookworm).
if ! command -v pgcopydb >/dev/null 2>&1; then
	cand="$(apt-cache policy pgcopydb 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
	if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
		"${sudo[@]}" apt-get update -q >/dev/null 2>&1 || true
		cand="$(apt-cache policy pgcopydb 2>/dev/null | sed -n 's/^ *Candidate: *//p')"
	fi
	if [ -n "$cand" ] && [ "$cand" != "(none)" ]; then
		echo "bench: installing pgcopydb $cand from Debian"
		apt_install pgcopydb >/dev/null || echo "bench: apt-get install pgcopydb failed: the pgcopydb column is skipped" >&2
	else
		echo "bench: no pgcopydb package available: the pgcopydb column is skipped" >&2
	fi
fi
if command -v pgcopydb >/dev/null 2>&1; then
	pgcopydb --version 2>/dev/null | grep -q 'PostgreSQL 15' ||
		echo "bench: warning: $(pgcopydb --version 2>/dev/null | sed -n 2p) — not built for PostgreSQL 15" >&2
fi
if [ ! -x /usr/bin/time ]; then
	apt_install time >/dev/null || true
fi

make -s build
"$GO" build -o bin/pgferry-bench ./bench
# The binaries under test are copied, so that a rebuild during the (long) run does not change them.
mkdir -p "$BENCH_DIR/bin"
cp bin/pgferry bin/pgferry-bench "$BENCH_DIR/bin/"

exec "$BENCH_DIR/bin/pgferry-bench" -dir "$BENCH_DIR" -scale "$SCALE" -runs "$RUNS" -pgferry "$BENCH_DIR/bin/pgferry" -out docs/benchmarks.md "$@"
