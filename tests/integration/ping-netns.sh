#!/bin/bash
# derpcheck ping where only a network namespace can set the scene: DNS that fails or never
# answers (the namespace's resolv.conf points at its own loopback), a TCP port whose SYNs
# are dropped, and IPv4 dropped while IPv6 answers (the two families are raced). Every
# packet stays inside the namespace. Needs root (ip netns, iptables).
set -u
. "$(dirname "$0")/../lib/root.sh"
require_root "DNS, dropped SYNs and a dropped family in a namespace"
. "$(dirname "$0")/lib/derp.sh"

. "$root/tests/lib/netns.sh"
netns_new || exit 1
NETNS=$NETNS_NEW
# Inside the namespace: DNS goes to its own 127.0.0.1 (nothing listens), derp.test is in hosts.
netns_etc "$NETNS" resolv.conf $'nameserver 127.0.0.1\noptions timeout:5 attempts:2'
netns_etc "$NETNS" hosts $'127.0.0.1 localhost\n127.0.0.1 derp.test'
in_ns() { ip netns exec "$NETNS" "$@"; }
ca=(--ca-file pki/ca.pem)

start_server dual --listen '[::]:0' --hostname derp.test --any-sni

# HostName from the namespace's hosts file: the DNS phase is measured.
write_map dns.json "$(node 900a derp.test '' none "$PORT")"
run dns-ok 0 5000 --format json ping --derp-map dns.json "${ca[@]}" -c 1 900
json dns-ok '.ok and .clients[0].phases_ms.dns != null and .clients[0].address == "127.0.0.1:'"$PORT"'"'

# A name nobody knows, the resolver refusing at once.
write_map nodns.json "$(node 900a derp2.test '' '' "$PORT")"
run dns-fail 1 3000 ping --derp-map nodns.json "${ca[@]}" -c 1 900
expect dns-fail err <<'EOF'
derpcheck: A: node 900a (derp2.test): DNS lookup failed: Temporary failure in name resolution
  hint: the map leaves this node's IPv4 and IPv6 empty, so clients resolve HostName; fix its DNS record, or write the server's address in the node's IPv4/IPv6 fields
EOF

# A resolver that never answers: the lookup ends at the deadline, not after glibc's 10 s.
in_ns iptables -A INPUT -p udp --dport 53 -j DROP
in_ns ip6tables -A INPUT -p udp --dport 53 -j DROP 2>/dev/null
run dns-timeout 1 2500 ping --derp-map nodns.json "${ca[@]}" -c 1 --timeout 1s 900
expect dns-timeout err <<'EOF'
derpcheck: A: node 900a (derp2.test): DNS lookup timed out
  hint: the map leaves this node's IPv4 and IPv6 empty, so clients resolve HostName; fix its DNS record, or write the server's address in the node's IPv4/IPv6 fields
EOF
[ "$ELAPSED" -ge 950 ] && pass || fail "dns-timeout: gave up after $ELAPSED ms, before its 1 s deadline"

# SYNs to the DERP port dropped over IPv4: TCP times out after Tailscale's 1.5 s per node.
in_ns iptables -A INPUT -p tcp --dport "$PORT" -j DROP
write_map v4.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run tcp-timeout 1 3000 ping --derp-map v4.json "${ca[@]}" -c 1 900
expect tcp-timeout err <<'EOF'
derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: TCP connect timed out
  hint: no answer at all: a firewall or the VPS provider drops the port, or the address is wrong
EOF
[ "$ELAPSED" -ge 1450 ] && pass || fail "tcp-timeout: gave up after $ELAPSED ms, before the 1.5 s node timeout"

# Both families in the map, IPv4 silently dropped: IPv6 wins the race at once.
write_map race.json "$(node 900a derp.test 127.0.0.1 ::1 "$PORT")"
run race 0 1400 ping --derp-map race.json "${ca[@]}" -c 1 900
contains race out "A: node 900a (derp.test) at [::1]:$PORT, TLS 1.3"

# Two nodes, the first silent: after its 1.5 s the second one is used.
write_map second.json "$(node 900a derp.test 127.0.0.1 none "$PORT")" "$(node 900b derp.test none ::1 "$PORT")"
run second 0 4000 --format json ping --derp-map second.json "${ca[@]}" -c 1 900
json second '.ok and .clients[0].node == "900b" and .clients[0].attempts[0].failure == "tcp-timeout"'

finish
