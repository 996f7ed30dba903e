#!/bin/bash
# derpcheck stun through network namespaces: a client behind a NAT router (endpoint-
# independent MASQUERADE, address-and-port-dependent --random-fully, a router dropping
# UDP, a local firewall) probing servers in an "internet" namespace with two addresses.
# Needs root; skips loudly otherwise (and fails in CI, which runs as root).
set -u
: "${DERPCHECK:?}" "${TOOLS:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/lib.sh"
lab_require_root "STUN through NAT namespaces"
lab_deadline 120
. "$here/../lib/hints.sh"
out=$lab_dir/out err=$lab_dir/err

lab_topology || { echo "FAIL: could not build the lab topology" >&2; exit 1; }

# dc ARGS...: derpcheck inside the client namespace, bounded.
dc() {
	case_begin "stun $*"
	t0=$(date +%s%N)
	rc=0
	NO_COLOR=1 ip netns exec "$LAB_CLIENT" timeout 30 "$DERPCHECK" "$@" >"$out" 2>"$err" || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	NETNS=$LAB_CLIENT hints_check "stun $*" "$PWD" "$out" "$err"
}

# Servers in the internet namespace: derper-like on both addresses (and IPv6), one that
# answers from behind "Docker", one with 20 ms of delay; coturn and stund.
lab_spawn own "$LAB_INET" "$TOOLS/stunserver" --lifetime 110 -a 203.0.113.10 -a 203.0.113.11 -a 2001:db8:2::10 -p 3478
lab_wait_ready own 5 || exit 1
lab_spawn docker "$LAB_INET" "$TOOLS/stunserver" --lifetime 110 -a 203.0.113.10 -p 3479 --mapped 172.17.0.1
lab_wait_ready docker 5 || exit 1
lab_spawn slow "$LAB_INET" "$TOOLS/stunserver" --lifetime 110 -a 203.0.113.10 -p 3480 --delay 20
lab_wait_ready slow 5 || exit 1
lab_spawn coturn "$LAB_INET" turnserver -n --stun-only --no-auth -L 203.0.113.10 -E 203.0.113.10 -p 3490 \
	--no-tls --no-dtls --no-cli --pidfile "$lab_dir/turnserver.pid" --userdb "$lab_dir/turndb" --log-file stdout
lab_spawn stund "$LAB_INET" stund -h 203.0.113.10 -a 203.0.113.11 -p 3492 -o 3493

cat >"$lab_dir/map.json" <<'JSON'
{"Regions": {"900": {"RegionID": 900, "RegionCode": "lab", "RegionName": "Lab internet", "Nodes": [
  {"Name": "900a", "RegionID": 900, "HostName": "stun-a.invalid", "IPv4": "203.0.113.10", "IPv6": "2001:db8:2::10"},
  {"Name": "900b", "RegionID": 900, "HostName": "stun-b.invalid", "IPv4": "203.0.113.11", "IPv6": "none"}
]}}}
JSON

# --- endpoint-independent NAT: the router's address, the port kept -------------------
lab_nat masquerade
dc stun -c 2 -i 20ms --bind-port 40001 203.0.113.10
t_expect_exit masquerade 0 $rc
t_has_line masquerade "$out" "Tailscale-style binding requests, 2 probes per address, from 0.0.0.0:40001"
t_has_line masquerade "$out" "  mapped address: 203.0.113.1:40001 (public), from 10.77.1.2:40001: NAT, port preserved"
t_has_match masquerade "$out" "^  probe 2: mapped 203\.0\.113\.1:40001, rtt"

# Both servers see the same mapping: no "varies by destination".
dc stun --derp-map "$lab_dir/map.json" --region 900 -c 1 --bind-port 40002
t_expect_exit masquerade-region 0 $rc
t_has_line masquerade-region "$out" "900a 203.0.113.10:3478 (IPv4, from the map)"
t_has_line masquerade-region "$out" "900b 203.0.113.11:3478 (IPv4, from the map)"
t_has_line masquerade-region "$out" "900a [2001:db8:2::10]:3478 (IPv6, from the map)"
t_has_line masquerade-region "$out" "  mapped address: [2001:db8:1::2]:40002 (public), this machine's own [2001:db8:1::2]:40002: no NAT on the way"
t_has_line masquerade-region "$out" "900b (IPv6): skipped: IPv6 is \"none\" in the map: Tailscale does not use it"
[ "$(grep -c '^  mapped address: 203\.0\.113\.1:40002 (public), from 10\.77\.1\.2:40002: NAT, port preserved$' "$out")" = 2 ] &&
	t_pass || t_fail "masquerade-region: both IPv4 nodes should see 203.0.113.1:40002"
t_lacks_match masquerade-region "$out" "varies by destination"

# --- address-and-port-dependent NAT: a translated port, different per destination -----
lab_nat random-fully
dc --format json stun --derp-map "$lab_dir/map.json" --region 900 -4 -c 1 --bind-port 40003
t_expect_exit random-fully 0 $rc
m1=$(jq -r '.targets[0].mapped' "$out")
m2=$(jq -r '.targets[1].mapped' "$out")
case $m1 in 203.0.113.1:*) t_pass ;; *) t_fail "random-fully: first mapping $m1, want the router's address" ;; esac
case $m2 in 203.0.113.1:*) t_pass ;; *) t_fail "random-fully: second mapping $m2, want the router's address" ;; esac
[ "$m1" != 203.0.113.1:40003 ] && t_pass || t_fail "random-fully: port was not translated"
[ "$m1" != "$m2" ] && t_pass || t_fail "random-fully: same mapping $m1 for both destinations"
[ "$(jq -r '[.findings[].code] | join(",")' "$out")" = stun-mapping-varies ] && t_pass ||
	t_fail "random-fully: findings $(jq -c '[.findings[].code]' "$out"), want stun-mapping-varies"
dc stun --derp-map "$lab_dir/map.json" --region 900 -4 -c 1 --bind-port 40004
t_has_match random-fully-text "$out" "^  mapped address: 203\.0\.113\.1:[0-9]+ \(public\), from 10\.77\.1\.2:40004: NAT, port translated$"
t_has_match random-fully-text "$out" "^warning: the IPv4 mapping varies by destination: 203\.0\.113\.10:3478 saw 203\.0\.113\.1:[0-9]+, 203\.0\.113\.11:3478 saw 203\.0\.113\.1:[0-9]+, from the same local socket \(an address-and-port-dependent NAT, \"hard NAT\"\)$"

# --- a router that drops UDP: silence, bounded by the deadline ------------------------
lab_nat drop-udp
dc stun -c 2 -i 100ms --timeout 400ms 203.0.113.10
t_expect_exit drop-udp 1 $rc
t_has_line drop-udp "$out" "error: 203.0.113.10:3478: no reply to any of 6 requests (2 probes, retransmissions included, waiting 0.4 s each)"
t_has_line drop-udp "$out" "  server: answered neither Tailscale-style nor plain requests"
[ $ms -lt 1500 ] && t_pass || t_fail "drop-udp: took $ms ms, the deadline is ~500 ms"

# --- a local firewall dropping outgoing UDP: the kernel says so at once -----------------
lab_nat masquerade
lab_in "$LAB_CLIENT" iptables -A OUTPUT -p udp -j DROP
dc stun -c 1 203.0.113.10
lab_in "$LAB_CLIENT" iptables -F OUTPUT
t_expect_exit local-firewall 1 $rc
t_has_line local-firewall "$out" "error: 203.0.113.10:3478: sending to 203.0.113.10:3478 failed: Operation not permitted (a firewall rule on this host rejects outgoing UDP)"
t_has_match local-firewall "$out" "^  hint: a firewall rule on this machine rejects outgoing UDP"

# --- derper behind Docker's NAT, seen from the internet: an error ----------------------
dc stun -c 1 --bind-port 40005 203.0.113.10:3479
t_expect_exit docker 1 $rc
t_has_line docker "$out" "error: 203.0.113.10:3479: the server sees this machine as 172.17.0.1, a Docker bridge 172.17.0.0/16 address, although it is a public server and this machine's address is 10.77.1.2: Tailscale clients of this server learn an address nobody can reach"

# --- injected latency through the NAT --------------------------------------------------
dc --format json stun -c 20 -i 20ms 203.0.113.10:3480
t_expect_exit delay 0 $rc
median=$(jq '.targets[0].rtt_ms.median' "$out")
awk -v m="$median" 'BEGIN { exit !(m >= 19.7 && m <= 20.8) }' && t_pass || t_fail "delay: median $median ms for 20 ms injected"

# --- coturn and stund on the internet side -----------------------------------------
if lab_wait_stun "$LAB_CLIENT" 203.0.113.10:3490 10; then
	dc stun -c 1 --bind-port 40006 203.0.113.10:3490
	t_expect_exit coturn 0 $rc
	t_has_line coturn "$out" "  mapped address: 203.0.113.1:40006 (public), from 10.77.1.2:40006: NAT, port preserved"
	t_has_match coturn "$out" "^  software: Coturn-"
else
	t_fail "coturn did not answer in the lab"
fi
if lab_wait_stun "$LAB_CLIENT" 203.0.113.10:3492 10; then
	dc stun -c 1 --bind-port 40007 203.0.113.10:3492
	t_expect_exit stund 0 $rc
	t_has_line stund "$out" "  mapped address: 203.0.113.1:40007 (public), from 10.77.1.2:40007: NAT, port preserved"
	t_has_line stund "$out" "  software: Vovida.org 0.97"
else
	t_fail "stund did not answer in the lab"
fi

t_finish
