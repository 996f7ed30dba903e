#!/bin/sh
# make bench: validation CPU cost (bench_validate.c) and process start-up (hyperfine).
set -eu
: "${DERPCHECK:?}" "${BENCH_BIN:?}"
cd "$(dirname "$0")/.."
status=0
echo "== validation (targets: default map < 1 ms CPU, 1000-region map < 50 ms CPU)"
"$BENCH_BIN/bench_validate" || status=1

echo "== start-up: derpcheck --version (target < 2 ms)"
hyperfine --style basic --warmup 50 --runs 500 -N --export-json /tmp/derpcheck-bench-startup.json \
	"$DERPCHECK --version" "$DERPCHECK validate embedded:" "$DERPCHECK validate examples/policy.hujson"
mean_ms=$(sed -n 's/.*"mean": *\([0-9.e-]*\).*/\1/p' /tmp/derpcheck-bench-startup.json | head -1 |
	awk '{printf "%.3f", $1 * 1000}')
echo "derpcheck --version: mean $mean_ms ms wall"
awk -v m="$mean_ms" 'BEGIN { exit !(m < 2.0) }' && echo "start-up target < 2 ms: ok" ||
	{ echo "start-up target < 2 ms: MISSED"; status=1; }
rm -f /tmp/derpcheck-bench-startup.json
exit $status
