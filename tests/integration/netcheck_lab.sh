#!/bin/bash
# derpcheck netcheck through network namespaces (tests/lab/lib.sh): a client behind a NAT
# router probing STUN servers with injected delays in an "internet" namespace with two
# addresses. Endpoint-independent NAT (MASQUERADE) -> MappingVariesByDestIP false;
# --random-fully -> true; UDP dropped -> UDP false and HTTPS latency from the test DERP
# server; a dead STUN server's region missing while the others are right; the lowest delay
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

# dc ARGS...: derpcheck netcheck inside the client namespace (its default route is the lab
# router, so port mapping only ever asks the lab router).
dc() {
	t0=$(date +%s%N)
	rc=0
	ip netns exec "$LAB_CLIENT" timeout 30 "$DERPCHECK" netcheck --socket "$lab_dir/no.sock" "$@" >"$out" 2>"$err" || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	NETNS=$LAB_CLIENT hints_check "netcheck $*" "$PWD" "$out" "$err"
}

lab_spawn near "$LAB_INET" "$TOOLS/stunserver" --lifetime 140 -a 203.0.113.10 -a 2001:db8:2::10 -p 3478 --delay 4
lab_wait_ready near 5 || exit 1
lab_spawn far "$LAB_INET" "$TOOLS/stunserver" --lifetime 140 -a 203.0.113.11 -p 3479 --delay 30
lab_wait_ready far 5 || exit 1
lab_spawn mid "$LAB_INET" "$TOOLS/stunserver" --lifetime 140 -a 203.0.113.11 -p 3480 --delay 12
lab_wait_ready mid 5 || exit 1
lab_spawn coturn "$LAB_INET" turnserver -n --stun-only --no-auth -L 203.0.113.10 -E 203.0.113.10 -p 3490 \
	--no-tls --no-dtls --no-cli --pidfile "$lab_dir/turnserver.pid" --userdb "$lab_dir/turndb" --log-file stdout
lab_nat masquerade
lab_wait_stun "$LAB_CLIENT" 203.0.113.10:3490 10 || exit 1

# Regions: near (4 ms, dual stack), mid (12 ms), far (30 ms), dead (nothing listens),
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
t_has_match masquerade "$out" $'^\t\t- nea: 4\\.[0-9]ms +\\(derp1, Near\\)$'
t_has_match masquerade "$out" $'^\t\t- mid: 12\\.[0-9]ms +\\(derp2, Middle\\)$'
t_has_match masquerade "$out" $'^\t\t- far: 30\\.[0-9]ms +\\(derp3, Far\\)$'
t_has_match masquerade "$out" $'^\t\t- trn: [0-9.]+(ms|µs) +\\(derp5, Coturn\\)$'
t_has_line masquerade "$out" $'\t\t- ded:         (derp4, Dead)'
t_has_line masquerade "$out" $'\t* NAT mapping: endpoint-independent (RFC 4787 "easy NAT"): peers can reach this machine directly'
t_has_line masquerade "$out" $'\t  (2 server addresses saw the same mapping 203.0.113.1:41641)'
t_has_match masquerade "$out" $'^\t\t- trn 5a IPv4 203\\.0\\.113\\.10:3490: [0-9.]+ms, mapped 203\\.0\\.113\\.1:41641$'
t_has_match masquerade "$out" $'^\t\t- ded 4a IPv4 203\\.0\\.113\\.11:3499: ICMP unreachable: '
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

# --- UDP dropped: HTTPS latency from the test DERP server ---------------------------------
"$here/../tools/mkpki-derp.sh" "$lab_dir/pki" >/dev/null 2>&1 || { t_fail "mkpki-derp.sh failed"; }
ip netns exec "$LAB_INET" "$TOOLS/derpserver" --cert "$lab_dir/pki/derp-chain.pem" --key "$lab_dir/pki/derp.key" \
	--listen 203.0.113.10:8443 --hostname derp.test >"$lab_dir/derp.out" 2>"$lab_dir/derp.err" &
lab_pids="$lab_pids $!"
end=$(($(date +%s%N) + 5000000000))
until grep -q '^ready' "$lab_dir/derp.out" 2>/dev/null; do
	[ "$(date +%s%N)" -gt "$end" ] && { t_fail "derpserver did not get ready"; cat "$lab_dir/derp.err" >&2; break; }
	sleep 0.02
done
lab_nat drop-udp
dc --derp-map "$lab_dir/map.json" --no-portmap --ca-file "$lab_dir/pki/ca.pem"
t_expect_exit drop-udp 1 $rc
t_has_line drop-udp "$out" $'\t* UDP: false'
t_has_line drop-udp "$out" $'\t* Nearest DERP: Near'
t_has_match drop-udp "$out" $'^\t\t- nea: [0-9.]+(ms|µs) +\\(Near\\)$'
t_has_line drop-udp "$out" $'\t* HTTPS latency (UDP blocked):'
t_has_match drop-udp "$out" $'^\t\t- nea 1a 203\\.0\\.113\\.10:8443: [0-9.]+ms \\(connect [0-9.]+ms\\)$'
t_has_line drop-udp "$out" "error: no STUN server answered over UDP: peers will only talk through DERP relays"
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
