#!/bin/bash
# derpcheck server --pid against Tailscale's real derper (v1.34.2, tests/lib/peers.sh) on
# loopback: it must read derper's flags from /proc, find the sockets derper holds, find
# its certificate files, probe STUN and TLS on this machine, and give the right verdict
# for a leaf-only certificate, a full chain, a certificate renewed on disk after derper
# started (derper still serves the old one), a map whose STUNPort disagrees, and
# -verify-clients without a tailscaled. Nothing leaves 127.0.0.1.
set -u
. "$(dirname "$0")/lib/derp.sh"
. "$root/tests/lib/peers.sh"
peers_require
# Leaves valid for 60 days: no "expires soon" warning in the verdicts below.
pki=$work/pki60
DAYS=60 "$root/tests/tools/mkpki-derp.sh" "$pki"


# map FILE DERPPORT STUNPORT: the one-node map of this derper (region 900, derp.test)
map() {
	cat >"$1" <<JSON
{"Regions": {"900": {"RegionID": 900, "RegionCode": "lab", "Nodes": [
  {"Name": "900a", "RegionID": 900, "HostName": "derp.test", "IPv4": "127.0.0.1", "IPv6": "none",
   "DERPPort": $2, "STUNPort": $3}]}}}
JSON
}

# server NAME WANT PID MAP [args]: derpcheck server --pid, text and JSON; checks the exit code
server() {
	local name=$1 want=$2 pid=$3 m=$4 got=0 jgot=0
	shift 4
	NO_COLOR=1 "$DERPCHECK" server --pid "$pid" --derp-map "$m" --ca-file "$pki/ca.pem" --timeout 2s "$@" \
		>"$work/$name.txt" 2>"$work/$name.err" || got=$?
	"$DERPCHECK" server --format json --pid "$pid" --derp-map "$m" --ca-file "$pki/ca.pem" --timeout 2s "$@" \
		>"$work/$name.out.json" 2>/dev/null || jgot=$?
	[ "$got" = "$want" ] && pass || { fail "$name: exit $got, want $want"; cat "$work/$name.txt" "$work/$name.err" >&2; }
	[ "$jgot" = "$want" ] && pass || fail "$name: exit $jgot with --format json, want $want"
	hints_check "$name" "$PWD" "$work/$name.txt" "$work/$name.err" "$work/$name.out.json"
}

# statuses NAME WANT: "check=status[/code]" of every check that is not ok, from the JSON
statuses() {
	local got
	got=$(jq -r '[.checks[] | select(.status != "ok") | .check + "=" + .status + (if .code then "/" + .code else "" end)] | join(" ")' "$work/$1.out.json")
	[ "$got" = "$2" ] && pass || fail "$1: not-ok checks '$got', want '$2'"
}

# line NAME TEXT: the text output has exactly this line
line() {
	grep -qxF -- "$2" "$work/$1.txt" && pass || { fail "$1: no line '$2'"; cat "$work/$1.txt" >&2; }
}

# --- leaf only (acme.sh --cert-file): the certificate check fails, everything else is read ----
derper_certdir "$work/leaf" "$pki/derp.pem" "$pki/derp.key"
chmod 600 "$work/leaf/derp.test.key"
derper_start leaf 127.0.0.1 "$work/leaf" || { finish; exit 1; }
map "$work/leaf.json" "$DERPER_PORT" "$DERPER_STUN"
server leaf 1 "$derper_pid_leaf" "$work/leaf.json"
got=$(jq -r '[.flags.listen_port, .flags.stun_port, .flags.http_port, .flags.certmode, .flags.hostname, .flags.certdir] | map(tostring) | join(" ")' "$work/leaf.out.json")
[ "$got" = "$DERPER_PORT $DERPER_STUN -1 manual derp.test $work/leaf" ] && pass || fail "leaf: flags read as '$got'"
[ "$(jq -r .cert_file "$work/leaf.out.json")" = "$work/leaf/derp.test.crt" ] && pass || fail "leaf: certificate file not found"
statuses leaf "certificate=fail/chain-incomplete listen-derp=warn/loopback-only listen-stun=warn/loopback-only"
line leaf "  ✓ addresses       the map's IPv4 127.0.0.1 is an address of this machine"
line leaf "  ! listen-derp     derper's DERP listens on 127.0.0.1:$DERPER_PORT only"
line leaf "  ! listen-stun     derper's STUN is bound to 127.0.0.1:$DERPER_STUN only"
line leaf "  ✗ certificate     the certificate file lacks its intermediate certificate: curl and Tailscale on Linux/Android reject the chain derper serves from it"
line leaf "    cause: the certificate file holds the certificate without the intermediate that issued it (\"CN = derpcheck test intermediate CA\"), and derper serves the file as it is. AIA was not followed (not for files), so whether clients that fetch it succeed is unknown"
grep -q "^           acme.sh: acme.sh --install-cert -d derp.test --fullchain-file $work/leaf/derp.test.crt --key-file $work/leaf/derp.test.key" "$work/leaf.txt" \
	&& pass || fail "leaf: no acme.sh --fullchain-file fix"
grep -q "^  ✓ probe-stun      STUN binding request to 127.0.0.1:$DERPER_STUN answered in [0-9.]*ms (mapped 127.0.0.1:[0-9]*)$" "$work/leaf.txt" \
	&& pass || fail "leaf: no STUN answer line"
grep -q "^  ✓ probe-tls       TLSv1.3 handshake with 127.0.0.1:$DERPER_PORT (SNI derp.test); served leaf SHA-256 [0-9a-f]\{16\}… = the file on disk$" "$work/leaf.txt" \
	&& pass || fail "leaf: TLS probe line"

# --- the map's STUNPort is not derper's: named with both fixes ---------------------------------
map "$work/wrong-stun.json" "$DERPER_PORT" $((DERPER_STUN + 1))
server wrong-stun 1 "$derper_pid_leaf" "$work/wrong-stun.json"
statuses wrong-stun "stun-port=fail/stun-port-mismatch certificate=fail/chain-incomplete listen-derp=warn/loopback-only listen-stun=warn/loopback-only"
line wrong-stun "    fix:   set STUNPort $DERPER_STUN in the DERP map, or run derper with -stun-port $((DERPER_STUN + 1))"
derper_stop leaf

# --- the full chain: nothing fails (loopback is all a test can listen on) ----------------------
derper_certdir "$work/full" "$pki/derp-chain.pem" "$pki/derp.key"
chmod 600 "$work/full/derp.test.key"
derper_start full 127.0.0.1 "$work/full" || { finish; exit 1; }
map "$work/full.json" "$DERPER_PORT" "$DERPER_STUN"
server full 0 "$derper_pid_full" "$work/full.json"
statuses full "listen-derp=warn/loopback-only listen-stun=warn/loopback-only"
line full "  ✓ certificate     $work/full/derp.test.crt: leaf + 1 issuer, key matches, valid for derp.test until $(jq -r '.checks[] | select(.check == "certificate") | .summary' "$work/full.out.json" | sed 's/.* until //')"

# --- renewed on disk after start: derper still serves the old leaf -> restart derper -----------
(
	cd "$pki" &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=derp.test -keyout new.key -out new.csr 2>/dev/null &&
		printf 'subjectAltName=DNS:derp.test\nextendedKeyUsage=serverAuth\n' >new.ext &&
		openssl x509 -req -in new.csr -CA int.pem -CAkey int.key -CAcreateserial -days 61 -extfile new.ext -out new.pem 2>/dev/null
) || fail "could not issue the renewed certificate"
cat "$pki/new.pem" "$pki/int.pem" >"$work/full/derp.test.crt"
cp "$pki/new.key" "$work/full/derp.test.key"
server renewed 1 "$derper_pid_full" "$work/full.json"
statuses renewed "listen-derp=warn/loopback-only listen-stun=warn/loopback-only probe-tls=fail/served-differs-from-disk"
line renewed "  ✗ probe-tls       derper serves an older certificate than the one on disk: restart derper"
grep -q "^    fix:   restart derper (docker restart derper, or systemctl restart derper)" "$work/renewed.txt" && pass || fail "renewed: no restart fix"
derper_stop full

# --- -verify-clients with no tailscaled on this machine ----------------------------------------
if [ -S /var/run/tailscale/tailscaled.sock ]; then
	fail "a tailscaled runs here (/var/run/tailscale/tailscaled.sock): the no-tailscaled case cannot be tested"
else
	derper_certdir "$work/verify" "$pki/derp-chain.pem" "$pki/derp.key"
	chmod 600 "$work/verify/derp.test.key"
	derper_start verify 127.0.0.1 "$work/verify" -verify-clients || { finish; exit 1; }
	map "$work/verify.json" "$DERPER_PORT" "$DERPER_STUN"
	server verify 1 "$derper_pid_verify" "$work/verify.json"
	statuses verify "verify-clients=fail/verify-clients-no-tailscaled listen-derp=warn/loopback-only listen-stun=warn/loopback-only"
	line verify "  ✗ verify-clients  -verify-clients, but /var/run/tailscale/tailscaled.sock does not exist"
	derper_stop verify
fi

# --- STUN off: no STUN socket, no probe; the map still asks for STUN ---------------------------
derper_certdir "$work/nostun" "$pki/derp-chain.pem" "$pki/derp.key"
chmod 600 "$work/nostun/derp.test.key"
derper_start nostun 127.0.0.1 "$work/nostun" -stun=false || { finish; exit 1; }
map "$work/nostun.json" "$DERPER_PORT" 3478
server nostun 1 "$derper_pid_nostun" "$work/nostun.json"
statuses nostun "stun-port=fail/stun-disabled listen-derp=warn/loopback-only"
derper_stop nostun

finish
