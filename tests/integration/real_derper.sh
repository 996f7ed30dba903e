#!/bin/bash
# derpcheck against Tailscale's own derper (v1.34.2, built by `make peers` from
# ../shared/peers), the setups issue #12 found wrong: the seed's HuJSON policy file with
# custom ports over a leaf-only chain, with and without InsecureForTests; the full chain
# with and without it; a self-signed leaf, a TLS name derper refuses, an expired leaf,
# -verify-clients with no tailscaled, two meshed derpers (in a namespace of their own,
# where their names resolve through a hosts file) and two unmeshed ones. Each case asserts
# the verdict, the cause line and the exit status of diagnose, and of ping, netcheck
# --check-derp and cert where they apply; Tailscale's own Go client (derpclient) pings
# through the same derper in the same run: both relay or both fail on the same problem,
# with RTTs of the same order. Every command derpcheck prints is run (tests/lib/hints.sh).
# Loopback and a test namespace only; every derper is stopped by its PID.
set -u
export DAYS=90 # certificates that do not expire during the test
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C # ASCII marks
. "$(dirname "$0")/lib/derp.sh"
. "$root/tests/lib/peers.sh"
peers_require

pki=$work/pki
ca=(--ca-file pki/ca.pem)

# serve NAME CRT KEY [derper flags...]: derper NAME on 127.0.0.1 with that certificate as
# <certdir>/derp.test.crt; then policy NAME [node JSON extra] writes NAME.hujson for it.
serve() {
	local name=$1 crt=$2 key=$3
	shift 3
	derper_certdir "$work/certs-$name" "$crt" "$key"
	derper_start "$name" 127.0.0.1 "$work/certs-$name" "$@" || exit 1
}
policy() {
	derper_policy "$work/$1.hujson" "$(derper_node 900a "${3:-derp.test}" 127.0.0.1 "$DERPER_PORT" "$DERPER_STUN" "${2:-}")"
}

# same_rtt NAME OURS THEIRS: derpcheck's and derpclient's average RTT are of the same order.
same_rtt() {
	local a b
	a=$(peers_rtt_avg "$work/$2.out") b=$(peers_rtt_avg "$work/$3.out")
	if peers_same_order "$a" "$b" 10; then pass; else fail "$1: derpcheck ping avg '$a' ms, derpclient avg '$b' ms: not of the same order"; fi
}

# go_expect NAME WANT-RC [TEXT]: derpclient's exit status, and TEXT in its standard error.
go_expect() {
	if [ "$DERPCLIENT_RC" = "$2" ]; then pass; else
		fail "$1: derpclient exit $DERPCLIENT_RC, want $2"
		cat "$work/$1.out" "$work/$1.err" >&2
	fi
	[ -z "${3:-}" ] || contains "$1" err "$3"
}

# ---- full chain, the seed's policy file shape: everything ok --------------------------------
serve full "$pki/derp-chain.pem" "$pki/derp.key"
policy full
run full-diagnose 0 10000 diagnose --derp-map full.hujson "${ca[@]}" 900
contains full-diagnose out "  ok   certificate        valid for derp.test, issued by CN = derpcheck test intermediate CA"
contains full-diagnose out "  ok   relay              A -> B -> A: 3/3 relayed, avg "
contains full-diagnose out "STUN path: ok (1 of 1 nodes answer STUN)"
contains full-diagnose out "DERP path: ok (1 of 1 nodes relay)"
run full-ping 0 10000 ping --derp-map full.hujson "${ca[@]}" -c 10 -i 50ms 900
contains full-ping out "10 packets sent, 10 received, 0% packet loss"
derpclient_ping full-go derp.test "$DERPER_PORT" -ca "$pki/ca.pem"
go_expect full-go 0
contains full-go out "10 packets transmitted, 10 received, 0% packet loss"
same_rtt full full-ping full-go
run full-netcheck 0 10000 netcheck --no-portmap --check-derp --derp-map full.hujson "${ca[@]}"
contains full-netcheck out "	* Nearest DERP: My NAT VPS"
contains full-netcheck out "		- myvps 900a 127.0.0.1:$DERPER_PORT: "
run full-cert 0 10000 cert --derp-map full.hujson --region 900 "${ca[@]}"
contains full-cert out "result: every client accepts it"

# ---- full chain with InsecureForTests: works, but clients do not check; remove it -----------
policy full-insecure '"InsecureForTests": true'
run fullins-diagnose 1 10000 diagnose --derp-map full-insecure.hujson "${ca[@]}" 900
contains fullins-diagnose out "  warn certificate        valid, but clients do not check it: InsecureForTests is set"
contains fullins-diagnose out "       cause: the certificate verifies, but InsecureForTests turns certificate checks off for this node in every Tailscale client: anyone who can intercept the connection can pose as this relay"
contains fullins-diagnose out "       fix:   remove InsecureForTests from node 900a in full-insecure.hujson; the certificate verifies, so clients keep working"
contains fullins-diagnose out "DERP path: insecure (1 of 1 nodes relay, 1 with certificate checks turned off by InsecureForTests; 900a: certificate (it verifies: remove InsecureForTests))"
run fullins-ping 1 10000 ping --derp-map full-insecure.hujson "${ca[@]}" -c 3 -i 50ms 900
contains fullins-ping out ", certificate valid, not required (InsecureForTests)"
contains fullins-ping out "3 packets sent, 3 received, 0% packet loss"
contains fullins-ping err "derpcheck: node 900a (derp.test) at 127.0.0.1:$DERPER_PORT: certificate unchecked: valid, but clients do not check it: InsecureForTests is set"
run fullins-netcheck 1 10000 netcheck --no-portmap --check-derp --derp-map full-insecure.hujson "${ca[@]}"
contains fullins-netcheck out "error: region 900 node 900a: certificate unchecked: valid, but clients do not check it: InsecureForTests is set: the certificate verifies"
run fullins-cert 1 10000 cert --derp-map full-insecure.hujson --region 900 "${ca[@]}"
contains fullins-cert out "  with this map (InsecureForTests): unchecked: Tailscale clients do not check it, although it verifies"
contains fullins-cert out "    fix: remove InsecureForTests from node 900a in full-insecure.hujson; the certificate verifies, so clients keep working"
derper_stop full

# ---- leaf only (acme.sh --cert-file): clients reject it, Tailscale's client too --------------
serve leaf "$pki/derp.pem" "$pki/derp.key"
policy leaf
run leaf-diagnose 1 10000 diagnose --derp-map leaf.hujson "${ca[@]}" 900
contains leaf-diagnose out "  FAIL certificate        Tailscale clients reject it"
contains leaf-diagnose out "       cause: the server omits its intermediate certificate: curl and Tailscale on Linux/Android reject the chain (Tailscale on Linux: x509: certificate signed by unknown authority; curl: unable to get local issuer certificate)"
contains leaf-diagnose out "DERP path: broken (0 of 1 nodes relay for clients; 900a: certificate, although it relays when the certificate is not checked)"
run leaf-ping 1 10000 ping --derp-map leaf.hujson "${ca[@]}" -c 3 900
contains leaf-ping err "derpcheck: A: node 900a (derp.test) at 127.0.0.1:$DERPER_PORT: the certificate does not verify for derp.test: unable to get local issuer certificate (depth 0, /CN=derp.test)"
derpclient_ping leaf-go derp.test "$DERPER_PORT" -ca "$pki/ca.pem"
go_expect leaf-go 2 "x509: certificate signed by unknown authority"
run leaf-netcheck 1 10000 netcheck --no-portmap --check-derp --derp-map leaf.hujson "${ca[@]}"
contains leaf-netcheck out "error: region 900 node 900a: certificate rejected: Tailscale clients reject it: the server omits its intermediate certificate"
run leaf-cert 1 10000 cert --derp-map leaf.hujson --region 900 "${ca[@]}"
contains leaf-cert out "  error: chain-incomplete: the server sends its certificate without the intermediate that issued it (\"CN = derpcheck test intermediate CA\")."

# ---- the seed: leaf only, InsecureForTests, custom ports: insecure, fixes in order ---------
policy seed '"InsecureForTests": true'
run seed-validate 0 10000 validate seed.hujson
contains seed-validate out "  hint: \`derpcheck cert --derp-map seed.hujson --region 900\` shows whether the certificate verifies: if not, fix it first, then remove InsecureForTests"
run seed-diagnose 1 10000 diagnose --derp-map seed.hujson "${ca[@]}" 900
contains seed-diagnose out "  insecure certificate    clients accept it only because InsecureForTests turns verification off"
contains seed-diagnose out "       cause: the server omits its intermediate certificate: curl and Tailscale on Linux/Android reject the chain (Tailscale on Linux: x509: certificate signed by unknown authority; curl: unable to get local issuer certificate); Tailscale clients accept it only because InsecureForTests turns their certificate checks off for this node"
contains seed-diagnose out "       fix:   1. serve the full chain, leaf first, as <certdir>/derp.test.crt and restart derper (it reads manual certificates only at start-up) (details: \`derpcheck cert --derp-map seed.hujson --region 900 --ca-file pki/ca.pem\`); 2. only then remove InsecureForTests from node 900a in seed.hujson (removed first, every client would refuse the node)"
contains seed-diagnose out "  ok   relay              A -> B -> A: 3/3 relayed"
contains seed-diagnose out "STUN path: ok (1 of 1 nodes answer STUN)"
contains seed-diagnose out "DERP path: insecure (1 of 1 nodes relay, 1 only because InsecureForTests turns certificate checks off; 900a: certificate)"
# The commands printed carry every flag that named the map (run by tests/lib/hints.sh).
run seed-format 1 10000 diagnose --map-format hujson --derp-map seed.hujson "${ca[@]}" 900
contains seed-format out "(details: \`derpcheck cert --derp-map seed.hujson --map-format hujson --region 900 --ca-file pki/ca.pem\`)"
run seed-json 1 10000 --format json diagnose --derp-map seed.hujson "${ca[@]}" 900
json seed-json '.ok == false and .verdicts.derp.verdict == "insecure" and .nodes[0].certificate_trust == "insecure"'
run seed-ping 1 10000 ping --derp-map seed.hujson "${ca[@]}" -c 10 -i 50ms 900
contains seed-ping out ", certificate FAILS, ignored (InsecureForTests)"
contains seed-ping out "10 packets sent, 10 received, 0% packet loss"
contains seed-ping err "derpcheck: node 900a (derp.test) at 127.0.0.1:$DERPER_PORT: certificate insecure: clients accept it only because InsecureForTests turns verification off"
contains seed-ping err "  fix: 1. serve the full chain, leaf first, as <certdir>/derp.test.crt and restart derper (it reads manual certificates only at start-up) (details: \`derpcheck cert --derp-map seed.hujson --region 900 --ca-file pki/ca.pem\`); 2. only then remove InsecureForTests from node 900a in seed.hujson (removed first, every client would refuse the node)"
# Tailscale's client with InsecureForTests relays too: both relay, at the same order of RTT.
derpclient_ping seed-go derp.test "$DERPER_PORT" -ca "$pki/ca.pem" -insecure
go_expect seed-go 0
same_rtt seed seed-ping seed-go
run seed-netcheck 1 10000 netcheck --no-portmap --check-derp --derp-map seed.hujson "${ca[@]}"
contains seed-netcheck out "		- myvps 900a 127.0.0.1:$DERPER_PORT: "
contains seed-netcheck out ", certificate insecure"
contains seed-netcheck out "error: region 900 node 900a: certificate insecure: clients accept it only because InsecureForTests turns verification off: the server omits its intermediate certificate"
contains seed-netcheck out "  hint: 1. serve the full chain, leaf first, as <certdir>/derp.test.crt and restart derper (it reads manual certificates only at start-up) (details: \`derpcheck cert --derp-map seed.hujson --region 900 --ca-file pki/ca.pem\`); 2. only then remove InsecureForTests from node 900a in seed.hujson (removed first, every client would refuse the node)"
run seed-cert 1 10000 cert --derp-map seed.hujson --region 900 "${ca[@]}"
contains seed-cert out "  with this map (InsecureForTests): insecure: Tailscale clients accept it only because InsecureForTests turns verification off"
contains seed-cert out "  error: insecure-for-tests: Tailscale clients accept this certificate only because InsecureForTests turns their certificate checks off for this node: the problems above are hidden, not fixed, and removing InsecureForTests now would make every client refuse the node"
contains seed-cert out "    fix: 1. serve the full chain, leaf first, as <certdir>/derp.test.crt and restart derper (it reads manual certificates only at start-up); 2. only then remove InsecureForTests from node 900a in seed.hujson (removed first, every client would refuse the node)"
# On derper's own machine: the files in its --certdir are what it serves (no restart pending).
run seed-certdir 1 10000 cert --derp-map seed.hujson --region 900 "${ca[@]}" --certdir "certs-leaf"
contains seed-certdir out "    fix: serve the full chain, leaf first, as certs-leaf/derp.test.crt and restart derper (it reads manual certificates only at start-up):"
if grep -q served-differs-from-disk "$work/seed-certdir.out"; then fail "seed-certdir: served and stored leaves are the same"; else pass; fi
derper_stop leaf

# ---- self-signed: no client trusts it --------------------------------------------------------
serve self "$pki/self.pem" "$pki/self.key"
policy self
run self-diagnose 1 10000 diagnose --derp-map self.hujson "${ca[@]}" 900
contains self-diagnose out "       cause: the certificate is self-signed (Tailscale on Linux: x509: certificate signed by unknown authority; curl: self-signed certificate)"
contains self-diagnose out "DERP path: broken (0 of 1 nodes relay for clients; 900a: certificate, although it relays when the certificate is not checked)"
run self-ping 1 10000 ping --derp-map self.hujson "${ca[@]}" -c 3 900
contains self-ping err "derpcheck: A: node 900a (derp.test) at 127.0.0.1:$DERPER_PORT: the certificate does not verify for derp.test: self-signed certificate (depth 0, /CN=derp.test)"
derpclient_ping self-go derp.test "$DERPER_PORT" -ca "$pki/ca.pem"
go_expect self-go 2 "x509: certificate signed by unknown authority"
run self-cert 1 10000 cert --derp-map self.hujson --region 900 "${ca[@]}"
contains self-cert out "      or, for a node whose HostName is an IP address, pin it in the DERP map: \"CertName\": \"sha256-raw:$(openssl x509 -in "$pki/self.pem" -outform DER | sha256sum | cut -d' ' -f1)\" (Tailscale 1.84+; <certdir>/derp.test.crt must hold only this certificate), and run derper with --hostname=<the node's IP address> (the same IP as HostName: clients send no TLS name to an IP, which derper 1.78+ accepts only then; 1.82+ also makes the self-signed certificate itself)"
derper_stop self

# ---- a TLS name derper refuses: the map's HostName is not derper's -hostname -----------------
serve sni "$pki/derp-chain.pem" "$pki/derp.key"
policy sni "" derp2.test
run sni-diagnose 1 10000 diagnose --derp-map sni.hujson "${ca[@]}" 900
contains sni-diagnose out "  FAIL tls                127.0.0.1:$DERPER_PORT: no TLS handshake"
contains sni-diagnose out "       cause: the server refused the TLS name \"derp2.test\" (alert \"internal error\"): the DERP map's HostName must equal derper's --hostname"
contains sni-diagnose out "DERP path: broken (0 of 1 nodes relay; 900a: tls)"
run sni-ping 1 10000 ping --derp-map sni.hujson "${ca[@]}" -c 3 900
contains sni-ping err "derpcheck: A: node 900a (derp2.test) at 127.0.0.1:$DERPER_PORT: the server aborted the TLS handshake with alert \"internal error\""
derpclient_ping sni-go derp2.test "$DERPER_PORT" -ca "$pki/ca.pem"
go_expect sni-go 2 "remote error: tls: internal error"
derper_stop sni

# ---- an expired leaf (renewed on disk, derper not restarted) -------------------------------
pki_expired_leaf "$pki" "$work/expired" || fail "could not make the expired certificate"
serve expired "$work/expired.crt" "$work/expired.key"
policy expired
run expired-diagnose 1 10000 diagnose --derp-map expired.hujson "${ca[@]}" 900
contains expired-diagnose out "       cause: the certificate expired on 2024-04-01 00:00:00 UTC (Tailscale on Linux: x509: certificate has expired or is not yet valid: current time "
contains expired-diagnose out "DERP path: broken (0 of 1 nodes relay for clients; 900a: certificate, although it relays when the certificate is not checked)"
run expired-ping 1 10000 ping --derp-map expired.hujson "${ca[@]}" -c 3 900
contains expired-ping err "the certificate does not verify for derp.test: certificate has expired (depth 0, /CN=derp.test)"
derpclient_ping expired-go derp.test "$DERPER_PORT" -ca "$pki/ca.pem"
go_expect expired-go 2 "x509: certificate has expired or is not yet valid: current time "
# derpcheck words the Go client's error as Tailscale's client prints it (the clock aside).
contains expired-go err " is after 2024-04-01T00:00:00Z"
contains expired-diagnose out " is after 2024-04-01T00:00:00Z; curl: certificate has expired)"
derper_stop expired

# ---- -verify-clients with no tailscaled: admission refused -------------------------------------
serve verify "$pki/derp-chain.pem" "$pki/derp.key" -verify-clients
policy verify
run verify-diagnose 1 10000 diagnose --derp-map verify.hujson "${ca[@]}" 900
contains verify-diagnose out "  FAIL derp-handshake     failed at handshake: not-admitted"
contains verify-diagnose out "       cause: the server closed the connection after ClientInfo: it does not admit this client"
contains verify-diagnose out "DERP path: broken (0 of 1 nodes relay; 900a: derp-handshake)"
run verify-ping 1 10000 ping --derp-map verify.hujson "${ca[@]}" -c 3 900
contains verify-ping err "the server closed the connection after ClientInfo without sending ServerInfo: it did not admit this client"
derpclient_ping verify-go derp.test "$DERPER_PORT" -ca "$pki/ca.pem"
go_expect verify-go 2 "waiting for ServerInfo: derp.Recv: EOF"
grep -q 'rejected: failed to query local tailscaled status' "$(derper_log verify)" && pass ||
	fail "verify: derper's log does not say it rejected the client for want of tailscaled"
derper_stop verify

# ---- two derpers that do not mesh: each relays, the region does not -------------------------
serve lone1 "$pki/derp-chain.pem" "$pki/derp.key"
lone1_port=$DERPER_PORT lone1_stun=$DERPER_STUN
serve lone2 "$pki/derp-chain.pem" "$pki/derp.key"
derper_policy "$work/unmeshed.hujson" "$(derper_node 900a derp.test 127.0.0.1 "$lone1_port" "$lone1_stun")" \
	"$(derper_node 900b derp.test 127.0.0.1 "$DERPER_PORT" "$DERPER_STUN")"
run unmeshed-diagnose 1 15000 diagnose --derp-map unmeshed.hujson "${ca[@]}" 900
contains unmeshed-diagnose out "  FAIL mesh               900a <-> 900b: nothing relayed"
contains unmeshed-diagnose out "       cause: both clients were admitted, but nothing sent through one node reached the other"
contains unmeshed-diagnose out "DERP path: degraded (2 of 2 nodes relay; the mesh 900a <-> 900b fails)"
run unmeshed-ping 1 15000 ping --mesh --derp-map unmeshed.hujson "${ca[@]}" -c 3 -i 50ms --timeout 2s 900
contains unmeshed-ping out "no packets sent: the warm-up packets from A never reached B on the other node, so the nodes do not forward to each other (below)"
contains unmeshed-ping err "derpcheck: packets from A on node 900a never reached B on node 900b within 2000 ms: the nodes do not forward to each other"
if grep -q "packets sent, 0 received" "$work/unmeshed-ping.out"; then fail "unmeshed-ping: counts packets that were never sent"; else pass; fi
derper_stop lone1
derper_stop lone2

# ---- two meshed derpers on port 443 of their own addresses, names from a hosts file --------
# derper dials its -mesh-with peers by name, on 443 (a port in the URL would be sent as the
# TLS name, which derper refuses), verifying them like any Go client: a namespace of their
# own, where 127.0.0.2 exists, 443 is free and derp2.test resolves.
if [ "$(id -u)" -ne 0 ]; then
	if [ -n "${CI:-}" ]; then fail "the meshed derpers need root (a network namespace) and CI is set"; else
		echo "## SKIPPED: meshed derpers need root for a network namespace; CI runs them" >&2
	fi
else
	netns=dcmesh$$
	ip netns add "$netns" && netns_track "$netns" && ip -n "$netns" link set lo up || fail "could not make namespace $netns"
	printf '127.0.0.1 localhost derp.test\n127.0.0.2 derp2.test\n' >"$work/mesh-hosts"
	mesh_psk "$work/mesh.key"
	derper_certdir "$work/certs-m2" "$pki/derp-chain.pem" "$pki/derp.key" derp2.test
	export DERPER_NETNS=$netns DERPER_HOSTS=$work/mesh-hosts DERPER_CA=$pki/ca.pem DERPER_TCP_PORT=443
	serve m1 "$pki/derp-chain.pem" "$pki/derp.key" -mesh-psk-file "$work/mesh.key" -mesh-with derp2.test
	m1_stun=$DERPER_STUN
	derper_start m2 127.0.0.2 "$work/certs-m2" -hostname derp2.test -mesh-psk-file "$work/mesh.key" -mesh-with derp.test || exit 1
	unset DERPER_NETNS DERPER_HOSTS DERPER_CA DERPER_TCP_PORT
	derper_wait_log m1 'mesh("derp2.test"): connected' 20 && derper_wait_log m2 'mesh("derp.test"): connected' 20 ||
		fail "the derpers did not mesh: $(tail -3 "$(derper_log m1)")"
	derper_policy "$work/meshed.hujson" "$(derper_node 900a derp.test 127.0.0.1 443 "$m1_stun")" \
		"$(derper_node 900b derp2.test 127.0.0.2 443 "$DERPER_STUN")"
	NETNS=$netns run meshed-diagnose 0 15000 diagnose --derp-map meshed.hujson "${ca[@]}" 900
	contains meshed-diagnose out "  ok   mesh               900a <-> 900b: 3/3 relayed, avg "
	contains meshed-diagnose out "DERP path: ok (2 of 2 nodes relay)"
	NETNS=$netns run meshed-ping 0 15000 ping --mesh --derp-map meshed.hujson "${ca[@]}" -c 10 -i 50ms 900
	contains meshed-ping out "relay: 900a forwards to 900b (first packet from A reached B after "
	contains meshed-ping out "10 packets sent, 10 received, 0% packet loss"
	derper_stop m1
	derper_stop m2
fi

finish
