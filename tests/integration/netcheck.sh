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

# dc ARGS...: netcheck (bounded) with the safety flags, output in $out/$err, $rc, $ms.
dc() {
	local t0
	t0=$(now_ms)
	rc=0
	timeout 30 "$DERPCHECK" netcheck --no-portmap --socket "$work/no.sock" "$@" >"$out" 2>"$err" || rc=$?
	ms=$(($(now_ms) - t0))
	hints_check "netcheck $*" "$PWD" "$out" "$err"
}
has() { grep -qxF -- "$2" "$out" && pass || { fail "$1: no line '$2'"; cat "$out" >&2; }; }
has_re() { grep -qE -- "$2" "$out" && pass || { fail "$1: nothing matches '$2'"; cat "$out" >&2; }; }
lacks_re() { ! grep -qE -- "$2" "$out" && pass || fail "$1: unexpected match '$2'"; }
expect_rc() { [ "$2" = "$3" ] && pass || { fail "$1: exit $3, want $2"; cat "$err" >&2; }; }
jqt() { jq -e "$2" "$out" >/dev/null && pass || { fail "$1: jq '$2' is false"; head -c 3000 "$out" >&2; }; }

free_port() { # a UDP port nothing listens on
	python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# stun NAME ARGS...: a stunserver; sets P to its first port (PS to all of them)
stun() {
	local name=$1 deadline
	shift
	"$TOOLS/stunserver" --lifetime 100 "$@" >"$work/$name.ready" 2>"$work/$name.log" &
	server_pids="$server_pids $!"
	deadline=$(($(now_ms) + 5000))
	until grep -q '^ready' "$work/$name.ready"; do
		[ "$(now_ms)" -gt "$deadline" ] && { fail "$name did not start"; exit 1; }
		sleep 0.01
	done
	PS=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/$name.ready")
	P=${PS%%$'\n'*}
}

stun fast -a 127.0.0.1 -a ::1 -p "$(free_port)" --delay 5
pa=$P
pa6=$pa
stun slow -a 127.0.0.1 -p 0 --delay 25
pb=$P
stun plain -a 127.0.0.1 -p 0 --answer plain
pp=$P
dead=$(free_port)
bind=$(free_port)

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
has_re report $'^\t\t- bbb: 2[0-9.]+ms +\\(Region B\\)$'
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
has_re report $'^\t\t- bbb 2a IPv4 127\\.0\\.0\\.1:'"$pb"': 2[0-9.]+ms, mapped 127\.0\.0\.1:'"$bind"'$'
has report $'\t\t- bbb 2b IPv4 127.0.0.1:'"$pp"": no reply to Tailscale's request on UDP port $pp, but a bare RFC 5389 request was answered (a STUN server that ignores Tailscale's requests)"
has report $'\t\t- ccc 3a IPv4 127.0.0.1:'"$dead: ICMP unreachable: ICMP port unreachable from 127.0.0.1"
has report $'\t\t- eee 5a IPv4: skipped: STUNPort is -1: STUN is off for this node'
lacks_re report "ddd 4a"
has report "warning: region 3 (ccc) did not answer while others did"
has report "warning: 2b (IPv4, 127.0.0.1:$pp): no reply to Tailscale's request on UDP port $pp, but a bare RFC 5389 request was answered (a STUN server that ignores Tailscale's requests)"
has report "warning: 3a (IPv4, 127.0.0.1:$dead): ICMP unreachable: ICMP port unreachable from 127.0.0.1"
# The dead region's three plan probes end at 200 ms; nothing waits for the 3 s phase.
[ $ms -lt 1500 ] && pass || fail "report: took $ms ms"

# --- JSON: Tailscale's keys in Tailscale's order, and the derpcheck key -------------------
dc --derp-map "$work/map.json" --format json --bind-port "$bind"
expect_rc json 0 $rc
jqt json '[keys_unsorted[]] == ["Now","UDP","IPv6","IPv4","IPv6CanSend","IPv4CanSend","OSHasIPv6","ICMPv4","MappingVariesByDestIP","UPnP","PMP","PCP","PreferredDERP","RegionLatency","RegionV4Latency","RegionV6Latency","GlobalV4Counters","GlobalV6Counters","GlobalV4","GlobalV6","CaptivePortal","derpcheck"]'
jqt json '.UDP and .IPv4 and .IPv6 and .IPv4CanSend and .PreferredDERP == 1 and .MappingVariesByDestIP == false'
jqt json '(.RegionLatency | keys) == ["1","2"] and (.RegionV6Latency | keys) == ["1"]'
jqt json '.RegionLatency["1"] >= 5000000 and .RegionLatency["1"] < 6500000'
jqt json '.RegionLatency["2"] >= 25000000 and .RegionLatency["2"] < 26500000'
jqt json ".GlobalV4 == \"127.0.0.1:$bind\" and .GlobalV6 == \"[::1]:$bind\" and .GlobalV4Counters[\"127.0.0.1:$bind\"] == 2"
jqt json '.UPnP == null and .CaptivePortal == null'
jqt json '.derpcheck.map.source == "file" and .derpcheck.nat.mapping == "unknown"'
jqt json '[.derpcheck.nodes[] | select(.family == 4) | .status] == ["ok","ok","plain-only","unreachable","skipped"]'
jqt json '[.derpcheck.findings[].code] == ["netcheck-region-unreachable","netcheck-node-failed","netcheck-node-failed"]'
dc --derp-map "$work/map.json" --format json-line
[ "$(wc -l <"$out")" = 1 ] && pass || fail "json-line: $(wc -l <"$out") lines"
jqt json-line '.PreferredDERP == 1'

# --- -v: probes logged on stderr, every region waited for ---------------------------------
dc --derp-map "$work/map.json" -v -4
expect_rc verbose 0 $rc
grep -q "^netcheck: region 1 (aaa) IPv4: 127.0.0.1:$pa answered in [0-9.]*ms, mapped 127.0.0.1:[0-9]*$" "$err" && pass ||
	fail "verbose: no probe log line"
has verbose $'\t\t- aaa: '"$(sed -n 's/^\t\t- aaa: \([0-9.]*ms\) .*/\1/p' "$out")"'   (derp1, Region A)'
lacks_re verbose "IPv6 \[::1\]"

# --- a mapping that varies by destination (a server that reports another address) -------
stun liar -a 127.0.0.1 -p 0 --mapped 198.51.100.7:4242
pl=$P
cat >"$work/vary.json" <<EOF
{"Regions":{
$(r 1 aaa "Region A" "" "$(n 1a 1 127.0.0.1 none "$pa")"),
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
"$TOOLS/fake_localapi" --socket "$work/ts.sock" --status "$fx/mixed.json" --derpmap "$work/map.json" \
	>"$work/fake.out" 2>"$work/fake.err" &
server_pids="$server_pids $!"
deadline=$(($(now_ms) + 5000))
until grep -qx ready "$work/fake.out"; do
	[ "$(now_ms)" -gt "$deadline" ] && { fail "fake_localapi did not start"; exit 1; }
	sleep 0.01
done
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

# --- UDP blocked: HTTPS latency from the test DERP server ---------------------------------
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
dc --derp-map "$work/blocked.json" --ca-file "$work/pki/ca.pem"
expect_rc blocked 1 $rc
has blocked $'\t* UDP: false'
has blocked $'\t* IPv4: (no addr found)'
has blocked $'\t* Nearest DERP: Region A'
has_re blocked $'^\t\t- aaa: [0-9.]+(ms|µs) +\\(Region A\\)$'
has blocked $'\t\t- bbb:         (Region B)'
has blocked $'\t* HTTPS latency (UDP blocked):'
has_re blocked $'^\t\t- aaa 1a 127\\.0\\.0\\.1:'"$hp"': [0-9.]+ms \(connect [0-9.]+ms\)$'
has_re blocked $'^\t\t- bbb 2a: '
has blocked "error: no STUN server answered over UDP: peers will only talk through DERP relays"
lacks_re blocked "no DERP region could be reached"

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
timeout 1.5 "$DERPCHECK" netcheck --no-portmap --socket "$work/no.sock" --derp-map "$work/vary.json" --every 200ms \
	--format json-line >"$out" 2>"$err" || rc=$?
[ "$rc" = 124 ] && pass || fail "every: exit $rc, want 124 (killed by timeout)"
[ "$(wc -l <"$out")" -ge 3 ] && pass || fail "every: $(wc -l <"$out") reports in 1.5 s"

# --- a captive portal: UDP gets nothing, /generate_204 answered by something else ---------
"$TOOLS/captive_server" --lifetime 60 127.0.0.5=portal 127.0.0.6=ok >"$work/captive.ready" 2>"$work/captive.log" &
server_pids="$server_pids $!"
deadline=$(($(now_ms) + 5000))
until grep -q '^listening' "$work/captive.ready"; do
	[ "$(now_ms)" -gt "$deadline" ] && { fail "captive_server did not start"; exit 1; }
	sleep 0.01
done
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

finish
