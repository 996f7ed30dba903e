#!/bin/bash
# derpcheck ping --rate / --flood (load tests: A sends, B counts): exact lines against the
# test DERP server, with and without dropped packets (--drop-every, deterministic), and
# against Tailscale's real derper v1.34.2, where the rate it finds must agree with the
# exit status and the JSON.
set -u
. "$(dirname "$0")/lib/derp.sh"
. "$root/tests/lib/peers.sh"
peers_require

ca=(--ca-file pki/ca.pem)

# ---- a fixed rate, nothing dropped ------------------------------------------------------
start_server clean
write_map map.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run rate 0 10000 ping --derp-map map.json "${ca[@]}" --rate 500 -c 500 900
# rates measured over ~1 s come out as 499..501: checked below, masked here
sed -E 's/\(([0-9]+) packets\/s\)/(P packets\/s)/' "$work/rate.out" >"$work/rate-masked.out"
expect rate-masked out <<'EOF'
DERP load test of region 900 (test): 500 packets of 64 bytes from A to B at 500 packets/s
A: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
B: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms

--- DERP(test) load statistics (A to B, one way) ---
500 packets sent in Nms (P packets/s)
500 delivered to B (P packets/s), 0 lost (0%)
one-way delay min/avg/p99/max = N/N/N/N ms
  phases (ms)                  dns       tcp       tls    verify   upgrade handshake     total
  A 900a 127.0.0.1:PORT         - N N N N N N
  B 900a 127.0.0.1:PORT         - N N N N N N
EOF
expect rate err </dev/null
# The schedule is absolute: 500 packets at 500/s leave over 998 ms (+-5 % for a busy machine).
span=$(sed -n 's/^500 packets sent in \([0-9.]*\)ms.*/\1/p' "$work/rate.out")
awk -v s="$span" 'BEGIN { exit !(s >= 948 && s <= 1048) }' && pass || fail "rate: 500 packets at 500/s took ${span} ms, not ~998"
rate=$(sed -n 's/^500 delivered to B (\([0-9]*\) packets\/s).*/\1/p' "$work/rate.out")
awk -v r="$rate" 'BEGIN { exit !(r >= 475 && r <= 525) }' && pass || fail "rate: delivered at ${rate} packets/s, not ~500"

run rate-json 0 10000 --format json ping --derp-map map.json "${ca[@]}" --rate 500 -c 200 900
json rate-json '.ok == true and .load.mode == "rate" and (.load.steps | length) == 1'
json rate-json '.load.steps[0] | .rate_pps == 500 and .sent == 200 and .delivered == 200 and .lost == 0 and .sender_behind == false'
json rate-json '.load.steps[0].delay_min_ms <= .load.steps[0].delay_p99_ms and .load.highest_clean_pps > 0 and .load.first_loss_pps == null'
json rate-json '.packets == [] and .summary.sent == 0'

# ---- derpcheck itself stalled: stopped for 200 ms in a run at 1000 packets/s -------------------
# The packets due meanwhile leave in one write when it goes on: ~200 at once (the stop is
# timed by sleep, so 150..300), more than the 32 derper queues per client. The JSON has the
# burst, and the text says what it means for losses (here: none, the test server drops none).
# stall_run NAME [ARGS...]: the ping in the background, SIGSTOP 0.7 s in, SIGCONT 0.2 s later.
stall_run() {
	local name=$1 pid rc
	shift
	(cd "$work" && NO_COLOR=1 exec "$DERPCHECK" "$@" >"$work/$name.out" 2>"$work/$name.err") &
	pid=$!
	sleep 0.7
	kill -STOP "$pid"
	sleep 0.2
	kill -CONT "$pid"
	wait "$pid"
	rc=$?
	[ "$rc" -eq 0 ] && pass || { fail "$name: exit status $rc"; cat "$work/$name.err" >&2; }
}
stall_run stall --format json ping --derp-map map.json "${ca[@]}" --rate 1000 -c 1500 900
json stall '.load.steps[0] | .sent == 1500 and .delivered == 1500 and .largest_burst >= 150 and .largest_burst <= 300'
json stall '.load.steps[0].sender_behind == false'
stall_run stall-text ping --derp-map map.json "${ca[@]}" --rate 1000 -c 1500 900
grep -Eq '^derpcheck fell behind at 1000 packets/s and sent up to [0-9]+ packets at once, more than the 32 derper queues per client$' \
	"$work/stall-text.out" && pass || { fail "stall-text: no line on the stall"; cat "$work/stall-text.out" >&2; }
# Unstopped, at the same rate, nothing is said (a burst of 33 needs a 33 ms stall).
json rate-json '.load.steps[0].largest_burst < 33'
grep -q "fell behind" "$work/rate.out" && fail "rate: a stall reported on an unstopped run" || pass
stop_server clean

# ---- every 50th packet dropped by the server ---------------------------------------------
# The warm-up packet is the server's first from A, so load packets are its 2nd..501st:
# 50, 100, ... 500 are dropped, 10 of 500.
start_server drop --drop-every 50
write_map drop.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run rate-drop 1 10000 ping --derp-map drop.json "${ca[@]}" --rate 500 -c 500 900
contains rate-drop out "490 delivered to B ("
contains rate-drop out ", 10 lost (2%)"
run flood-drop 1 10000 --format json ping --derp-map drop.json "${ca[@]}" --flood 900
json flood-drop '.ok == false and .load.mode == "flood" and (.load.steps | length) == 1'
json flood-drop '.load.steps[0] | .rate_pps == 1000 and .sent == 500 and .lost == 10'
json flood-drop '.load.highest_clean_pps == null and .load.first_loss_pps == 1000'
run flood-drop-text 1 10000 ping --derp-map drop.json "${ca[@]}" --flood 900
contains flood-drop-text out "the relay lost packets already at 1000 packets/s"
stop_server drop

# ---- Tailscale's derper ---------------------------------------------------------------
derper_certdir "$work/certs" "$work/pki/derp-chain.pem" "$work/pki/derp.key"
derper_start real 127.0.0.1 "$work/certs" || { finish; exit 1; }
write_map real.json "$(node 900a derp.test 127.0.0.1 none "$DERPER_PORT")"
run real-rate 0 10000 ping --derp-map real.json "${ca[@]}" --rate 200 -c 400 900
contains real-rate out "400 delivered to B ("
(cd "$work" && NO_COLOR=1 timeout 60 "$DERPCHECK" --format json ping --derp-map real.json "${ca[@]}" --flood 900 \
	>"$work/real-flood.out" 2>"$work/real-flood.err")
flood_rc=$?
[ "$flood_rc" -le 1 ] && pass || { fail "real-flood: exit status $flood_rc"; cat "$work/real-flood.err" >&2; }
# The ramp doubles from 1,000 packets/s until a step loses packets (or derpcheck cannot
# keep up); what it concludes must agree with its steps and its exit status.
json real-flood '.load.steps[0].rate_pps == 1000 and .load.steps[0].sent == 500'
json real-flood '[.load.steps[] | select(.lost == 0 and .sender_behind == false) | .delivered_pps] as $clean
	| .load.highest_clean_pps == (if $clean == [] then null else ($clean | max) end)'
json real-flood '([.load.steps[] | select(.lost > 0) | .rate_pps] | min) as $m | .load.first_loss_pps == $m'
json real-flood ".ok == (.load.highest_clean_pps != null) and .ok == ($flood_rc == 0)"
finish
