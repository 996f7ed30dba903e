#!/bin/bash
# make bench: derpcheck stun — RTT accuracy with injected delay, 1,000 endpoints in one
# run, and side by side with Debian's stun client and coturn's turnutils_stunclient.
# Everything on loopback, servers started here and stopped by pid.
set -u
: "${DERPCHECK:?}" "${TOOLS:?}" "${BENCH_BIN:?}"
cd "$(dirname "$0")/.."
. tests/lab/lib.sh
lab_deadline 300
status=0
verdict() { # NAME OK-CONDITION(awk) : print ok / MISSED
	if awk "BEGIN { exit !($2) }"; then echo "$1: ok"; else echo "$1: MISSED"; status=1; fi
}

# --- 1. accuracy: 20 ms injected, median of 20 probes within +-0.3 ms ---------------------
echo "== stun RTT accuracy (target: median of 20 probes within 20 +- 0.3 ms with 20 ms injected)"
lab_spawn delay "" "$TOOLS/stunserver" --lifetime 280 -p 0 --delay 20
lab_wait_ready delay 5 || exit 1
dport=$(lab_ports delay | head -1)
"$DERPCHECK" --format json stun -c 20 -i 25ms 127.0.0.1:$dport >"$lab_dir/acc.json"
read -r median min max <<<"$(jq -r '.targets[0].rtt_ms | "\(.median) \(.min) \(.max)"' "$lab_dir/acc.json")"
lab_spawn zero "" "$TOOLS/stunserver" --lifetime 280 -p 0
lab_wait_ready zero 5 || exit 1
"$DERPCHECK" --format json stun -c 20 -i 5ms 127.0.0.1:$(lab_ports zero | head -1) >"$lab_dir/zero.json"
base=$(jq -r '.targets[0].rtt_ms.median' "$lab_dir/zero.json")
echo "20 ms injected: median $median ms (min $min, max $max); loopback without delay: median $base ms"
verdict "accuracy target |median - 20| <= 0.3 ms" "($median - 20) <= 0.3 && (20 - $median) <= 0.3"

# --- 2. scale: 1,000 endpoints in one run ------------------------------------------------
echo "== stun scale (targets: 1000 endpoints on loopback in one run < 1 s wall, peak RSS < 16 MB, <= 4 sockets)"
lab_spawn many "" "$TOOLS/stunserver" --lifetime 280 -p 0 -n 1000
lab_wait_ready many 10 || exit 1
lab_ports many | sed 's/^/127.0.0.1:/' >"$lab_dir/targets"
[ "$(wc -l <"$lab_dir/targets")" = 1000 ] || { echo "stunserver did not open 1000 ports" >&2; exit 1; }
best_wall=999 best_rss=0
for run in 1 2 3; do
	"$BENCH_BIN/runstat" "$DERPCHECK" --format json stun -c 1 $(cat "$lab_dir/targets") >"$lab_dir/scale.json" 2>"$lab_dir/time"
	read -r wall rss _ <<<"$(tail -1 "$lab_dir/time")"
	awk "BEGIN { exit !($wall < $best_wall) }" && best_wall=$wall best_rss=$rss
done
answered=$(jq '[.targets[] | select(.answered == 1)] | length' "$lab_dir/scale.json")
strace -f -qq -e trace=socket -o "$lab_dir/strace" "$DERPCHECK" stun -c 1 $(cat "$lab_dir/targets") >/dev/null
sockets=$(grep -c 'socket(' "$lab_dir/strace")
udp_probe=$(grep -c 'SOCK_NONBLOCK' "$lab_dir/strace")
echo "1000 endpoints: $answered answered, best of 3: $best_wall s wall, peak RSS $((best_rss / 1024)) MB ($best_rss KB); sockets opened: $sockets ($udp_probe probe socket(s), the rest for route lookups)"
verdict "scale target: all answered, < 1 s, < 16 MB, <= 4 sockets" \
	"$answered == 1000 && $best_wall < 1 && $best_rss < 16384 && $sockets <= 4"

# --- 3. side by side: derpcheck, stun (Debian), turnutils_stunclient (coturn) -----------
echo "== side by side against coturn on loopback (no target: figures for comparison)"
cport=$(lab_free_port)
lab_spawn coturn "" turnserver -n --stun-only --no-auth -L 127.0.0.1 -E 127.0.0.1 -p "$cport" --no-tls --no-dtls \
	--no-cli --pidfile "$lab_dir/turnserver.pid" --userdb "$lab_dir/turndb" --log-file stdout
lab_wait_stun "" 127.0.0.1:$cport 10 || exit 1
one_dc="$DERPCHECK stun -c 1 127.0.0.1:$cport"
one_stun="stun 127.0.0.1:$cport 1"
one_turn="turnutils_stunclient -p $cport 127.0.0.1"
hyperfine --style basic -N --warmup 20 --runs 200 --export-json "$lab_dir/one.json" \
	-n derpcheck "$one_dc" -n stun "$one_stun" -n turnutils_stunclient "$one_turn" >/dev/null 2>&1 ||
	{ echo "hyperfine failed" >&2; status=1; }
jq -r '.results[] | "one probe, \(.command): mean \(.mean * 1000 | . * 1000 | round / 1000) ms wall (min \(.min * 1000 | . * 1000 | round / 1000) ms)"' "$lab_dir/one.json"
seq100() { # LABEL CMD...: 100 sequential runs, total wall
	t0=$(date +%s%N)
	for i in $(seq 100); do "$@" >/dev/null 2>&1 || { echo "$1 failed" >&2; break; }; done
	echo "100 sequential probes, $label: $((($(date +%s%N) - t0) / 1000000)) ms wall"
}
label=derpcheck seq100 $one_dc
label=stun seq100 $one_stun
label=turnutils_stunclient seq100 $one_turn
t0=$(date +%s%N)
"$DERPCHECK" stun -c 100 -i 0 127.0.0.1:$cport >/dev/null
echo "100 probes in one derpcheck run (-c 100 -i 0): $((($(date +%s%N) - t0) / 1000000)) ms wall"
t0=$(date +%s%N)
"$DERPCHECK" stun -c 100 -i 1ms 127.0.0.1:$cport >/dev/null
echo "100 probes in one derpcheck run, 1 ms apart (-c 100 -i 1ms): $((($(date +%s%N) - t0) / 1000000)) ms wall"
exit $status
