#!/bin/bash
# derpcheck cert against real TLS peers on loopback: openssl s_server for the certificate
# variants, tests/tools/certserver where derper's own behaviour matters (metacert, SNI
# refusal, HTTP Date), tests/tools/httpfiles for caIssuers (AIA) URLs and plain HTTP.
# One variant per failure mode (tls-diagnosis.md §7.4): finding codes, the four client
# verdicts and the fix text are asserted exactly. Nothing leaves 127.0.0.1.
set -u
: "${DERPCHECK:?set DERPCHECK to the derpcheck binary}"
: "${TOOLS:?set TOOLS to the build/tools directory}"
WORK_PREFIX=derpcheck-cert
. "$(dirname "$0")/../lib/assert.sh"
. "$(dirname "$0")/../lib/proc.sh"
. "$root/tests/lib/pki.sh"
. "$root/tests/lib/hints.sh"

# start_tool NAME ARGS...: a tests/tools server; sets $port from its "listening" line.
start_tool() {
	local name=$1
	shift
	spawn "$name" listening 5 "$TOOLS/$name" "$@" || return 1
	last_pid=$SPAWN_PID
	port=$(sed -n 's/^listening 127.0.0.1://p' "$work/$name.ready")
}

stop_last() { spawn_stop "$last_pid"; }

# serve_at ADDR ARGS...: openssl s_server on a free port of ADDR (a few tries, the port
# may be taken in between); sets $port. serve ARGS...: on 127.0.0.1.
serve_at() {
	local addr=$1 try
	shift
	for try in 1 2 3 4 5; do
		port=$(free_port tcp)
		spawn_to "$work/s_server.log" "$work/s_server.err" env -C "$pki" openssl s_server -accept "$addr:$port" -www "$@"
		last_pid=$SPAWN_PID
		wait_for_line "$work/s_server.log" ACCEPT "$last_pid" 5 && return 0
		stop_last
	done
	fail "openssl s_server did not start on $addr with: $*"
	return 1
}
serve() { serve_at 127.0.0.1 "$@"; }

# check NAME RC ARGS...: run derpcheck cert twice (text and JSON) and check the exit code.
check() {
	name=$1 want=$2
	shift 2
	case_begin "$name"
	got=0
	(cd "$work" && NO_COLOR=1 "$DERPCHECK" cert --timeout 5s "$@" >"$work/$name.txt" 2>"$work/$name.err") || got=$?
	jgot=0
	(cd "$work" && "$DERPCHECK" cert --timeout 5s --format json "$@" >"$work/$name.json" 2>/dev/null) || jgot=$?
	[ "$got" = "$want" ] && pass || { fail "$name: exit $got, want $want"; cat "$work/$name.txt" "$work/$name.err" >&2; }
	[ "$jgot" = "$want" ] && pass || fail "$name: exit $jgot with --format json, want $want"
	jq -e . "$work/$name.json" >/dev/null 2>&1 && pass || fail "$name: --format json is not one JSON document"
	hints_check "$name" "$work" "$work/$name.txt" "$work/$name.err" "$work/$name.json"
}

# summary NAME EXPECTED: "codes | curl go platform browser" from the JSON of the first target.
summary() {
	got=$(jq -r '.targets[0] | [(.findings | map(.code) | join(",")),
		(.clients | to_entries | map(if .value.ok then "ok" else "FAIL" end) | join(" "))] | join(" | ")' "$work/$1.json")
	[ "$got" = "$2" ] && pass || fail "$1: summary '$got', want '$2'"
}

# line NAME TEXT: the text output has exactly this line.
line() {
	grep -qxF -- "$2" "$work/$1.txt" && pass || { fail "$1: no line '$2'"; cat "$work/$1.txt" >&2; }
}

# jqeq NAME FILTER EXPECTED
jqeq() {
	got=$(jq -r "$2" "$work/$1.json")
	[ "$got" = "$3" ] && pass || fail "$1: $2 = '$got', want '$3'"
}

# ---- the PKI, its AIA server -------------------------------------------------------
pki=$work/pki
mkdir -p "$pki/aia"
start_tool httpfiles "$pki/aia" || exit 1
aia_port=$port
aia_pid=$last_pid
aia="http://127.0.0.1:$aia_port"
pki_cert_variants "$pki" "$aia" || { fail "mkcertpki.sh"; exit 1; }
trust="--ca-file $pki/root.pem"
crt="<certdir>/derp.test.crt"
incomplete_fix="    fix: serve the full chain, leaf first, as $crt and restart derper (it reads manual certificates only at start-up):"

# ---- A: leaf only (acme.sh --cert-file), AIA completes it ----------------------------
serve -cert leaf.pem -key leaf.key
check leaf-only 1 --servername derp.test $trust "127.0.0.1:$port"
summary leaf-only "chain-incomplete | FAIL FAIL ok ok"
line leaf-only "  curl/OpenSSL                    FAIL  curl: (60) SSL certificate problem: unable to get local issuer certificate"
line leaf-only "  Tailscale on Linux/Android      FAIL  x509: certificate signed by unknown authority"
line leaf-only "  Tailscale on macOS/iOS/Windows  ok    accepts: fetches the missing intermediate through AIA"
line leaf-only "  browsers                        ok    accepts: fetches the missing intermediate through AIA"
line leaf-only "  error: chain-incomplete: the server sends its certificate without the intermediate that issued it (\"O = derpcheck test, CN = Derpcheck Test Intermediate\"). Browsers and Tailscale on macOS/iOS/Windows fetch it from the AIA URL in the certificate, so it works there; curl and Tailscale on Linux/Android never fetch it and fail. Missing: \"O = derpcheck test, CN = Derpcheck Test Intermediate\" (from $aia/int.der); with it the chain verifies"
line leaf-only "$incomplete_fix"
line leaf-only "      acme.sh: acme.sh --install-cert -d derp.test --fullchain-file $crt --key-file <certdir>/derp.test.key --reloadcmd \"docker restart derper\" (--cert-file installs the leaf alone)"
line leaf-only "      certbot: use /etc/letsencrypt/live/derp.test/fullchain.pem as derp.test.crt, not cert.pem"
line leaf-only "      or let derpcheck write it: \`derpcheck cert --servername derp.test 127.0.0.1:$port --ca-file $pki/root.pem --write-fullchain derp.test.crt\`"
line leaf-only "result: 1 error; fails for curl/OpenSSL, Tailscale on Linux/Android"
line leaf-only "  [+]  intermediate  O = derpcheck test, CN = Derpcheck Test Intermediate"
jqeq leaf-only '.targets[0].aia_fetches | map(.url + " " + .result) | join(";")' "$aia/int.der DER, 1 certificate"
jqeq leaf-only '.targets[0].fullchain | [.certificates, .differs_from_served, .verifies] | map(tostring) | join(" ")' "2 true true"
# --write-fullchain writes leaf + intermediate; openssl agrees it verifies.
check write-fullchain 1 --servername derp.test $trust --write-fullchain "$work/derp.test.crt" "127.0.0.1:$port"
line write-fullchain "wrote $work/derp.test.crt: 2 certificates, leaf first, no root; it verifies"
[ "$(grep -c 'BEGIN CERTIFICATE' "$work/derp.test.crt")" = 2 ] && pass || fail "write-fullchain: not 2 certificates"
openssl verify -CAfile "$pki/root.pem" -untrusted "$work/derp.test.crt" -verify_hostname derp.test "$work/derp.test.crt" >/dev/null 2>&1 &&
	pass || fail "openssl verify rejects the written fullchain"
cmp -s <(openssl x509 -in "$work/derp.test.crt") <(openssl x509 -in "$pki/leaf.pem") && pass || fail "write-fullchain: leaf is not first"
# The same URL twice in one run is fetched once (cache by URL): one run, one GET.
gets_before=$(grep -c '^GET /int.der 200' "$work/httpfiles.log")
(cd "$work" && "$DERPCHECK" cert --servername derp.test $trust "127.0.0.1:$port" >/dev/null 2>&1)
gets=$(($(grep -c '^GET /int.der 200' "$work/httpfiles.log") - gets_before))
[ "$gets" = 1 ] && pass || fail "AIA: int.der fetched $gets times in one run, want once"
check no-aia 1 --servername derp.test $trust --no-aia "127.0.0.1:$port"
summary no-aia "chain-incomplete | FAIL FAIL FAIL FAIL"
line no-aia "  Tailscale on macOS/iOS/Windows  FAIL  rejects unless it fetches the missing intermediate (not tried: --no-aia)"
check write-none 2 --servername derp.test $trust --no-aia --write-fullchain "$work/none.crt" "127.0.0.1:$port"
grep -qF "derpcheck: $work/none.crt: not written: no complete chain could be built for 127.0.0.1:$port" "$work/write-none.err" && pass ||
	fail "write-none: $(cat "$work/write-none.err")"
stop_last

# Two AIA hops (leaf <- sub <- int <- root), and an AIA URL that answers 404.
serve -cert leafsub.pem -key leaf.key
check aia-two-hops 1 --servername derp.test $trust "127.0.0.1:$port"
summary aia-two-hops "chain-incomplete | FAIL FAIL ok ok"
jqeq aia-two-hops '.targets[0].aia_fetches | map(.url) | join(" ")' "$aia/sub.der $aia/int.der"
jqeq aia-two-hops '.targets[0].fullchain.certificates' 3
stop_last
serve -cert leafbad.pem -key leaf.key
check aia-404 1 --servername derp.test $trust "127.0.0.1:$port"
summary aia-404 "chain-incomplete | FAIL FAIL FAIL FAIL"
jqeq aia-404 '.targets[0].findings[0].message | sub(".*\\. "; "")' "Not even clients that follow AIA can complete it: $aia/missing.der: fetch failed: HTTP status 404"
stop_last

# ---- A2 wrong intermediate, C order, E private CA, E' root sent ----------------------
serve -cert leaf.pem -key leaf.key -cert_chain int2.pem
check wrong-intermediate 1 --servername derp.test $trust "127.0.0.1:$port"
summary wrong-intermediate "wrong-intermediate | FAIL FAIL ok ok"
jqeq wrong-intermediate '.targets[0].findings[0].hint | split("\n")[0]' "${incomplete_fix#    fix: }"
stop_last
serve -cert leaf.pem -key leaf.key -cert_chain revchain.pem
check reversed 0 --servername derp.test $trust "127.0.0.1:$port"
summary reversed "chain-order,chain-sends-root | ok ok ok ok"
line reversed "    fix: write it leaf first, then each issuer in turn: \`derpcheck cert --servername derp.test 127.0.0.1:$port --ca-file $pki/root.pem --write-fullchain derp.test.crt\`"
stop_last
serve -cert leaf.pem -key leaf.key -cert_chain chain.pem
check good 0 --servername derp.test $trust "127.0.0.1:$port"
summary good " | ok ok ok ok"
line good "result: every client accepts it"
check private-ca 1 --servername derp.test "127.0.0.1:$port"
summary private-ca "untrusted-root | FAIL FAIL FAIL FAIL"
line private-ca "  error: untrusted-root: the chain leads to the root \"O = derpcheck test, CN = Derpcheck Test Root CA\", which the trust store does not have: a private CA, or a root too new for it"
line private-ca "    fix: use a certificate from a public CA (Let's Encrypt), or install \"O = derpcheck test, CN = Derpcheck Test Root CA\" as a trusted root on every client (a browser-only install is not enough):"
# An IP without --servername: Tailscale checks no name, curl and browsers want an IP SAN (it has one).
check by-ip 0 $trust "127.0.0.1:$port"
summary by-ip " | ok ok ok ok"
stop_last
serve -cert leaf.pem -key leaf.key -cert_chain withroot.pem
check root-sent 1 --servername derp.test "127.0.0.1:$port"
summary root-sent "untrusted-root,chain-sends-root | FAIL FAIL FAIL FAIL"
line root-sent "  curl/OpenSSL                    FAIL  curl: (60) SSL certificate problem: self-signed certificate in certificate chain"
stop_last

# ---- D self-signed -------------------------------------------------------------------
serve -cert selfsigned.pem -key leaf.key
check self-signed 1 --servername derp.test $trust "127.0.0.1:$port"
summary self-signed "self-signed | FAIL FAIL FAIL FAIL"
line self-signed "  curl/OpenSSL                    FAIL  curl: (60) SSL certificate problem: self-signed certificate"
sha=$(openssl x509 -in "$pki/selfsigned.pem" -outform DER | sha256sum | cut -d' ' -f1)
line self-signed "      or, for a node whose HostName is an IP address, pin it in the DERP map: \"CertName\": \"sha256-raw:$sha\" (Tailscale 1.84+; $crt must hold only this certificate), and run derper with --hostname=<the node's IP address> (the same IP as HostName: clients send no TLS name to an IP, which derper 1.78+ accepts only then; 1.82+ also makes the self-signed certificate itself)"
stop_last

# ---- F, G, H validity ----------------------------------------------------------------
serve -cert expired.pem -key leaf.key -cert_chain chain.pem
check expired 1 --servername derp.test $trust "127.0.0.1:$port"
summary expired "expired | FAIL FAIL FAIL FAIL"
ago=$(( ($(date +%s) - $(date -d 2024-04-01T00:00:00Z +%s)) / 86400 ))
line expired "  error: expired: the certificate expired on 2024-04-01 00:00:00 UTC, $ago days ago. If the file on disk was renewed, derper still serves the old one from memory: it reads manual certificates only at start-up"
line expired "    fix: renew it and restart derper; make renewals restart it: acme.sh --reloadcmd \"docker restart derper\", certbot --deploy-hook \"systemctl restart derper\""
grep -qE '^  Tailscale on Linux/Android      FAIL  x509: certificate has expired or is not yet valid: current time [0-9T:-]+Z is after 2024-04-01T00:00:00Z$' "$work/expired.txt" &&
	pass || fail "expired: Go's message"
stop_last
serve -cert leaf.pem -key leaf.key -cert_chain int-expired.pem
check int-expired 1 --servername derp.test $trust "127.0.0.1:$port"
summary int-expired "intermediate-expired | FAIL FAIL FAIL FAIL"
line int-expired "  error: intermediate-expired: the intermediate \"O = derpcheck test, CN = Derpcheck Test Intermediate\" expired on 2024-01-01 00:00:00 UTC; the leaf itself is still valid, which makes curl's \"certificate has expired\" misleading"
stop_last
serve -cert notyet.pem -key leaf.key -cert_chain chain.pem
check not-yet-valid 1 --servername derp.test $trust "127.0.0.1:$port"
summary not-yet-valid "not-yet-valid | FAIL FAIL FAIL FAIL"
line not-yet-valid "    fix: check the clock of this machine and of the clients (timedatectl; turn on NTP with timedatectl set-ntp true); if the clocks are right, the certificate was issued with a future start date: reissue it"
stop_last
serve -cert soon.pem -key leaf.key -cert_chain chain.pem
check expires-soon 0 --servername derp.test $trust "127.0.0.1:$port"
summary expires-soon "expires-soon | ok ok ok ok"
stop_last

# ---- I, I2, J names ------------------------------------------------------------------
serve -cert other.pem -key other.key -cert_chain chain.pem
check other-domain 1 --servername derp.test $trust "127.0.0.1:$port"
summary other-domain "wrong-domain | FAIL FAIL FAIL FAIL"
line other-domain "  curl/OpenSSL                    FAIL  curl: (60) SSL: no alternative certificate subject name matches target host name 'derp.test'"
line other-domain "  Tailscale on Linux/Android      FAIL  x509: certificate is valid for other.example, not derp.test"
stop_last
serve -cert wild.pem -key leaf.key -cert_chain chain.pem
check wildcard-apex 1 --servername derp.test $trust "127.0.0.1:$port"
summary wildcard-apex "name-mismatch | FAIL FAIL FAIL FAIL"
line wildcard-apex "  error: name-mismatch: the certificate is valid for DNS:*.derp.test, not for derp.test. A wildcard covers exactly one label: *.example.com matches a.example.com, not example.com or a.b.example.com"
check wildcard-label 0 --servername a.derp.test $trust "127.0.0.1:$port"
summary wildcard-label " | ok ok ok ok"
stop_last
serve -cert cnonly.pem -key leaf.key -cert_chain chain.pem
check cn-only 1 --servername derp.test $trust "127.0.0.1:$port"
summary cn-only "cn-only | ok FAIL FAIL FAIL"
line cn-only "  Tailscale on Linux/Android      FAIL  x509: certificate relies on legacy Common Name field, use SANs instead"
stop_last
serve -cert noip.pem -key leaf.key -cert_chain chain.pem
check ip-without-ip-san 0 $trust "127.0.0.1:$port"
summary ip-without-ip-san "ip-san-missing | FAIL ok ok FAIL"
line ip-without-ip-san "  warning: ip-san-missing: 127.0.0.1 is an IP address and the certificate has no IP entry for it (it has DNS:derp.test). Tailscale checks no name for an IP HostName, but curl/OpenSSL and browsers do"
stop_last

# ---- L weak, M usage ---------------------------------------------------------------
serve -cert sha1.pem -key leaf.key -cert_chain chain.pem -cipher DEFAULT@SECLEVEL=0
check sha1 1 --servername derp.test $trust "127.0.0.1:$port"
summary sha1 "weak-signature | FAIL FAIL FAIL FAIL"
line sha1 "  Tailscale on Linux/Android      FAIL  x509: certificate signed by unknown authority (possibly because of \"x509: cannot verify signature: insecure algorithm ECDSA-SHA1\" while trying to verify candidate authority certificate \"Derpcheck Test Intermediate\")"
stop_last
serve -cert rsa1024.pem -key rsa1024.key -cert_chain chain.pem -cipher DEFAULT@SECLEVEL=0
check rsa1024 1 --servername derp.test $trust "127.0.0.1:$port"
summary rsa1024 "weak-key | FAIL ok ok FAIL"
line rsa1024 "  curl/OpenSSL                    FAIL  curl: (60) SSL certificate problem: EE certificate key too weak"
stop_last
serve -cert client.pem -key leaf.key -cert_chain chain.pem
check client-auth-only 1 --servername derp.test $trust "127.0.0.1:$port"
summary client-auth-only "no-server-auth | FAIL FAIL FAIL FAIL"
line client-auth-only "  Tailscale on Linux/Android      FAIL  x509: certificate specifies an incompatible key usage"
stop_last

# ---- derper's own behaviour: metacert, SNI refusal, Date header ----------------------
start_tool certserver --chain "$pki/fullchain.pem" --key "$pki/leaf.key" --hostname derp.test --metacert-age-days 40
check metacert 0 --servername derp.test $trust "127.0.0.1:$port"
summary metacert " | ok ok ok ok"
line metacert "chain as served: 2 certificates, then derper's key certificate"
line metacert "  [2]  derper key    derper's key certificate (DERP server key a0a1a2a3a4a5a6a7..., protocol 2): not part of the chain, clients skip it; its expiry is harmless"
jqeq metacert '.targets[0].chain[2] | [.role, .derp_server_key[0:8], .derp_protocol_version] | map(tostring) | join(" ")' "derper-metacert a0a1a2a3 2"
jqeq metacert '.targets[0].connection.clock_skew_seconds | fabs < 5' true
check sni-refused 1 --servername DERP.test $trust "127.0.0.1:$port"
summary sni-refused "sni-refused | FAIL FAIL FAIL FAIL"
line sni-refused "  curl/OpenSSL                    FAIL  curl: (35) error:0A000438:SSL routines::tlsv1 alert internal error"
line sni-refused "  Tailscale on Linux/Android      FAIL  remote error: tls: internal error"
line sni-refused "  error: sni-refused: the server refused the TLS name (SNI) \"DERP.test\" with the TLS alert \"internal error\": derper accepts only the name given as its --hostname, compared exactly (case too), and logs 'cert mismatch with hostname: \"DERP.test\"'. It refuses a connection without a name too."
check sni-refused-known 1 --hostname derp.test --servername DERP.test $trust "127.0.0.1:$port"
line sni-refused-known "    fix: make the node's HostName exactly derper's --hostname (\"derp.test\") (derpcheck: --servername NAME); to test by hand: curl --resolve derp.test:PORT:IP https://derp.test:PORT/"
check sni-none 1 $trust "127.0.0.1:$port"
summary sni-none "sni-refused | FAIL FAIL FAIL FAIL"
stop_last
cat "$pki/notyet.pem" "$pki/int.pem" >"$work/notyet-chain.pem"
start_tool certserver --chain "$work/notyet-chain.pem" --key "$pki/leaf.key" --hostname derp.test --date-offset $(( $(date -d 2030-02-01T00:00:00Z +%s) - $(date +%s) ))
check clock-skew 1 --servername derp.test $trust "127.0.0.1:$port"
summary clock-skew "not-yet-valid,clock-skew | FAIL FAIL FAIL FAIL"
grep -qE '^  error: not-yet-valid: .*The server.s clock says 2030-02-01 00:00:[0-9]{2} UTC \(\+[0-9]+ s from this machine.s\); by its clock the certificate is valid, so this machine.s clock is probably wrong$' "$work/clock-skew.txt" &&
	pass || fail "clock-skew: not-yet-valid message"
stop_last

# ---- P: plain HTTP on the TLS port (derper --certmode=letsencrypt on a custom port) --
check plain-http 1 --servername derp.test $trust "127.0.0.1:$aia_port"
summary plain-http "plain-http | FAIL FAIL FAIL FAIL"
line plain-http "derp.test at 127.0.0.1:$aia_port: plain HTTP (HTTP/1.0 200 OK)"
line plain-http "  Tailscale on Linux/Android      FAIL  tls: first record does not look like a TLS handshake"
jqeq plain-http '.targets[0].connection.plain_http.derper_home_page' true

# ---- IPv6 loopback, and -4/-6 against an address of the other family -------------------
if ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1'; then
	v6port=""
	serve_at "[::1]" -cert leaf.pem -key leaf.key -cert_chain chain.pem && v6port=$port
	if [ -n "$v6port" ]; then
		check ipv6 0 -6 --servername derp.test $trust "[::1]:$v6port"
		line ipv6 "derp.test at [::1]:$v6port: TLSv1.3, TLS_AES_256_GCM_SHA384"
		check ipv4-only-v6-address 2 -4 --servername derp.test $trust "[::1]:$v6port"
		grep -qxF "derpcheck: ::1: an IPv6 address, but -4 asks for IPv4 only" "$work/ipv4-only-v6-address.err" && pass ||
			fail "ipv4-only-v6-address: $(cat "$work/ipv4-only-v6-address.err")"
		stop_last
	fi
else
	echo "cert.sh: NOTE: no IPv6 loopback here; the IPv6 cases are skipped" >&2
fi

# ---- nothing listens: exit 2, on stderr ---------------------------------------------
closed=$(( aia_port == 65535 ? 65534 : aia_port + 1 ))
while (exec 3<>"/dev/tcp/127.0.0.1/$closed") 2>/dev/null; do closed=$((closed + 1)); done
check refused 2 --servername derp.test "127.0.0.1:$closed"
grep -qF "derpcheck: 127.0.0.1:$closed: TCP connection refused" "$work/refused.err" && pass || fail "refused: $(cat "$work/refused.err")"
[ -s "$work/refused.txt" ] && fail "refused: stdout not empty" || pass

# ---- region mode: the node's HostName, CertName, DERPPort and IPv4 from a map --------
start_tool certserver --chain "$pki/leaf.pem" --key "$pki/leaf.key" --hostname derp.test
# mkmap FILE EXTRA: a one-region map whose relaying node is $port on loopback.
mkmap() {
	cat >"$work/$1" <<JSON
{"Regions": {"900": {"RegionID": 900, "RegionCode": "test", "Nodes": [
  {"Name": "900a", "RegionID": 900, "HostName": "derp.test", "IPv4": "127.0.0.1", "IPv6": "none",
   "DERPPort": $port, $2},
  {"Name": "900b", "RegionID": 900, "HostName": "derp.test", "IPv4": "127.0.0.1", "IPv6": "none",
   "DERPPort": $port, "STUNOnly": true}]}}}
JSON
}
mkmap map.json '"InsecureForTests": true'
check region 1 --derp-map map.json --region 900 $trust
summary region "chain-incomplete,insecure-for-tests | FAIL FAIL ok ok"
line region "region 900 node 900a: derp.test at 127.0.0.1:$port: TLSv1.3, TLS_AES_256_GCM_SHA384, server clock +0 s"
jqeq region '.targets | length' 1
jqeq region '.targets[0].region | "\(.id) \(.node) \(.path)"' "900 900a Regions.900.Nodes[0]"
line region "      or let derpcheck write it: \`derpcheck cert --derp-map map.json --region 900 --ca-file $pki/root.pem --write-fullchain derp.test.crt\`"
check region-missing 2 --derp-map map.json --region 901
grep -qxF "  hint: its regions are: 900" "$work/region-missing.err" && pass || fail "region-missing: $(cat "$work/region-missing.err")"
# sha256-raw pinning: the right pin for a lone leaf passes Tailscale; a chain does not.
stop_last
start_tool certserver --chain "$pki/selfsigned.pem" --key "$pki/leaf.key" --hostname derp.test
mkmap pin.json "\"CertName\": \"sha256-raw:$sha\""
check pinned 0 --derp-map pin.json --region 900
summary pinned "self-signed | FAIL ok ok FAIL"
mkmap badpin.json "\"CertName\": \"sha256-raw:$(echo "$sha" | tr 0-9a-f 1-9a-f0)\""
check pin-mismatch 1 --derp-map badpin.json --region 900
summary pin-mismatch "pin-mismatch,self-signed | FAIL FAIL FAIL FAIL"
line pin-mismatch "  Tailscale on Linux/Android      FAIL  cert hash does not match expected cert hash"
stop_last
# A node of the map that does not answer is a problem found (1), not a usage error: the
# address came from the map, not from the command line.
check region-down 1 --derp-map badpin.json --region 900
grep -qF "TCP connection refused" "$work/region-down.err" && pass || fail "region-down: $(cat "$work/region-down.err")"

# ---- local files: derper's manual-mode start-up checks -------------------------------
mk() { rm -rf "$work/$1"; mkdir -p "$work/$1"; }
mk good && cp "$pki/fullchain.pem" "$work/good/derp.test.crt" && cp "$pki/leaf.key" "$work/good/derp.test.key" && chmod 600 "$work/good/derp.test.key"
check files-good 0 --certdir good --hostname derp.test $trust
line files-good "  derper       would start with these files"
line files-good "result: every client accepts it"
mk leafonly && cp "$pki/leaf.pem" "$work/leafonly/derp.test.crt" && cp "$pki/leaf.key" "$work/leafonly/derp.test.key" && chmod 600 "$work/leafonly/derp.test.key"
check files-leaf-only 1 --certdir leafonly --hostname derp.test $trust --write-fullchain leafonly/fixed.crt
jqeq files-leaf-only '.files.chain.findings | map(.code) | join(",")' chain-incomplete
line files-leaf-only "    fix: serve the full chain, leaf first, as leafonly/derp.test.crt and restart derper (it reads manual certificates only at start-up):"
openssl verify -CAfile "$pki/root.pem" -untrusted "$work/leafonly/fixed.crt" "$work/leafonly/fixed.crt" >/dev/null 2>&1 && pass || fail "files: fixed.crt does not verify"
mk order && cat "$pki/int.pem" "$pki/leaf.pem" >"$work/order/derp.test.crt" && cp "$pki/leaf.key" "$work/order/derp.test.key" && chmod 600 "$work/order/derp.test.key"
check files-order 1 --certdir order --hostname derp.test $trust
jqeq files-order '.files.findings | map(.code) | join(",")' leaf-not-first
line files-order "  error: leaf-not-first: derper takes the first certificate of order/derp.test.crt as its own, but the key belongs to certificate 2 (\"CN = derp.test\"); derper fails with the misleading: tls: private key does not match public key"
mk mismatch && cp "$pki/fullchain.pem" "$work/mismatch/derp.test.crt" && cp "$pki/other.key" "$work/mismatch/derp.test.key" && chmod 600 "$work/mismatch/derp.test.key"
check files-key-mismatch 1 --certdir mismatch --hostname derp.test $trust
jqeq files-key-mismatch '.files | [.derper_would_start, (.findings | map(.code) | join(","))] | map(tostring) | join(" ")' "false key-mismatch"
mk othername && cat "$pki/other.pem" "$pki/int.pem" >"$work/othername/derp.test.crt" && cp "$pki/other.key" "$work/othername/derp.test.key" && chmod 600 "$work/othername/derp.test.key"
check files-other-name 1 --certdir othername --hostname derp.test $trust
line files-other-name "  derper       would refuse to start (see below)"
line files-other-name "  error: wrong-domain: the certificate is for another domain: DNS:other.example, not for derp.test. derper refuses to start with it: cert invalid for hostname \"derp.test\""
mk der && openssl x509 -in "$pki/leaf.pem" -outform DER -out "$work/der/derp.test.crt" && cp "$pki/leaf.key" "$work/der/derp.test.key" && chmod 600 "$work/der/derp.test.key"
check files-der 1 --certdir der --hostname derp.test
jqeq files-der '.files.findings[0].message' "der/derp.test.crt is a DER certificate, not PEM; derper fails with: tls: failed to find any PEM data in certificate input"
mk certbot && cp "$pki/fullchain.pem" "$work/certbot/fullchain.pem" && cp "$pki/leaf.key" "$work/certbot/privkey.pem"
check files-missing 1 --certdir certbot --hostname derp.test
jqeq files-missing '.files.findings | map(.code) | join(",")' "cert-file-missing,key-file-missing"
grep -qF "derpcheck cert" /dev/null; jqeq files-missing '.files.findings[0].hint | test("copy or link the full chain \\(e.g. fullchain.pem\\) as derp.test.crt")' true
mk swapped && cp "$pki/leaf.key" "$work/swapped/derp.test.crt" && cp "$pki/fullchain.pem" "$work/swapped/derp.test.key"
check files-swapped 1 --certdir swapped --hostname derp.test
jqeq files-swapped '.files.findings | map(.code) | join(",")' "key-file-permissions,cert-files-swapped,cert-files-swapped"
mk encrypted && cp "$pki/fullchain.pem" "$work/encrypted/derp.test.crt" &&
	openssl pkey -in "$pki/leaf.key" -aes256 -passout pass:secret -out "$work/encrypted/derp.test.key" 2>/dev/null && chmod 600 "$work/encrypted/derp.test.key"
check files-encrypted 1 --certdir encrypted --hostname derp.test $trust
jqeq files-encrypted '.files.findings | map(.code) | join(",")' key-encrypted
mk dangling && ln -s ../../archive/derp.test/fullchain1.pem "$work/dangling/derp.test.crt" && cp "$pki/leaf.key" "$work/dangling/derp.test.key" && chmod 600 "$work/dangling/derp.test.key"
check files-dangling 1 --certdir dangling --hostname derp.test
jqeq files-dangling '.files.findings | map(.code) | join(",")' cert-file-dangling-link
check files-no-dir 2 --certdir nonexistent --hostname derp.test
grep -qF "derpcheck: nonexistent: No such file or directory" "$work/files-no-dir.err" && pass || fail "files-no-dir: $(cat "$work/files-no-dir.err")"
# Renewed on disk, derper never restarted: the served leaf is the old one.
mk renewed && cat "$pki/renewed.pem" "$pki/int.pem" >"$work/renewed/derp.test.crt" && cp "$pki/leaf.key" "$work/renewed/derp.test.key" && chmod 600 "$work/renewed/derp.test.key"
start_tool certserver --chain "$pki/fullchain.pem" --key "$pki/leaf.key" --hostname derp.test
check served-vs-disk 1 --certdir renewed --hostname derp.test $trust "127.0.0.1:$port"
summary served-vs-disk "served-differs-from-disk | ok ok ok ok"
jqeq served-vs-disk '.targets[0].findings[0].hint' "restart derper (docker restart derper, or systemctl restart derper), and make renewals restart it: acme.sh --reloadcmd \"docker restart derper\", certbot --deploy-hook \"systemctl restart derper\""
stop_last

# ---- usage --------------------------------------------------------------------------
check usage-none 2
check usage-region-no-map 2 --region 900
grep -qxF "derpcheck: --region needs --derp-map" "$work/usage-region-no-map.err" && pass || fail "usage-region-no-map"
check usage-url 2 https://derp.test/
check usage-insecure-warns 1 --insecure --servername derp.test --no-aia "127.0.0.1:$aia_port"
grep -qF "derpcheck: warning: --insecure" "$work/usage-insecure-warns.err" && pass || fail "--insecure must warn"

finish
