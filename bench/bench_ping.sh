#!/bin/bash
# make bench: `derpcheck ping` side by side with Tailscale's own DERP client (derpclient:
# tailscale.com/derp/derphttp v1.34.2) through Tailscale's real derper v1.34.2 on loopback,
# runs interleaved, medians: connecting both clients, peak RSS, relayed round trips
# (min, average, 99th percentile), keeping a 1 ms schedule over 2,000 packets, and the
# highest rate the relay delivers without loss.
set -u
: "${DERPCHECK:?}" "${BENCH_BIN:?}" "${TOOLS:?}" "${PEERS:?}"
cd "$(dirname "$0")/.."
# scratch directory, background servers and the teardown (peers.sh needs its
# free_port and now_ms)
WORK_PREFIX=derpcheck-bench-ping . tests/lib/proc.sh
fail() { echo "bench_ping: $*" >&2; }
finish() { :; }
. tests/lib/peers.sh
. bench/lib.sh
export DERPCHECK_DEFAULT_MAP_URL=
peers_require
tests/tools/mkpki-derp.sh "$work/pki"
derper_certdir "$work/certs" "$work/pki/derp-chain.pem" "$work/pki/derp.key"
derper_start bench 127.0.0.1 "$work/certs" || exit 1
printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"bench","Nodes":[{"Name":"900a","RegionID":900,"HostName":"derp.test","IPv4":"127.0.0.1","IPv6":"none","STUNPort":-1,"DERPPort":%s}]}}}\n' \
	"$DERPER_PORT" >"$work/map.json"
url=https://derp.test:$DERPER_PORT/derp
dc() { "$BENCH_BIN/runstat" "$DERPCHECK" ping --derp-map "$work/map.json" --ca-file "$work/pki/ca.pem" "$@" 900; }
go() { "$BENCH_BIN/runstat" "$PEERS/derpclient" -ca "$work/pki/ca.pem" -resolve-to 127.0.0.1 "$@" "$url"; }
# stat_line ERRFILE: "wall_ms cpu_ms rss_kb" from runstat's last line; the tool's own
# messages when it failed to run (exit 2 or more)
stat_line() {
	tail -1 "$1" | awk '{ printf "%.2f %.2f %d\n", $1 * 1000, $4 * 1000, $2 }'
	[ "$(tail -1 "$1" | awk '{ print $3 }')" -lt 2 ] || sed '$d' "$1" >&2
}
col() { awk -v c="$2" '{ print $c }' "$work/$1"; }
# p99 of the numbers on stdin (nearest rank)
p99() { sort -g | awk '{ v[NR] = $1 } END { i = int(NR * 0.99 + 0.999); if (i < 1) i = 1; print v[i] }'; }

# --- connecting, round trips, RSS: 1,000 packets of 64 bytes every 2 ms, 5 runs each ------
# Text output for both (what a person runs); each prints a line per reply.
for run in 1 2 3 4 5; do
	dc -c 1000 -i 2ms --size 64 >"$work/rtt.dc.$run" 2>"$work/err"
	stat_line "$work/err" >>"$work/rtt.dc.stat"
	sed -n 's/^pong from B via .* in \([0-9.]*\)ms (seq.*/\1/p' "$work/rtt.dc.$run" >"$work/rtts.dc"
	awk '{ s += $1; if (NR == 1 || $1 < m) m = $1 } END { print m, s / NR }' "$work/rtts.dc" >>"$work/minavg.dc"
	p99 <"$work/rtts.dc" >>"$work/p99.dc"
	# both connected: A's and B's connections run at the same time, so the later one's end
	sed -n 's/^[AB]: .*connected in \([0-9.]*\)ms.*/\1/p' "$work/rtt.dc.$run" | sort -g | tail -1 >>"$work/conn.dc"
	go -n 1000 -i 2ms -size 64 >"$work/rtt.go.$run" 2>"$work/err"
	stat_line "$work/err" >>"$work/rtt.go.stat"
	sed -n 's/^connected in \([0-9.]*\) ms.*/\1/p' "$work/rtt.go.$run" >>"$work/conn.go"
	sed -n 's/.* time=\([0-9.]*\) ms$/\1/p' "$work/rtt.go.$run" >"$work/rtts.go"
	awk '{ s += $1; if (NR == 1 || $1 < m) m = $1 } END { print m, s / NR }' "$work/rtts.go" >>"$work/minavg.go"
	p99 <"$work/rtts.go" >>"$work/p99.go"
done
goal_header "ping through Tailscale's derper: 1,000 packets of 64 bytes every 2 ms, medians of 5 runs" "derpclient"
goal "both clients connected" ms "$(median <"$work/conn.dc")" "$(median <"$work/conn.go")" "<=" 1.0
goal "relayed round trip, minimum" ms "$(col minavg.dc 1 | median)" "$(col minavg.go 1 | median)" "<=" 1.0
goal "relayed round trip, average" ms "$(col minavg.dc 2 | median)" "$(col minavg.go 2 | median)" "<=" 1.0
goal "relayed round trip, 99th percentile" ms "$(median <"$work/p99.dc")" "$(median <"$work/p99.go")" "<=" 1.0
goal "peak RSS" KB "$(col rtt.dc.stat 3 | median)" "$(col rtt.go.stat 3 | median)" "<=" 1.0 \
	"libcrypto.so.3 alone keeps 4 MB resident (3 MB once SSL_CTX_new has fetched its algorithms); derpclient is static Go"
figure "CPU time" ms "$(col rtt.dc.stat 2 | median)" "$(col rtt.go.stat 2 | median)"

# --- pacing: 2,000 packets every 1 ms; the schedule is absolute, so 1,999 ms from the first
# send to the last (derpclient's "time" runs from its first send to its last reply) --------
for run in 1 2 3; do
	dc --format json -c 2000 -i 1ms >"$work/pace.dc.$run" 2>/dev/null
	jq '.summary.send_span_ms' "$work/pace.dc.$run" >>"$work/span.dc"
	go -q -n 2000 -i 1ms >"$work/pace.go.$run" 2>/dev/null
	sed -n 's/.*packet loss.*, time \([0-9.]*\)ms$/\1/p' "$work/pace.go.$run" >>"$work/span.go"
done
goal_header "pacing: 2,000 packets every 1 ms, median of 3 runs (derpcheck: first to last send)" "1,999 ms"
goal "first send to last send" ms "$(median <"$work/span.dc")" 1999 "<=" 1.01
goal "first send to last send, not early" ms "$(median <"$work/span.dc")" 1999 ">=" 0.99
figure "derpclient: first send to last reply" ms "$(median <"$work/span.go")" 1999

# --- load: the highest rate derpclient sustains without loss (it sleeps between sends and B
# echoes every packet), against the rate derpcheck's flood finds the relay delivering ----
go_clean=0
for interval in 1ms 500us 200us 100us 50us 20us 10us; do
	pps=$(awk -v i="$interval" 'BEGIN { v = i + 0; if (i ~ /us$/) v /= 1000; printf "%d", 1000 / v }')
	n=$((pps * 2)) # two seconds at that rate
	if go -q -n "$n" -i "$interval" -timeout 2s >"$work/load.go" 2>"$work/err"; then
		time_ms=$(sed -n 's/.*packet loss.*, time \([0-9.]*\)ms$/\1/p' "$work/load.go")
		achieved=$(awk -v n="$n" -v t="$time_ms" 'BEGIN { printf "%d", n / (t / 1000) }')
		echo "    derpclient -i $interval: $n of $n echoed, $achieved packets/s"
		[ "$achieved" -gt "$go_clean" ] && go_clean=$achieved
	else
		echo "    derpclient -i $interval: $(grep -o '[0-9]* received, [0-9.]*% packet loss' "$work/load.go")"
		break
	fi
done
dc --format json --flood >"$work/flood.dc" 2>"$work/err"
dc_clean=$(jq '.load.highest_clean_pps // 0' "$work/flood.dc" 2>/dev/null || echo 0)
jq -r '.load.steps[]? | "    derpcheck --flood step: \(.rate_pps) packets/s offered, \(.delivered_pps) delivered, \(.lost) of \(.sent) lost\(if .sender_behind then " (derpcheck behind)" else "" end)"' \
	"$work/flood.dc" 2>/dev/null
goal_header "load: packets per second delivered without loss through derper (derpclient: echoed, so each packet crosses twice)" "derpclient"
goal "highest rate delivered without loss" pkt/s "${dc_clean:-0}" "$go_clean" ">=" 1.0
exit $bench_status
