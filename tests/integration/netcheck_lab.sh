#!/bin/bash
# derpcheck netcheck through network namespaces (tests/lab/lib.sh): a client behind a NAT
# router probing STUN servers with injected delays in an "internet" namespace with two
# addresses. Endpoint-independent NAT (MASQUERADE) -> MappingVariesByDestIP false;
# --random-fully -> true; UDP dropped -> UDP false ("no UDP at all"), HTTPS latency from
# the test DERP server and ICMP echo latency (tests/tools/icmpecho); a dead STUN server's
# region missing while the others are right, with the ports tried; the lowest delay
# is the nearest region; a STUNOnly region served by coturn measured; miniupnpd on the
# router -> UPnP (and NAT-PMP/PCP as the build answers). Needs root; skips loudly otherwise.
set -u
: "${DERPCHECK:?}" "${TOOLS:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/lib.sh"
lab_require_root "netcheck through NAT namespaces"
lab_deadline 150
. "$here/../lib/hints.sh"
out=$lab_dir/out err=$lab_dir/err
export DERPCHECK_DEFAULT_MAP_URL= NO_COLOR=1

lab_topology || { echo "FAIL: could not build the lab topology" >&2; exit 1; }
# Every closed port of the "internet" answers with ICMP port unreachable, however many:
# Linux rate-limits them (icmp_ratelimit), which would make the ports-tried lines vary.
lab_in "$LAB_INET" sysctl -qw net.ipv4.icmp_ratelimit=0

# dc ARGS...: derpcheck netcheck inside the client namespace (its default route is the lab
# router, so port mapping only ever asks the lab router).
dc() {
	case_begin "netcheck $*"
	t0=$(date +%s%N)
	rc=0
	ip netns exec "$LAB_CLIENT" timeout 30 "$DERPCHECK" netcheck --socket "$lab_dir/no.sock" "$@" >"$out" 2>"$err" || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	NETNS=$LAB_CLIENT hints_check "netcheck $*" "$PWD" "$out" "$err"
}

# Delays tens of milliseconds apart, so a loaded machine's scheduling does not reorder the
# regions; every server logs how long it really held each reply (--log-holds).
lab_spawn near "$LAB_INET" "$TOOLS/stunserver" --lifetime 140 --log-holds -a 203.0.113.10 -a 2001:db8:2::10 -p 3478 --delay 30
lab_wait_ready near 5 || exit 1
lab_spawn far "$LAB_INET" "$TOOLS/stunserver" --lifetime 140 --log-holds -a 203.0.113.11 -p 3479 --delay 120
lab_wait_ready far 5 || exit 1
lab_spawn mid "$LAB_INET" "$TOOLS/stunserver" --lifetime 140 --log-holds -a 203.0.113.11 -p 3480 --delay 60
lab_wait_ready mid 5 || exit 1
lab_spawn coturn "$LAB_INET" turnserver -n --stun-only --no-auth -L 203.0.113.10 -E 203.0.113.10 -p 3490 \
	--no-tls --no-dtls --no-cli --pidfile "$lab_dir/turnserver.pid" --userdb "$lab_dir/turndb" --log-file stdout
lab_nat masquerade
lab_wait_stun "$LAB_CLIENT" 203.0.113.10:3490 10 || exit 1

# Regions: near (30 ms, dual stack), mid (60 ms), far (120 ms), dead (nothing listens),
# turn (STUNOnly, coturn). The DERP port of near is the test DERP server (used when UDP is
# dropped).
cat >"$lab_dir/map.json" <<'JSON'
{"Regions": {
 "1": {"RegionID": 1, "RegionCode": "nea", "RegionName": "Near", "Nodes": [
   {"Name": "1a", "RegionID": 1, "HostName": "derp.test", "IPv4": "203.0.113.10", "IPv6": "2001:db8:2::10", "DERPPort": 8443}]},
 "2": {"RegionID": 2, "RegionCode": "mid", "RegionName": "Middle", "Nodes": [
   {"Name": "2a", "RegionID": 2, "HostName": "mid.invalid", "IPv4": "203.0.113.11", "IPv6": "none", "STUNPort": 3480, "DERPPort": 8444}]},
 "3": {"RegionID": 3, "RegionCode": "far", "RegionName": "Far", "Nodes": [
   {"Name": "3a", "RegionID": 3, "HostName": "far.invalid", "IPv4": "203.0.113.11", "IPv6": "none", "STUNPort": 3479, "DERPPort": 8444}]},
 "4": {"RegionID": 4, "RegionCode": "ded", "RegionName": "Dead", "Nodes": [
   {"Name": "4a", "RegionID": 4, "HostName": "dead.invalid", "IPv4": "203.0.113.11", "IPv6": "none", "STUNPort": 3499, "DERPPort": 8444}]},
 "5": {"RegionID": 5, "RegionCode": "trn", "RegionName": "Coturn", "Nodes": [
   {"Name": "5a", "RegionID": 5, "HostName": "turn.invalid", "IPv4": "203.0.113.10", "IPv6": "none", "STUNPort": 3490, "STUNOnly": true}]}
}}
JSON

# --- endpoint-independent NAT -------------------------------------------------------------
dc --derp-map "$lab_dir/map.json" --no-portmap -v --bind-port 41641 --hairpin
t_expect_exit masquerade 0 $rc
# Linux MASQUERADE does not loop a packet to the router's own address back inside.
t_has_line masquerade "$out" $'\t* Hairpin: no, no packet to this machine\'s public address came back within 100ms (the NAT does not hairpin)'
t_has_line masquerade "$out" $'\t* UDP: true'
t_has_line masquerade "$out" $'\t* IPv4: yes, 203.0.113.1:41641'
t_has_line masquerade "$out" $'\t* IPv6: yes, [2001:db8:1::2]:41641'
t_has_line masquerade "$out" $'\t* MappingVariesByDestIP: false'
# coturn answers without injected delay: the lowest latency, so the nearest region.
t_has_line masquerade "$out" $'\t* Nearest DERP: Coturn'
order=$(grep -oE $'^\t\t- [a-z]{3}:' "$out" | tr -d '\t: -' | tr '\n' ' ')
[ "$order" = "trn nea mid far ded " ] && t_pass || t_fail "masquerade: latency order $order"
# Each latency: at least the injected delay, at most the server's longest real hold + 1.5 ms
# (0.05 either way for the 0.1 ms rounding of the text).
latency_ok() { # NAME CODE DELAY-MS SERVER
	local v hold
	v=$(sed -n 's/^\t\t- '"$2"': \([0-9.]*\)ms .*/\1/p' "$out")
	hold=$(sed -n 's/^held //p' "$lab_dir/$4.out" | sort -g | tail -1)
	if awk -v r="$v" -v d="$3" -v h="$hold" 'BEGIN { exit !(r != "" && h != "" && r + 0.05 >= d && r <= h + 1.55) }'; then
		t_pass
	else
		t_fail "$1: $2 latency '$v' ms not within [$3 ms injected, ${hold:-?} ms held by $4 + 1.5 ms]"
	fi
}
latency_ok masquerade nea 30 near
latency_ok masquerade mid 60 mid
latency_ok masquerade far 120 far
t_has_match masquerade "$out" $'^\t\t- trn: [0-9.]+(ms|µs) +\\(derp5, Coturn\\)$'
t_has_line masquerade "$out" $'\t\t- ded:         (derp4, Dead)'
t_has_line masquerade "$out" $'\t* NAT mapping: endpoint-independent (RFC 4787 "easy NAT"): peers can reach this machine directly'
t_has_line masquerade "$out" $'\t  (2 server addresses saw the same mapping 203.0.113.1:41641)'
t_has_match masquerade "$out" $'^\t\t- trn 5a IPv4 203\\.0\\.113\\.10:3490: [0-9.]+ms, mapped 203\\.0\\.113\\.1:41641$'
t_has_line masquerade "$out" $'\t\t- ded 4a IPv4 203.0.113.11:3499: STUN port 3499 is closed: ICMP port unreachable from 203.0.113.11 (UDP reaches the host, nothing listens there); none of 3478, 8444 and 3490 answered either'
t_has_line masquerade "$out" $'\t\t  tried: 3478 (default STUN port, 1a\'s STUNPort): closed (ICMP port unreachable); 8444 (DERPPort): closed (ICMP port unreachable); 3490 (5a\'s STUNPort): closed (ICMP port unreachable)'
t_has_line masquerade "$out" "warning: region 4 (ded) did not answer while others did"
t_lacks_match masquerade "$out" "hard NAT"

# --- address-and-port-dependent NAT -------------------------------------------------------
lab_nat random-fully
dc --derp-map "$lab_dir/map.json" --no-portmap -4 --format json
t_expect_exit random-fully 0 $rc
[ "$(jq -r '.MappingVariesByDestIP' "$out")" = true ] && t_pass || t_fail "random-fully: MappingVariesByDestIP $(jq -r .MappingVariesByDestIP "$out")"
[ "$(jq -r '.PreferredDERP' "$out")" = 5 ] && t_pass || t_fail "random-fully: PreferredDERP $(jq -r .PreferredDERP "$out")"
case $(jq -r '.derpcheck.nat.mapping' "$out") in
address-dependent | address-and-port-dependent | destination-dependent) t_pass ;;
*) t_fail "random-fully: nat mapping $(jq -r .derpcheck.nat.mapping "$out")" ;;
esac
[ "$(jq -r '[.derpcheck.findings[].code] | index("netcheck-hard-nat") != null' "$out")" = true ] && t_pass ||
	t_fail "random-fully: no netcheck-hard-nat finding"

# status --netcheck behind this NAT: the reason is a measured hard NAT here.
ip netns exec "$LAB_CLIENT" env DERPCHECK_NOW=1787400000 timeout 30 "$DERPCHECK" status \
	--file "$here/../fixtures/status/mixed.json" --netcheck --no-portmap --derp-map "$lab_dir/map.json" >"$out" 2>"$err"
t_expect_exit status-random-fully 1 $?
t_has_match status-random-fully "$out" "^Measured now \(netcheck\): UDP works, IPv4 203\.0\.113\.1:[0-9]+, MappingVariesByDestIP true, nearest DERP Coturn$"
t_has_match status-random-fully "$out" "^    our-hard-nat: measured: this machine's NAT maps per destination \(hard NAT\) \(.*\), so phone cannot reach the port the STUN servers saw$"

# --- UDP dropped: HTTPS latency from the test DERP server, ICMP echo with injected delays ---
. "$root/tests/lib/pki.sh"
pki_derp "$lab_dir/pki" >/dev/null 2>&1 || t_fail "mkpki-derp.sh failed"
spawn derp '^ready' 5 ip netns exec "$LAB_INET" "$TOOLS/derpserver" --cert "$lab_dir/pki/derp-chain.pem" \
	--key "$lab_dir/pki/derp.key" --listen 203.0.113.10:8443 --hostname derp.test
# ICMP echo through the NAT: the "internet" answers .10 after 20 ms and .11 after 200 ms.
lab_icmp_echo echo "$LAB_INET" 203.0.113.10=20 203.0.113.11=200 || exit 1
lab_nat drop-udp
dc --derp-map "$lab_dir/map.json" --no-portmap --ca-file "$lab_dir/pki/ca.pem"
t_expect_exit drop-udp 1 $rc
t_has_line drop-udp "$out" $'\t* UDP: false'
# Near: HTTPS or its 20 ms echo, whichever is lower; the others only echo, 200 ms.
t_has_line drop-udp "$out" $'\t* Nearest DERP: Near'
t_has_match drop-udp "$out" $'^\t\t- nea: [0-9.]+(ms|µs) +\\(Near\\)$'
# At least the injected 200 ms, at most what the responder really held (its log) + 1.5 ms.
hold=$(awk '$1 == "held" && $2 == "203.0.113.11" { print $3 }' "$lab_dir/echo.out" | sort -g | tail -1)
for code in mid far ded; do
	v=$(sed -n 's/^\t\t- '"$code"': \([0-9.]*\)ms .*/\1/p' "$out")
	if awk -v r="$v" -v h="$hold" 'BEGIN { exit !(r != "" && r + 0.05 >= 200 && r <= h + 1.55) }'; then t_pass; else
		t_fail "drop-udp: $code ICMP latency '$v' ms not within [200 ms injected, ${hold:-?} ms held + 1.5 ms]"
	fi
done
t_has_line drop-udp "$out" $'\t\t- trn:         (Coturn)'
t_has_line drop-udp "$out" $'\t* HTTPS latency (UDP blocked):'
t_has_match drop-udp "$out" $'^\t\t- nea 1a 203\\.0\\.113\\.10:8443: [0-9.]+ms \\(connect [0-9.]+ms\\)$'
t_has_line drop-udp "$out" $'\t* ICMP latency (UDP blocked): raw socket, 4 of 4 echoes answered'
t_has_match drop-udp "$out" $'^\t\t- nea 1a 203\\.0\\.113\\.10: [0-9]+\\.[0-9]{3}ms$'
t_has_match drop-udp "$out" $'^\t\t- ded 4a 203\\.0\\.113\\.11: [0-9]+\\.[0-9]{3}ms$'
t_has_line drop-udp "$out" $'\t* UDP verdict: no UDP at all: none of the 6 STUN servers asked answered on UDP (ports 3478, 3479, 3480, 3490, 3499) and no ICMP error came back'
t_has_line drop-udp "$out" "error: no UDP at all: none of the 6 STUN servers asked answered on UDP (ports 3478, 3479, 3480, 3490, 3499) and no ICMP error came back; Tailscale reports UDP: false, so peers will only talk through DERP relays"
t_lacks_match drop-udp "$out" "did not answer while others did"
# UDP silence is bounded by the 3 s STUN phase; HTTPS by the 5 s report.
[ $ms -lt 6000 ] && t_pass || t_fail "drop-udp: took $ms ms"

# --- port mapping: miniupnpd as the lab router's gateway service --------------------------
lab_nat masquerade
cat >"$lab_dir/miniupnpd.conf" <<EOF
ext_ifname=$LAB_ROUTER_OUT
listening_ip=$LAB_ROUTER_IN
http_port=5000
enable_natpmp=yes
enable_upnp=yes
secure_mode=yes
system_uptime=no
ipv6_disable=yes
uuid=6f2b1c3a-0d1e-4a5b-9c8d-7e6f5a4b3c2e
friendly_name=derpcheck netcheck lab
lease_file=$lab_dir/leases
allow 1024-65535 10.77.1.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
lab_spawn miniupnpd "$LAB_ROUTER" timeout 100 miniupnpd -d -f "$lab_dir/miniupnpd.conf" -P "$lab_dir/miniupnpd.pid"
end=$(($(date +%s%N) + 10000000000))
until grep -q "HTTP listening on port 5000" "$lab_dir/miniupnpd.out" "$lab_dir/miniupnpd.err" 2>/dev/null; do
	[ "$(date +%s%N)" -gt "$end" ] && { t_fail "miniupnpd did not start"; cat "$lab_dir/miniupnpd.err" >&2; break; }
	sleep 0.05
done
# Tailscale waits 250 ms for the gateway; a loaded CI machine may schedule miniupnpd later.
# The probe ends at the last answer, so a longer wait widens only the scheduling side.
export DERPCHECK_PORTMAP_WAIT_MS=5000
dc --derp-map "$lab_dir/map.json" -4
t_expect_exit portmap 0 $rc
t_has_match portmap "$out" $'^\t\\* PortMapping: UPnP'
t_has_match portmap "$out" $'^\t\\* Port mapping: gateway 10\\.77\\.1\\.1 \\('
t_has_match portmap "$out" $'^\t\t- UPnP: yes, '
dc --derp-map "$lab_dir/map.json" -4 --format json
[ "$(jq -r '.UPnP' "$out")" = true ] && t_pass || t_fail "portmap: UPnP $(jq -r .UPnP "$out")"
[ "$(jq -r '.derpcheck.portmap.gateway' "$out")" = 10.77.1.1 ] && t_pass || t_fail "portmap: gateway $(jq -r .derpcheck.portmap.gateway "$out")"
cp "$out" "$lab_dir/portmap.json"
# status --netcheck behind an endpoint-independent NAT: the obstacle is on the peer's side.
ip netns exec "$LAB_CLIENT" env DERPCHECK_NOW=1787400000 timeout 30 "$DERPCHECK" status \
	--file "$here/../fixtures/status/mixed.json" --netcheck --derp-map "$lab_dir/map.json" >"$out" 2>"$err"
t_expect_exit status-masquerade 1 $?
t_has_line status-masquerade "$out" "  NAT mapping: endpoint-independent (RFC 4787 \"easy NAT\"): peers can reach this machine directly"
t_has_match status-masquerade "$out" "^    peer-hard-nat-likely: measured: UDP works here and this machine's NAT keeps one mapping for every destination \(203\.0\.113\.1:[0-9]+\), so the obstacle is on phone's side: UDP blocked there or a hard NAT$"
echo "netcheck_lab: port mapping seen: UPnP=$(jq -r .UPnP "$lab_dir/portmap.json") PMP=$(jq -r .PMP "$lab_dir/portmap.json") PCP=$(jq -r .PCP "$lab_dir/portmap.json") ($(jq -r .derpcheck.portmap.pmp.detail "$lab_dir/portmap.json"))"

t_finish
