#!/bin/bash
# diagnose --load-rate: one second of 1200-byte packets A to B through each node (ping's
# load mode), with the delivered rate, the one-way delay and the queuing at p99. Against
# the test DERP server with an injected relay delay (20 ms: the minimum one-way delay must
# be that, within scheduling slack) and with an injected drop of every 10th packet (10 %
# lost: a warning with the cause and a `derpcheck ping --flood` that runs as printed), and
# against Tailscale's real derper (every packet delivered, but for a stalled receiver's
# queue overflow on a busy machine: at most 1 %). Loopback only.
set -u
export DAYS=90 # certificates that do not expire during the test
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C # ASCII marks
. "$(dirname "$0")/lib/derp.sh"
. "$root/tests/lib/peers.sh"
peers_require
ca=(--ca-file pki/ca.pem)

# jnum NAME FILTER LOW HIGH: the JSON number is within [LOW, HIGH].
jnum() {
	local got
	got=$(jq -r "$2" "$work/$1.out")
	if awk -v v="$got" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v != "" && v + 0 >= lo && v + 0 <= hi) }'; then pass; else
		fail "$1: $2 = '$got', want $3 to $4"
	fi
}

# ---- 20 ms injected in the relay: the one-way delay shows it -------------------------------------
start_server slow --hostname derp.test --listen 127.0.0.31:0 --delay 20 || exit 1
write_map slow.json "$(node 900a derp.test 127.0.0.31 none "$PORT")"
run slow 0 20000 diagnose --derp-map slow.json "${ca[@]}" --load-rate 500 900
contains slow out "  ok   relay-load         500 of 500 packets of 1200 B delivered at "
contains slow out " Mbit/s), one-way delay min 20."
run slow-json 0 20000 diagnose --derp-map slow.json "${ca[@]}" --load-rate 500 --format json 900
json slow-json '.nodes[0].relay_load | .packet_bytes == 1200 and .offered_pps == 500 and .sent == 500 and .delivered == 500 and .sender_limited == false'
jnum slow-json '.nodes[0].relay_load.delay_min_ms' 19.9 30
jnum slow-json '.nodes[0].relay_load.delay_avg_ms' 19.9 40
jnum slow-json '.nodes[0].relay_load.delivered_mbit_per_s' 3.5 5
json slow-json '[.nodes[0].checks[] | select(.check == "relay-load") | .status] == ["ok"]'
# Without the flag there is no load check.
run slow-noload 0 20000 diagnose --derp-map slow.json "${ca[@]}" --format json 900
json slow-noload '.nodes[0].relay_load == null and ([.nodes[0].checks[] | select(.check == "relay-load")] | length) == 0'
stop_server slow

# ---- every 10th packet dropped: 10 % lost is a warning with the cause -----------------------------
start_server lossy --hostname derp.test --listen 127.0.0.32:0 --drop-every 10 || exit 1
write_map lossy.json "$(node 900a derp.test 127.0.0.32 none "$PORT")"
run lossy 0 20000 diagnose --derp-map lossy.json "${ca[@]}" --load-rate 500 900
contains lossy out "  warn relay-load         450 of 500 packets of 1200 B delivered at "
has_line lossy out "       cause: 50 of 500 packets were lost at 500 packets/s offered (4.8 Mbit/s): derper drops what overflows a client's 32-packet send queue (protocols.md §1.7): the node, its host or its link does not keep up with this rate"
has_line lossy out "       fix:   find the rate it does carry with a lower --load-rate or with \`derpcheck ping --flood --node 900a --derp-map lossy.json --ca-file pki/ca.pem 900\`; give derper more CPU or bandwidth if clients need more"
stop_server lossy

# ---- Tailscale's derper: 2000 packets/s, all of them ---------------------------------------------
derper_certdir "$work/certs" "$work/pki/derp-chain.pem" "$work/pki/derp.key"
derper_start real 127.0.0.1 "$work/certs" || exit 1
derper_policy "$work/real.hujson" "$(derper_node 900a derp.test 127.0.0.1 "$DERPER_PORT" "$DERPER_STUN")"
run real 0 20000 diagnose --derp-map real.hujson "${ca[@]}" --load-rate 2000 --format json 900
# derper queues 32 packets per receiving client and drops the oldest when the queue is full
# (perClientSendQueueDepth, dropReasonQueueHead in derp_server.go): a receiver that the
# scheduler stalls for more than 16 ms at 2000 packets/s loses a few. A loaded run lost
# 17 of 2000 so; 1 % is allowed, and every packet must still be sent.
json real '.nodes[0].relay_load | .sent == 2000 and .delivered >= 1980 and .delivered <= 2000 and .delivered_mbit_per_s > 10'
jnum real '.nodes[0].relay_load.delay_min_ms' 0 20
derper_stop real

# ---- a rate out of range is a usage error -------------------------------------------------------
run badrate 2 5000 diagnose --derp-map real.hujson "${ca[@]}" --load-rate 5 900
contains badrate err "derpcheck: invalid --load-rate '5'"

finish
