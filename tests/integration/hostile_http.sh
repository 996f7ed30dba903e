#!/bin/bash
# Hostile --derp-map URLs and a hostile LocalAPI (issue #13, fault 3 and the suite): a
# 100 MB map, an endless chunked body, a gzip bomb, a trickle, a redirect loop, an https://
# URL redirected to http://, file://, ftp://, gopher:// and javascript:, an HTML page full of
# escapes; tailscaled's LocalAPI answering invalid JSON, 100 MB, 100000 nested arrays,
# nothing at all, or one byte at a time. Servers: tests/tools/hostile_http.c and
# tests/tools/fake_localapi.c. Every case asserts the exit code, a named error, completion
# within --timeout + 1 s, and nothing raw on the terminal (lib/hostile.sh). Loopback only.
set -u
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C.UTF-8
. "$(dirname "$0")/lib/derp.sh"
. "$(dirname "$0")/lib/hostile.sh"

T=2
LIMIT=$(((T + 1) * 1000))
ca=(--ca-file pki/ca.pem)
head -c 10000000 /dev/zero | gzip -9 >"$work/bomb.gz"
start_tool http '^ready' "$TOOLS/hostile_http" --cert "$work/pki/derp-chain.pem" --key "$work/pki/derp.key" \
	--gzip-file "$work/bomb.gz" || exit 1
read -r _ HP SP <"$work/http.ready"
H=http://127.0.0.1:$HP
S=https://127.0.0.1:$SP

# The baseline: the same server's good map over https (and its plain-http warning).
hostile url-good 0 $LIMIT "clients use 1 region with 1 node" validate "${ca[@]}" --timeout ${T}s "$S/map.json"
hostile url-plain-http 0 $LIMIT "derpcheck: warning: $H/map.json is fetched over plain http://: anyone on the path can change the map; serve it over https://" \
	validate --timeout ${T}s "$H/map.json"
hostile url-plain-http-ping 1 $LIMIT "derpcheck: warning: $H/map.json is fetched over plain http://" \
	ping --derp-map "$H/map.json" --timeout ${T}s -c 1 900

# Size, encoding and time limits.
hostile url-100mb 2 $LIMIT "the response is larger than 4194304 bytes; that is not a DERP map" validate "${ca[@]}" --timeout ${T}s "$S/big"
hostile url-chunked 2 $LIMIT "the response is larger than 4194304 bytes; that is not a DERP map" validate "${ca[@]}" --timeout ${T}s "$S/chunked"
hostile url-gzip-bomb 1 $LIMIT 'this does not look like JSON at all; it starts with: \x1f\x8b' validate "${ca[@]}" --timeout ${T}s "$S/gzip-bomb"
hostile url-trickle 2 $LIMIT "hint: no complete answer within 2000 ms" validate "${ca[@]}" --timeout ${T}s "$S/trickle"
hostile url-html 1 $LIMIT 'it starts with: \x1b[2J\x1b[H\x1b]0;pwned\x07<html><body>' validate "${ca[@]}" --timeout ${T}s "$S/html"
hostile url-html-json 1 $LIMIT "" --format json validate "${ca[@]}" --timeout ${T}s "$S/html"
json_valid url-html-json

# Redirects: a loop, https to http (refused: the map would travel in clear while the
# report names the https URL), and schemes that are not HTTP at all.
hostile url-loop 2 $LIMIT "more than 5 redirects" validate "${ca[@]}" --timeout ${T}s "$S/loop"
hostile url-https-to-http 2 $LIMIT "$S/to-http: the server redirects to $H/map.json: derpcheck does not follow a redirect from https:// to plain http://" \
	validate "${ca[@]}" --timeout ${T}s "$S/to-http"
hostile url-https-to-http-ping 2 $LIMIT "does not follow a redirect from https:// to plain http://" \
	ping --derp-map "$S/to-http" "${ca[@]}" --timeout ${T}s -c 1 900
hostile url-http-to-https 0 $LIMIT "clients use 1 region with 1 node" validate "${ca[@]}" --timeout ${T}s "$H/to-https"
for scheme in file ftp gopher scheme; do
	hostile "url-to-$scheme" 2 $LIMIT "the server redirects to " validate "${ca[@]}" --timeout ${T}s "$S/to-$scheme"
	contains "url-to-$scheme" err "derpcheck follows redirects only to https:// (and to http:// from an http:// URL)"
	hostile "url-http-to-$scheme" 2 $LIMIT "derpcheck follows redirects only to https:// (and to http:// from an http:// URL)" \
		validate --timeout ${T}s "$H/to-$scheme"
done
grep -q "root:" "$work/url-to-file.out" "$work/url-http-to-file.out" && fail "url-to-file: /etc/passwd was read" || pass

# ---- LocalAPI (status) ----------------------------------------------------------------------
sock=$work/tailscaled.sock
# localapi NAME STATUS-SPEC: (re)start fake_localapi answering status with SPEC.
localapi() {
	[ -n "${lapi_pid:-}" ] && kill "$lapi_pid" 2>/dev/null && wait "$lapi_pid" 2>/dev/null
	start_tool "$1" '^ready$' "$TOOLS/fake_localapi" --socket "$sock" --status "$2"
	lapi_pid=$TOOL_PID
}
printf '{"BackendState": "Running", "Peer": {\033[2J\377 "x": }' >"$work/invalid.json"
localapi lapi-invalid "$work/invalid.json"
hostile lapi-invalid 2 $LIMIT "not valid JSON" status --socket "$sock" --timeout ${T}s
localapi lapi-huge huge
hostile lapi-huge 2 $LIMIT "larger than derpcheck's limit" status --socket "$sock" --timeout ${T}s
localapi lapi-deep deep
hostile lapi-deep 2 $LIMIT "not valid JSON: nesting deeper than 64 levels" status --socket "$sock" --timeout ${T}s
localapi lapi-hang hang
hostile lapi-hang 2 $LIMIT "tailscaled did not answer GET /localapi/v0/status within 2000 ms" status --socket "$sock" --timeout ${T}s
localapi lapi-trickle slow
hostile lapi-trickle 2 2000 "tailscaled did not answer GET /localapi/v0/status within 1000 ms" status --socket "$sock" --timeout 1s

finish
