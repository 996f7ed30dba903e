#!/bin/bash
# make bench: validation CPU cost (bench_validate.c), how the whole `derpcheck validate`
# grows with the map (8,000 regions against 4,000: time and memory), and process start-up.
set -eu
: "${DERPCHECK:?}" "${BENCH_BIN:?}"
cd "$(dirname "$0")/.."
. bench/lib.sh
status=0
dir=$(mktemp -d /tmp/derpcheck-bench-validate.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "== validation (targets: default map < 1 ms CPU, 1000-region map < 50 ms CPU)"
"$BENCH_BIN/bench_validate" || status=1

# Linear growth: 8,000 regions may cost at most 2.2 times what 4,000 cost (the input
# doubles; 10 % for allocator and cache effects), and the memory the map takes beyond a
# one-region map's at most 4 times the file's size. Runs interleaved, medians of 7.
for n in 1 4000 8000; do "$BENCH_BIN/bench_validate" --write "$n" 1 "$dir/r$n.hujson"; done
for run in 1 2 3 4 5 6 7; do
	for n in 1 4000 8000; do
		# exit 1: the generated regions have findings (single-node regions); 2 would be an error
		"$BENCH_BIN/runstat" "$DERPCHECK" validate "$dir/r$n.hujson" >/dev/null 2>"$dir/err" || [ $? = 1 ] ||
			{ cat "$dir/err"; exit 1; }
		tail -1 "$dir/err" | awk '{ printf "%.2f %.2f %d\n", $1 * 1000, $4 * 1000, $2 }' >>"$dir/r$n.stat"
	done
done
col() { awk -v c="$2" '{ print $c }' "$dir/r$1.stat" | median; }
size4=$(stat -c %s "$dir/r4000.hujson") size8=$(stat -c %s "$dir/r8000.hujson")
goal_header "derpcheck validate, 8,000 one-node regions against 4,000 ($size8 and $size4 bytes): medians of 7" "4,000"
goal "wall time" ms "$(col 8000 1)" "$(col 4000 1)" "<=" 2.2
goal "CPU time" ms "$(col 8000 2)" "$(col 4000 2)" "<=" 2.2
base=$(col 1 3)
goal_header "memory beyond a one-region map's ($base KB peak RSS) against the file's size" "file size"
why="the positioned tree: 64-72 bytes and one allocation per JSON value, key and string"
goal "4,000 regions" KB "$(($(col 4000 3) - base))" "$((size4 / 1024))" "<=" 4 "$why"
goal "8,000 regions" KB "$(($(col 8000 3) - base))" "$((size8 / 1024))" "<=" 4 "$why"

echo
echo "== start-up: derpcheck --version (target < 2 ms)"
hyperfine --style basic --warmup 50 --runs 500 -N --export-json "$dir/startup.json" \
	"$DERPCHECK --version" "$DERPCHECK validate embedded:" "$DERPCHECK validate examples/policy.hujson"
mean_ms=$(sed -n 's/.*"mean": *\([0-9.e-]*\).*/\1/p' "$dir/startup.json" | head -1 |
	awk '{printf "%.3f", $1 * 1000}')
echo "derpcheck --version: mean $mean_ms ms wall"
awk -v m="$mean_ms" 'BEGIN { exit !(m < 2.0) }' && echo "start-up target < 2 ms: ok" ||
	{ echo "start-up target < 2 ms: MISSED"; status=1; }
[ "$bench_status" = 0 ] || status=1
exit $status
