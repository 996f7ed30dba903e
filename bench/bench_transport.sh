#!/bin/bash
# make bench: DERP over WebSocket against DERP over the HTTP upgrade, through the same real
# derper (v1.34.2, tests/lib/peers.sh) on loopback, in one run:
#   derpcheck ping --transport derp       (Upgrade: DERP, as tailscaled)
#   derpcheck ping --transport websocket  (RFC 6455 binary messages, as browsers)
#   derpclient                            (Tailscale's own Go client, Upgrade: DERP)
# Each relays N packets A -> B -> A at a fixed interval; the figures are the average and
# median RTT and the CPU time (user + system, from bash's time) per relayed packet, then
# the ratios WebSocket/DERP and derpcheck/derpclient. CPU is the client process's alone
# (connections and start-up included), not derper's.
set -u
: "${DERPCHECK:?}"
cd "$(dirname "$0")/.."
PEERS=${PEERS:-$PWD/build/peers/bin}
# scratch directory, background servers and the teardown (peers.sh needs its
# free_port and now_ms)
WORK_PREFIX=derpcheck-bench . tests/lib/proc.sh
fail() { echo "bench_transport: $*" >&2; }
. tests/lib/peers.sh
[ -x "$PEERS/derper" ] && [ -x "$PEERS/derpclient" ] || { echo "bench_transport: run make peers first" >&2; exit 1; }
status=0
count=${COUNT:-1000}
interval_ms=2

DAYS=30 tests/tools/mkpki-derp.sh "$work/pki"
derper_certdir "$work/certs" "$work/pki/derp-chain.pem" "$work/pki/derp.key"
derper_start bench 127.0.0.81 "$work/certs" || exit 1
port=$DERPER_PORT
printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"bench","Nodes":[{"Name":"900a","RegionID":900,"HostName":"derp.test","IPv4":"127.0.0.81","IPv6":"none","STUNPort":-1,"DERPPort":%s}]}}}\n' \
	"$port" >"$work/map.json"

# cpu FILE: user + system seconds from bash's time (TIMEFORMAT below).
cpu() { awk '{ printf "%.3f", $2 + $3 }' "$1"; }
TIMEFORMAT='%R %U %S'

run_derpcheck() {
	local t=$1
	{ time "$DERPCHECK" --format json ping --derp-map "$work/map.json" --ca-file "$work/pki/ca.pem" -c "$count" \
		-i "${interval_ms}ms" --transport "$t" 900 >"$work/$t.json" 2>"$work/$t.err"; } 2>"$work/$t.time" || {
		fail "ping --transport $t failed"
		cat "$work/$t.err" >&2
		status=1
	}
}
run_derpcheck derp
run_derpcheck websocket
{ time "$PEERS/derpclient" -ca "$work/pki/ca.pem" -resolve-to 127.0.0.81 -n "$count" -i "${interval_ms}ms" -q \
	"https://derp.test:$port/derp" >"$work/go.out" 2>"$work/go.err"; } 2>"$work/go.time" || {
	fail "derpclient failed"
	cat "$work/go.err" >&2
	status=1
}

avg() { jq '.summary.avg_ms' "$work/$1.json"; }
median() { jq '[.packets[] | select(.rtt_ms != null) | .rtt_ms] | sort | .[length / 2 | floor]' "$work/$1.json"; }
received() { jq '.summary.received' "$work/$1.json"; }
go_avg=$(sed -n 's|^rtt min/avg/max/mdev = [0-9.]*/\([0-9.]*\)/.*|\1|p' "$work/go.out")
go_recv=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$work/go.out")

d_avg=$(avg derp) w_avg=$(avg websocket) d_med=$(median derp) w_med=$(median websocket)
d_cpu=$(cpu "$work/derp.time") w_cpu=$(cpu "$work/websocket.time") g_cpu=$(cpu "$work/go.time")
per() { awk -v c="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n; else print "n/a" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "== DERP over WebSocket vs the HTTP upgrade, real derper v1.34.2 on loopback: $count packets every ${interval_ms}ms"
printf '  %-38s %9s %9s %9s %14s\n' "client" "received" "avg ms" "median ms" "CPU us/packet"
printf '  %-38s %9s %9s %9s %14s\n' "derpcheck ping --transport derp" "$(received derp)" "$d_avg" "$d_med" "$(per "$d_cpu" "$(received derp)")"
printf '  %-38s %9s %9s %9s %14s\n' "derpcheck ping --transport websocket" "$(received websocket)" "$w_avg" "$w_med" "$(per "$w_cpu" "$(received websocket)")"
printf '  %-38s %9s %9s %9s %14s\n' "derpclient (Go, Upgrade: DERP)" "${go_recv:-0}" "${go_avg:-n/a}" "-" "$(per "$g_cpu" "${go_recv:-0}")"
echo "  ratios (1.00 = the same):"
printf '    WebSocket / DERP:        RTT avg %s, median %s, CPU %s\n' "$(ratio "$w_avg" "$d_avg")" "$(ratio "$w_med" "$d_med")" "$(ratio "$w_cpu" "$d_cpu")"
printf '    derpcheck DERP / Go:     RTT avg %s, CPU %s\n' "$(ratio "$d_avg" "${go_avg:-0}")" "$(ratio "$d_cpu" "$g_cpu")"
printf '    derpcheck WebSocket / Go: RTT avg %s, CPU %s\n' "$(ratio "$w_avg" "${go_avg:-0}")" "$(ratio "$w_cpu" "$g_cpu")"
# Targets: every packet back over both transports; WebSocket framing (masking included)
# costs at most a third more RTT than the raw stream through the same derper.
for t in derp websocket; do
	[ "$(received $t)" = "$count" ] || { fail "--transport $t: $(received $t) of $count packets came back"; status=1; }
done
if awk -v w="$w_med" -v d="$d_med" 'BEGIN { exit !(w <= d * 1.33 + 0.05) }'; then
	echo "  WebSocket median RTT within a third of DERP's (+0.05 ms): ok"
else
	echo "  WebSocket median RTT within a third of DERP's (+0.05 ms): MISSED"
	status=1
fi
exit $status
