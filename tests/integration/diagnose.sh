#!/bin/bash
# derpcheck diagnose against test servers on loopback addresses of their own (127.0.0.2x):
# the self-hoster's scenarios from issue #8 — STUN forwarded to another port than the
# map's STUNPort, a leaf-only chain, a dead node among two, a STUNOnly region, admission
# refused, plain HTTP on the DERP port — plus a healthy meshed region, JSON, Prometheus,
# --output/--every and usage errors. Exact lines after masking ports, keys and times.
set -u
export DAYS=90 # certificates that do not expire during the test (no expiry warning)
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C # ASCII marks; one run below asks for UTF-8
. "$(dirname "$0")/lib/derp.sh"

ca=(--ca-file pki/ca.pem)

# start_stun NAME ADDR PORT [options]: the test STUN server, waited for by its "ready" line.
start_stun() {
	local name=$1 addr=$2 port=$3
	shift 3
	spawn "$name" '^ready' 5 "$TOOLS/stunserver" -a "$addr" -p "$port" --lifetime 120 "$@"
}

# dnode NAME IPV4 DERPPORT STUNPORT [EXTRA-JSON]: a node of region 900 with IPv6 "none".
dnode() {
	printf '{"Name":"%s","RegionID":900,"HostName":"derp.test","IPv4":"%s","IPv6":"none","STUNPort":%s,"DERPPort":%s%s}' \
		"$1" "$2" "$4" "$3" "${5:+,$5}"
}

# Ports and keys change from run to run: name them before comparing.
dmask() {
	local f=$work/$1.$2
	sed -E -e 's/nodekey:[0-9a-f]{8}…/nodekey:KEY…/g' -e 's/nodekey:[0-9a-f]{8}\.\.\./nodekey:KEY.../g' \
		-e "s/(127\.0\.0\.[2-4][0-9]):[0-9]+/\1:PORT/g" -e 's/(DERPPort|TCP) [0-9]{4,5}/\1 PORT/g' -e "s/STUNPort ${self_port:-NONE}\$/STUNPort SELF/" \
		-e 's/[0-9]{4,5} \(DERPPort\)/PORT (DERPPort)/g' \
		-e 's/-a :[0-9]{4,5}/-a :PORT/g' -e 's#publish [0-9]{4,5}/tcp#publish PORT/tcp#g' \
		-e "s/\"DERPPort\":[0-9]+/\"DERPPort\":PORT/g" "$f" >"$f.d"
	mv "$f.d" "$f"
}

dexpect() {
	dmask "$1" "$2"
	expect "$@"
}

# ---- the self-hoster: derper on a custom port, STUN forwarded to 3478, map says 38893 ----------
# Its derper predates DERP over WebSocket (--no-websocket: the WebSocket upgrade gets the
# DERP upgrade's answer), which diagnose warns about.
start_server selfhost --hostname derp.test --listen 127.0.0.21:0 --no-websocket
self_port=$PORT
start_stun stun3478 127.0.0.21 3478
write_map self.json "$(dnode 900a 127.0.0.21 "$self_port" 38893)"
run selfhost 1 5000 diagnose --derp-map self.json "${ca[@]}" 900
dexpect selfhost out <<'EOF2'
DERP region 900 (test) from file self.json: 1 node

node 900a (derp.test): IPv4 127.0.0.21, IPv6 none, DERPPort PORT, STUNPort 38893
  ok   map                follows Tailscale's rules
  ok   dns-ipv4           the map gives 127.0.0.21; derp.test is a reserved test name, not looked up
  skip dns-ipv6           turned off in the map (IPv6 "none")
  FAIL stun-ipv4          no answer from 127.0.0.21:PORT (3 probes, 3 datagrams sent)
       cause: STUN answers on 3478, not on 38893 (38893: closed, ICMP port unreachable): clients ask the map's port and get nothing; typical of a forwarding from host port 3478 to container port 38893
       tried: 3478 (default STUN port): STUN answers in Nms; PORT (DERPPort): closed (ICMP port unreachable)
       fix:   set STUNPort to 3478 in the derpMap, or publish 38893/udp
  skip stun-ipv6          IPv6 is "none" in the map: Tailscale does not use it
  ok   tcp-ipv4           127.0.0.21:PORT: connected in Nms
  skip tcp-ipv6           IPv6 is "none" in the map: Tailscale does not use it
  ok   tls                TLSv1.3, TLS_AES_256_GCM_SHA384, SNI derp.test in Nms
  ok   certificate        valid for derp.test, issued by CN = derpcheck test intermediate CA
  skip revocation         not checked: the leaf names no OCSP responder (no AIA OCSP URL) and no CRL distribution point, and the server staples no OCSP response
  ok   http-home          GET / is derper's home page
  ok   http-probe         GET /derp/probe answered 200
  ok   http-generate-204  /generate_204 answered 204 with the challenge response
  ok   proxy              derper terminates TLS itself (its derpkey certificate follows the chain), TLSv1.3, certificate issued by CN = derpcheck test intermediate CA
  ok   proxy-alpn         offered h2,http/1.1: derper chose no protocol; Tailscale offers none and speaks HTTP/1.1
  ok   http-derp          GET /derp reaches derper at /derp (426 "DERP requires connection upgrade")
  ok   derp-upgrade       101 Switching Protocols from derper, server key nodekey:KEY...
  warn websocket          Upgrade: websocket: HTTP 101 Switching Protocols from derper
       cause: the server answered the WebSocket upgrade (with the derp subprotocol) as a DERP upgrade: it does not speak DERP over WebSocket, which derper does (cmd/derper/websocket.go); browser clients cannot use it
       fix:   run a current derper on this port
  ok   http-latency-check GET /derp/latency-check answered 200 from derper
  ok   derp-handshake     admitted, server key nodekey:KEY..., protocol 2
  ok   relay              A -> B -> A: 3/3 relayed, avg Nms

region 900:
  warn map                0 errors, 1 warning
       cause: Regions.900: clients get a single DERP region; if it goes down, peers that cannot connect directly lose each other
       fix:   add a second region on another host, or keep Tailscale's default regions (omitDefaultRegions false)

STUN path: broken (0 of 1 nodes answer STUN; 900a: stun-ipv4)
DERP path: ok (1 of 1 nodes relay)
EOF2
expect selfhost err </dev/null

# The same in a UTF-8 locale: marks and arrows.
LC_ALL=C.UTF-8 run selfhost-utf8 1 5000 diagnose --derp-map self.json "${ca[@]}" 900
contains selfhost-utf8 out "  ✗ stun-ipv4          no answer from 127.0.0.21:"
contains selfhost-utf8 out "    cause: STUN answers on 3478, not on 38893 (38893: closed, ICMP port unreachable): clients ask the map's port and get nothing; typical of a forwarding from host port 3478 to container port 38893"
contains selfhost-utf8 out "  ✓ relay              A → B → A: 3/3 relayed"
# ... and the alias under tailscale's name.
run debug-derp 1 5000 debug derp --derp-map self.json "${ca[@]}" test
contains debug-derp out "       fix:   set STUNPort to 3478 in the derpMap, or publish 38893/udp"

run self-json 1 5000 --format json diagnose --derp-map self.json "${ca[@]}" 900
json self-json '.ok == false and .verdicts.stun.verdict == "broken" and .nodes[0].stun_answers_on == 3478'
json self-json '(.nodes[0].checks[] | select(.check == "stun-ipv4") | .status == "fail" and .code == "stun-wrong-port" and (.fix | startswith("set STUNPort to 3478")) and (.tried | startswith("3478 (default STUN port): STUN answers in ")))'
json self-json '[.nodes[0].stun_ports_tried.ipv4[] | [.port == 3478 or .port == '"$self_port"', .why, .result, .icmp_from]] == [[true, ["default"], "answered", null], [true, ["derp-port"], "closed", "127.0.0.21"]] and .nodes[0].stun_ports_tried.ipv6 == null'

# STUN forwarded to the DERP port number over UDP instead.
spawn_stop stun3478
start_stun stunderp 127.0.0.21 "$self_port"
write_map self2.json "$(dnode 900a 127.0.0.21 "$self_port" 38893)"
run stun-on-derp-port 1 5000 diagnose --derp-map self2.json "${ca[@]}" 900
contains stun-on-derp-port out "       cause: STUN answers on $self_port, not on 38893 (38893: closed, ICMP port unreachable): clients ask the map's port and get nothing; typical of a forwarding from host port $self_port to container port 38893"
contains stun-on-derp-port out "       tried: 3478 (default STUN port): closed (ICMP port unreachable); $self_port (DERPPort): STUN answers in "
contains stun-on-derp-port out "       fix:   set STUNPort to $self_port in the derpMap, or publish 38893/udp"

# STUN on the map's port: both paths fine, exit 0; JSON, Prometheus, quiet.
write_map good.json "$(dnode 900a 127.0.0.21 "$self_port" "$self_port")"
run good 0 5000 diagnose --derp-map good.json "${ca[@]}" 900
contains good out "  ok   stun-ipv4          127.0.0.21:$self_port: mapped 127.0.0.1:"
contains good out "STUN path: ok (1 of 1 nodes answer STUN)"
contains good out "DERP path: ok (1 of 1 nodes relay)"
run good-quiet 0 5000 -q diagnose --derp-map good.json "${ca[@]}" 900
dexpect good-quiet out <<'EOF2'
node 900a:
  warn websocket          Upgrade: websocket: HTTP 101 Switching Protocols from derper
       cause: the server answered the WebSocket upgrade (with the derp subprotocol) as a DERP upgrade: it does not speak DERP over WebSocket, which derper does (cmd/derper/websocket.go); browser clients cannot use it
       fix:   run a current derper on this port
  warn map                0 errors, 1 warning
       cause: Regions.900: clients get a single DERP region; if it goes down, peers that cannot connect directly lose each other
       fix:   add a second region on another host, or keep Tailscale's default regions (omitDefaultRegions false)
STUN path: ok (1 of 1 nodes answer STUN)
DERP path: ok (1 of 1 nodes relay)
EOF2
run good-json 0 5000 --format json diagnose --derp-map good.json "${ca[@]}" 900
json good-json '.ok == true and .region.id == 900 and .region.code == "test" and .verdicts.stun.verdict == "ok" and .verdicts.derp.verdict == "ok"'
json good-json '.nodes[0].name == "900a" and (.nodes[0].server_key | startswith("nodekey:")) and .counts.fail == 0'
json good-json '[.nodes[0].checks[] | .check] == ["map","dns-ipv4","dns-ipv6","stun-ipv4","stun-ipv6","tcp-ipv4","tcp-ipv6","tls","certificate","revocation","http-home","http-probe","http-generate-204","proxy","proxy-alpn","http-derp","derp-upgrade","websocket","http-latency-check","derp-handshake","relay"]'
json good-json '(.nodes[0].checks[] | select(.check == "relay") | .status == "ok" and .ms > 0 and .cause == null)'
run good-prom 0 5000 --format prometheus diagnose --derp-map good.json "${ca[@]}" 900
contains good-prom out '# TYPE derpcheck_diagnose_check_ok gauge'
contains good-prom out 'derpcheck_diagnose_check_ok{region="900",region_code="test",node="900a",check="relay"} 1'
contains good-prom out 'derpcheck_diagnose_path_ok{region="900",region_code="test",path="derp"} 1'
if grep -Eq '^derpcheck_diagnose_check_seconds\{region="900",region_code="test",node="900a",check="relay"\} 0\.[0-9]{6}$' "$work/good-prom.out"; then pass; else fail "no relay RTT in seconds"; cat "$work/good-prom.out" >&2; fi
run self-prom 1 5000 --format prometheus diagnose --derp-map self.json "${ca[@]}" 900
contains self-prom out 'derpcheck_diagnose_check_ok{region="900",region_code="test",node="900a",check="stun-ipv4"} 0'
contains self-prom out 'derpcheck_diagnose_path_ok{region="900",region_code="test",path="stun"} 0'

# --output writes atomically; --every repeats until interrupted.
run output 0 5000 --format prometheus diagnose --derp-map good.json "${ca[@]}" --output report.prom 900
expect output out </dev/null
contains report.prom "" 'derpcheck_diagnose_path_ok{region="900",region_code="test",path="stun"} 1'
(cd "$work" && exec "$DERPCHECK" --format prometheus diagnose --derp-map good.json "${ca[@]}" --every 1s -o every.prom 900) &
every_pid=$!
# wait_for_new_run FILE OLD: until FILE has a last-run line other than OLD (5 s at most); prints it.
wait_for_new_run() {
	local deadline=$(($(now_ms) + 5000)) line
	while [ "$(now_ms)" -le "$deadline" ]; do
		line=$(grep '^derpcheck_diagnose_last_run' "$1" 2>/dev/null)
		[ -n "$line" ] && [ "$line" != "$2" ] && { echo "$line"; return; }
		sleep 0.05
	done
}
first=$(wait_for_new_run "$work/every.prom" "")
second=$(wait_for_new_run "$work/every.prom" "$first")
kill -TERM "$every_pid"
wait "$every_pid"
[ -n "$first" ] && [ -n "$second" ] && [ "$first" != "$second" ] && pass || fail "--every did not rewrite the file ($first / $second)"
ls -A "$work" | grep -qE '^\.every\.prom\.|every\.prom\.tmp' && fail "--output left a temporary file" || pass

# ---- a leaf-only chain: the missing intermediate, and the fix -----------------------------------
SERVER_CERT=$work/pki/derp.pem start_server leafonly --hostname derp.test --listen 127.0.0.22:0
leaf_port=$PORT
write_map leaf.json "$(dnode 900a 127.0.0.22 "$leaf_port" -1)"
run leafonly 1 5000 diagnose --derp-map leaf.json "${ca[@]}" 900
dmask leafonly out
sed -n '/^  FAIL certificate/,/http-home/p' "$work/leafonly.out" | sed '$d' >"$work/leafonly-cert.out"
mask <"$work/leafonly-cert.out" >"$work/leafonly-cert.masked"
diff -u - "$work/leafonly-cert.masked" <<'EOF2' >"$work/leafonly.diff" && pass || { fail "leaf-only chain: certificate lines differ"; cat "$work/leafonly.diff" >&2; }
  FAIL certificate        Tailscale clients reject it
       cause: the server omits its intermediate certificate: curl and Tailscale on Linux/Android reject the chain (Tailscale on Linux: x509: certificate signed by unknown authority; curl: unable to get local issuer certificate)
       fix:   serve the full chain, leaf first, as <certdir>/derp.test.crt and restart derper (it reads manual certificates only at start-up) (details: `derpcheck cert --derp-map leaf.json --region 900 --ca-file pki/ca.pem`)
  skip revocation         not checked: the leaf names no OCSP responder (no AIA OCSP URL) and no CRL distribution point, and the server staples no OCSP response
EOF2
contains leafonly out "  ok   derp-handshake     admitted, server key nodekey:KEY..., protocol 2 (certificate ignored for this check)"
# Its own relay test passes with the certificate ignored; clients still cannot use it.
contains leafonly out "DERP path: broken (0 of 1 nodes relay for clients; 900a: certificate, although it relays when the certificate is not checked)"
contains leafonly out "STUN path: n/a (no node of the region serves STUN)"

# The same chain with InsecureForTests: clients relay only because their check is off.
# Not "ok": its own state, the real problem and the fixes in order; --insecure changes nothing.
write_map leaf-insecure.json "$(dnode 900a 127.0.0.22 "$leaf_port" -1 '"InsecureForTests":true')"
run leafinsecure 1 5000 diagnose --insecure --derp-map leaf-insecure.json "${ca[@]}" 900
dmask leafinsecure out
contains leafinsecure out "  insecure certificate    clients accept it only because InsecureForTests turns verification off"
contains leafinsecure out "       cause: the server omits its intermediate certificate: curl and Tailscale on Linux/Android reject the chain (Tailscale on Linux: x509: certificate signed by unknown authority; curl: unable to get local issuer certificate); Tailscale clients accept it only because InsecureForTests turns their certificate checks off for this node"
contains leafinsecure out "       fix:   1. serve the full chain, leaf first, as <certdir>/derp.test.crt and restart derper (it reads manual certificates only at start-up) (details: \`derpcheck cert --derp-map leaf-insecure.json --region 900 --ca-file pki/ca.pem\`); 2. only then remove InsecureForTests from node 900a in leaf-insecure.json (removed first, every client would refuse the node)"
contains leafinsecure out "  ok   derp-handshake     admitted, server key nodekey:KEY..., protocol 2 (certificate not checked: InsecureForTests, as clients do)"
contains leafinsecure out "DERP path: insecure (1 of 1 nodes relay, 1 only because InsecureForTests turns certificate checks off; 900a: certificate)"
contains leafinsecure err "derpcheck: warning: --insecure: the DERP map is fetched without checking its certificate; the DERP nodes' certificates are still judged as clients judge them"
run leafinsecure-json 1 5000 --format json diagnose --derp-map leaf-insecure.json "${ca[@]}" 900
json leafinsecure-json '.ok == false and .verdicts.derp.verdict == "insecure" and .counts.insecure == 1 and .nodes[0].certificate_trust == "insecure"'
json leafinsecure-json '[.nodes[0].checks[] | select(.check == "certificate")][0] | .status == "insecure" and .code == "chain-incomplete"'
run leafinsecure-prom 1 5000 --format prometheus diagnose --derp-map leaf-insecure.json "${ca[@]}" 900
contains leafinsecure-prom out 'derpcheck_diagnose_check_insecure{region="900",region_code="test",node="900a",check="certificate"} 1'
contains leafinsecure-prom out 'derpcheck_diagnose_path_insecure{region="900",region_code="test",path="derp"} 1'
contains leafinsecure-prom out 'derpcheck_diagnose_path_ok{region="900",region_code="test",path="derp"} 0.5'

# ---- a dead node among two: degraded, the mesh pair not tested ------------------------------------
write_map dead.json "$(dnode 900a 127.0.0.21 "$self_port" -1)" "$(dnode 900b 127.0.0.25 "$self_port" -1)"
run dead 1 5000 diagnose --derp-map dead.json "${ca[@]}" 900
dexpect dead out <<'EOF2'
DERP region 900 (test) from file dead.json: 2 nodes

node 900a (derp.test): IPv4 127.0.0.21, IPv6 none, DERPPort PORT, STUN off
  ok   map                follows Tailscale's rules
  ok   dns-ipv4           the map gives 127.0.0.21; derp.test is a reserved test name, not looked up
  skip dns-ipv6           turned off in the map (IPv6 "none")
  skip stun-ipv4          STUN is off for this node (STUNPort -1)
  skip stun-ipv6          STUN is off for this node (STUNPort -1)
  ok   tcp-ipv4           127.0.0.21:PORT: connected in Nms
  skip tcp-ipv6           IPv6 is "none" in the map: Tailscale does not use it
  ok   tls                TLSv1.3, TLS_AES_256_GCM_SHA384, SNI derp.test in Nms
  ok   certificate        valid for derp.test, issued by CN = derpcheck test intermediate CA
  skip revocation         not checked: the leaf names no OCSP responder (no AIA OCSP URL) and no CRL distribution point, and the server staples no OCSP response
  ok   http-home          GET / is derper's home page
  ok   http-probe         GET /derp/probe answered 200
  ok   http-generate-204  /generate_204 answered 204 with the challenge response
  ok   proxy              derper terminates TLS itself (its derpkey certificate follows the chain), TLSv1.3, certificate issued by CN = derpcheck test intermediate CA
  ok   proxy-alpn         offered h2,http/1.1: derper chose no protocol; Tailscale offers none and speaks HTTP/1.1
  ok   http-derp          GET /derp reaches derper at /derp (426 "DERP requires connection upgrade")
  ok   derp-upgrade       101 Switching Protocols from derper, server key nodekey:KEY...
  warn websocket          Upgrade: websocket: HTTP 101 Switching Protocols from derper
       cause: the server answered the WebSocket upgrade (with the derp subprotocol) as a DERP upgrade: it does not speak DERP over WebSocket, which derper does (cmd/derper/websocket.go); browser clients cannot use it
       fix:   run a current derper on this port
  ok   http-latency-check GET /derp/latency-check answered 200 from derper
  ok   derp-handshake     admitted, server key nodekey:KEY..., protocol 2
  ok   relay              A -> B -> A: 3/3 relayed, avg Nms

node 900b (derp.test): IPv4 127.0.0.25, IPv6 none, DERPPort PORT, STUN off
  ok   map                follows Tailscale's rules
  ok   dns-ipv4           the map gives 127.0.0.25; derp.test is a reserved test name, not looked up
  skip dns-ipv6           turned off in the map (IPv6 "none")
  skip stun-ipv4          STUN is off for this node (STUNPort -1)
  skip stun-ipv6          STUN is off for this node (STUNPort -1)
  FAIL tcp-ipv4           127.0.0.25:PORT: no connection
       cause: TCP connection refused
       fix:   nothing listens on TCP PORT: start derper with -a :PORT, or fix DERPPort in the map or the port forwarding (publish PORT/tcp)
  skip tcp-ipv6           IPv6 is "none" in the map: Tailscale does not use it
  skip tls                no TCP connection
  skip certificate        no TCP connection
  skip revocation         no TCP connection
  skip http-home          no TLS connection
  skip http-probe         no TLS connection
  skip http-generate-204  no TLS connection
  skip proxy              no TCP connection
  skip proxy-alpn         no TCP connection
  skip http-derp          no TCP connection
  skip derp-upgrade       no TCP connection
  skip websocket          no TCP connection
  skip http-latency-check no TCP connection
  skip derp-handshake     no TLS connection
  skip relay              no DERP connection

region 900:
  warn map                0 errors, 2 warnings
       cause: Regions.900.Nodes: no node of region 900 answers STUN, so clients with working UDP never measure it and never pick it as home
       fix:   enable STUN on a node ("STUNPort": 0 for 3478, or derper's -stun-port)
  skip mesh               900a <-> 900b: not tested, 900b does not relay

STUN path: n/a (no node of the region serves STUN)
DERP path: degraded (1 of 2 nodes relay; 900b: tcp-ipv4)
EOF2

# ---- a STUNOnly region: STUN ok, DERP not applicable, exit 0 --------------------------------------
printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"test","Nodes":[%s]},"901":{"RegionID":901,"RegionCode":"stun","Nodes":[%s]}}}\n' \
	"$(dnode 900a 127.0.0.29 "$self_port" -1)" \
	"{\"Name\":\"901a\",\"RegionID\":901,\"HostName\":\"derp.test\",\"IPv4\":\"127.0.0.21\",\"IPv6\":\"none\",\"STUNPort\":$self_port,\"STUNOnly\":true}" >"$work/stunonly.json"
# The validate rules call a region of STUNOnly nodes an error (it relays nothing): exit 1.
run stunonly 1 5000 diagnose --derp-map stunonly.json "${ca[@]}" stun
dexpect stunonly out <<'EOF2'
DERP region 901 (stun) from file stunonly.json: 1 node

node 901a (derp.test): IPv4 127.0.0.21, IPv6 none, STUNOnly, STUNPort SELF
  ok   map                follows Tailscale's rules
  ok   dns-ipv4           the map gives 127.0.0.21; derp.test is a reserved test name, not looked up
  skip dns-ipv6           turned off in the map (IPv6 "none")
  ok   stun-ipv4          127.0.0.21:PORT: mapped 127.0.0.1:PORT, 3/3 answered, Nms
  skip stun-ipv6          IPv6 is "none" in the map: Tailscale does not use it
  skip derp-handshake     STUNOnly node: clients never connect to it for DERP

region 901:
  FAIL map                1 error, 0 warnings
       cause: Regions.901.Nodes: every node of region 901 is STUNOnly, so nothing in it can relay traffic
       fix:   remove "STUNOnly" from the node that runs derper

STUN path: ok (1 of 1 nodes answer STUN)
DERP path: n/a (every node is STUNOnly: the region relays nothing)
EOF2

# ---- admission refused (derper --verify-clients) ------------------------------------------------------
start_server refuse --hostname derp.test --refuse-clients --listen 127.0.0.24:0
write_map refuse.json "$(dnode 900a 127.0.0.24 "$PORT" -1)"
run refuse 1 5000 diagnose --derp-map refuse.json "${ca[@]}" 900
dmask refuse out
contains refuse out "  FAIL derp-handshake     failed at handshake: not-admitted"
contains refuse out "       cause: the server closed the connection after ClientInfo: it does not admit this client"
contains refuse out "       fix:   derper runs with --verify-clients and admits only nodes of its own tailnet (run this check from one of them, or drop --verify-clients), or it rejects this client version: update derper"
contains refuse out "  skip relay              no DERP connection"
contains refuse out "DERP path: broken (0 of 1 nodes relay; 900a: derp-handshake)"

# ---- plain HTTP on the DERP port --------------------------------------------------------------------
start_server plain --plain --listen 127.0.0.23:0
write_map plain.json "$(dnode 900a 127.0.0.23 "$PORT" -1)"
run plain 1 5000 diagnose --derp-map plain.json "${ca[@]}" 900
dmask plain out
contains plain out "  FAIL tls                127.0.0.23:PORT: no TLS handshake"
contains plain out "       cause: TCP PORT speaks plain HTTP (HTTP/1.1 200 OK), not TLS: derper runs there without TLS"
contains plain out "       fix:   clients only speak TLS to DERPPort: run derper with -certmode letsencrypt or manual (not behind a proxy that strips TLS), or point DERPPort at the TLS port"

# ---- a healthy meshed region of two nodes -------------------------------------------------------------
start_server mesh --hostname derp.test --mesh-key "$(printf '%064d' 7)" --listen 127.0.0.26:0 --listen 127.0.0.27:0
write_map mesh.json "$(dnode 900a 127.0.0.26 "$PORT" -1)" "$(dnode 900b 127.0.0.27 "$PORT2" -1)"
run mesh 0 8000 diagnose --derp-map mesh.json "${ca[@]}" 900
contains mesh out "  ok   mesh               900a <-> 900b: 3/3 relayed, avg "
contains mesh out "DERP path: ok (2 of 2 nodes relay)"
# A server that speaks DERP over WebSocket as derper does: the check passes on its evidence.
dmask mesh out
contains mesh out "  ok   websocket          101 with the derp subprotocol; derper's ServerKey arrives in binary messages"
bad=$(sed '/^region 900:/,$d' "$work/mesh.out" | grep -E '^  (warn|FAIL|insecure) ')
[ -z "$bad" ] && pass || fail "a node of the healthy meshed region has a warning or failure: $bad"
# ... and the whole diagnosis over WebSocket: handshake, relay and mesh in binary messages.
run mesh-ws 0 8000 --format json diagnose --transport websocket --derp-map mesh.json "${ca[@]}" 900
json mesh-ws '.ok and [.nodes[] | .transport] == ["websocket", "websocket"] and .verdicts.derp.verdict == "ok"'
json mesh-ws '[.nodes[] | .checks[] | select(.check == "websocket" or .check == "relay" or .check == "derp-handshake") | .status] == ["ok","ok","ok","ok","ok","ok"]'
json mesh-ws '[.region_checks[] | select(.check == "mesh") | .status] == ["ok"]'
start_server nomesh --hostname derp.test --listen 127.0.0.26:0 --listen 127.0.0.27:0
write_map nomesh.json "$(dnode 900a 127.0.0.26 "$PORT" -1)" "$(dnode 900b 127.0.0.27 "$PORT2" -1)"
run nomesh 1 15000 diagnose --derp-map nomesh.json "${ca[@]}" -c 1 --timeout 1s 900
contains nomesh out "  FAIL mesh               900a <-> 900b: nothing relayed"
contains nomesh out "DERP path: degraded (2 of 2 nodes relay; the mesh 900a <-> 900b fails)"

# ---- a TLS port that answers only for another name (derper's --hostname) -------------------------------
start_server othername --hostname other.test --listen 127.0.0.30:0
write_map othername.json "$(dnode 900a 127.0.0.30 "$PORT" -1)"
run othername 1 5000 diagnose --derp-map othername.json "${ca[@]}" 900
dmask othername out
contains othername out "  FAIL tls                127.0.0.30:PORT: no TLS handshake"
contains othername out '       cause: the server refused the TLS name "derp.test" (alert "internal error"): the DERP map'"'"'s HostName must equal derper'"'"'s --hostname'

# ---- a mapped address in Docker's bridge network (docker-proxy in front of derper's STUN) -----------------
start_stun dockerstun 127.0.0.31 3478 --mapped 172.17.0.1:41641
write_map docker.json "$(dnode 900a 127.0.0.31 1 3478)"
run docker 1 5000 diagnose --derp-map docker.json "${ca[@]}" 900
contains docker out "  warn stun-ipv4          127.0.0.31:3478: mapped 172.17.0.1:41641, 3/3 answered, "
contains docker out "       cause: the server sees this machine as 172.17.0.1, a Docker bridge 172.17.0.0/16 address: the clients it answers learn an address nobody can reach"
json_docker() { run docker-json 1 5000 --format json diagnose --derp-map docker.json "${ca[@]}" 900; }
json_docker
json docker-json '(.nodes[0].checks[] | select(.check == "stun-ipv4") | .status == "warn" and .code == "stun-mapped-docker")'

# ---- DNS against the map: localhost resolves from /etc/hosts, never through the network ---------------------
if getent ahostsv4 localhost | grep -q '^127\.0\.0\.1 '; then
	printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"test","Nodes":[{"Name":"900a","RegionID":900,"HostName":"localhost","IPv4":"127.0.0.32","IPv6":"none","STUNPort":-1,"DERPPort":1}]}}}\n' >"$work/dns.json"
	run dns 1 5000 diagnose --derp-map dns.json "${ca[@]}" 900
	contains dns out "  warn dns-ipv4           the map gives 127.0.0.32, DNS 127.0.0.1"
	contains dns out "       cause: the map says IPv4 127.0.0.32 but localhost resolves to 127.0.0.1: Tailscale clients use 127.0.0.32, anything that uses the name (browsers, certificate renewal, other tools) reaches 127.0.0.1"
	contains dns out "       fix:   point the A record of localhost at 127.0.0.32, or correct IPv4 in the map"
else
	echo "diagnose.sh: SKIP the DNS comparison: localhost does not resolve to 127.0.0.1 here" >&2
fi

# ---- CanPort80: derper's plain HTTP on port 80 of the node (binding port 80 needs root) ---------------------
if [ "$(id -u)" = 0 ]; then
	write_map port80-missing.json "$(dnode 900a 127.0.0.21 "$self_port" -1 '"CanPort80":true')"
	run port80-missing 1 5000 diagnose --derp-map port80-missing.json "${ca[@]}" 900
	contains port80-missing out "  FAIL http-port80        port 80 /generate_204 failed: "
	contains port80-missing out "       fix:   serve derper's HTTP on port 80 (derper -http-port 80) or remove CanPort80 from the map"
	contains port80-missing out "DERP path: ok (1 of 1 nodes relay)"
	start_server port80 --plain --listen 127.0.0.33:80
	start_server port80tls --hostname derp.test --listen 127.0.0.33:0
	write_map port80.json "$(dnode 900a 127.0.0.33 "$PORT" -1 '"CanPort80":true')"
	run port80 0 5000 diagnose --derp-map port80.json "${ca[@]}" 900
	contains port80 out "  ok   http-port80        port 80 /generate_204 answered 204 with the challenge response"
else
	echo "diagnose.sh: SKIP CanPort80 (port 80 needs root)" >&2
fi

# ---- IPv6: an IPv6-only node on ::1 (HTTP over the address, never DNS), then -4 tests nothing -------------
start_server v6 --hostname derp.test --listen '[::1]:0'
start_stun v6stun ::1 3478
printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"test","Nodes":[{"Name":"900a","RegionID":900,"HostName":"derp.test","IPv4":"none","IPv6":"::1","STUNPort":0,"DERPPort":%s}]}}}\n' "$PORT" >"$work/v6.json"
run v6 0 5000 diagnose --derp-map v6.json "${ca[@]}" 900
contains v6 out "  ok   stun-ipv6          [::1]:3478: mapped [::1]:"
contains v6 out "  ok   http-generate-204  /generate_204 answered 204 with the challenge response"
contains v6 out "DERP path: ok (1 of 1 nodes relay)"
run v6-only4 0 5000 diagnose -4 --derp-map v6.json "${ca[@]}" 900
contains v6-only4 out "STUN path: n/a (no node could be probed: no address of the family asked for)"
contains v6-only4 out "DERP path: n/a (no node could be tried: no address of the family asked for)"

# ---- usage -----------------------------------------------------------------------------------------------
run no-region 2 2000 diagnose --derp-map good.json
expect no-region err <<'EOF2'
derpcheck: diagnose needs a REGION (or --all)
  hint: e.g. derpcheck diagnose --derp-map policy.hujson 900 (a region ID or RegionCode), or derpcheck diagnose --derp-map policy.hujson --all
EOF2
run bad-region 2 2000 diagnose --derp-map good.json 999
contains bad-region err "derpcheck: "
run prom-elsewhere 2 2000 --format prometheus stun 127.0.0.1
expect prom-elsewhere err <<'EOF2'
derpcheck: 'derpcheck stun' has no --format prometheus
  hint: use --format text or --format json here; --format prometheus is for 'derpcheck diagnose'
EOF2
run debug-other 2 2000 debug netcheck
expect debug-other err <<'EOF2'
derpcheck: unknown debug subcommand 'netcheck'
  hint: the only one is 'derpcheck debug derp REGION' (the same as 'derpcheck diagnose REGION')
EOF2
run bad-every 2 2000 diagnose --derp-map good.json --every 10ms 900
contains bad-every err "derpcheck: invalid --every '10ms'"

finish
