#!/usr/bin/env bash
# install-deps.sh — install what pgferry's tests and demo need on a Debian machine, only what is
# missing: PostgreSQL 15 (server and client, for initdb/pg_ctl/pg_dump), make, Node.js and npm
# (for the other majors' server binaries, from the npm registry), debootstrap and a keyring that
# knows Debian 13 (for the newer majors' client tools, scripts/install-pg-clients.sh), and
# Chromium (the rehearsal report's real-browser test, internal/views TestReportBrowser). Go must
# already be installed.
set -euo pipefail

missing=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || missing+=(postgresql-15)
[ -x /usr/lib/postgresql/15/bin/pg_dump ] || missing+=(postgresql-client-15)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
id postgres >/dev/null 2>&1 || missing+=(postgresql-15)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
# debootstrap checks trixie's Release file against this keyring (trixie's keys since 2023.3+deb12u1).
[ -f /usr/share/keyrings/debian-archive-trixie-stable.gpg ] || missing+=(debian-archive-keyring)
command -v flock >/dev/null 2>&1 || missing+=(util-linux)
command -v tmux >/dev/null 2>&1 || missing+=(tmux)   # apply_tty_progress: apply on a real terminal
# TestReportBrowser opens the HTML report in headless Chromium; under CI=true it fails without it.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ "${#missing[@]}" -eq 0 ]; then
	exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo -n)
fi
log="$(mktemp -t pgferry-apt.XXXXXX)"
trap 'rm -f "$log"' EXIT
echo "install-deps: installing ${missing[*]}"
if ! { "${sudo[@]}" apt-get update -q &&
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
	cat "$log" >&2
	echo "install-deps: apt-get install ${missing[*]} failed" >&2
	exit 1
fi
