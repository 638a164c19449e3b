#!/usr/bin/env bash
# lint.sh — gofmt, go vet and staticcheck over the module. staticcheck comes
# through the Go module proxy; only when that is unreachable is its absence
# tolerated (with a warning), never its findings.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"

unformatted="$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' \
	-not -path '*/node_modules/*' -not -path './bin/*' -print0 | xargs -0 -r gofmt -l)"
if [ -n "$unformatted" ]; then
	echo "lint: these files need gofmt -w:" >&2
	echo "$unformatted" >&2
	exit 1
fi

"$GO" vet ./...

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
if "$GO" run honnef.co/go/tools/cmd/staticcheck@latest ./... >"$out" 2>&1; then
	cat "$out"
	exit 0
fi
if grep -qE 'dial tcp|no such host|i/o timeout|connection refused|network is unreachable|TLS handshake timeout|proxyconnect|Get "https://[^"]*": ' "$out" &&
	! grep -qE '^[^ ]+\.go:[0-9]+:[0-9]+: ' "$out"; then
	echo "lint: warning: staticcheck skipped, the Go module proxy is unreachable:" >&2
	sed 's/^/  /' "$out" >&2
	exit 0
fi
cat "$out" >&2
exit 1
