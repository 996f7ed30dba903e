#!/bin/sh
# make bench: derpcheck status — CPU cost per tailnet size (bench_status.c), and the whole
# command against a 10,000-peer tailnet served by the fake LocalAPI (hyperfine).
set -eu
: "${DERPCHECK:?}" "${BENCH_BIN:?}" "${TOOLS:?}"
cd "$(dirname "$0")/.."
status=0
echo "== status: read, classify and render (targets: 100 peers < 5 ms, 1,000 < 50 ms, 10,000 < 500 ms CPU)"
"$BENCH_BIN/bench_status" || status=1

dir=$(mktemp -d /tmp/derpcheck-bench-status.XXXXXX)
pid=""
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$dir"' EXIT
"$BENCH_BIN/bench_status" --write 10000 "$dir/status.json"
"$TOOLS/fake_localapi" --socket "$dir/ts.sock" --status "$dir/status.json" \
	--derpmap data/tailscale-default-derpmap.json >"$dir/ready" &
pid=$!
deadline=$(($(date +%s) + 5))
until grep -qx ready "$dir/ready" 2>/dev/null; do
	[ "$(date +%s)" -le "$deadline" ] || { echo "fake_localapi did not start"; exit 1; }
	sleep 0.02
done

echo "== status over the LocalAPI socket, 10,000 peers (target < 1 s wall)"
hyperfine --style basic --warmup 2 --runs 20 -N -i --export-json "$dir/h.json" \
	"$DERPCHECK status --socket $dir/ts.sock" "$DERPCHECK status --file $dir/status.json"
mean_ms=$(sed -n 's/.*"mean": *\([0-9.e-]*\).*/\1/p' "$dir/h.json" | head -1 | awk '{printf "%.1f", $1 * 1000}')
echo "derpcheck status --socket (10,000 peers): mean $mean_ms ms wall"
awk -v m="$mean_ms" 'BEGIN { exit !(m < 1000) }' && echo "status target < 1 s: ok" ||
	{ echo "status target < 1 s: MISSED"; status=1; }
exit $status
