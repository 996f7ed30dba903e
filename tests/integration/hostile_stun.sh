#!/bin/bash
# Hostile STUN servers (issue #13): replies that are truncated, carry another transaction
# ID, an attribute whose length runs past the message, an address family that does not
# exist, escape sequences in SOFTWARE and in an error reason; a flood of 20000 datagrams
# per request, a 65 KB datagram, a server that never answers and a port nobody listens
# on. Server: tests/tools/stunserver.c. Every case asserts the exit code, a named result,
# completion within --timeout + 1 s, and nothing raw on the terminal (lib/hostile.sh).
# Loopback only.
set -u
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C.UTF-8
. "$(dirname "$0")/lib/derp.sh"
. "$(dirname "$0")/lib/hostile.sh"

T=2
LIMIT=$(((T + 1) * 1000))
# stun NAME EXIT TEXT [stunserver options]: one misbehaving server, one `derpcheck stun`.
stun() {
	local name=$1 want=$2 text=$3
	shift 3
	start_tool "$name" '^ready' "$TOOLS/stunserver" -a 127.0.0.1 --lifetime 60 "$@" || return 1
	PORT=$(sed -n 's/^listening 127.0.0.1://p' "$work/$name.ready")
	hostile "$name" "$want" $LIMIT "$text" stun --timeout ${T}s "127.0.0.1:$PORT"
}

stun stun-truncated 1 "truncated: the header announces 12 bytes of attributes but only 10 follow" --truncate 30
stun stun-wrong-txid 1 "but with transaction IDs we never sent" --wrong-txid
stun stun-attr-length 1 "XOR-MAPPED-ADDRESS attribute at offset 20: length 65535 (padded to 65536) runs past the end of the message" --corrupt attr-length
stun stun-bad-family 1 "unknown address family 0x03 (want 0x01 IPv4 or 0x02 IPv6)" --corrupt bad-family
stun stun-flood 0 "answered 3 of 3" --duplicate 20000
stun stun-65k 0 "answered 3 of 3" --oversize 65000
stun stun-silent 1 "answered 0 of 3" --loss 100
# (The STUN decoder already keeps SOFTWARE and error reasons printable: '?' for control bytes.)
stun stun-software 0 'software: ?[2J?]0;pwned?' --software "$(printf '\033[2J\033]0;pwned\007')"
stun stun-error-reason 1 'STUN error 400 ?[2Jbad??' --error "400:$(printf '\033[2Jbad\302\233')"
hostile stun-error-reason-json 1 $LIMIT "" --format json stun --timeout ${T}s "127.0.0.1:$PORT"
json_valid stun-error-reason-json

# A port nobody listens on: ICMP port unreachable, named at once.
closed=34567
while (exec 3<>"/dev/udp/127.0.0.1/$closed") 2>/dev/null && ss -Hlun "sport = :$closed" | grep -q .; do closed=$((closed + 1)); done
hostile stun-closed 1 $LIMIT "port unreachable" stun --timeout ${T}s "127.0.0.1:$closed"

# The same floods through netcheck and diagnose: the map's node answers with 20000 copies.
start_tool nflood '^ready' "$TOOLS/stunserver" -a 127.0.0.1 --lifetime 60 --duplicate 20000
PORT=$(sed -n 's/^listening 127.0.0.1://p' "$work/nflood.ready")
printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"test","RegionName":"Test","Nodes":[{"Name":"900a","RegionID":900,"HostName":"derp.test","IPv4":"127.0.0.1","IPv6":"none","STUNPort":%s,"DERPPort":1}]}}}\n' \
	"$PORT" >"$work/nflood.json"
hostile netcheck-flood 0 $LIMIT "UDP: true" netcheck --no-portmap --derp-map nflood.json --timeout ${T}s
hostile diagnose-stun-flood 1 $LIMIT "stun-ipv4" diagnose --derp-map nflood.json --timeout ${T}s 900

finish
