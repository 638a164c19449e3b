#!/usr/bin/env bash
# tracesteps.sh FILE — the regions of a pgferry execution trace (PGFERRY_TRACE=FILE, docs/reference.md),
# one a line in the order they began: start and end in ms since the trace started (with the process),
# duration, goroutine and name. Nested regions (a region inside another on one goroutine) are indented.
#
#   PGFERRY_TRACE=/tmp/apply.trace pgferry apply --auto-approve && scripts/tracesteps.sh /tmp/apply.trace
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 TRACEFILE" >&2; exit 2; }
"${GO:-go}" tool trace -d=parsed "$1" 2>/dev/null | awk '
/ Sync / && origin == "" { for (i = 1; i <= NF; i++) if ($i ~ /^Trace=/) { origin = substr($i, 7) + 0 } }
/ RegionBegin | RegionEnd / {
	t = ""; g = ""; name = ""
	for (i = 1; i <= NF; i++) {
		if ($i ~ /^Time=/) t = substr($i, 6) + 0
		if ($i ~ /^G=/) g = substr($i, 3)
	}
	if (match($0, /Type="[^"]*"/)) name = substr($0, RSTART + 6, RLENGTH - 7)
	if ($0 ~ / RegionBegin /) {
		n++; begin[n] = t; gor[n] = g; nm[n] = name; depth[n] = open[g] + 0; open[g]++
		stack[g, open[g]] = n
	} else if (open[g] > 0) {
		k = stack[g, open[g]]; open[g]--; fin[k] = t
	}
}
END {
	printf "%9s %9s %9s %6s  %s\n", "start_ms", "end_ms", "ms", "G", "region"
	for (k = 1; k <= n; k++) {
		e = (k in fin) ? sprintf("%9.1f", (fin[k] - origin) / 1e6) : "     open"
		d = (k in fin) ? sprintf("%9.1f", (fin[k] - begin[k]) / 1e6) : "        -"
		pad = ""; for (j = 0; j < depth[k]; j++) pad = pad "  "
		printf "%9.1f %s %s %6s  %s%s\n", (begin[k] - origin) / 1e6, e, d, gor[k], pad, nm[k]
	}
}'
