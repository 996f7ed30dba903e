#!/bin/bash
# derpcheck netcheck on loopback: Tailscale's report lines, the per-node lines (a dead
# port, a server that answers only plain STUN, a NoMeasureNoHome region, STUNPort -1),
# the nearest region by injected delay, a mapping that varies by destination, the
# HTTPS fallback and --check-derp against the test DERP server, json/json-line, --every.
# Never a public host: every map is local, DERPCHECK_DEFAULT_MAP_URL is empty, --socket
# points nowhere, and --no-portmap keeps the real gateway out of it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/derp.sh"
export DERPCHECK_DEFAULT_MAP_URL= NO_COLOR=1
out=$work/out err=$work/err

# dc ARGS...: one case, netcheck (bounded) with the safety flags, output in $out/$err, $rc, $ms.
dc() {
	local t0
	case_begin "netcheck $*"
	t0=$(now_ms)
	rc=0
	timeout 30 "$DERPCHECK" netcheck --no-portmap --socket "$work/no.sock" "$@" >"$out" 2>"$err" || rc=$?
	ms=$(($(now_ms) - t0))
	hints_check "netcheck $*" "$PWD" "$out" "$err"
}
has() { assert_line "$1" "$out" "$2"; }
has_re() { assert_match "$1" "$out" "$2"; }
lacks_re() { assert_no_match "$1" "$out" "$2"; }
expect_rc() { [ "$2" = "$3" ] && pass || { fail "$1: exit $3, want $2"; cat "$err" >&2; }; }
# jqt NAME FILTER [jq options...]
jqt() {
	local name=$1 filter=$2
	shift 2
	jq -e "$@" "$filter" "$out" >/dev/null && pass || { fail "$name: jq '$filter' is false"; head -c 3000 "$out" >&2; }
}

# stun NAME ARGS...: a stunserver; sets P to its first port (PS to all of them). It logs how
# long it really held each reply ("held MS"), which the latency checks below compare with.
stun() {
	local name=$1
	shift
	spawn "$name" '^ready' 5 "$TOOLS/stunserver" --lifetime 100 --log-holds "$@" || exit 1
	PS=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/$name.ready")
	P=${PS%%$'\n'*}
}

# Latencies are exact about what was injected and hold on a loaded machine: a reply cannot
# come back before the injected delay, and not later than the longest time the server
# really held a reply in that run (its kernel receive timestamp to sendto; under load
# that exceeds the delay) plus 1.5 ms for loopback and our own send. Only the server's
# scheduling widens the window, and the server measures it.
mark() { wc -l <"$work/$1.ready"; }
max_hold() { tail -n +$(($2 + 1)) "$work/$1.ready" | sed -n 's/^held //p' | sort -g | tail -1; }
# latency_ok NAME MS DELAY-MS SERVER MARK [SLACK-MS]: DELAY <= MS <= longest hold + 1.5 (+ SLACK for rounding)
latency_ok() {
	local hold
	hold=$(max_hold "$4" "$5")
	if [ -n "$hold" ] && awk -v r="$2" -v d="$3" -v h="$hold" -v s="${6:-0}" 'BEGIN { exit !(r + s >= d && r <= h + 1.5 + s) }'; then
		pass
	else
		fail "$1: ${2} ms is not within [$3 ms injected, ${hold:-?} ms held by $4 + 1.5 ms]"
	fi
}

stun fast -a 127.0.0.1 -a ::1 -p "$(free_port udp)" --delay 5
pa=$P
pa6=$pa
stun slow -a 127.0.0.1 -p 0 --delay 100
pb=$P
stun plain -a 127.0.0.1 -p 0 --answer plain
pp=$P
dead=$(free_port udp)
bind=$(free_port udp)

n() { # NAME REGION IPV4 IPV6 STUNPORT [EXTRA]
	printf '{"Name":"%s","RegionID":%s,"HostName":"%s.invalid","IPv4":"%s","IPv6":"%s","STUNPort":%s%s}' \
		"$1" "$2" "$1" "$3" "$4" "$5" "${6:+,$6}"
}
r() { # ID CODE NAME EXTRA NODES...
	local id=$1 code=$2 name=$3 extra=$4 nodes
	shift 4
	nodes=$(printf '%s,' "$@")
	printf '"%s":{"RegionID":%s,"RegionCode":"%s","RegionName":"%s"%s,"Nodes":[%s]}' "$id" "$id" "$code" "$name" \
		"${extra:+,$extra}" "${nodes%,}"
}
cat >"$work/map.json" <<EOF
{"Regions":{
$(r 1 aaa "Region A" "" "$(n 1a 1 127.0.0.1 ::1 "$pa")"),
$(r 2 bbb "Region B" "" "$(n 2a 2 127.0.0.1 none "$pb")" "$(n 2b 2 127.0.0.1 none "$pp")"),
$(r 3 ccc "Region C" "" "$(n 3a 3 127.0.0.1 none "$dead")"),
$(r 4 ddd "Region D" '"NoMeasureNoHome":true' "$(n 4a 4 127.0.0.1 none "$pa")"),
$(r 5 eee "Region E" "" "$(n 5a 5 127.0.0.1 none -1)")
}}
EOF

# --- the report ---------------------------------------------------------------------------
mf=$(mark fast) ms_=$(mark slow)
dc --derp-map "$work/map.json" --bind-port "$bind"
expect_rc report 0 $rc
has report ""
has report "Report:"
has_re report $'^\t\\* Time: [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+(Z|[+-][0-9:]+)$'
has report $'\t* UDP: true'
has report $'\t* IPv4: yes, 127.0.0.1:'"$bind"
has report $'\t* IPv6: yes, [::1]:'"$bind"
has report $'\t* MappingVariesByDestIP: false'
has report $'\t* PortMapping: not checked'
has report $'\t* Nearest DERP: Region A'
has report $'\t* DERP latency:'
has_re report $'^\t\t- aaa: [0-9.]+ms +\\(Region A\\)$'
has_re report $'^\t\t- bbb: [0-9.]+ms +\\(Region B\\)$'
latency_ok report-bbb "$(sed -n 's/^\t\t- bbb: \([0-9.]*\)ms .*/\1/p' "$out")" 100 slow "$ms_" 0.05
has report $'\t\t- ccc:         (Region C)'
has report $'\t\t- ddd:         (Region D)'
has report $'\t\t- eee:         (Region E)'
# the order: measured by latency, then the rest by ID
order=$(grep -oE '^	+- [a-e]{3}:' "$out" | tr -d '\t: -' | tr '\n' ' ')
[ "$order" = "aaa bbb ccc ddd eee " ] && pass || fail "report: latency list order $order"
has report "derpcheck:"
has report $'\t* DERP map: file '"$work/map.json"
has report $'\t* STUN phase: '"$(sed -n 's/^\t\* STUN phase: \([0-9]*ms\), every region done$/\1/p' "$out")"', every region done'
has report $'\t* NAT mapping: cannot be decided'
has report $'\t  (only one server address answered: two different server addresses are needed to tell; add one with --extra-stun HOST:PORT)'
has report $'\t* Port mapping: not checked (--no-portmap)'
has report $'\t* Captive portal: not checked: no node of the map has an IPv4 address and CanPort80'
has_re report $'^\t\t- aaa 1a IPv4 127\\.0\\.0\\.1:'"$pa"': [0-9.]+ms, mapped 127\.0\.0\.1:'"$bind"'$'
has_re report $'^\t\t- aaa 1a IPv6 \\[::1\\]:'"$pa6"': [0-9.]+ms, mapped \[::1\]:'"$bind"'$'
has_re report $'^\t\t- bbb 2a IPv4 127\\.0\\.0\\.1:'"$pb"': [0-9.]+ms, mapped 127\.0\.0\.1:'"$bind"'$'
latency_ok report-2a "$(sed -n 's/^\t\t- bbb 2a IPv4 [0-9.:]*: \([0-9.]*\)ms, .*/\1/p' "$out")" 100 slow "$ms_" 0.05
has report $'\t\t- bbb 2b IPv4 127.0.0.1:'"$pp"": no reply to Tailscale's request on UDP port $pp, but a bare RFC 5389 request was answered (a STUN server that ignores Tailscale's requests)"
has report $'\t\t- ccc 3a IPv4 127.0.0.1:'"$dead: STUN port $dead is closed: ICMP port unreachable from 127.0.0.1 (UDP reaches the host, nothing listens there); none of 3478 and 443 answered either"
has report $'\t\t  tried: 3478 (default STUN port): closed (ICMP port unreachable); 443 (DERPPort): closed (ICMP port unreachable)'
has report $'\t* UDP verdict: UDP works: 3 of 5 STUN servers asked answered'
has report $'\t\t- eee 5a IPv4: skipped: STUNPort is -1: STUN is off for this node'
lacks_re report "ddd 4a"
has report "warning: region 3 (ccc) did not answer while others did"
has report "warning: 2b (IPv4, 127.0.0.1:$pp): no reply to Tailscale's request on UDP port $pp, but a bare RFC 5389 request was answered (a STUN server that ignores Tailscale's requests)"
has report "warning: 3a (IPv4, 127.0.0.1:$dead): STUN port $dead is closed: ICMP port unreachable from 127.0.0.1 (UDP reaches the host, nothing listens there); none of 3478 and 443 answered either"
has report "  hint: start derper's STUN server on UDP $dead (derper -stun -stun-port $dead), or set STUNPort to the port it listens on (--stun-port-guess PORT tries more ports)"
# The dead region's three plan probes end at 200 ms; nothing waits for the 3 s phase.
[ $ms -lt 1500 ] && pass || fail "report: took $ms ms"

# --- JSON: Tailscale's keys in Tailscale's order, and the derpcheck key -------------------
mf=$(mark fast) ms_=$(mark slow)
dc --derp-map "$work/map.json" --format json --bind-port "$bind"
expect_rc json 0 $rc
jqt json '[keys_unsorted[]] == ["Now","UDP","IPv6","IPv4","IPv6CanSend","IPv4CanSend","OSHasIPv6","ICMPv4","MappingVariesByDestIP","UPnP","PMP","PCP","PreferredDERP","RegionLatency","RegionV4Latency","RegionV6Latency","GlobalV4Counters","GlobalV6Counters","GlobalV4","GlobalV6","CaptivePortal","derpcheck"]'
jqt json '.UDP and .IPv4 and .IPv6 and .IPv4CanSend and .PreferredDERP == 1 and .MappingVariesByDestIP == false'
jqt json '(.RegionLatency | keys) == ["1","2"] and (.RegionV6Latency | keys) == ["1"]'
latency_ok json-1 "$(jq '.RegionLatency["1"] / 1e6' "$out")" 5 fast "$mf"
latency_ok json-2 "$(jq '.RegionLatency["2"] / 1e6' "$out")" 100 slow "$ms_"
jqt json ".GlobalV4 == \"127.0.0.1:$bind\" and .GlobalV6 == \"[::1]:$bind\" and .GlobalV4Counters[\"127.0.0.1:$bind\"] == 2"
jqt json '.UPnP == null and .CaptivePortal == null'
jqt json '.derpcheck.map.source == "file" and .derpcheck.nat.mapping == "unknown"'
jqt json '[.derpcheck.nodes[] | select(.family == 4) | .status] == ["ok","ok","plain-only","unreachable","skipped"]'
jqt json '[.derpcheck.findings[].code] == ["netcheck-region-unreachable","netcheck-node-failed","netcheck-stun-closed"]'
jqt json '.derpcheck.udp.verdict == "works" and .derpcheck.udp.stun_ports == ([$pa, $pb, $pp, $dead] | sort)' --argjson pa "$pa" --argjson pb "$pb" --argjson pp "$pp" --argjson dead "$dead"
jqt json '[.derpcheck.nodes[] | select(.node == "3a" and .family == 4) | .port_closed, .icmp_from, [.ports_tried[] | .port, .why, .result]] == [true, "127.0.0.1", [3478, ["default"], "closed", 443, ["derp-port"], "closed"]]'
jqt json '[.derpcheck.nodes[] | select(.node == "1a") | .ports_tried] == [null, null] and .derpcheck.icmp.attempted == false'
dc --derp-map "$work/map.json" --format json-line
[ "$(wc -l <"$out")" = 1 ] && pass || fail "json-line: $(wc -l <"$out") lines"
jqt json-line '.PreferredDERP == 1'

# --- -v: probes logged on stderr, every region waited for ---------------------------------
dc --derp-map "$work/map.json" -v -4
expect_rc verbose 0 $rc
grep -q "^netcheck: region 1 (aaa) IPv4: 127.0.0.1:$pa answered in [0-9.]*ms, mapped 127.0.0.1:[0-9]*$" "$err" && pass ||
	fail "verbose: no probe log line"
# (the latency column is 7 wide, as in Tailscale: "5.2ms  ", "21.5ms ")
has verbose "$(printf '\t\t- aaa: %-7s (derp1, Region A)' "$(sed -n 's/^\t\t- aaa: \([0-9.]*ms\) .*/\1/p' "$out")")"
lacks_re verbose "IPv6 \[::1\]"

# --- a mapping that varies by destination (a server that reports another address) -------
# Region A is the 100 ms server, so B (no delay) stays the nearest even when a loaded
# machine holds B's reply for a few milliseconds.
stun liar -a 127.0.0.1 -p 0 --mapped 198.51.100.7:4242
pl=$P
cat >"$work/vary.json" <<EOF
{"Regions":{
$(r 1 aaa "Region A" "" "$(n 1a 1 127.0.0.1 none "$pb")"),
$(r 2 bbb "Region B" "" "$(n 2a 2 127.0.0.1 none "$pl")")
}}
EOF
dc --derp-map "$work/vary.json" --bind-port "$bind"
expect_rc vary 0 $rc
has vary $'\t* MappingVariesByDestIP: true'
has vary $'\t* NAT mapping: address-and-port-dependent (RFC 4787 "hard NAT"): peers behind this NAT can only reach each other through DERP unless the other side has an easy NAT or port mapping'
has_re vary "^warning: this machine's NAT maps per destination \(hard NAT\): 127\.0\.0\.1:[0-9]+ saw [0-9.:]+ but 127\.0\.0\.1:[0-9]+ saw [0-9.:]+: the mapping changes with the destination port$"

# --- status --netcheck: the relayed peers' reasons become measured facts ------------------
fx=$root/tests/fixtures/status
export DERPCHECK_NOW=1787400000
rc=0
timeout 30 "$DERPCHECK" status --file "$fx/mixed.json" --netcheck --no-portmap --derp-map "$work/vary.json" \
	>"$out" 2>"$err" || rc=$?
expect_rc status-vary 1 $rc
has_re status-vary "^Measured now \(netcheck\): UDP works, IPv4 [0-9.:]+, MappingVariesByDestIP true, nearest DERP Region B$"
has_re status-vary "^    our-hard-nat: measured: this machine's NAT maps per destination \(hard NAT\) \(127\.0\.0\.1:[0-9]+ saw [0-9.:]+ but 127\.0\.0\.1:[0-9]+ saw [0-9.:]+: the mapping changes with the destination port\), so phone cannot reach the port the STUN servers saw$"
has status-vary "    fix: enable NAT-PMP, PCP or UPnP on this network's router, forward UDP 41641 to this machine (tailscaled --port=41641), or use IPv6"
has_re status-vary "^    our-hard-nat: measured: .*, so vps cannot reach"
# tailscaled's own map (over the fake LocalAPI) is the one netcheck measures with.
spawn fake '^ready$' 5 "$TOOLS/fake_localapi" --socket "$work/ts.sock" --status "$fx/mixed.json" \
	--derpmap "$work/map.json" || exit 1
rc=0
timeout 30 "$DERPCHECK" status --socket "$work/ts.sock" --netcheck --no-portmap >"$out" 2>"$err" || rc=$?
expect_rc status-localapi 1 $rc
has_re status-localapi "^Measured now \(netcheck\): UDP works, IPv4 127\.0\.0\.1:[0-9]+, MappingVariesByDestIP false, nearest DERP Region A$"
has status-localapi "  NAT mapping: cannot be decided"
has status-localapi "    peer-udp-or-hard-nat: measured: UDP works here, but only one STUN server address answered, so this machine's NAT mapping could not be classified; either side may have a hard NAT or phone's UDP is blocked"
rc=0
timeout 30 "$DERPCHECK" status --socket "$work/ts.sock" --netcheck --no-portmap --format json >"$out" 2>"$err" || rc=$?
expect_rc status-json 1 $rc
jqt status-json '.netcheck.PreferredDERP == 1 and .netcheck.UDP and .netcheck.derpcheck.nat.mapping == "unknown"'
jqt status-json '[.peers[] | select(.name == "phone") | .reason.code] == ["peer-udp-or-hard-nat"]'
unset DERPCHECK_NOW

# --- no STUN answer, but UDP gets through: HTTPS and ICMP latency ---------------------------
start_server derp --listen 127.0.0.1:0 --hostname derp.test || exit 1
hp=$PORT
cat >"$work/blocked.json" <<EOF
{"Regions":{
$(r 1 aaa "Region A" "" "$(n 1a 1 127.0.0.1 none "$dead" "\"DERPPort\":$hp")"),
$(r 2 bbb "Region B" "" "$(n 2a 2 127.0.0.1 none "$dead" "\"DERPPort\":$dead,\"HostName\":\"derp.test\"")")
}}
EOF
# (2a's second HostName wins in Go's decoder; ours reads the last one too — not relied on:)
sed -i 's/"HostName":"1a.invalid"/"HostName":"derp.test"/' "$work/blocked.json"
# Which ICMP socket this user gets: a ping socket when one of its groups is in
# net.ipv4.ping_group_range, else a raw one as root, else none (and the report says why).
icmp_kind() {
	local lo hi g
	read -r lo hi </proc/sys/net/ipv4/ping_group_range
	for g in $(id -G); do
		[ "$g" -ge "$lo" ] && [ "$g" -le "$hi" ] && { echo "unprivileged ICMP socket"; return; }
	done
	[ "$(id -u)" = 0 ] && echo "raw socket" || echo none
}
kind=$(icmp_kind)
dc --derp-map "$work/blocked.json" --ca-file "$work/pki/ca.pem"
expect_rc closed 1 $rc
has closed $'\t* UDP: false'
has closed $'\t* IPv4: (no addr found)'
has closed $'\t* UDP verdict: UDP gets through, but no STUN server answered: ICMP port unreachable from 127.0.0.1 for 127.0.0.1:'"$dead (1a's STUNPort), so nothing listens there (2 of 2 asked closed)"
has closed $'\t\t- aaa 1a IPv4 127.0.0.1:'"$dead: STUN port $dead is closed: ICMP port unreachable from 127.0.0.1 (UDP reaches the host, nothing listens there); none of 3478 and $hp answered either"
has closed $'\t\t  tried: 3478 (default STUN port): closed (ICMP port unreachable); '"$hp (DERPPort): closed (ICMP port unreachable)"
has closed $'\t* HTTPS latency (UDP blocked):'
has_re closed $'^\t\t- aaa 1a 127\\.0\\.0\\.1:'"$hp"': [0-9.]+ms \(connect [0-9.]+ms\)$'
has_re closed $'^\t\t- bbb 2a: '
has closed "error: UDP gets through, but no STUN server answered: ICMP port unreachable from 127.0.0.1 for 127.0.0.1:$dead (1a's STUNPort), so nothing listens there (2 of 2 asked closed); Tailscale reports UDP: false, so peers will only talk through DERP relays"
has closed "  hint: start derper's STUN server on the map's STUNPort (derper -stun -stun-port $dead), or set STUNPort to the port it uses (--stun-port-guess PORT tries more ports); Tailscale says UDP: false until a STUN server answers"
lacks_re closed "no DERP region could be reached|3478 and Tailscale's 41641"
if [ "$kind" != none ]; then
	# Tailscale's ICMP fallback: both regions' first nodes answer the kernel's echo on loopback.
	has closed $'\t* ICMP latency (UDP blocked): '"$kind, 2 of 2 echoes answered"
	has_re closed $'^\t\t- aaa 1a 127\\.0\\.0\\.1: [0-9]+\\.[0-9]{3}ms$'
	has_re closed $'^\t\t- bbb 2a 127\\.0\\.0\\.1: [0-9]+\\.[0-9]{3}ms$'
	lacks_re closed "netcheck-icmp-skipped|ICMP latency was not measured"
else
	has closed $'\t* ICMP latency (UDP blocked): not measured: no ICMP socket: unprivileged ICMP sockets: not allowed: none of this process\'s groups (e.g. '"$(id -g)"') is in net.ipv4.ping_group_range "'"$(tr '\t' ' ' </proc/sys/net/ipv4/ping_group_range)"'"; raw sockets: need root or CAP_NET_RAW'
	has closed $'\t* Nearest DERP: Region A'
	has closed $'\t\t- bbb:         (Region B)'
	has_re closed "^warning: ICMP latency was not measured: no ICMP socket: "
fi
dc --derp-map "$work/blocked.json" --ca-file "$work/pki/ca.pem" --format json
expect_rc closed-json 1 $rc
jqt closed-json '.UDP == false and .derpcheck.udp.verdict == "stun-closed" and .derpcheck.udp.stun_ports == [$dead]' --argjson dead "$dead"
jqt closed-json '[.derpcheck.findings[] | select(.severity == "error") | .code] == ["netcheck-stun-closed"]'
if [ "$kind" != none ]; then
	# ICMPv4 as Tailscale sets it, latency the minimum of HTTPS and ICMP, home the lowest.
	jqt closed-json '.ICMPv4 == true and .IPv4 == true and (.RegionLatency | keys) == ["1","2"]'
	jqt closed-json '.PreferredDERP == (.RegionLatency | to_entries | min_by(.value) | .key | tonumber)'
	jqt closed-json '[.derpcheck.icmp.targets[] | [.region, .node, .address, .ok]] == [[1, "1a", "127.0.0.1", true], [2, "2a", "127.0.0.1", true]]'
	jqt closed-json '.derpcheck.icmp.socket == ({"raw socket": "raw", "unprivileged ICMP socket": "unprivileged"}[$k]) and .derpcheck.icmp.skipped == null' --arg k "$kind"
else
	jqt closed-json '.ICMPv4 == false and .derpcheck.icmp.socket == null and (.derpcheck.icmp.skipped | startswith("no ICMP socket: "))'
fi

# --- no UDP at all: nothing answers and nothing comes back (a server that drops everything) --
stun void -a 127.0.0.1 -p 0 --loss 100
pv=$P
cat >"$work/silent.json" <<EOF
{"Regions":{
$(r 1 aaa "Region A" "" "$(n 1a 1 127.0.0.1 none "$pv" "\"DERPPort\":$hp")")
}}
EOF
sed -i 's/"HostName":"1a.invalid"/"HostName":"derp.test"/' "$work/silent.json"
dc --derp-map "$work/silent.json" --ca-file "$work/pki/ca.pem" --stun-port-guess "$dead"
expect_rc silent 1 $rc
has silent $'\t* UDP: false'
has silent $'\t* UDP verdict: no UDP at all: none of the 1 STUN servers asked answered on UDP (port '"$pv) and no ICMP error came back"
has silent $'\t\t- aaa 1a IPv4 127.0.0.1:'"$pv: no reply on UDP $pv (3 requests in 3000ms, no ICMP error); none of 3478, $hp and $dead answered either"
has silent $'\t\t  tried: 3478 (default STUN port): closed (ICMP port unreachable); '"$hp (DERPPort): closed (ICMP port unreachable); $dead (--stun-port-guess): closed (ICMP port unreachable)"
has silent "error: no UDP at all: none of the 1 STUN servers asked answered on UDP (port $pv) and no ICMP error came back; Tailscale reports UDP: false, so peers will only talk through DERP relays"
has silent "  hint: allow outbound UDP to the DERP servers' STUN port $pv and to peers (tailscaled uses 41641) in the firewall or network you are on; if UDP is allowed here, the STUN servers are down or filtered on their side"

# --- --check-derp: STUN answers, the DERP port does not ------------------------------------
cat >"$work/check.json" <<EOF
{"Regions":{
$(r 1 aaa "Region A" "" "$(n 1a 1 127.0.0.1 none "$pa" "\"DERPPort\":$hp")"),
$(r 2 bbb "Region B" "" "$(n 2a 2 127.0.0.1 none "$pb" "\"DERPPort\":$dead")")
}}
EOF
sed -i 's/"HostName":"1a.invalid"/"HostName":"derp.test"/' "$work/check.json"
dc --derp-map "$work/check.json" --ca-file "$work/pki/ca.pem" --check-derp
expect_rc check-derp 0 $rc
has check-derp $'\t* DERP port (TLS + /derp/latency-check):'
has_re check-derp $'^\t\t- aaa 1a 127\\.0\\.0\\.1:'"$hp"': [0-9.]+ms'
has_re check-derp "^warning: region 2 answers STUN but its DERP port does not work \(2a\): "

# --- --every repeats ----------------------------------------------------------------------
rc=0
# A report takes ~0.3 s here (the 100 ms region, then twice that for the rest): 3 s leave
# room for three reports and a loaded machine.
timeout 3 "$DERPCHECK" netcheck --no-portmap --socket "$work/no.sock" --derp-map "$work/vary.json" --every 200ms \
	--format json-line >"$out" 2>"$err" || rc=$?
[ "$rc" = 124 ] && pass || fail "every: exit $rc, want 124 (killed by timeout)"
[ "$(wc -l <"$out")" -ge 3 ] && pass || fail "every: $(wc -l <"$out") reports in 3 s"

# --- a captive portal: UDP gets nothing, /generate_204 answered by something else ---------
spawn captive '^listening' 5 "$TOOLS/captive_server" --lifetime 60 127.0.0.5=portal 127.0.0.6=ok || exit 1
cport=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$work/captive.ready")
cat >"$work/captive.json" <<EOF
{"Regions":{
$(r 1 aaa "Region A" "" "$(n 1a 1 127.0.0.6 none "$dead" '"CanPort80":true')"),
$(r 2 bbb "Region B" "" "$(n 2a 2 127.0.0.5 none "$dead" '"CanPort80":true')")
}}
EOF
rc=0
DERPCHECK_CAPTIVE_PORT=$cport timeout 30 "$DERPCHECK" netcheck --no-portmap --socket "$work/no.sock" \
	--derp-map "$work/captive.json" >"$out" 2>"$err" || rc=$?
expect_rc captive 1 $rc
has captive $'\t* UDP: false'
has captive $'\t* CaptivePortal: true'
has captive $'\t* Captive portal: yes'
has_re captive $'^\t\t- http://127\\.0\\.0\\.5:'"$cport"'/generate_204: portal: '
has_re captive $'^\t\t- http://127\\.0\\.0\\.6:'"$cport"'/generate_204: clear: '
has_re captive "^warning: a captive portal answers in the DERP servers' place: "

# --- a map with no region: exit 1, and it says so -----------------------------------------
echo '{"Regions":{}}' >"$work/empty.json"
dc --derp-map "$work/empty.json"
expect_rc empty 1 $rc
has empty $'\t* Nearest DERP: unknown (no response to latency probes)'

# --- a region whose Nodes[0] has STUN off: Tailscale's second try goes to Nodes[1] ---------
# (found merging the scale work: the set ended with its first sent probe, the prober run
# with its last open probe, so a STUNOnly second node never counted and UDP read false)
cat >"$work/second.json" <<EOF
{"Regions":{$(r 6 fff "Region F" "" "$(n 6a 6 127.0.0.1 none -1)" "$(n 6s 6 127.0.0.1 none "$pa" '"STUNOnly":true')")}}
EOF
dc --derp-map "$work/second.json"
expect_rc second-node 0 $rc
has second-node $'\t* UDP: true'
has second-node $'\t* Nearest DERP: Region F'
has_re second-node $'^\t\t- fff: [0-9.]+ms +\\(Region F\\)$'
has second-node $'\t\t- fff 6a IPv4: skipped: STUNPort is -1: STUN is off for this node'

finish
