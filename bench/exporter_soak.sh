#!/bin/bash
# make bench-exporter: `derpcheck exporter` watching 30 loopback regions (the test DERP server,
# tests/integration/lib/regions.sh) for SECONDS (default 600), diagnosing every region every
# INTERVAL (default 15s, derpprobe's default) while /metrics is scraped every 5 s. Prints the
# exporter's CPU time and share of one core, its resident memory at the start, at the end and
# at its peak (from /proc), its thread count, and the slowest scrape: memory that does not grow
# round after round, and scrapes that never wait for a probe. Nothing leaves 127.0.0.x.
set -u
: "${DERPCHECK:?}" "${TOOLS:?}"
SECONDS_TOTAL=${SECONDS_TOTAL:-600}
INTERVAL=${INTERVAL:-15s}
export DAYS=90 DERPCHECK_DEFAULT_MAP_URL=""
# The test libraries find the tree through DERPCHECK_ROOT (their $0 is this script).
export DERPCHECK_ROOT=${DERPCHECK_ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
. "$(dirname "$0")/../tests/integration/lib/derp.sh"
. "$(dirname "$0")/../tests/integration/lib/regions.sh"
regions_start soak.json 30 || exit 1
cd "$work"
"$DERPCHECK" exporter --derp-map soak.json --ca-file pki/ca.pem --listen 127.0.0.1:0 --interval "$INTERVAL" \
	2>"$work/exporter.err" &
xpid=$!
server_pids="$server_pids $xpid"
for _ in $(seq 250); do grep -q 'exporter on' "$work/exporter.err" && break; sleep 0.02; done
addr=$(sed -n 's|.*http://\([^/]*\)/metrics.*|\1|p' "$work/exporter.err")
[ -n "$addr" ] || { cat "$work/exporter.err"; exit 1; }
tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$xpid/stat"; }
kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$xpid/status"; }
start_ns=$(date +%s%N)
sleep 1
rss_start=$(kb VmRSS)
slowest=0 scrapes=0 failed=0
end=$(($(date +%s) + SECONDS_TOTAL))
while [ "$(date +%s)" -lt "$end" ]; do
	t0=$(date +%s%N)
	if curl -sf -o "$work/m.txt" "http://$addr/metrics"; then scrapes=$((scrapes + 1)); else failed=$((failed + 1)); fi
	ms=$((($(date +%s%N) - t0) / 1000000))
	[ "$ms" -gt "$slowest" ] && slowest=$ms
	sleep 5
done
elapsed=$((($(date +%s%N) - start_ns) / 1000000000))
ticks=$(cpu)
rounds=$(sed -n 's/^derpcheck_exporter_rounds_total //p' "$work/m.txt")
series=$(grep -vc '^#' "$work/m.txt")
printf 'exporter, 30 regions, every %s, %d s: %d rounds, %d series per scrape\n' "$INTERVAL" "$elapsed" "${rounds:-0}" "$series"
awk -v t="$ticks" -v hz="$tck" -v s="$elapsed" 'BEGIN { printf "  CPU: %.1f s user+system, %.2f%% of one core\n", t / hz, 100 * t / hz / s }'
printf '  memory (RSS): %s KiB after 1 s, %s KiB at the end, %s KiB at the peak; %s threads\n' \
	"$rss_start" "$(kb VmRSS)" "$(kb VmHWM)" "$(kb Threads)"
printf '  scrapes: %d answered, %d failed, slowest %d ms\n' "$scrapes" "$failed" "$slowest"
kill -TERM "$xpid"
wait "$xpid"
rc=$?
printf '  SIGTERM: exit status %d\n' "$rc"
[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ]
