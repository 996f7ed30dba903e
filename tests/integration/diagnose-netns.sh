#!/bin/bash
# derpcheck diagnose where only a network namespace can set the scene: the NAT VPS whose
# forwarding maps host UDP 3478 to the container's 38893 while the map says 38893 (which
# is silently dropped from outside, no ICMP), a DERP port whose SYNs are dropped, and DNS
# answers (from the namespace's hosts file; its resolver is its own silent loopback) that
# disagree with the map. Every packet stays inside the namespace. Needs root.
set -u
. "$(dirname "$0")/../lib/root.sh"
require_root "a NAT VPS, dropped ports and DNS in a namespace"
export DAYS=90 DERPCHECK_DEFAULT_MAP_URL="" LC_ALL=C
. "$(dirname "$0")/lib/derp.sh"

. "$root/tests/lib/netns.sh"
netns_new || exit 1
NETNS=$NETNS_NEW
netns_etc "$NETNS" resolv.conf $'nameserver 127.0.0.1\noptions timeout:1 attempts:1'
netns_etc "$NETNS" hosts $'127.0.0.1 localhost\n127.0.0.2 derp.lab'
in_ns() { ip netns exec "$NETNS" "$@"; }
ca=(--ca-file pki/ca.pem)

# The "container": derper's STUN on 38893. The "host": 3478 forwarded to it; 38893 itself
# is not published, so packets to it vanish (no ICMP), as behind a cloud firewall.
spawn stun '^ready' 5 ip netns exec "$NETNS" "$TOOLS/stunserver" -a 127.0.0.1 -p 38893 --lifetime 60
in_ns iptables -t nat -A OUTPUT -p udp -d 127.0.0.1 --dport 3478 -j REDIRECT --to-ports 38893
in_ns iptables -A INPUT -p udp --dport 38893 -m conntrack ! --ctstate DNAT -j DROP
start_server vps --hostname derp.test --listen 127.0.0.1:0
write_map vps.json "$(node 900a derp.test 127.0.0.1 none "$PORT" '"STUNPort":38893' | sed 's/"STUNPort":-1,//')"
run vps 1 8000 diagnose --derp-map vps.json "${ca[@]}" 900
contains vps out "  FAIL stun-ipv4          no answer from 127.0.0.1:38893 (3 probes, 9 datagrams sent)"
contains vps out "       cause: STUN answers on 3478, not on 38893 (38893: no reply): clients ask the map's port and get nothing; typical of a forwarding from host port 3478 to container port 38893"
contains vps out "       tried: 3478 (default STUN port): STUN answers in "
contains vps out "; $PORT (DERPPort): closed (ICMP port unreachable)"
contains vps out "       fix:   set STUNPort to 3478 in the derpMap, or publish 38893/udp"
contains vps out "  ok   relay              A -> B -> A: 3/3 relayed, avg "
contains vps out "STUN path: broken (0 of 1 nodes answer STUN; 900a: stun-ipv4)"
contains vps out "DERP path: ok (1 of 1 nodes relay)"
# Nothing answers anywhere: the generic fix, after the same wait.
in_ns iptables -t nat -F OUTPUT
run vps-silent 1 8000 diagnose --derp-map vps.json "${ca[@]}" 900
contains vps-silent out "       cause: no reply on UDP 38893 (9 requests in 1500ms, no ICMP error); none of 3478 and $PORT answered either"
contains vps-silent out "       tried: 3478 (default STUN port): closed (ICMP port unreachable); $PORT (DERPPort): closed (ICMP port unreachable)"
contains vps-silent out "       fix:   start derper's STUN server on UDP 38893 (derper -stun -stun-port 38893) and let UDP 38893 through the firewall and any NAT or Docker port mapping (publish 38893/udp)"

# The DERP port's SYNs dropped: a timeout, named as a firewall, within --timeout.
in_ns iptables -A INPUT -p tcp --dport "$PORT" --syn -j DROP
run tcp-drop 1 6000 diagnose --derp-map vps.json "${ca[@]}" --timeout 1s 900
contains tcp-drop out "  FAIL tcp-ipv4           127.0.0.1:$PORT: no connection"
contains tcp-drop out "       fix:   a firewall or security group drops TCP $PORT: allow it from everywhere clients are"
in_ns iptables -D INPUT -p tcp --dport "$PORT" --syn -j DROP

# A load balancer in front of two derpers that do not mesh: every other TCP connection to
# the node's port goes to the second instance (iptables nth), so clients meet two keys.
start_server lb --hostname derp.test --listen 127.0.0.1:0 --listen 127.0.0.1:0
in_ns iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport "$PORT" -m statistic --mode nth --every 2 --packet 0 \
	-j REDIRECT --to-ports "$PORT2"
write_map lb.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run lb 1 8000 diagnose --derp-map lb.json "${ca[@]}" --timeout 1s -c 1 900
# (how many connections: the handshake, the relay's two clients and the proxy probe's)
contains lb out " connections to this node met 2 different server keys: a load balancer spreads clients over several derpers, which do not forward to each other, so two clients on different ones cannot reach each other (tailscale#6478)"
contains lb out "       fix:   every connection to one map node must reach the same derper: give each derper its own map node (its own HostName, or IPv4/IPv6), or mesh the derpers behind the balancer (the same --mesh-psk-file, each listed in the others' --mesh-with)"
in_ns iptables -t nat -F OUTPUT

# DNS against the map: derp.lab is 127.0.0.2 in the namespace's hosts, the map says .1.
write_map dns.json "$(node 900a derp.lab 127.0.0.1 none 1)"
run dns 1 5000 diagnose --derp-map dns.json "${ca[@]}" --timeout 2s 900
contains dns out "  warn dns-ipv4           the map gives 127.0.0.1, DNS 127.0.0.2"
# A name that does not resolve (the resolver never answers) while the map leaves IPv4 to DNS.
write_map nodns.json "$(node 900a nowhere.lab '' none 1)"
run nodns 1 5000 diagnose --derp-map nodns.json "${ca[@]}" --timeout 2s 900
contains nodns out "  FAIL dns-ipv4           nowhere.lab: "
contains nodns out "       cause: nowhere.lab has no A record and the map gives no IPv4: clients cannot reach this node"

finish
