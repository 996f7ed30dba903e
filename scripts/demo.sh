#!/bin/bash
# make demo: the full local lab on loopback. Starts the test DERP server (two meshed
# instances) and the test STUN server with a generated PKI and DERP map, then runs
# validate, stun, ping, cert and diagnose against them (netcheck too when this binary has
# it), and shows their real output. Nothing leaves 127.0.0.0/8; everything started here is
# stopped on exit. Needs no root.
#   scripts/demo.sh [DERPCHECK] [TOOLS]
set -u
derpcheck=$(realpath "${1:-./derpcheck}")
tools=$(realpath "${2:-build/tools}")
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/derpcheck-demo.XXXXXX)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
export DERPCHECK_DEFAULT_MAP_URL="" # never the public default map

# wait_ready FILE PID: the server's "ready" line, within 5 s.
wait_ready() {
	local i
	for i in $(seq 500); do
		grep -q '^ready' "$1" 2>/dev/null && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.01
	done
	echo "demo: a test server did not start; its log:" >&2
	cat "${1%.ready}.log" >&2
	exit 2
}

DAYS=90 "$root/tests/tools/mkpki-derp.sh" "$work/pki"
"$tools/derpserver" --cert "$work/pki/derp-chain.pem" --key "$work/pki/derp.key" --hostname derp.test \
	--mesh-key "$(printf '%064d' 1)" --listen 127.0.0.41:0 --listen 127.0.0.42:0 >"$work/derp.ready" 2>"$work/derp.log" &
pids="$pids $!"
wait_ready "$work/derp.ready" $!
set -- $(sed -n 's/^ready //p' "$work/derp.ready")
port_a=${1##*:} port_b=${2##*:}
# STUN for node 900a where the map says; for 900b on 3478 while the map says 38893 (a
# forwarding mistake diagnose names).
"$tools/stunserver" -a 127.0.0.41 -p 3478 -a 127.0.0.42 -p 3478 --lifetime 60 >"$work/stun.ready" 2>"$work/stun.log" &
pids="$pids $!"
wait_ready "$work/stun.ready" $!
cat >"$work/map.json" <<EOF2
{"Regions": {"900": {"RegionID": 900, "RegionCode": "lab", "RegionName": "Loopback lab", "Nodes": [
  {"Name": "900a", "RegionID": 900, "HostName": "derp.test", "IPv4": "127.0.0.41", "IPv6": "none", "DERPPort": $port_a, "STUNPort": 3478},
  {"Name": "900b", "RegionID": 900, "HostName": "derp.test", "IPv4": "127.0.0.42", "IPv6": "none", "DERPPort": $port_b, "STUNPort": 38893}
]}}}
EOF2
cd "$work"
show() {
	echo
	echo "\$ derpcheck $*"
	"$derpcheck" "$@"
	echo "(exit status $?)"
}
ca=(--ca-file pki/ca.pem)
show validate map.json
show stun --derp-map map.json --region 900 -c 2
show ping --derp-map map.json "${ca[@]}" -c 3 -i 50ms --mesh 900
show cert --derp-map map.json "${ca[@]}" --region 900 --no-aia
if "$derpcheck" help netcheck >/dev/null 2>&1; then
	show netcheck --derp-map map.json "${ca[@]}"
fi
show diagnose --derp-map map.json "${ca[@]}" 900
exit 0
