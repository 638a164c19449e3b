#!/usr/bin/env bash
# install-pg-clients.sh — install PostgreSQL client tools (pg_dump, pg_restore, psql) of majors
# that Debian 12 does not package, from Debian's own packages, without a chroot at run time.
#
# usage: scripts/install-pg-clients.sh MAJOR...      e.g. 17 18
#
# It builds one minimal Debian 13 "trixie" tree (debootstrap --variant=minbase) from this
# machine's own apt mirror, installs postgresql-client-MAJOR in it from trixie, or from "sid"
# (pinned low, so only what the package needs comes from there) when trixie lacks that major,
# and writes wrappers
#
#   $PGFERRY_PG_CACHE/clients/MAJOR/bin/{pg_dump,pg_restore,psql}
#
# that run the tree's binaries on the host through the tree's own dynamic loader and libraries:
# no chroot, no mount, host paths unchanged. pgferry finds them through PGFERRY_PG_BIN_PATH or
# options.pg_bin_dir; internal/pgtest finds them in the cache. pg_dumpall is not wrapped:
# pgferry does not use it.
#
# Idempotent: when the cache already holds the requested majors it only checks that they run
# (seconds). A build goes to a scratch directory and is renamed into place when complete, so an
# interrupted run never leaves a half cache. The build (debootstrap and apt-get in the tree)
# needs root, or sudo without a password.
#
# The mirror is the first one /etc/apt lists for this machine's release; PGFERRY_APT_MIRROR
# overrides it.
set -euo pipefail

cache="${PGFERRY_PG_CACHE:-/opt/pgferry-pg}"
clients="$cache/clients"
# Bump when the layout of the cache changes, so old caches are rebuilt.
layout=1

log() { echo "install-pg-clients: $*"; }
die() {
	echo "install-pg-clients: $*" >&2
	exit 1
}

if [ "$#" -eq 0 ]; then
	echo "usage: $0 MAJOR..." >&2
	exit 2
fi
majors=()
for m in "$@"; do
	case "$m" in
	'' | *[!0-9]*) die "bad major $m (want e.g. 17)" ;;
	esac
	majors+=("$m")
done
tools=(pg_dump pg_restore psql)

# wrappers_ok DIR: every wrapper of every requested major under DIR runs and reports its major.
wrappers_ok() {
	local dir="$1" m t out
	for m in "${majors[@]}"; do
		for t in "${tools[@]}"; do
			out="$("$dir/$m/bin/$t" --version 2>/dev/null)" || return 1
			case "$out" in
			*"(PostgreSQL) $m."*) ;;
			*) return 1 ;;
			esac
		done
	done
}

stamp="layout=$layout majors=${majors[*]}"
if [ -f "$clients/.installed" ] && [ "$(cat "$clients/.installed")" = "$stamp" ] && wrappers_ok "$clients"; then
	for m in "${majors[@]}"; do
		log "PostgreSQL client $m already in $clients/$m/bin ($("$clients/$m/bin/pg_dump" --version))"
	done
	exit 0
fi

[ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (the wrappers use ld-linux-x86-64.so.2)"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo -n true 2>/dev/null || die "building the client tree needs root (debootstrap); run as root or allow sudo"
	sudo=(sudo -n)
fi
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] ||
	die "debootstrap not found; run scripts/install-deps.sh (apt-get install debootstrap)"
debootstrap=$(command -v debootstrap || echo /usr/sbin/debootstrap)
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r "$keyring" ] || die "$keyring missing; apt-get install debian-archive-keyring"

# mirror prints the URI of the first apt source for this machine's release (e.g. bookworm),
# from the deb822 .sources files or the one-line sources.list format.
mirror() {
	if [ -n "${PGFERRY_APT_MIRROR:-}" ]; then
		echo "$PGFERRY_APT_MIRROR"
		return
	fi
	local codename f
	codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
	[ -n "$codename" ] || return 1
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# Stanzas are separated by blank lines; take URIs of a deb stanza whose Suites list the release.
		awk -v want="$codename" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ") && uris != "" && enabled != "no") {
					split(uris, u, " "); print u[1]; found = 1; exit
				}
				types = ""; suites = ""; uris = ""; enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{ key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^ +/, "")
			  if (key == "types") types = $0; else if (key == "suites") suites = $0
			  else if (key == "uris") uris = $0; else if (key == "enabled") enabled = tolower($0) }
			END { if (!found) flush() }' "$f" | head -n1 | grep . && return
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		# deb [options] URI suite component...
		sed -e 's/#.*//' -e 's/\[[^]]*\]//' "$f" |
			awk -v want="$codename" '$1 == "deb" && $3 == want { print $2; exit }' | grep . && return
	done
	return 1
}
uri="$(mirror)" || die "no apt source for this machine's release found in /etc/apt; set PGFERRY_APT_MIRROR to a Debian mirror URI"
uri="${uri%/}"

if ! mkdir -p "$cache" 2>/dev/null || [ ! -w "$cache" ]; then
	die "cannot write $cache; set PGFERRY_PG_CACHE to a directory you own (readable by the user that runs the servers)"
fi
chmod a+rx "$cache"

# One build at a time; a second run waits, then finds the cache built.
exec 9>"$cache/.clients.lock"
flock 9
if [ -f "$clients/.installed" ] && [ "$(cat "$clients/.installed")" = "$stamp" ] && wrappers_ok "$clients"; then
	log "built by another run meanwhile: $clients"
	exit 0
fi

# remove_tree DIR: unmount whatever an interrupted debootstrap left mounted in DIR, then remove it
# without crossing into other file systems.
remove_tree() {
	local dir="$1" mnt
	[ -e "$dir" ] || return 0
	while read -r mnt; do
		"${sudo[@]}" umount -l "$mnt" 2>/dev/null || true
	done < <(awk -v d="$dir/" 'index($2 "/", d) == 1 { print $2 }' /proc/mounts | sort -r)
	"${sudo[@]}" rm -rf --one-file-system "$dir"
}
for old in "$cache"/.clients-build.*; do
	[ -e "$old" ] && remove_tree "$old"
done

start=$SECONDS
tmp="$(mktemp -d "$cache/.clients-build.XXXXXX")"
trap 'remove_tree "$tmp"' EXIT
root="$tmp/root"
buildlog="$tmp/build.log"
fail() {
	tail -n 40 "$buildlog" >&2 || true
	die "$*"
}

log "building a Debian trixie tree for PostgreSQL client ${majors[*]} from $uri (about 3 minutes)"
if ! "${sudo[@]}" "$debootstrap" --variant=minbase --keyring="$keyring" trixie "$root" "$uri" >"$buildlog" 2>&1; then
	fail "debootstrap trixie from $uri failed"
fi

# apt inside the tree: trixie, and sid pinned low so that only what a sid-only client needs is
# taken from it. sid's Release files may be older than their Valid-Until on a snapshot mirror.
"${sudo[@]}" tee "$root/etc/apt/sources.list" >/dev/null <<EOF
deb $uri trixie main
deb $uri sid main
EOF
"${sudo[@]}" tee "$root/etc/apt/preferences.d/pgferry-sid" >/dev/null <<'EOF'
Package: *
Pin: release n=sid
Pin-Priority: 100
EOF
"${sudo[@]}" tee "$root/etc/apt/apt.conf.d/99pgferry" >/dev/null <<'EOF'
Acquire::Check-Valid-Until "false";
Acquire::Languages "none";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOF
"${sudo[@]}" cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
inroot() { "${sudo[@]}" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C chroot "$root" "$@"; }
inroot apt-get update -q >>"$buildlog" 2>&1 || fail "apt-get update in the tree failed"
pkgs=()
for m in "${majors[@]}"; do
	# Trixie's package if it has the major, else sid's.
	if inroot apt-cache madison "postgresql-client-$m" 2>/dev/null | grep -q " $uri trixie/"; then
		pkgs+=("postgresql-client-$m")
	elif inroot apt-cache madison "postgresql-client-$m" 2>/dev/null | grep -q " $uri sid/"; then
		pkgs+=("postgresql-client-$m/sid")
	else
		fail "postgresql-client-$m is neither in trixie nor in sid at $uri"
	fi
done
log "installing ${pkgs[*]}"
inroot apt-get install -y -q "${pkgs[@]}" >>"$buildlog" 2>&1 || fail "apt-get install ${pkgs[*]} in the tree failed"
inroot apt-get clean >>"$buildlog" 2>&1 || true
"${sudo[@]}" rm -rf "$root/var/lib/apt/lists" "$root/var/cache/apt" "$root/var/cache/debconf"/*-old "$root/etc/resolv.conf"
"${sudo[@]}" mkdir -p "$root/var/lib/apt/lists/partial" "$root/var/cache/apt/archives/partial"

lib="usr/lib/x86_64-linux-gnu"
[ -x "$root/$lib/ld-linux-x86-64.so.2" ] || fail "the tree has no $lib/ld-linux-x86-64.so.2"
for m in "${majors[@]}"; do
	"${sudo[@]}" mkdir -p "$tmp/$m/bin"
	for t in "${tools[@]}"; do
		[ -x "$root/usr/lib/postgresql/$m/bin/$t" ] || fail "postgresql-client-$m has no $t"
		# The wrapper finds the tree next to itself, so the cache can be renamed as a whole.
		# --argv0 gives the program its wrapper's path, so that it looks for siblings there.
		"${sudo[@]}" tee "$tmp/$m/bin/$t" >/dev/null <<EOF
#!/bin/sh
# Written by pgferry's scripts/install-pg-clients.sh: runs Debian's $t $m from the tree in
# ../../root on this host through the tree's own loader and libraries (no chroot).
here=\$(dirname "\$(readlink -f "\$0")")
root="\${here%/$m/bin}/root"
exec "\$root/$lib/ld-linux-x86-64.so.2" --library-path "\$root/$lib" --argv0 "\$0" "\$root/usr/lib/postgresql/$m/bin/$t" "\$@"
EOF
		"${sudo[@]}" chmod 0755 "$tmp/$m/bin/$t"
	done
done
"${sudo[@]}" chmod -R a+rX "$tmp"
wrappers_ok "$tmp" || {
	for m in "${majors[@]}"; do "$tmp/$m/bin/pg_dump" --version >>"$buildlog" 2>&1 || true; done
	fail "the wrappers in $tmp do not run"
}
echo "$stamp" | "${sudo[@]}" tee "$tmp/.installed" >/dev/null
"${sudo[@]}" rm -f "$buildlog"

# Swap the finished tree in: the old cache goes aside first and is removed after.
if [ -e "$clients" ]; then
	"${sudo[@]}" mv "$clients" "$tmp.old"
fi
"${sudo[@]}" mv "$tmp" "$clients"
trap - EXIT
remove_tree "$tmp.old"
for m in "${majors[@]}"; do
	log "$("$clients/$m/bin/pg_dump" --version) in $clients/$m/bin"
done
log "done in $((SECONDS - start)) s, $(du -sh "$clients" 2>/dev/null | cut -f1) in $clients"
