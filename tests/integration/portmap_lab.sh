#!/bin/bash
# Port-mapping detection (src/probe/portmap.c) against Debian's miniupnpd as the gateway of a
# network-namespace lab. Needs root.
#
#   client  eth0 192.168.77.2/24 --- lan0 192.168.77.1/24  router  wan0 OUTSIDE/30 --- eth0  outside
#           default via 192.168.77.1                       miniupnpd: UPnP IGD, NAT-PMP, PCP
#
# The namespaces are joined only to each other: nothing reaches the host's network, and
# the router does not forward. miniupnpd 2.3.1 refuses to hand out a reserved WAN address
# (RFC 1918, CGNAT and even the RFC 5737 documentation ranges answer NETWORK_FAILURE), so
# the isolated outside link uses 100.128.77.0/30, just past the CGNAT block; no packet is
# ever sent to it. The probe runs in the client namespace and finds the router through
# that namespace's own routing table.
#
set -u

: "${TOOLS:?set TOOLS to the build/tools directory}"
LAN_NET=192.168.77
OUTSIDE_ROUTER=100.128.77.1
OUTSIDE_PEER=100.128.77.2
HTTP_PORT=5000

tag="dcpm$$"
. "$(dirname "$0")/../lib/root.sh"
require_root "NAT-PMP/PCP/UPnP against miniupnpd in network namespaces"
command -v miniupnpd >/dev/null 2>&1 || {
	echo "$(basename "$0"): miniupnpd is not installed; run scripts/deps.sh check" >&2
	exit 1
}
WORK_PREFIX=derpcheck-portmap
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/proc.sh"
. "$(dirname "$0")/../lib/compare.sh"

# ---- lab helpers ---------------------------------------------------------------------

# lab_netns NAME: a namespace with loopback up; removed at exit.
lab_netns() {
	ip netns add "$1"
	netns_track "$1"
	ip -n "$1" link set lo up
}

# lab_link NS1 IF1 NS2 IF2: a veth pair between two namespaces, both ends up.
lab_link() {
	a="${tag}a" b="${tag}b"
	ip link add "$a" type veth peer name "$b"
	ip link set "$a" netns "$1"
	ip link set "$b" netns "$3"
	ip -n "$1" link set "$a" name "$2"
	ip -n "$3" link set "$b" name "$4"
	ip -n "$1" link set "$2" up
	ip -n "$3" link set "$4" up
}

# lab_wait_log FILE TEXT SECONDS: until FILE contains TEXT (miniupnpd's PID must live).
lab_wait_log() {
	wait_for_line "$1" "$(printf '%s' "$2" | sed 's/[][\.*^$()+?{}|]/\\&/g')" "$miniupnpd_pid" "$3" && return 0
	echo "timed out after $3 s waiting for '$2' in $1:" >&2
	cat "$1" >&2
	return 1
}

# ---- the gateway ---------------------------------------------------------------------

# miniupnpd_conf FILE: UPnP IGD and NAT-PMP/PCP on the LAN, wan0 outside.
miniupnpd_conf() {
	cat >"$1" <<EOF
ext_ifname=wan0
listening_ip=lan0
http_port=$HTTP_PORT
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=no
ipv6_disable=yes
uuid=6f2b1c3a-0d1e-4a5b-9c8d-7e6f5a4b3c2d
friendly_name=derpcheck lab router
manufacturer_name=derpcheck
model_name=lab-igd
lease_file=$work/leases
allow 1024-65535 $LAN_NET.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
}

# start_miniupnpd: run it in the router namespace and wait until it serves.
start_miniupnpd() {
	miniupnpd_conf "$work/miniupnpd.conf"
	: >"$work/miniupnpd.log"
	spawn_to "$work/miniupnpd.log" "$work/miniupnpd.log" timeout 120 ip netns exec "${tag}r" \
		miniupnpd -d -f "$work/miniupnpd.conf" -P "$work/miniupnpd.pid"
	miniupnpd_pid=$SPAWN_PID
	lab_wait_log "$work/miniupnpd.log" "Listening for NAT-PMP/PCP traffic on port 5351" 10
	lab_wait_log "$work/miniupnpd.log" "HTTP listening on port $HTTP_PORT" 10
}

stop_miniupnpd() { spawn_stop "$miniupnpd_pid"; }

# ---- assertions ----------------------------------------------------------------------

# Tailscale waits 250 ms for the gateway's answers; a loaded CI machine may schedule
# miniupnpd later than that. Probes that expect answers wait up to ANSWER_WAIT_MS: the probe
# ends as soon as every service has answered, so this widens only the scheduling side.
# The silent gateway keeps Tailscale's 250 ms, which its timing check measures.
ANSWER_WAIT_MS=5000

# probe NAME WANT_EXIT ARGS...: the driver in the client namespace; its output (epochs and
# round-trip times replaced by E and T) must equal the lines on standard input.
probe() {
	name=$1 want=$2
	shift 2
	case_begin "$name"
	got=0
	timeout 20 ip netns exec "${tag}c" "$TOOLS/portmap_probe" "$@" >"$work/$name.raw" 2>"$work/$name.err" || got=$?
	sed 's/(epoch [0-9]*, [0-9.]* ms)/(epoch E, T)/' "$work/$name.raw" >"$work/$name.out"
	cat >"$work/$name.want"
	assert_exit "$name" "$want" "$got"
	expect_file "$name: output" "$work/$name.out" "$work/$name.want"
	expect_empty "$name: stderr" "$work/$name.err"
}

# ---- the lab -------------------------------------------------------------------------

lab_netns "${tag}c"
lab_netns "${tag}r"
lab_netns "${tag}o"
lab_link "${tag}c" eth0 "${tag}r" lan0
lab_link "${tag}r" wan0 "${tag}o" eth0
ip -n "${tag}c" addr add "$LAN_NET.2/24" dev eth0
ip -n "${tag}r" addr add "$LAN_NET.1/24" dev lan0
ip -n "${tag}r" addr add "$OUTSIDE_ROUTER/30" dev wan0
ip -n "${tag}o" addr add "$OUTSIDE_PEER/30" dev eth0
ip -n "${tag}c" route add default via "$LAN_NET.1"

# A silent gateway first: nothing listens yet, so the probe ends at its 250 ms deadline.
start=$(date +%s%N)
probe silent 0 --discover --describe <<EOF
gateway: $LAN_NET.1 via eth0, this host $LAN_NET.2
PortMapping: 
UPnP: no IGD answered (0 SSDP answers)
NAT-PMP: no reply
PCP: no reply
EOF
took_ms=$((($(date +%s%N) - start) / 1000000))
if [ "$took_ms" -lt 1500 ]; then pass; else fail "silent: took ${took_ms} ms; the probe waits 250 ms"; fi

start_miniupnpd
pcp_line="PCP: no reply"
pcp_name=""
if grep -q "starting NAT-PMP/PCP" "$work/miniupnpd.log"; then
	pcp_line="PCP: yes (epoch E, T)"
	pcp_name=", PCP"
fi
probe gateway 0 --discover --describe --wait-ms "$ANSWER_WAIT_MS" <<EOF
gateway: $LAN_NET.1 via eth0, this host $LAN_NET.2
PortMapping: UPnP, NAT-PMP$pcp_name
UPnP: yes, IGD at $LAN_NET.1, ST urn:schemas-upnp-org:device:InternetGatewayDevice:2
UPnP location: http://$LAN_NET.1:$HTTP_PORT/rootDesc.xml
UPnP device: friendlyName "derpcheck lab router", manufacturer "derpcheck", modelName "lab-igd"
NAT-PMP: yes, external address $OUTSIDE_ROUTER (epoch E, T)
$pcp_line
EOF
# Tailscale's requests, as the gateway saw them (miniupnpd may log the last one after the
# probe already had its answers: wait for each line, with a deadline).
for line in "NAT-PMP public address request" "SSDP M-SEARCH from $LAN_NET.2" \
	"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1"; do
	if lab_wait_log "$work/miniupnpd.log" "$line" 5 2>/dev/null; then pass; else
		fail "gateway: miniupnpd log lacks '$line'"
	fi
done

# Unicast SSDP only (what a multicast-broken LAN leaves): the gateway still answers.
probe unicast 0 --gateway "$LAN_NET.1" --self "$LAN_NET.2" --no-multicast --wait-ms "$ANSWER_WAIT_MS" <<EOF
gateway: $LAN_NET.1, this host $LAN_NET.2
PortMapping: UPnP, NAT-PMP$pcp_name
UPnP: yes, IGD at $LAN_NET.1, ST urn:schemas-upnp-org:device:InternetGatewayDevice:2
UPnP location: http://$LAN_NET.1:$HTTP_PORT/rootDesc.xml
NAT-PMP: yes, external address $OUTSIDE_ROUTER (epoch E, T)
$pcp_line
EOF

# A gateway whose own WAN address is private (double NAT): NAT-PMP answers, but refuses.
stop_miniupnpd
ip -n "${tag}r" addr flush dev wan0
ip -n "${tag}r" addr add 10.77.0.1/30 dev wan0
start_miniupnpd
probe double-nat 0 --discover --wait-ms "$ANSWER_WAIT_MS" <<EOF
gateway: $LAN_NET.1 via eth0, this host $LAN_NET.2
PortMapping: UPnP$pcp_name
UPnP: yes, IGD at $LAN_NET.1, ST urn:schemas-upnp-org:device:InternetGatewayDevice:2
UPnP location: http://$LAN_NET.1:$HTTP_PORT/rootDesc.xml
NAT-PMP: no, the gateway refused: result 3 (NETWORK_FAILURE)
$pcp_line
EOF

finish
