#!/bin/bash
# Hostile DERP servers (issue #13): TCP and TLS that misbehave (silent, trickle, garbage, a
# 200-certificate chain, a 1 MiB certificate), HTTP upgrades that go wrong (garbage, no
# end of headers, 404 with escapes, 101 then silence, a trickled 101) and DERP servers that
# break the protocol (oversized frame, bad magic, unknown frames, KeepAlive and unknown-frame
# floods, a flood instead of ServerInfo, close mid-frame, no ServerInfo, close after
# ClientInfo, a Health message full of escapes). Servers: tests/tools/hostile_tls.c and
# tests/tools/derpserver.c --misbehave. Every case asserts the exit code, a named error,
# completion within --timeout + 1 s, and nothing raw on the terminal (lib/hostile.sh).
# Loopback only.
set -u
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C.UTF-8
. "$(dirname "$0")/lib/derp.sh"
. "$(dirname "$0")/lib/hostile.sh"

ca=(--ca-file pki/ca.pem)
T=2 # --timeout in seconds for every case; the limit is T + 1 s
LIMIT=$(((T + 1) * 1000))
# hostile_tls NAME MODE [options]: start tests/tools/hostile_tls, set PORT and NAME.json.
hostile_tls() {
	local name=$1 mode=$2
	shift 2
	start_tool "$name" '^ready' "$TOOLS/hostile_tls" --mode "$mode" "$@" || return 1
	PORT=$(sed -n 's/^ready .*://p' "$work/$name.ready")
	write_map "$name.json" "$(node 900a derp.test 127.0.0.1 none "$PORT")"
}

# ---- TCP and TLS ---------------------------------------------------------------------------
hostile_tls silent silent
hostile tcp-silent 1 $LIMIT "TLS handshake timed out" ping --derp-map silent.json --timeout ${T}s -c 1 900
hostile tcp-silent-cert 1 $LIMIT "handshake-timeout" cert --timeout ${T}s --servername derp.test "127.0.0.1:$PORT"
hostile tcp-silent-diagnose 1 $LIMIT "cause: the TLS handshake never finished" diagnose --derp-map silent.json --timeout ${T}s 900

hostile_tls trickle trickle
hostile tcp-trickle 1 $LIMIT "TLS handshake timed out" ping --derp-map trickle.json --timeout ${T}s -c 1 900
hostile tcp-trickle-cert 1 $LIMIT "handshake-timeout" cert --timeout ${T}s --servername derp.test "127.0.0.1:$PORT"

hostile_tls garbage garbage
hostile tcp-garbage 1 $LIMIT "the first record does not look like a TLS handshake" ping --derp-map garbage.json --timeout ${T}s -c 1 900
hostile tcp-garbage-cert 1 $LIMIT "plain-http" cert --timeout ${T}s --servername derp.test "127.0.0.1:$PORT"

hostile_tls longchain long-chain --count 200
hostile tls-long-chain 1 $LIMIT "the certificate does not verify" ping --derp-map longchain.json --timeout ${T}s -c 1 900
hostile tls-long-chain-cert 1 $LIMIT "result:" cert --timeout ${T}s --no-aia --servername derp.test "127.0.0.1:$PORT"
contains tls-long-chain-cert out "  warning: chain-too-long: the server sends 200 certificates; the first 32 after the leaf are judged, the other 167 are left out (a chain is the leaf and one or two intermediates)"
hostile tls-long-chain-json 1 $LIMIT "" --format json cert --timeout ${T}s --no-aia --servername derp.test "127.0.0.1:$PORT"
json_valid tls-long-chain-json
# What is in front of derper is not probed: its dozen connections would each carry the 200
# certificates again (under make asan on a busy machine that took cert 6.7 s). Said, not hidden.
hostile tls-long-chain-verbose 1 $LIMIT "what is in front of derper is not probed: the chain is too long" \
	cert -v --timeout ${T}s --no-aia --servername derp.test "127.0.0.1:$PORT"
hostile tls-long-chain-diagnose 1 $LIMIT "- proxy              not probed: the server sends far more certificates than a chain needs" \
	diagnose --derp-map longchain.json --timeout ${T}s 900

# Fault 5: OpenSSL refuses a certificate message this large itself and sends the alert;
# the report must say that derpcheck gave up, not that the server aborted.
hostile_tls hugecert huge-cert --bytes 1400000
hostile tls-huge-cert 1 $LIMIT "derpcheck gave up the TLS handshake: the server's certificate message is larger than the 100 KiB OpenSSL accepts (excessive message size); derpcheck sent the alert \"illegal parameter\"" \
	ping --derp-map hugecert.json --timeout ${T}s -c 1 900
grep -q "the server aborted" "$work/tls-huge-cert.err" && fail "tls-huge-cert: blames the server for derpcheck's own alert" || pass
hostile tls-huge-cert-cert 1 $LIMIT "error: handshake-rejected: derpcheck gave up the TLS handshake" cert --timeout ${T}s --servername derp.test "127.0.0.1:$PORT"
grep -q "the server aborted\|TLS alert \"illegal parameter\"" "$work/tls-huge-cert-cert.out" && fail "tls-huge-cert-cert: blames the server for derpcheck's own alert" || pass

# ---- the HTTP upgrade (TLS is fine: --insecure, the certificate is not what is tested) ------
hostile_tls httpgarbage http-garbage
hostile http-garbage 1 $LIMIT "the answer to the DERP upgrade" ping --derp-map httpgarbage.json --insecure --timeout ${T}s -c 1 900
hostile_tls httpnoend http-no-end
hostile http-no-end 1 $LIMIT "the answer to the DERP upgrade" ping --derp-map httpnoend.json --insecure --timeout ${T}s -c 1 900
hostile_tls http404 http-404
# (The upgrade parser already shows control bytes in the status line and body as '?'.)
hostile http-404 1 $LIMIT 'the server answered the DERP upgrade with HTTP 404 Not ?[2JFound?]0;x?, not 101 Switching Protocols: "<h1>?[2J?[Hgone' \
	ping --derp-map http404.json --insecure --timeout ${T}s -c 1 900
hostile http-404-diagnose 1 $LIMIT "HTTP 404" diagnose --derp-map http404.json --insecure --timeout ${T}s 900
hostile http-404-json 1 $LIMIT "" --format json diagnose --derp-map http404.json --insecure --timeout ${T}s 900
json_valid http-404-json
hostile_tls http101 http-101-silence
hostile http-101-silence 1 $LIMIT "timed out waiting for the ServerKey frame" ping --derp-map http101.json --insecure --timeout ${T}s -c 1 900
hostile_tls httptrickle http-trickle
hostile http-trickle 1 $LIMIT "no answer to the DERP upgrade (GET /derp) before the deadline" ping --derp-map httptrickle.json --insecure --timeout ${T}s -c 1 900

# ---- the DERP protocol ----------------------------------------------------------------------
# derp NAME EXIT TEXT MODE [derpserver options]: one misbehaving derpserver, one ping.
derp() {
	local name=$1 want=$2 text=$3 mode=$4
	shift 4
	start_server "$name" --misbehave "$mode" "$@" || return
	write_map "$name.json" "$(node 900a derp.test 127.0.0.1 none "$PORT")"
	hostile "$name" "$want" $LIMIT "$text" ping --derp-map "$name.json" "${ca[@]}" --timeout ${T}s -c 2 -i 100ms 900
}
derp derp-oversize 1 "the server sent a ServerKey (0x01) of 2097152 bytes; DERP frames here may be at most 1048576 bytes" oversize-frame
derp derp-bad-magic 1 "not the DERP magic" bad-magic --no-metacert
derp derp-unknown-frames 0 "frame of unknown type (skipped)" chatty
derp derp-keepalive-flood 0 "2 packets sent, 2 received" keepalive-flood
derp derp-unknown-flood 0 "frames of unknown type (skipped)" unknown-flood
derp derp-flood-before-info 1 "timed out waiting for ServerInfo: the server sent " flood-before-serverinfo
contains derp-flood-before-info err " KeepAlive frames instead"
derp derp-close-mid-frame 1 "the server closed the connection while we waited for the ServerKey frame" close-mid-frame --no-metacert
derp derp-no-server-info 1 "timed out waiting for ServerInfo" no-server-info
derp derp-close-after-clientinfo 1 "the server closed the connection after ClientInfo without sending ServerInfo: it did not admit this client" close-before-serverinfo
derp derp-hostile-health 0 'server health problem: \x1b[2J\x1b[H\x1b]0;pwned\x07\r\nderpcheck: all good\u009b31m \xff' hostile-health
grep -q "^derpcheck: all good" "$work/derp-hostile-health.out" && fail "derp-hostile-health: a forged line reached the terminal" || pass
hostile derp-hostile-health-json 0 $LIMIT "" --format json ping --derp-map derp-hostile-health.json "${ca[@]}" --timeout ${T}s -c 1 900
json_valid derp-hostile-health-json

# diagnose against the floods: the whole run stays within --timeout + 1 s.
start_server dflood --misbehave flood-before-serverinfo
write_map dflood.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
hostile diagnose-flood-before-info 1 $LIMIT "timed out waiting for ServerInfo" diagnose --derp-map dflood.json "${ca[@]}" --timeout ${T}s 900
start_server dkflood --misbehave keepalive-flood
write_map dkflood.json "$(node 900a derp.test 127.0.0.1 none "$PORT")"
# Whether relaying survives the flood depends on how fast this machine drains it (under
# ASan on a loaded box, not within 2 s): ok (0) and broken (1) are both true verdicts; the
# bound and the named verdict are what must hold.
hostile diagnose-keepalive-flood "0|1" $LIMIT "DERP path: " diagnose --derp-map dkflood.json "${ca[@]}" --timeout ${T}s 900

finish
