#!/bin/bash
# make bench: the DERP client against the test DERP server on loopback.
#   1. `derpcheck ping` RTT vs a raw TLS echo round trip (same TLS code, same socket options)
#   2. one client pushing small packets through the server: rate, loss, CPU per packet
#   3. connection set-up (TCP + TLS + upgrade + handshake)
set -u
: "${DERPCHECK:?}" "${BENCH_BIN:?}" "${TOOLS:?}"
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/derpcheck-bench.XXXXXX)
pids=""
trap 'for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$work"' EXIT
tests/tools/mkpki-derp.sh "$work/pki"
ca=$work/pki/ca.pem
status=0

# start NAME [options]: a derpserver; sets PORT and SERVER_PID once it prints "ready" (5 s at most).
start() {
	local name=$1 deadline
	shift
	"$TOOLS/derpserver" --cert "$work/pki/derp-chain.pem" --key "$work/pki/derp.key" "$@" \
		>"$work/$name.ready" 2>"$work/$name.log" &
	SERVER_PID=$!
	pids="$pids $SERVER_PID"
	deadline=$(($(date +%s) + 5))
	until grep -q '^ready' "$work/$name.ready"; do
		[ "$(date +%s)" -le "$deadline" ] || { echo "derpserver $name did not start" >&2; exit 1; }
		sleep 0.01
	done
	PORT=$(sed -n 's/^ready [^ ]*:\([0-9]*\).*/\1/p' "$work/$name.ready")
}

value() { sed -n "s/^$1 //p" "$work/$2"; }
# check LABEL VALUE OP LIMIT UNIT: print a figure against its target.
check() {
	if awk -v v="$2" -v l="$4" "BEGIN { exit !(v $3 l) }"; then
		printf '  %-58s %10s %-6s target %s %s: ok\n' "$1" "$2" "$5" "$3" "$4"
	else
		printf '  %-58s %10s %-6s target %s %s: MISSED\n' "$1" "$2" "$5" "$3" "$4"
		status=1
	fi
}

start derp
derp_port=$PORT derp_pid=$SERVER_PID
start echo --tls-echo
echo_port=$PORT
printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"bench","Nodes":[{"Name":"900a","RegionID":900,"HostName":"derp.test","IPv4":"127.0.0.1","IPv6":"none","STUNPort":-1,"DERPPort":%s}]}}}\n' \
	"$derp_port" >"$work/map.json"

echo "== DERP ping RTT vs a raw TLS echo round trip on loopback (targets: within 0.2 ms)"
"$BENCH_BIN/bench_derp" echo "$echo_port" "$ca" 5000 >"$work/echo" || status=1
"$BENCH_BIN/bench_derp" echo "$echo_port" "$ca" 1000 2000 >"$work/echo-paced" || status=1
"$BENCH_BIN/bench_derp" pong "$derp_port" "$ca" 5000 >"$work/pong" || status=1
"$DERPCHECK" --format json ping --derp-map "$work/map.json" --ca-file "$ca" -c 1000 -i 2ms 900 >"$work/ping.json" ||
	status=1
echo_ms=$(value tls_echo_rtt_median_ms echo)
paced_ms=$(value tls_echo_paced_rtt_median_ms echo-paced)
pong_ms=$(value derp_pong_rtt_median_ms pong)
relay_ms=$(jq '[.packets[].rtt_ms] | sort | .[length / 2 | floor]' "$work/ping.json")
sping_ms=$(jq '.clients[0].server_ping.avg_ms' "$work/ping.json")
sping_min=$(jq '.clients[0].server_ping.min_ms' "$work/ping.json")
relay_avg=$(jq '.summary.avg_ms' "$work/ping.json")
printf '  raw TLS echo round trip, back to back, median               %8s ms\n' "$echo_ms"
printf '  raw TLS echo round trip, one every 2 ms (idle CPU), median   %8s ms\n' "$paced_ms"
printf '  DERP Ping/Pong round trip, back to back, median              %8s ms\n' "$pong_ms"
printf '  derpcheck ping -i 2ms: server Ping/Pong (A) mean, min        %8s ms, %s ms\n' "$sping_ms" "$sping_min"
printf '  derpcheck ping -i 2ms: relayed A->B->A (two traversals)      %8s ms median, %s ms mean\n' "$relay_ms" "$relay_avg"
check "DERP Ping/Pong minus TLS echo (back to back)" "$(awk -v a="$pong_ms" -v b="$echo_ms" 'BEGIN{printf "%.4f", a - b}')" "<=" 0.2 ms
check "derpcheck ping server RTT minus TLS echo (both paced)" "$(awk -v a="$sping_ms" -v b="$paced_ms" 'BEGIN{printf "%.4f", a - b}')" "<=" 0.2 ms
check "derpcheck relay RTT minus two TLS echoes (both paced)" "$(awk -v a="$relay_ms" -v b="$paced_ms" 'BEGIN{printf "%.4f", a - 2 * b}')" "<=" 0.2 ms

echo "== one client pushing packets through the server (target: >= 200000 packets/s, no loss)"
for size in 64 1200; do
	"$BENCH_BIN/bench_derp" flood "$derp_port" "$ca" 2000000 "$size" "$derp_pid" >"$work/flood$size" || status=1
	check "$size-byte packets delivered per second" "$(value flood_delivered_rate_pps "flood$size")" ">=" 200000 pkt/s
	check "$size-byte packets lost" "$(value flood_lost "flood$size")" "==" 0 ""
	printf '  CPU per packet: sender %s ns, receiver %s ns, server %s ns\n' "$(value flood_sender_cpu_ns_per_packet "flood$size")" \
		"$(value flood_receiver_cpu_ns_per_packet "flood$size")" "$(value flood_server_cpu_ns_per_packet "flood$size")"
done

echo "== connection set-up on loopback (target: median < 5 ms)"
"$BENCH_BIN/bench_derp" setup "$derp_port" "$ca" 300 >"$work/setup" || status=1
check "TCP+TLS+upgrade+handshake, median of 300" "$(value setup_tcp_tls_upgrade_handshake_median_ms setup)" "<" 5 ms
printf '  certificate check (local CPU) median %s ms; everything together median %s ms, p90 %s ms\n' \
	"$(value setup_certificate_check_median_ms setup)" "$(value setup_all_including_check_median_ms setup)" \
	"$(value setup_all_including_check_p90_ms setup)"
exit $status
