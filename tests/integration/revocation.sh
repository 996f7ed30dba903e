#!/bin/bash
# The served leaf's revocation status (judge/revocation.h) against real servers on
# loopback: Debian's `openssl ocsp` as the CA's responder over a test PKI whose leaves
# name it in their AIA (tests/tools/mkpki-ocsp.sh), Tailscale's real derper serving a
# good, a revoked and an unknown leaf, `openssl s_server` stapling a response. Asserted:
# cert's revocation line, finding and exit status; diagnose's revocation check, its
# verdicts, JSON and Prometheus series; and that no evidence is never "good" (responder
# down: not checked). openssl ocsp 3.0 takes only a port (-port has no address): it
# listens on every address of this machine, and is asked on 127.0.0.1 only.
set -u
export DAYS=90 # certificates that do not expire during the test (no expiry warning)
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C # ASCII marks
. "$(dirname "$0")/lib/derp.sh"
. "$root/tests/lib/peers.sh"
peers_require

ocsp_port=$(free_port tcp)
ocsp_url=http://127.0.0.1:$ocsp_port
opki=$work/opki
# The CA's CRL, served by tests/tools/httpfiles (its URL goes into the leaves).
mkdir -p "$work/crl"
spawn httpfiles listening 5 "$TOOLS/httpfiles" "$work/crl" || exit 1
crl_url=http://127.0.0.1:$(sed -n 's/^listening 127.0.0.1://p' "$work/httpfiles.ready")/int.crl
pki_ocsp "$opki" "$ocsp_url" "$crl_url" || { fail "tests/tools/mkpki-ocsp.sh failed"; finish; exit 1; }
cp "$opki/int.crl" "$work/crl/int.crl"
ca=(--ca-file opki/ca.pem)

start_responder() {
	spawn_to "$work/ocsp.log" "$work/ocsp.log" openssl ocsp -index "$opki/index.txt" -port "$ocsp_port" \
		-rsigner "$opki/int.pem" -rkey "$opki/int.key" -CA "$opki/int.pem" -ndays 1
	ocsp_pid=$SPAWN_PID
	wait_for_line "$work/ocsp.log" 'waiting for OCSP client connections' "$ocsp_pid" 5 ||
		{ fail "openssl ocsp did not start on port $ocsp_port"; cat "$work/ocsp.log" >&2; finish; exit 1; }
}
start_responder

# serve NAME: derper NAME with NAME-chain.pem of the OCSP PKI; NAME.hujson is its map.
serve() {
	derper_certdir "$work/certs-$1" "$opki/$1-chain.pem" "$opki/$1.key"
	derper_start "$1" 127.0.0.1 "$work/certs-$1" || exit 1
	derper_policy "$work/$1.hujson" "$(derper_node 900a derp.test 127.0.0.1 "$DERPER_PORT" "$DERPER_STUN")"
}
serve good
serve revoked
serve stranger
serve crl-good
serve crl-revoked

# the revocation line of `derpcheck cert`, with the responder's port and the times masked
rev_line() {
	local got
	got=$(sed -n 's/^revocation: //p' "$work/$1.out" | sed -E -e "s/127\.0\.0\.1:$ocsp_port/127.0.0.1:OCSP/g" \
		-e "s#$crl_url#CRL-URL#g" -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} UTC/TIME/g')
	[ "$got" = "$2" ] && pass || fail "$1: revocation line '$got', want '$2'"
}

# ---- cert ----------------------------------------------------------------------------------
run cert-good 0 10000 cert --derp-map good.hujson "${ca[@]}" --region 900
rev_line cert-good "good (OCSP http://127.0.0.1:OCSP): thisUpdate TIME, nextUpdate TIME"
contains cert-good out "result: every client accepts it"
run cert-good-json 0 10000 cert --derp-map good.hujson "${ca[@]}" --region 900 --format json
json cert-good-json ".targets[0].revocation | .status == \"good\" and .source == \"ocsp\" and .stapled == false and .ocsp_url == \"$ocsp_url\" and .reason == null and (.fetch_ms > 0)"

run cert-revoked 1 10000 cert --derp-map revoked.hujson "${ca[@]}" --region 900
rev_line cert-revoked "revoked (OCSP http://127.0.0.1:OCSP): on TIME, reason keyCompromise (thisUpdate TIME)"
contains cert-revoked out "  error: cert-revoked: the served certificate (CN \"derp.test\") was revoked by its CA on "
contains cert-revoked out ", reason keyCompromise (OCSP responder $ocsp_url)"
contains cert-revoked out "result: 1 error"
run cert-revoked-json 1 10000 cert --derp-map revoked.hujson "${ca[@]}" --region 900 --format json
json cert-revoked-json '.targets[0].revocation | .status == "revoked" and .reason == "keyCompromise" and (.revoked_at | test("^[0-9]{4}-"))'
json cert-revoked-json '[.targets[0].findings[].code] == ["cert-revoked"] and .targets[0].clients["tailscale-linux-android"].ok == true'

run cert-stranger 0 10000 cert --derp-map stranger.hujson "${ca[@]}" --region 900
rev_line cert-stranger "unknown (OCSP http://127.0.0.1:OCSP): the responder does not know this certificate (status \"unknown\", thisUpdate TIME)"
contains cert-stranger out "  warning: revocation-unknown: the revocation status of the served certificate is unknown"

# A leaf that names no responder (pki_derp's, served by the test DERP server): not checked,
# and no finding for it.
start_server nourl --listen 127.0.0.1:0 || exit 1
run cert-no-url 0 10000 cert --servername derp.test --ca-file pki/ca.pem "127.0.0.1:$PORT"
rev_line cert-no-url "not-checked: the leaf names no OCSP responder (no AIA OCSP URL) and no CRL distribution point, and the server staples no OCSP response"
run cert-no-url-json 0 10000 cert --servername derp.test --ca-file pki/ca.pem "127.0.0.1:$PORT" --format json
json cert-no-url-json '.targets[0].revocation | .status == "not-checked" and .source == null and .ocsp_url == null and .fetch_ms == null'
json cert-no-url-json '.targets[0].findings == []'

# ---- CRL: a leaf that names only a CRL distribution point ------------------------------------
run cert-crl-good 0 10000 cert --derp-map crl-good.hujson "${ca[@]}" --region 900
rev_line cert-crl-good "good (CRL CRL-URL): not on the CRL (thisUpdate TIME, nextUpdate TIME)"
run cert-crl-revoked 1 10000 cert --derp-map crl-revoked.hujson "${ca[@]}" --region 900
rev_line cert-crl-revoked "revoked (CRL CRL-URL): on TIME, reason keyCompromise (thisUpdate TIME)"
contains cert-crl-revoked out ", reason keyCompromise (on the CRL at $crl_url)"
run cert-crl-revoked-json 1 10000 cert --derp-map crl-revoked.hujson "${ca[@]}" --region 900 --format json
json cert-crl-revoked-json ".targets[0].revocation | .status == \"revoked\" and .source == \"crl\" and .crl_url == \"$crl_url\" and .ocsp_url == null and .reason == \"keyCompromise\""
run diag-crl-revoked 1 15000 diagnose --derp-map crl-revoked.hujson "${ca[@]}" 900
contains diag-crl-revoked out "  FAIL revocation         revoked, says the CRL $crl_url"

# ---- diagnose ------------------------------------------------------------------------------
run diag-good 0 15000 diagnose --derp-map good.hujson "${ca[@]}" 900
contains diag-good out "  ok   revocation         good, says OCSP $ocsp_url (thisUpdate "
contains diag-good out "DERP path: ok (1 of 1 nodes relay)"

run diag-revoked 1 15000 diagnose --derp-map revoked.hujson "${ca[@]}" 900
contains diag-revoked out "  FAIL revocation         revoked, says OCSP $ocsp_url"
contains diag-revoked out "       cause: the CA revoked the served certificate on "
contains diag-revoked out "       fix:   get a new certificate (and key, after keyCompromise), install it and restart derper; Tailscale on Linux still connects, macOS, iOS and Windows clients may refuse it; details: \`derpcheck cert --derp-map revoked.hujson --region 900 --ca-file opki/ca.pem\`"
# Linux clients relay all the same: the DERP verdict stays ok, the exit status says 1.
contains diag-revoked out "DERP path: ok (1 of 1 nodes relay)"
run diag-revoked-json 1 15000 diagnose --derp-map revoked.hujson "${ca[@]}" 900 --format json
json diag-revoked-json '.nodes[0].revocation.status == "revoked" and .nodes[0].revocation.reason == "keyCompromise" and ([.nodes[0].checks[] | select(.check == "revocation") | .status] == ["fail"])'

run diag-stranger 0 15000 diagnose --derp-map stranger.hujson "${ca[@]}" 900
contains diag-stranger out "  warn revocation         unknown, from OCSP $ocsp_url"
contains diag-stranger out "       cause: the responder does not know this certificate (status \"unknown\", thisUpdate "

# ---- the exporter's series -------------------------------------------------------------------
(cd "$work" && exec "$DERPCHECK" exporter --derp-map revoked.hujson "${ca[@]}" --listen 127.0.0.1:0 \
	--interval 60s >"$work/exporter.out" 2>"$work/exporter.err") &
exporter_pid=$!
server_pids="$server_pids $exporter_pid"
if wait_for_line "$work/exporter.err" 'exporter on http://' "$exporter_pid" 5; then pass; else
	fail "the exporter did not start"
	cat "$work/exporter.err" >&2
fi
eport=$(sed -n 's#.*exporter on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$work/exporter.err" | head -1)
got=""
for _ in $(seq 1 150); do
	curl -s -m 2 "http://127.0.0.1:$eport/metrics" >"$work/metrics.body" 2>/dev/null
	got=$(grep '^derpcheck_cert_revocation{' "$work/metrics.body" || true)
	[ -n "$got" ] && break
	sleep 0.1
done
want='derpcheck_cert_revocation{region="900",region_code="myvps",node="900a",status="good"} 0
derpcheck_cert_revocation{region="900",region_code="myvps",node="900a",status="revoked"} 1
derpcheck_cert_revocation{region="900",region_code="myvps",node="900a",status="unknown"} 0
derpcheck_cert_revocation{region="900",region_code="myvps",node="900a",status="not-checked"} 0'
[ "$got" = "$want" ] && pass || fail "exporter: revocation series '$got', want '$want'"
spawn_stop "$exporter_pid"

# ---- a stapled response: the server's word, with the responder gone ----------------------------
openssl ocsp -issuer "$opki/int.pem" -cert "$opki/revoked.pem" -url "$ocsp_url" -noverify \
	-respout "$work/revoked.ocsp" >"$work/fetch-staple.out" 2>&1 && pass || fail "openssl ocsp could not fetch the staple"
spawn_stop "$ocsp_pid"
sport=$(free_port tcp)
spawn_to "$work/s_server.log" "$work/s_server.err" openssl s_server -accept "127.0.0.1:$sport" -www \
	-cert "$opki/revoked.pem" -cert_chain "$opki/int.pem" -key "$opki/revoked.key" -status_file "$work/revoked.ocsp"
wait_for_line "$work/s_server.log" ACCEPT "$SPAWN_PID" 5 && pass || fail "openssl s_server did not start"
run cert-stapled 1 10000 cert --servername derp.test "${ca[@]}" "127.0.0.1:$sport"
rev_line cert-stapled "revoked (stapled OCSP response): on TIME, reason keyCompromise (thisUpdate TIME)"
contains cert-stapled out "(the server's own stapled OCSP response)"

# ---- no responder: no evidence, never "good" -------------------------------------------------
run cert-no-responder 0 10000 cert --derp-map good.hujson "${ca[@]}" --region 900
contains cert-no-responder out "revocation: not-checked: the OCSP responder $ocsp_url gave no answer: "
run diag-no-responder 0 15000 diagnose --derp-map good.hujson "${ca[@]}" 900
contains diag-no-responder out "  skip revocation         not checked: the OCSP responder $ocsp_url gave no answer: "

finish
