#!/bin/bash
# derpcheck ping against the test DERP server on loopback: relaying on one node and
# between two meshed instances, each failure the server can be made to produce (named,
# with its hint, within its deadline), certificate checks as Tailscale makes them,
# loss, delay, JSON, and usage errors. Exact lines after masking ports and times.
set -u
. "$(dirname "$0")/lib/derp.sh"

ca=(--ca-file pki/ca.pem)

# ---- relaying through one node --------------------------------------------------------
start_server one
write_map map.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run basic 0 5000 ping --derp-map map.json "${ca[@]}" -c 3 -i 50ms 900
expect basic out <<'EOF'
DERP ping to region 900 (test): 3 packets of 64 bytes every Nms
A: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
B: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
pong from B via DERP(test) in Nms (seq 1)
pong from B via DERP(test) in Nms (seq 2)
pong from B via DERP(test) in Nms (seq 3)

--- DERP(test) relay statistics ---
3 packets sent, 3 received, 0% packet loss, time Nms
rtt min/avg/max/mdev = N/N/N/N ms
server ping A (node 900a) min/avg/max = N/N/N ms, 3 of 3 answered
server ping B (node 900a) min/avg/max = N/N/N ms, 3 of 3 answered
  phases (ms)                  dns       tcp       tls    verify   upgrade handshake     total
  A 900a 127.0.0.1:PORT         - N N N N N N
  B 900a 127.0.0.1:PORT         - N N N N N N
EOF
expect basic err </dev/null

# Over WebSocket (GET /derp with Upgrade: websocket, the derp subprotocol), as derper's
# cmd/derper/websocket.go serves it: the same relay, the DERP frames in binary messages.
run basic-ws 0 5000 ping --transport websocket --derp-map map.json "${ca[@]}" -c 3 -i 50ms 900
has_line basic-ws out "A: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, WebSocket, connected in Nms"
has_line basic-ws out "B: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, WebSocket, connected in Nms"
has_line basic-ws out "pong from B via DERP(test) in Nms (seq 3)"
has_line basic-ws out "3 packets sent, 3 received, 0% packet loss, time Nms"
has_line basic-ws out "server ping B (node 900a) min/avg/max = N/N/N ms, 3 of 3 answered"
expect basic-ws err </dev/null
run basic-ws-json 0 5000 --format json ping --transport websocket --derp-map map.json "${ca[@]}" -c 2 -i 50ms 900
json basic-ws-json '.ok and .summary.received == 2 and ([.clients[] | .transport] == ["websocket", "websocket"])'

# The test server's HTTP endpoints and TLS, as derper serves them (protocols.md §1.11).
http() { curl -sS -i --max-time 5 --cacert "$work/pki/ca.pem" --resolve "derp.test:$PORT:127.0.0.1" "$@"; }
http -H 'X-Tailscale-Challenge: abc.123' "https://derp.test:$PORT/generate_204" >"$work/gen204" 2>&1
contains gen204 "" "HTTP/1.1 204 No Content"
contains gen204 "" "X-Tailscale-Response: response abc.123"
http -H 'X-Tailscale-Challenge: bad challenge!' "https://derp.test:$PORT/generate_204" >"$work/gen204-bad" 2>&1
if grep -qi "X-Tailscale-Response" "$work/gen204-bad"; then fail "an invalid challenge was answered"; else pass; fi
http "https://derp.test:$PORT/derp/probe" >"$work/probe" 2>&1
contains probe "" "HTTP/1.1 200 OK"
contains probe "" "Access-Control-Allow-Origin: *"
http -X POST "https://derp.test:$PORT/derp/latency-check" >"$work/probe-post" 2>&1
contains probe-post "" "HTTP/1.1 405 Method Not Allowed"
http "https://derp.test:$PORT/derp" >"$work/noupgrade" 2>&1
contains noupgrade "" "HTTP/1.1 426 Upgrade Required"
contains noupgrade "" "DERP requires connection upgrade"
http "https://derp.test:$PORT/" >"$work/home" 2>&1
contains home "" "<h1>DERP</h1>"
curl -sS --max-time 5 --cacert "$work/pki/ca.pem" --resolve "derp2.test:$PORT:127.0.0.1" "https://derp2.test:$PORT/" >"$work/sni" 2>&1
contains sni "" "alert internal error"
# The chain as served: leaf, intermediate, then derper's meta certificate with the server key.
openssl s_client -connect "127.0.0.1:$PORT" -servername derp.test -showcerts </dev/null >"$work/chain" 2>/dev/null
[ "$(grep -c 'BEGIN CERTIFICATE' "$work/chain")" = 3 ] && pass || fail "the server does not serve leaf, intermediate and metacert"
grep -Eq '^ 2 s:CN ?= ?derpkey[0-9a-f]{64}$' "$work/chain" && pass || fail "the third certificate is not derper's derpkey certificate"

# The region by code, and a HOST:PORT that is a node of the map: the same node.
run by-code 0 5000 ping --derp-map map.json "${ca[@]}" -c 1 test
contains by-code out "pong from B via DERP(test) in "
run by-host 0 5000 ping --derp-map map.json "${ca[@]}" -c 1 "derp.test:$PORT"
contains by-host out "A: node 900a (derp.test) at 127.0.0.1:"
run by-host-noport 0 5000 ping --derp-map map.json "${ca[@]}" -c 1 derp.test
contains by-host-noport out "A: node 900a (derp.test) at 127.0.0.1:"

# JSON: one document, stable names.
run json 0 5000 --format json ping --derp-map map.json "${ca[@]}" -c 2 -i 20ms 900
json json '.ok == true and .stage == "done" and .error == null and .summary.sent == 2 and .summary.received == 2'
json json '.clients | length == 2 and all(.[]; .connected and .fast_start and .metacert and .certificate_checked and .certificate_required and .certificate.trust == "verified")'
json json '.clients[0].phases_ms.dns == null and .clients[0].phases_ms.tcp > 0 and .clients[0].attempts[0].phase == "connected"'
json json '.clients[0].server_key == .clients[1].server_key and (.clients[0].public_key | startswith("nodekey:"))'
json json '[.packets[] | .replied and .rtt_ms > 0 and .there_ms >= 0] == [true, true] and .target.region_id == 900'
expect json err </dev/null

# Quiet: nothing when everything came back.
run quiet 0 5000 -q ping --derp-map map.json "${ca[@]}" -c 2 -i 20ms 900
expect quiet out </dev/null

# --size: the bytes arrive intact, the largest DERP packet included.
run size 0 5000 --format json ping --derp-map map.json "${ca[@]}" -c 2 -i 20ms --size 65536 900
json size '.size == 65536 and .summary.corrupted == 0 and .summary.received == 2'

# --insecure: derpcheck relays past a certificate clients reject, and says so: not ok.
run insecure 1 5000 ping --derp-map map.json --insecure -c 1 900
contains insecure err "derpcheck: warning: --insecure: derpcheck connects whatever the certificate; it is still judged as Tailscale clients judge it, and a problem still fails the ping"
contains insecure out "connected in "
contains insecure out ", certificate FAILS, ignored (--insecure)"
contains insecure out "1 packets sent, 1 received, 0% packet loss"
contains insecure err "derpcheck: node 900a (derp.test) at 127.0.0.1:$PORT: certificate rejected: Tailscale clients reject it (relayed here only because of --insecure)"
contains insecure err "  fix: if the issuer is an intermediate, serve the full chain as <certdir>/derp.test.crt and restart derper (details: \`derpcheck cert --derp-map map.json --region 900\`)"
# With a certificate clients accept, --insecure changes nothing.
run insecure-valid 0 5000 ping --derp-map map.json "${ca[@]}" --insecure -c 1 900
contains insecure-valid out ", certificate valid, not required (--insecure)"

# ---- certificates as Tailscale checks them ---------------------------------------------
run untrusted 1 5000 ping --derp-map map.json -c 1 900
expect untrusted err <<'EOF'
derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the certificate does not verify for derp.test: unable to get local issuer certificate (depth 1, /CN=derpcheck test intermediate CA)
  hint: run `derpcheck cert --derp-map map.json --region 900` for the whole chain, what each Tailscale client makes of it, and the fix
EOF

# A CertName the certificate does not carry (the SNI stays HostName).
write_map certname.json "$(node 900a derp.test 127.0.0.1 none "$PORT" '"CertName":"other.test"')"
run certname 1 5000 ping --derp-map certname.json "${ca[@]}" -c 1 900
expect certname err <<'EOF'
derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the certificate does not verify for other.test: hostname mismatch (depth 0, /CN=derp.test)
  hint: run `derpcheck cert --derp-map certname.json --region 900 --ca-file pki/ca.pem` for the whole chain, what each Tailscale client makes of it, and the fix
EOF
stop_server one

# The server sends only the leaf: the intermediate is missing (acme.sh --cert-file).
SERVER_CERT=$work/pki/derp.pem start_server leafonly
write_map leafonly.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run leafonly 1 5000 ping --derp-map leafonly.json "${ca[@]}" -c 1 900
expect leafonly err <<'EOF'
derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the certificate does not verify for derp.test: unable to get local issuer certificate (depth 0, /CN=derp.test)
  hint: run `derpcheck cert --derp-map leafonly.json --region 900 --ca-file pki/ca.pem` for the whole chain, what each Tailscale client makes of it, and the fix
EOF
stop_server leafonly

# A self-signed certificate pinned with sha256-raw:, right and wrong.
SERVER_CERT=$work/pki/self.pem SERVER_KEY=$work/pki/self.key start_server self
pin=$(openssl x509 -in "$work/pki/self.pem" -outform DER | sha256sum | cut -d' ' -f1)
write_map pinned.json "$(node 900a derp.test 127.0.0.1 none "$PORT" "\"CertName\":\"sha256-raw:$pin\"")"
run pinned 0 5000 ping --derp-map pinned.json -c 1 900
contains pinned out "pong from B via DERP(test)"
write_map badpin.json "$(node 900a derp.test 127.0.0.1 none "$PORT" "\"CertName\":\"sha256-raw:$(printf '%064d' 0)\"")"
run badpin 1 5000 ping --derp-map badpin.json -c 1 900
expect badpin err <<'EOF'
derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the certificate does not match the sha256-raw: pin in CertName: cert hash does not match expected cert hash (depth 0, /CN=derp.test)
  hint: run `derpcheck cert --derp-map badpin.json --region 900` for the whole chain, what each Tailscale client makes of it, and the fix
EOF
stop_server self

# ---- TLS 1.2: no fast start, the 101 response is read ---------------------------------------
start_server tls12 --tls12
write_map tls12.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run tls12 0 5000 --format json ping --derp-map tls12.json "${ca[@]}" -c 1 900
json tls12 '.clients[0].tls_version == "TLSv1.2" and .clients[0].fast_start == false and .clients[0].derp_version_header == 2'
json tls12 '.clients[0].key_mismatch == false and .ok'
stop_server tls12

# ---- IPv6, and IPv4/IPv6 raced ---------------------------------------------------------------
start_server v6 --listen '[::1]:0'
write_map v6.json "$(node 900a derp.test none ::1 "$PORT")"
run v6 0 5000 ping --derp-map v6.json "${ca[@]}" -c 1 900
contains v6 out "A: node 900a (derp.test) at [::1]:$PORT, TLS 1.3"
# Both families in the map; only IPv6 answers on that port: the race connects over IPv6.
write_map race.json "$(node 900a derp.test 127.0.0.1 ::1 "$PORT")"
run race 0 5000 ping --derp-map race.json "${ca[@]}" -c 1 900
contains race out "A: node 900a (derp.test) at [::1]:$PORT"
# -4 leaves only the refused IPv4 address.
run v4only 1 5000 ping --derp-map race.json "${ca[@]}" -4 -c 1 900
expect v4only err <<'EOF'
derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: TCP connection refused
  hint: nothing listens on this port: is derper running, listening on this port (-a), and is the port forwarded to it?
EOF
# -6 with IPv6 "none": nothing to dial.
run v6none 1 5000 ping --derp-map map.json "${ca[@]}" -6 -c 1 900
expect v6none err <<'EOF'
derpcheck: A: node 900a (derp.test): IPv6 is disabled for this node (IPv6 "none") and -6 rules out the other family
  hint: write the server's address in the node's IPv4 or IPv6 field, or "" to use DNS
EOF
stop_server v6

# An IP address as HOST, with a server whose --hostname is that IP (no SNI check, like derper).
start_server byip --hostname 127.0.0.1
run byip 0 5000 ping "${ca[@]}" -c 1 "127.0.0.1:$PORT"
expect byip out <<'EOF'
DERP ping to 127.0.0.1:PORT: 1 packet of 64 bytes every 1s
A: 127.0.0.1 at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
B: 127.0.0.1 at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
pong from B via DERP(127.0.0.1) in Nms (seq 1)

--- DERP(127.0.0.1) relay statistics ---
1 packets sent, 1 received, 0% packet loss, time Nms
rtt min/avg/max/mdev = N/N/N/N ms
server ping A (node 127.0.0.1) min/avg/max = N/N/N ms, 1 of 1 answered
server ping B (node 127.0.0.1) min/avg/max = N/N/N ms, 1 of 1 answered
  phases (ms)                       dns       tcp       tls    verify   upgrade handshake     total
  A 127.0.0.1 127.0.0.1:PORT         - N N N N N N
  B 127.0.0.1 127.0.0.1:PORT         - N N N N N N
EOF
stop_server byip

# ---- the second node of a region; meshed instances ------------------------------------------
mesh_key=$(printf '%064x' 7)
start_server mesh --listen 127.0.0.1:0 --listen 127.0.0.1:0 --mesh-key "$mesh_key"
write_map mesh.json "$(node 900a derp.test 127.0.0.1 none "$PORT")" "$(node 900b derp.test 127.0.0.1 none "$PORT2")"
run mesh 0 5000 ping --derp-map mesh.json "${ca[@]}" --mesh -c 3 -i 50ms 900
expect mesh out <<'EOF'
DERP ping to region 900 (test): 3 packets of 64 bytes every Nms, A and B on different nodes
A: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
B: node 900b (derp.test) at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
relay: 900a forwards to 900b (first packet from A reached B after Nms)
pong from B via DERP(test) in Nms (seq 1)
pong from B via DERP(test) in Nms (seq 2)
pong from B via DERP(test) in Nms (seq 3)

--- DERP(test) relay statistics ---
3 packets sent, 3 received, 0% packet loss, time Nms
rtt min/avg/max/mdev = N/N/N/N ms
server ping A (node 900a) min/avg/max = N/N/N ms, 3 of 3 answered
server ping B (node 900b) min/avg/max = N/N/N ms, 3 of 3 answered
  phases (ms)                  dns       tcp       tls    verify   upgrade handshake     total
  A 900a 127.0.0.1:PORT         - N N N N N N
  B 900b 127.0.0.1:PORT         - N N N N N N
EOF
# --node picks the second node for A; with --mesh, B goes to the first.
run mesh-node 0 5000 --format json ping --derp-map mesh.json "${ca[@]}" --mesh --node 900b -c 1 900
json mesh-node '.mesh and .clients[0].node == "900b" and .clients[1].node == "900a"'
# The first node down: both clients move on to the second, as Tailscale's client does.
write_map firstdown.json "$(node 900x derp.test 127.0.0.1 none 9)" "$(node 900b derp.test 127.0.0.1 none "$PORT2")"
run firstdown 0 5000 --format json ping --derp-map firstdown.json "${ca[@]}" -c 1 900
json firstdown '.ok and .clients[0].node == "900b" and (.clients[0].attempts | map(.failure)) == ["tcp-refused", "ok"]'
stop_server mesh

# Two instances that are not meshed: A's packets never reach B.
start_server nomesh --listen 127.0.0.1:0 --listen 127.0.0.1:0
write_map nomesh.json "$(node 900a derp.test 127.0.0.1 none "$PORT")" "$(node 900b derp.test 127.0.0.1 none "$PORT2")"
run nomesh 1 3000 ping --derp-map nomesh.json "${ca[@]}" --mesh -c 1 --timeout 1s 900
expect nomesh err <<'EOF'
derpcheck: packets from A on node 900a never reached B on node 900b within 1000 ms: the nodes do not forward to each other
  hint: meshed derpers need the same mesh key (--mesh-psk-file) and must dial each other (--mesh-with); check their logs for mesh errors
EOF
stop_server nomesh

# ---- loss and delay ----------------------------------------------------------------------------
start_server lossy --drop-every 4
write_map lossy.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run lossy 1 5000 ping --derp-map lossy.json "${ca[@]}" -c 5 -i 50ms --timeout 1s 900
expect lossy out <<'EOF'
DERP ping to region 900 (test): 5 packets of 64 bytes every Nms
A: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
B: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
pong from B via DERP(test) in Nms (seq 1)
pong from B via DERP(test) in Nms (seq 2)
pong from B via DERP(test) in Nms (seq 4)
no reply for seq 3 within 1s
no reply for seq 5 within 1s

--- DERP(test) relay statistics ---
5 packets sent, 3 received, 40% packet loss, time Nms
rtt min/avg/max/mdev = N/N/N/N ms
server ping A (node 900a) min/avg/max = N/N/N ms, 5 of 5 answered
server ping B (node 900a) min/avg/max = N/N/N ms, 5 of 5 answered
  phases (ms)                  dns       tcp       tls    verify   upgrade handshake     total
  A 900a 127.0.0.1:PORT         - N N N N N N
  B 900a 127.0.0.1:PORT         - N N N N N N
EOF
stop_server lossy

start_server slow --delay 30
write_map slow.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run slow 0 5000 --format json ping --derp-map slow.json "${ca[@]}" -c 3 -i 20ms 900
json slow '.summary.min_ms >= 60 and .summary.max_ms < 100 and ([.packets[].there_ms] | min) >= 30'
json slow '.clients[0].server_ping.max_ms < 30'
stop_server slow

# ---- what the open-source server never sends, handled anyway ------------------------------------
start_server chatty --misbehave chatty
write_map chatty.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run chatty 0 5000 ping --derp-map chatty.json "${ca[@]}" -c 1 900
expect chatty out <<'EOF'
DERP ping to region 900 (test): 1 packet of 64 bytes every 1s
A: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
B: node 900a (derp.test) at 127.0.0.1:PORT, TLS 1.3, fast start, connected in Nms
B: server health problem: derpserver: injected health problem
B: server announces a restart: reconnect in Nms, keep trying for 10s
A: server health problem: derpserver: injected health problem
A: server announces a restart: reconnect in Nms, keep trying for 10s
pong from B via DERP(test) in Nms (seq 1)

--- DERP(test) relay statistics ---
1 packets sent, 1 received, 0% packet loss, time Nms
rtt min/avg/max/mdev = N/N/N/N ms
server ping A (node 900a) min/avg/max = N/N/N ms, 1 of 1 answered
server ping B (node 900a) min/avg/max = N/N/N ms, 1 of 1 answered
  phases (ms)                  dns       tcp       tls    verify   upgrade handshake     total
  A 900a 127.0.0.1:PORT         - N N N N N N
  B 900a 127.0.0.1:PORT         - N N N N N N
A: the server also sent 1 frame of unknown type (skipped), 1 KeepAlive and 1 Ping (answered)
B: the server also sent 1 frame of unknown type (skipped), 1 KeepAlive and 1 Ping (answered)
EOF
run chatty-json 0 5000 --format json ping --derp-map chatty.json "${ca[@]}" -c 1 900
json chatty-json '.clients[0].health == "derpserver: injected health problem" and .clients[0].restarting.reconnect_in_ms == 500'
json chatty-json '.clients[1].unknown_frames == 1 and .clients[1].server_pings_answered == 1 and .clients[1].keep_alives == 1 and .ok'
stop_server chatty

# ---- each failure, named, with its hint, within its deadline -----------------------------------
# failure NAME WANT-ERR-LINE SERVER-OPTIONS...: one server, one ping; the first stderr line.
failure() {
	local name=$1 want=$2
	shift 2
	start_server "$name" "$@" || return
	write_map "$name.json" "$(node 900a "${HOSTNAME_IN_MAP:-derp.test}" 127.0.0.1 none "$PORT")"
	run "$name" 1 "${MAX_MS:-3000}" ping ${TRANSPORT:+--transport "$TRANSPORT"} --derp-map "$name.json" "${ca[@]}" -c 1 --timeout 1s 900
	if [ "$ELAPSED" -ge "${MIN_MS:-0}" ]; then pass; else fail "$name: gave up after $ELAPSED ms, before its ${MIN_MS:-0} ms deadline"; fi
	head -1 "$work/$name.err" | mask >"$work/$name.first"
	if [ "$(cat "$work/$name.first")" = "$want" ]; then pass; else
		fail "$name: first error line"
		echo "  want: $want" >&2
		echo "  got:  $(cat "$work/$name.first")" >&2
	fi
	stop_server "$name"
}
failure plain 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the port serves plain HTTP, not TLS: GET /derp without TLS got derper'"'"'s own "426 DERP requires connection upgrade" (Tailscale'"'"'s clients fail with "tls: first record does not look like a TLS handshake")' --plain
HOSTNAME_IN_MAP=derp2.test failure wrong-sni 'derpcheck: A: node 900a (derp2.test) at 127.0.0.1:PORT: the server aborted the TLS handshake with alert "internal error"'
failure derp-disabled 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the server answered the DERP upgrade with HTTP 404 Not Found, not 101 Switching Protocols: "derp server disabled"' --misbehave derp-disabled
MIN_MS=950 failure stall-upgrade 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: no answer to the DERP upgrade (GET /derp) before the deadline' --misbehave stall-upgrade --no-metacert
failure bad-magic 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the ServerKey frame starts with 4e 4f 54 44 45 52 50 21, not the DERP magic 44 45 52 50 f0 9f 94 91 ("DERP🔑")' --misbehave bad-magic --no-metacert
failure oversize 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the server sent a ServerKey (0x01) of 2097152 bytes; DERP frames here may be at most 1048576 bytes' --misbehave oversize-frame
MIN_MS=950 failure stall-frame 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: timed out waiting for ServerInfo (received 25 of the 45 bytes of a ServerKey frame)' --misbehave stall-mid-frame
MIN_MS=950 failure stall-frame-h1 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: timed out waiting for the ServerKey frame (received 25 of the 45 bytes of a ServerKey frame)' --misbehave stall-mid-frame --tls12
failure close-early 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the server closed the connection after ClientInfo without sending ServerInfo: it did not admit this client' --misbehave close-before-serverinfo
failure refused-key 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the server closed the connection after ClientInfo without sending ServerInfo: it did not admit this client' --refuse-clients
failure bad-info 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: ServerInfo does not open with the server'"'"'s key: it was not sealed by the server that sent the ServerKey' --misbehave bad-server-info
# The same failures inside WebSocket messages; a server without DERP over WebSocket named.
TRANSPORT=websocket failure bad-magic-ws 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the ServerKey frame starts with 4e 4f 54 44 45 52 50 21, not the DERP magic 44 45 52 50 f0 9f 94 91 ("DERP🔑")' --misbehave bad-magic --no-metacert
TRANSPORT=websocket failure close-early-ws 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the server closed the connection after ClientInfo without sending ServerInfo: it did not admit this client' --misbehave close-before-serverinfo
TRANSPORT=websocket failure derp-disabled-ws 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the server answered the WebSocket upgrade with HTTP 404 Not Found, not 101 Switching Protocols: "derp server disabled"' --misbehave derp-disabled
TRANSPORT=websocket failure no-websocket 'derpcheck: A: node 900a (derp.test) at 127.0.0.1:PORT: the server answered the WebSocket upgrade with "Upgrade: DERP": derper did not see "Sec-WebSocket-Protocol: derp" and switched to plain DERP framing' --no-websocket
contains refused-key err "hint: derper run with --verify-clients or --verify-client-url admits only nodes of its tailnet"
contains wrong-sni err "hint: derper refuses a TLS name (SNI) that is not its --hostname"

# Nothing listens: refused at once.
run refused 1 2000 ping --derp-map firstdown.json "${ca[@]}" --node 900x -c 1 900
contains refused err "at 127.0.0.1:9: TCP connection refused"
run refused-json 1 2000 --format json ping --derp-map firstdown.json "${ca[@]}" --node 900x -c 1 900
json refused-json '.ok == false and .stage == "setup-failed" and .error.client == "A" and .error.failure == "tcp-refused"'
json refused-json '.error.phase == "tcp" and .error.where == "127.0.0.1:9" and (.clients | length) == 1 and .clients[0].connected == false'
json refused-json '.summary.sent == 0 and .packets == []'

# ---- usage and input errors: exit status 2 ------------------------------------------------------
start_server last
write_map map.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
run no-target 2 2000 ping
expect no-target err <<'EOF'
derpcheck: ping needs a REGION or HOST[:PORT]
  hint: e.g. derpcheck ping --derp-map policy.hujson 900, or derpcheck ping derp.example.com:443
EOF
run unknown-region 2 2000 ping --derp-map map.json tets
expect unknown-region err <<'EOF'
derpcheck: map.json: no region 'tets' in this map
  hint: did you mean test?
EOF
run unknown-node 2 2000 ping --derp-map mesh.json --node 900c 900
expect unknown-node err <<'EOF'
derpcheck: region 900 has no node named '900c'
  hint: did you mean --node 900a?
EOF
run mesh-one-node 2 2000 ping --derp-map map.json --mesh 900
expect mesh-one-node err <<'EOF'
derpcheck: --mesh needs two DERP nodes in the region; this region has 1
  hint: --mesh checks that the nodes of one region forward to each other; without it A and B share one node
EOF
run bad-size 2 2000 ping --derp-map map.json --size 10 900
expect bad-size err <<'EOF'
derpcheck: invalid --size '10'
  hint: give 33 to 65536 bytes: a packet carries a sequence number and two timestamps, and DERP relays at most 64 KiB
EOF
run bad-count 2 2000 ping --derp-map map.json -c 0 900
contains bad-count err "derpcheck: invalid --count '0'"
run bad-ca 2 2000 ping --derp-map map.json --ca-file pki/missing.pem -c 1 900
contains bad-ca err "cannot load CA certificates"

finish
