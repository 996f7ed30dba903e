#!/bin/bash
# make bench: one `derpcheck cert` against a local derper-like server (tests/tools/certserver)
# on loopback, end to end: TCP, TLS, the HTTP Date probe, four client verdicts. Targets:
# a complete chain < 50 ms wall, a leaf-only chain completed through AIA < 100 ms wall,
# the files of a --certdir < 50 ms wall. Nothing leaves 127.0.0.1.
set -eu
: "${DERPCHECK:?}" "${TOOLS:?}"
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/derpcheck-bench-cert.XXXXXX)
pids=""
trap 'for p in $pids; do kill $p 2>/dev/null; wait $p 2>/dev/null || true; done; rm -rf "$work"' EXIT
start() { # start NAME ARGS...: sets $port once the tool prints its "listening" line
	local name=$1
	shift
	"$TOOLS/$name" "$@" >"$work/$name.$#.out" 2>/dev/null &
	pids="$pids $!"
	for _ in $(seq 250); do grep -q listening "$work/$name.$#.out" 2>/dev/null && break; sleep 0.02; done
	port=$(sed -n 's/^listening 127.0.0.1://p' "$work/$name.$#.out")
}
mkdir -p "$work/pki/aia"
start httpfiles "$work/pki/aia"
tests/tools/mkcertpki.sh "$work/pki" "http://127.0.0.1:$port"
start certserver --chain "$work/pki/fullchain.pem" --key "$work/pki/leaf.key" --hostname derp.test
full=$port
start certserver --chain "$work/pki/leaf.pem" --key "$work/pki/leaf.key" --hostname derp.test --no-metacert
leaf=$port
mkdir -p "$work/certs" && cp "$work/pki/fullchain.pem" "$work/certs/derp.test.crt" &&
	cp "$work/pki/leaf.key" "$work/certs/derp.test.key" && chmod 600 "$work/certs/derp.test.key"
ca="--ca-file $work/pki/root.pem"
status=0
hyperfine --style basic --warmup 5 --runs 50 -N -i --export-json "$work/h.json" \
	"$DERPCHECK cert --servername derp.test $ca 127.0.0.1:$full" \
	"$DERPCHECK cert --servername derp.test $ca 127.0.0.1:$leaf" \
	"$DERPCHECK cert --certdir $work/certs --hostname derp.test $ca"
i=0
for target in 50 100 50; do
	mean=$(jq ".results[$i].mean * 1000" "$work/h.json")
	name=$(jq -r ".results[$i].command" "$work/h.json" | sed "s|$work|WORK|g")
	if awk -v m="$mean" -v t="$target" 'BEGIN { exit !(m < t) }'; then verdict=ok; else verdict=MISSED; status=1; fi
	printf '%s: mean %.1f ms wall (target < %d ms): %s\n' "$name" "$mean" "$target" "$verdict"
	i=$((i + 1))
done
exit $status
