#!/bin/bash
# STUN verdicts against Tailscale's real derper (v1.34.2, tests/lib/peers.sh), each case in
# a network namespace with only loopback so the fixed ports (3478, 38893) are ours alone:
#   stun-off     derper -stun=false, the map's STUNPort closed (ICMP port unreachable)
#   forwarded    the seed's Docker setup: derper's STUN listens on 38893 ("in the
#                container"), the host publishes 3478:38893/udp, 38893 itself is not
#                published (the host answers ICMP port unreachable); the map says 38893
#   dropped      the same, but a cloud firewall silently drops 38893
#   elsewhere    derper's STUN on 40000, no usual port answers; --stun-port-guess 40000 finds it
#   silent       two derpers, one node's STUN port silently dropped while the other answers
# For each: diagnose's verdict, cause, ports-tried and fix lines and exit status, and
# netcheck's UDP verdict, finding and exit status (always --no-portmap and --derp-map).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/derp.sh"
. "$root/tests/lib/peers.sh"
. "$root/tests/lib/netns.sh"
netns_require_root "fixed STUN ports and firewall rules in network namespaces"
peers_require
export DERPCHECK_DEFAULT_MAP_URL= NO_COLOR=1 LC_ALL=C # ASCII marks and arrows
derper_certdir "$work/certs" "$work/pki/derp-chain.pem" "$work/pki/derp.key"
ca=(--ca-file "$work/pki/ca.pem")

# dnode NAME IPV4 DERPPORT STUNPORT: a node of region 900
dnode() {
	printf '{"Name":"%s","RegionID":900,"HostName":"derp.test","IPv4":"%s","IPv6":"none","DERPPort":%s,"STUNPort":%s}' \
		"$1" "$2" "$3" "$4"
}
# in_case NAME: a fresh namespace for the case (NETNS for derper_start and run)
in_case() {
	netns_new || exit 1
	NETNS=$NETNS_NEW
}
netcheck() { # NAME WANT-EXIT MAP [options]: the safety flags always
	local name=$1 want=$2 m=$3
	shift 3
	run "$name" "$want" 10000 netcheck --no-portmap --socket "$work/no.sock" --derp-map "$m" "$@"
}

# ---- stun-off: derper runs without STUN; the map still says 3478 ------------------------------
in_case
derper_start off 127.0.0.2 "$work/certs" -stun=false || exit 1
p=$DERPER_PORT
write_map off.json "$(dnode 900a 127.0.0.2 "$p" 3478)"
run off-diag 1 8000 diagnose --derp-map off.json "${ca[@]}" 900
has_line off-diag out "  FAIL stun-ipv4          no answer from 127.0.0.2:3478 (3 probes, 3 datagrams sent)"
has_line off-diag out "       cause: STUN port 3478 is closed: ICMP port unreachable from 127.0.0.2 (UDP reaches the host, nothing listens there); none of $p answered either"
has_line off-diag out "       tried: $p (DERPPort): closed (ICMP port unreachable)"
has_line off-diag out "       fix:   start derper's STUN server on UDP 3478 (derper -stun -stun-port 3478), or set STUNPort to the port it listens on (--stun-port-guess PORT tries more ports)"
has_line off-diag out "STUN path: broken (0 of 1 nodes answer STUN; 900a: stun-ipv4)"
has_line off-diag out "DERP path: ok (1 of 1 nodes relay)"
netcheck off-nc 1 off.json "${ca[@]}"
has_line off-nc out $'\t* UDP: false'
has_line off-nc out $'\t* UDP verdict: UDP gets through, but no STUN server answered: ICMP port unreachable from 127.0.0.2 for 127.0.0.2:3478 (900a\'s STUNPort), so nothing listens there'
has_line off-nc out $'\t\t  tried: '"$p (DERPPort): closed (ICMP port unreachable)"
has_line off-nc out "error: UDP gets through, but no STUN server answered: ICMP port unreachable from 127.0.0.2 for 127.0.0.2:3478 (900a's STUNPort), so nothing listens there; Tailscale reports UDP: false, so peers will only talk through DERP relays"
# The fallback still finds the region (HTTPS to derper, ICMP echo): it is home.
has_line off-nc out $'\t* Nearest DERP: Test'
derper_stop off

# ---- forwarded: the seed's docker -p 3478:38893/udp, map says 38893 ---------------------------
in_case
derper_start fwd 127.0.0.2 "$work/certs" -stun-port 38893 || exit 1
p=$DERPER_PORT
# "The host": 3478 forwarded to the container's 38893; 38893 itself is not published, so
# the host answers it like any closed port.
ip netns exec "$NETNS" iptables -t nat -A OUTPUT -p udp -d 127.0.0.2 --dport 3478 -j DNAT --to-destination 127.0.0.2:38893
ip netns exec "$NETNS" iptables -A INPUT -p udp -d 127.0.0.2 --dport 38893 -m conntrack ! --ctstate DNAT \
	-j REJECT --reject-with icmp-port-unreachable
write_map fwd.json "$(dnode 900a 127.0.0.2 "$p" 38893)"
run fwd-diag 1 8000 diagnose --derp-map fwd.json "${ca[@]}" 900
has_line fwd-diag out "  FAIL stun-ipv4          no answer from 127.0.0.2:38893 (3 probes, 3 datagrams sent)"
has_line fwd-diag out "       cause: STUN answers on 3478, not on 38893 (38893: closed, ICMP port unreachable): clients ask the map's port and get nothing; typical of a forwarding from host port 3478 to container port 38893"
has_line fwd-diag out "       tried: 3478 (default STUN port): STUN answers in Nms; $p (DERPPort): closed (ICMP port unreachable)"
has_line fwd-diag out "       fix:   set STUNPort to 3478 in the derpMap, or publish 38893/udp"
has_line fwd-diag out "STUN path: broken (0 of 1 nodes answer STUN; 900a: stun-ipv4)"
has_line fwd-diag out "DERP path: ok (1 of 1 nodes relay)"
run fwd-json 1 8000 --format json diagnose --derp-map fwd.json "${ca[@]}" 900
json fwd-json '.nodes[0].stun_answers_on == 3478 and ([.nodes[0].checks[] | select(.check == "stun-ipv4") | .code] == ["stun-wrong-port"])'
json fwd-json '[.nodes[0].stun_ports_tried.ipv4[] | [.why, .result]] == [[["default"], "answered"], [["derp-port"], "closed"]]'
netcheck fwd-nc 1 fwd.json "${ca[@]}"
has_line fwd-nc out $'\t* UDP: false'
has_line fwd-nc out $'\t* UDP verdict: UDP works, but not on the map\'s STUN ports: STUN answers on 127.0.0.2:3478, not on 38893 (900a\'s STUNPort: closed, ICMP port unreachable)'
has_line fwd-nc out $'\t\t- test 900a IPv4 127.0.0.2:38893: STUN answers on 3478, not on 38893 (38893: closed, ICMP port unreachable): clients ask the map\'s port and get nothing; typical of a forwarding from host port 3478 to container port 38893'
has_line fwd-nc out "error: UDP works, but not on the map's STUN ports: STUN answers on 127.0.0.2:3478, not on 38893 (900a's STUNPort: closed, ICMP port unreachable); Tailscale reports UDP: false, so peers will only talk through DERP relays"
has_line fwd-nc out "  hint: set STUNPort to 3478 for 900a in the DERP map, or publish 38893/udp to derper's STUN port"
run fwd-nc-json 1 10000 netcheck --no-portmap --socket "$work/no.sock" --derp-map fwd.json "${ca[@]}" --format json
json fwd-nc-json '.UDP == false and .derpcheck.udp.verdict == "stun-elsewhere" and .derpcheck.udp.stun_ports == [38893]'
json fwd-nc-json '[.derpcheck.findings[] | select(.severity == "error") | .code] == ["netcheck-stun-wrong-port"]'
# With the map fixed (STUNPort 3478), every command is happy about STUN.
write_map fixed.json "$(dnode 900a 127.0.0.2 "$p" 3478)"
run fixed-diag 0 8000 diagnose --derp-map fixed.json "${ca[@]}" 900
has_line fixed-diag out "STUN path: ok (1 of 1 nodes answer STUN)"
netcheck fixed-nc 0 fixed.json "${ca[@]}"
has_line fixed-nc out $'\t* UDP: true'
has_line fixed-nc out $'\t* UDP verdict: UDP works: 1 of 1 STUN servers asked answered'

# ---- dropped: the same forwarding, but a cloud firewall drops 38893 silently ----------------
ip netns exec "$NETNS" iptables -R INPUT 1 -p udp -d 127.0.0.2 --dport 38893 -m conntrack ! --ctstate DNAT -j DROP
run drop-diag 1 8000 diagnose --derp-map fwd.json "${ca[@]}" 900
has_line drop-diag out "  FAIL stun-ipv4          no answer from 127.0.0.2:38893 (3 probes, 9 datagrams sent)"
has_line drop-diag out "       cause: STUN answers on 3478, not on 38893 (38893: no reply): clients ask the map's port and get nothing; typical of a forwarding from host port 3478 to container port 38893"
has_line drop-diag out "       tried: 3478 (default STUN port): STUN answers in Nms; $p (DERPPort): closed (ICMP port unreachable)"
netcheck drop-nc 1 fwd.json "${ca[@]}"
has_line drop-nc out $'\t* UDP verdict: UDP works, but not on the map\'s STUN ports: STUN answers on 127.0.0.2:3478, not on 38893 (900a\'s STUNPort: no reply)'
derper_stop fwd

# ---- elsewhere: derper's STUN on 40000, nothing usual answers; --stun-port-guess finds it ---
in_case
derper_start else 127.0.0.2 "$work/certs" -stun-port 40000 || exit 1
p=$DERPER_PORT
write_map else.json "$(dnode 900a 127.0.0.2 "$p" 38893)"
run else-diag 1 8000 diagnose --derp-map else.json "${ca[@]}" 900
has_line else-diag out "       cause: STUN port 38893 is closed: ICMP port unreachable from 127.0.0.2 (UDP reaches the host, nothing listens there); none of 3478 and $p answered either"
has_line else-diag out "       tried: 3478 (default STUN port): closed (ICMP port unreachable); $p (DERPPort): closed (ICMP port unreachable)"
run else-guess 1 8000 diagnose --derp-map else.json "${ca[@]}" --stun-port-guess 40001,40000 900
has_line else-guess out "       cause: STUN answers on 40000, not on 38893 (38893: closed, ICMP port unreachable): clients ask the map's port and get nothing; typical of a forwarding from host port 40000 to container port 38893"
has_line else-guess out "       tried: 3478 (default STUN port): closed (ICMP port unreachable); $p (DERPPort): closed (ICMP port unreachable); 40001 (--stun-port-guess): closed (ICMP port unreachable); 40000 (--stun-port-guess): STUN answers in Nms"
has_line else-guess out "       fix:   set STUNPort to 40000 in the derpMap, or publish 38893/udp"
netcheck else-nc 1 else.json "${ca[@]}"
has_line else-nc out $'\t* UDP verdict: UDP gets through, but no STUN server answered: ICMP port unreachable from 127.0.0.2 for 127.0.0.2:38893 (900a\'s STUNPort), so nothing listens there'
netcheck else-nc-guess 1 else.json "${ca[@]}" --stun-port-guess 40000
has_line else-nc-guess out $'\t* UDP verdict: UDP works, but not on the map\'s STUN ports: STUN answers on 127.0.0.2:40000, not on 38893 (900a\'s STUNPort: closed, ICMP port unreachable)'
has_line else-nc-guess out $'\t\t  tried: 3478 (default STUN port): closed (ICMP port unreachable); '"$p (DERPPort): closed (ICMP port unreachable); 40000 (--stun-port-guess): STUN answers in Nms"
# A bad --stun-port-guess is a usage error, for both commands.
run bad-guess 2 3000 diagnose --derp-map else.json --stun-port-guess 0 900
has_line bad-guess err "derpcheck: invalid --stun-port-guess '0'"
run bad-guess-nc 2 3000 netcheck --no-portmap --derp-map else.json --stun-port-guess 3478,x
has_line bad-guess-nc err "derpcheck: invalid --stun-port-guess '3478,x'"
derper_stop else

# ---- silent: two derpers, one node's STUN silently dropped while the other answers ----------
in_case
derper_start a 127.0.0.2 "$work/certs" -stun-port 3478 || exit 1
pa=$DERPER_PORT
derper_start b 127.0.0.3 "$work/certs" -stun-port 3478 || exit 1
pb=$DERPER_PORT
ip netns exec "$NETNS" iptables -A INPUT -p udp -d 127.0.0.3 -j DROP
write_map two.json "$(dnode 900a 127.0.0.2 "$pa" 3478)" "$(dnode 900b 127.0.0.3 "$pb" 3478)"
run silent-diag 1 10000 diagnose --derp-map two.json "${ca[@]}" 900
has_line silent-diag out "       cause: no reply on UDP 3478 (9 requests in Nms, no ICMP error) while other nodes answer: this node's STUN is down, or UDP 3478 is filtered on its side; none of $pb answered either"
has_line silent-diag out "       tried: $pb (DERPPort): no reply"
has_line silent-diag out "       fix:   start derper's STUN server on UDP 3478 (derper -stun -stun-port 3478) and let UDP 3478 through the firewall and any NAT or Docker port mapping (publish 3478/udp)"
has_line silent-diag out "STUN path: degraded (1 of 2 nodes answer STUN; 900b: stun-ipv4)"
# netcheck: in its own region the silent node is waited for (3 s) and named; UDP works.
printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"aaa","RegionName":"A","Nodes":[%s]},"901":{"RegionID":901,"RegionCode":"bbb","RegionName":"B","Nodes":[%s]}}}\n' \
	"$(dnode 900a 127.0.0.2 "$pa" 3478)" "$(dnode 901a 127.0.0.3 "$pb" 3478 | sed 's/"RegionID":900/"RegionID":901/')" >"$work/tworegions.json"
netcheck silent-nc 0 tworegions.json "${ca[@]}"
has_line silent-nc out $'\t* UDP: true'
has_line silent-nc out $'\t* UDP verdict: UDP works: 1 of 2 STUN servers asked answered'
has_line silent-nc out $'\t\t- bbb 901a IPv4 127.0.0.3:3478: no reply on UDP 3478 (3 requests in Nms, no ICMP error) while other nodes answer: this node\'s STUN is down, or UDP 3478 is filtered on its side; none of '"$pb answered either"
has_line silent-nc out "warning: region 901 (bbb) did not answer while others did"
has_line silent-nc out "warning: 901a (IPv4, 127.0.0.3:3478): no reply on UDP 3478 (3 requests in Nms, no ICMP error) while other nodes answer: this node's STUN is down, or UDP 3478 is filtered on its side; none of $pb answered either"
run silent-nc-json 0 10000 netcheck --no-portmap --socket "$work/no.sock" --derp-map tworegions.json "${ca[@]}" --format json
json silent-nc-json '[.derpcheck.findings[].code] == ["netcheck-region-unreachable", "netcheck-node-silent"] and .PreferredDERP == 900'

finish
