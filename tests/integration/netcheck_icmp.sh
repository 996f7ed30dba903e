#!/bin/bash
# netcheck's ICMP latency fallback (protocols.md §3.4) side by side with Tailscale's own
# netcheck (netcheckjson: tailscale.com/net/netcheck v1.34.2) on the same map, in one
# network namespace with only loopback (plus a veth pair leading nowhere with an IPv4
# address, so Tailscale plans its IPv4 STUN probes): all UDP dropped, ICMP echo answered by tests/tools/icmpecho after
# a delay per address (the kernel's own echo replies off), and the real derper on one
# region's node for the HTTPS latency. Both must agree: UDP false, ICMPv4 true, the same
# regions measured, the same PreferredDERP (HTTPS beats ICMP where both answer), and each
# ICMP latency at least its injected delay and at most what the responder really held it
# (its log) plus 1.5 ms.
# Then which ICMP socket derpcheck gets, in a second namespace (STUN ports closed, so the
# fallback starts at once): an unprivileged one where net.ipv4.ping_group_range allows,
# a raw one as root, and as an ordinary user without either, no echo and the reason why.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/derp.sh"
. "$root/tests/lib/peers.sh"
. "$root/tests/lib/netns.sh"
netns_require_root "ICMP echo and dropped UDP in network namespaces"
peers_require
export DERPCHECK_DEFAULT_MAP_URL= NO_COLOR=1

netns_new || exit 1
NS=$NETNS_NEW
netns_ipv4_iface "$NS" 10.99.0.1/24 || exit 1
netns_drop_udp "$NS"
netns_icmp_echo echo "$NS" 127.0.0.2=600 127.0.0.3=200 127.0.0.4=400 || exit 1
derper_certdir "$work/certs" "$work/pki/derp-chain.pem" "$work/pki/derp.key"
NETNS=$NS derper_start home 127.0.0.2 "$work/certs" || exit 1

# 900 "aaa": a 600 ms echo (and, in the second map, derper's HTTPS); 901 "bbb": 200 ms;
# 902 "ccc": 400 ms; 903 "ddd": nothing answers at all. DERPPort 1 is closed: no HTTPS.
# Delays this far apart keep the order even when a loaded machine schedules the
# responder, derper or Tailscale's client tens of milliseconds late (seen in CI-like runs).
node4() { # NAME REGION IPV4 [DERPPORT]
	printf '{"Name":"%s","RegionID":%s,"HostName":"derp.test","IPv4":"%s","IPv6":"none","STUNPort":3478,"DERPPort":%s}' \
		"$1" "$2" "$3" "${4:-1}"
}
region() { # ID CODE NODE
	printf '"%s":{"RegionID":%s,"RegionCode":"%s","RegionName":"Region %s","Nodes":[%s]}' "$1" "$1" "$2" "$2" "$3"
}
map_with_derp_port() { # FILE DERPPORT-OF-900
	cat >"$1" <<EOF
{"Regions":{
$(region 900 aaa "$(node4 900a 900 127.0.0.2 "$2")"),
$(region 901 bbb "$(node4 901a 901 127.0.0.3)"),
$(region 902 ccc "$(node4 902a 902 127.0.0.4)"),
$(region 903 ddd "$(node4 903a 903 127.0.0.6)")
}}
EOF
}
map_with_derp_port "$work/icmp.json" 1
map_with_derp_port "$work/https.json" "$DERPER_PORT"

# jqb NAME FILE FILTER: the filter holds for that report
jqb() { jq -e "$3" "$work/$2" >/dev/null && pass || { fail "$1: jq '$3' is false"; jq -c . "$work/$2" >&2; }; }
# within NAME MS LOW HIGH: LOW <= MS <= HIGH (HIGH empty: no upper bound)
within() {
	if awk -v r="$2" -v l="$3" -v h="$4" 'BEGIN { exit !(r >= l && (h == "" || r <= h)) }'; then pass; else
		fail "$1: $2 ms not within [$3, ${4:-inf}] ms"
	fi
}

# side_by_side CASE MAP: derpcheck and netcheckjson on MAP in the namespace, same moment.
side_by_side() {
	local case=$1 map=$2 mark rc t0
	mark=$(wc -l <"$work/echo.ready")
	t0=$(now_ms)
	rc=0
	ip netns exec "$NS" timeout 30 "$DERPCHECK" netcheck --no-portmap --socket "$work/no.sock" --derp-map "$map" \
		--ca-file "$work/pki/ca.pem" --format json >"$work/$case-dc.json" 2>"$work/$case-dc.err" || rc=$?
	dc_ms=$(($(now_ms) - t0))
	[ "$rc" = 1 ] && pass || { fail "$case: derpcheck exit $rc, want 1 (UDP blocked)"; cat "$work/$case-dc.err" >&2; }
	rc=0
	ip netns exec "$NS" timeout 30 "$PEERS/netcheckjson" -ca "$work/pki/ca.pem" "$map" >"$work/$case-ts.json" \
		2>"$work/$case-ts.err" || rc=$?
	[ "$rc" = 0 ] && pass || { fail "$case: netcheckjson exit $rc"; cat "$work/$case-ts.err" >&2; }
	for who in dc ts; do
		jqb "$case-$who" "$case-$who.json" '.UDP == false and .ICMPv4 == true and .IPv4 == true'
		jqb "$case-$who" "$case-$who.json" '(.RegionLatency | keys) == ["900","901","902"]'
	done
	# derpcheck times echoes with the kernel's receive timestamp: the injected delay, and at
	# most what the responder really held that address's echo (its log, from this run on)
	# plus 1.5 ms. Tailscale times them in user space after its read returns, so only its
	# lower bound is the responder's.
	local h3 h4
	h3=$(netns_max_hold echo 127.0.0.3 "$mark") h4=$(netns_max_hold echo 127.0.0.4 "$mark")
	within "$case-dc 901" "$(jq '.RegionLatency["901"] / 1e6' "$work/$case-dc.json")" 200 "$(awk -v h="$h3" 'BEGIN { print h + 1.5 }')"
	within "$case-dc 902" "$(jq '.RegionLatency["902"] / 1e6' "$work/$case-dc.json")" 400 "$(awk -v h="$h4" 'BEGIN { print h + 1.5 }')"
	within "$case-ts 901" "$(jq '.RegionLatency["901"] / 1e6' "$work/$case-ts.json")" 200 ""
	within "$case-ts 902" "$(jq '.RegionLatency["902"] / 1e6' "$work/$case-ts.json")" 400 ""
	local a b
	a=$(jq .PreferredDERP "$work/$case-dc.json") b=$(jq .PreferredDERP "$work/$case-ts.json")
	[ "$a" = "$b" ] && pass || fail "$case: PreferredDERP: derpcheck $a, Tailscale $b"
	# Tailscale's plan: a 3 s STUN phase, then HTTPS and ICMP within the 5 s report.
	[ "$dc_ms" -lt 6000 ] && pass || fail "$case: derpcheck took $dc_ms ms"
}

# ICMP alone decides: the 200 ms region is home in both.
side_by_side icmp "$work/icmp.json"
for who in dc ts; do
	jqb "icmp-$who" "icmp-$who.json" '.PreferredDERP == 901'
	within "icmp-$who 900" "$(jq '.RegionLatency["900"] / 1e6' "$work/icmp-$who.json")" 600 ""
done
# derpcheck's own account of it: the verdict, each echo, the socket.
jqb icmp-dc icmp-dc.json '.derpcheck.udp.verdict == "blocked" and .derpcheck.udp.stun_ports == [3478]'
jqb icmp-dc icmp-dc.json '[.derpcheck.icmp.targets[] | [.node, .address, .ok]] == [["900a","127.0.0.2",true],["901a","127.0.0.3",true],["902a","127.0.0.4",true],["903a","127.0.0.6",false]]'
jqb icmp-dc icmp-dc.json '.derpcheck.icmp.targets[3].error | test("^no echo reply within [0-9]+ms$")'
jqb icmp-dc icmp-dc.json '.derpcheck.icmp.socket == "raw" or .derpcheck.icmp.socket == "unprivileged"'
jqb icmp-dc icmp-dc.json '[.derpcheck.https[] | select(.ok)] == []'

# HTTPS to derper answers where the echo takes 600 ms: the minimum makes 900 home in both.
side_by_side https "$work/https.json"
for who in dc ts; do
	jqb "https-$who" "https-$who.json" '.PreferredDERP == 900 and .RegionLatency["900"] < 200000000'
done
jqb https-dc https-dc.json '[.derpcheck.https[] | select(.ok) | .node] == ["900a"]'

# --- which ICMP socket: STUN ports closed (ICMP port unreachable), so no 3 s wait ---------
netns_new || exit 1
NS2=$NETNS_NEW
netns_ipv4_iface "$NS2" 10.99.0.1/24 || exit 1
netns_icmp_echo echo2 "$NS2" 127.0.0.3=10 127.0.0.4=20 || exit 1
cat >"$work/kinds.json" <<EOF
{"Regions":{
$(region 901 bbb "$(node4 901a 901 127.0.0.3)"),
$(region 902 ccc "$(node4 902a 902 127.0.0.4)")
}}
EOF
chmod 755 "$work" && chmod 644 "$work/kinds.json"
# kinds NAME WANT-EXIT [setpriv options]: text report as root or, with options, another user.
# (What is checked is the socket and the echoes; which region is nearest is the
# comparison's business above.)
kinds() {
	local name=$1 want=$2 rc=0
	shift 2
	ip netns exec "$NS2" ${1:+setpriv "$@"} timeout 30 "$DERPCHECK" netcheck --no-portmap --socket /nonexistent \
		--derp-map "$work/kinds.json" >"$work/$name.out" 2>"$work/$name.err" || rc=$?
	[ "$rc" = "$want" ] && pass || { fail "$name: exit $rc, want $want"; cat "$work/$name.out" "$work/$name.err" >&2; }
}
nobody=(--reuid 65534 --regid 65534 --clear-groups)

netns_ping_groups "$NS2" 0 2147483647
kinds ping-socket 1
contains ping-socket out $'\t* ICMP latency (UDP blocked): unprivileged ICMP socket, 2 of 2 echoes answered'
netns_ping_groups "$NS2" 1 0
kinds raw-root 1
contains raw-root out $'\t* ICMP latency (UDP blocked): raw socket, 2 of 2 echoes answered'
kinds nobody 1 "${nobody[@]}"
contains nobody out $'\t* ICMP latency (UDP blocked): not measured: no ICMP socket: unprivileged ICMP sockets: not allowed: none of this process\'s groups (e.g. 65534) is in net.ipv4.ping_group_range "1 0"; raw sockets: need root or CAP_NET_RAW'
contains nobody out $'\t* Nearest DERP: unknown (no response to latency probes)'
contains nobody out "warning: ICMP latency was not measured: no ICMP socket: unprivileged ICMP sockets: not allowed: none of this process's groups (e.g. 65534) is in net.ipv4.ping_group_range \"1 0\"; raw sockets: need root or CAP_NET_RAW"
contains nobody out "  hint: Tailscale running as root measures it and may pick another home region; run as root, or let this user's group use ICMP sockets (sysctl net.ipv4.ping_group_range)"
netns_ping_groups "$NS2" 65534 65534
kinds nobody-allowed 1 "${nobody[@]}"
contains nobody-allowed out $'\t* ICMP latency (UDP blocked): unprivileged ICMP socket, 2 of 2 echoes answered'

finish
