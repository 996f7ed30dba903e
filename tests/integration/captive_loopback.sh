#!/bin/bash
# Captive-portal detection (src/probe/captive.c) against tests/tools/captive_server on
# loopback: one server, one behaviour per 127.0.0.x address, a DERP map per case whose
# nodes point at those addresses. Driven by tests/tools/captive_probe until
# `derpcheck netcheck` exists. Loopback only; no root needed.
set -u

: "${TOOLS:?set TOOLS to the build/tools directory}"
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/compare.sh"
WORK_PREFIX=derpcheck-captive
. "$(dirname "$0")/../lib/proc.sh"

# The server, one behaviour per address; its "listening PORT" line within 5 s.
spawn server '^listening ' 5 "$TOOLS/captive_server" --lifetime 120 \
	127.0.0.1=ok 127.0.0.2=portal 127.0.0.3=no-header 127.0.0.4=redirect \
	127.0.0.5=hang 127.0.0.6=wrong-header 127.0.0.7=ok || { finish; exit 1; }
port=$(sed -n 's/^listening //p' "$work/server.ready")

# map NAME NODE...: a DERP map with one region per NODE, written as
# ID:IPV4:CANPORT80[:avoid], e.g. 900:127.0.0.1:true.
map() {
	name=$1
	shift
	{
		printf '{"Regions": {'
		sep=""
		for node in "$@"; do
			id=${node%%:*}
			rest=${node#*:}
			ip=${rest%%:*}
			rest=${rest#*:}
			port80=${rest%%:*}
			avoid=false
			[ "${rest#*:}" = avoid ] && avoid=true
			printf '%s"%s": {"RegionID": %s, "RegionCode": "r%s", "Avoid": %s, "Nodes": [' "$sep" "$id" "$id" "$id" "$avoid"
			printf '{"Name": "%sa", "RegionID": %s, "HostName": "derp%s.test", "IPv4": "%s", "IPv6": "none", "CanPort80": %s}]}' \
				"$id" "$id" "$id" "$ip" "$port80"
			sep=", "
		done
		printf '}}\n'
	} >"$work/$name.json"
}

# check NAME WANT_EXIT [--timeout-ms N]: run the probe on map NAME; its output must equal
# the lines on standard input.
check() {
	name=$1 want=$2
	shift 2
	case_begin "$name"
	got=0
	"$TOOLS/captive_probe" --map "$work/$name.json" --port "$port" "$@" >"$work/$name.raw" 2>"$work/$name.err" || got=$?
	# libcurl reports the time it actually waited: keep the words, not the number.
	sed 's/after [0-9]* milliseconds/after N milliseconds/' "$work/$name.raw" >"$work/$name.out"
	cat >"$work/$name.want"
	assert_exit "$name" "$want" "$got"
	expect_file "$name: output" "$work/$name.out" "$work/$name.want"
	expect_empty "$name: stderr" "$work/$name.err"
}

# logged NAME TEXT: the server log must contain TEXT.
logged() { assert_text "$1" "$work/server.log" "$2"; }

map clear 900:127.0.0.1:true 901:127.0.0.7:true
check clear 0 <<'EOF'
endpoints: 2
900/900a clear: HTTP 204 with the expected X-Tailscale-Response
901/901a clear: HTTP 204 with the expected X-Tailscale-Response
CaptivePortal: false
EOF
# The request as Tailscale sends it: ?t=<unix>, the challenge, the cache header.
logged clear "ok GET /generate_204?t="
logged clear "challenge=ts_127.0.0.1 cache-control=no-cache, no-store, must-revalidate, no-transform, max-age=0"
logged clear "challenge=ts_127.0.0.7 "

map portal 900:127.0.0.2:true
check portal 1 <<'EOF'
endpoints: 1
900/900a portal: HTTP 200 instead of 204: a page was served in the server's place (a portal's login page?)
CaptivePortal: true
EOF

map no-header 900:127.0.0.3:true
check no-header 1 <<'EOF'
endpoints: 1
900/900a portal: HTTP 204 but no X-Tailscale-Response header: not the DERP server that answered
CaptivePortal: true
EOF

map wrong-header 900:127.0.0.6:true
check wrong-header 1 <<'EOF'
endpoints: 1
900/900a portal: X-Tailscale-Response is "response ts_198.51.100.7", want "response ts_127.0.0.6"
CaptivePortal: true
EOF

map redirect 900:127.0.0.4:true
check redirect 1 <<EOF
endpoints: 1
900/900a portal: redirected (HTTP 302) to http://127.0.0.4:$port/portal-login instead of answering 204
CaptivePortal: true
EOF
if grep -q 'GET /portal-login' "$work/server.log"; then fail "redirect: the redirect was followed"; else pass; fi

# No HTTP answer is not a portal (Tailscale's rule); the 500 ms deadline holds.
map hang 900:127.0.0.5:true 901:127.0.0.1:true
start=$(date +%s%N)
check hang 0 --timeout-ms 500 <<'EOF'
endpoints: 2
900/900a no answer: fetch failed: Operation timed out after N milliseconds with 0 bytes received
901/901a clear: HTTP 204 with the expected X-Tailscale-Response
CaptivePortal: false
EOF
took_ms=$((($(date +%s%N) - start) / 1000000))
if [ "$took_ms" -lt 1500 ]; then pass; else fail "hang: took ${took_ms} ms, want < 1500 (requests run at once)"; fi

# One bad answer among good ones is enough.
map mixed 900:127.0.0.1:true 901:127.0.0.2:true 902:127.0.0.7:true
check mixed 1 <<'EOF'
endpoints: 3
900/900a clear: HTTP 204 with the expected X-Tailscale-Response
901/901a portal: HTTP 200 instead of 204: a page was served in the server's place (a portal's login page?)
902/902a clear: HTTP 204 with the expected X-Tailscale-Response
CaptivePortal: true
EOF

# Nodes without CanPort80, and Avoid regions, are never asked.
map skipped 900:127.0.0.2:false 901:127.0.0.3:true:avoid 902:127.0.0.1:true
check skipped 0 <<'EOF'
endpoints: 1
902/902a clear: HTTP 204 with the expected X-Tailscale-Response
CaptivePortal: false
EOF

# The home region's nodes go first; only the first five are used.
map many 900:127.0.0.1:true 901:127.0.0.7:true 902:127.0.0.1:true 903:127.0.0.7:true 904:127.0.0.1:true 905:127.0.0.2:true
check many 1 --home 905 <<'EOF'
endpoints: 5
905/905a portal: HTTP 200 instead of 204: a page was served in the server's place (a portal's login page?)
900/900a clear: HTTP 204 with the expected X-Tailscale-Response
901/901a clear: HTTP 204 with the expected X-Tailscale-Response
902/902a clear: HTTP 204 with the expected X-Tailscale-Response
903/903a clear: HTTP 204 with the expected X-Tailscale-Response
CaptivePortal: true
EOF

finish
