#!/bin/bash
# CLI tests: the real binary on fixture files; exact output lines and exit codes.
set -u
. "$(dirname "$0")/lib.sh"

# --- validate: files, stdin, formats ------------------------------------------------
run validate-nat-vps 0 -- validate tests/fixtures/nat-vps-policy.hujson
run validate-example 0 -- validate examples/policy.hujson
run validate-broken 1 -- validate tests/fixtures/broken-policy.hujson
run validate-insecure 0 -- validate tests/fixtures/insecure-policy.hujson
run validate-syntax 1 -- validate tests/fixtures/syntax-error.hujson
run validate-warnings 0 -- validate tests/fixtures/warnings-only.json
run validate-strict 1 -- validate --strict tests/fixtures/warnings-only.json
run validate-stdin 0 --stdin tests/fixtures/nat-vps-policy.hujson -- validate -
run validate-embedded 0 -- validate embedded:
run validate-json 1 -- --format json validate tests/fixtures/broken-policy.hujson tests/fixtures/warnings-only.json
run validate-json-clean 0 -- validate --format=json tests/fixtures/nat-vps-policy.hujson
run validate-quiet 0 -- -q validate tests/fixtures/nat-vps-policy.hujson
run validate-missing 2 -- validate tests/fixtures/does-not-exist.json
run validate-missing-and-good 2 -- validate tests/fixtures/does-not-exist.json tests/fixtures/nat-vps-policy.hujson
run validate-no-args 2 -- validate
run validate-bad-scheme 2 -- validate ftp://127.0.0.1/map.json

# --- Headscale: config.yaml and derp.paths files (tests/fixtures/headscale/) ------------
# Tailscale's default map in derp.urls is the embedded snapshot here (lib.sh empties
# DERPCHECK_DEFAULT_MAP_URL); the one other URL is a closed loopback port.
hs=tests/fixtures/headscale
run hs-embedded 0 -- validate $hs/embedded.yaml
RUN_SED='s/after [0-9]* ms/after N ms/g' run hs-paths-and-urls 0 -- validate $hs/paths-and-urls.yaml
run hs-seed 0 -- validate $hs/seed-derp.yaml
run hs-collision 1 -- validate $hs/collision.yaml
run hs-server-url-http 1 -- validate $hs/server-url-http.yaml
run hs-server-url-local 1 -- validate $hs/server-url-local.yaml
run hs-server-url-private 0 -- validate $hs/server-url-private.yaml
run hs-stun-missing 1 -- validate $hs/stun-missing.yaml
run hs-stun-loopback 1 -- validate $hs/stun-loopback.yaml
run hs-documentation-addresses 1 -- validate $hs/documentation-addresses.yaml
run hs-no-embedded-region 1 -- validate $hs/no-embedded-region.yaml
run hs-omit-default 1 -- validate $hs/omit-default.yaml
run hs-keys 1 -- validate $hs/keys.yaml
run hs-config-types 1 -- validate $hs/config-types.yaml
run hs-multi-node 0 -- validate $hs/multi-node.yaml
run hs-yaml-keys 1 -- validate $hs/yaml-keys-derp.yaml
run hs-hostname-url 1 -- validate $hs/hostname-url-derp.yaml
run hs-yaml-traps 1 -- validate $hs/yaml-traps-derp.yaml
run hs-tab 1 -- validate $hs/tab-derp.yaml
run hs-json 1 -- --format json validate $hs/keys.yaml
run hs-stdin 0 --stdin $hs/seed-derp.yaml -- validate -
run hs-strict 1 -- validate --strict $hs/multi-node.yaml
# --map-format overrides the guess: YAML read as JSON, a config read as a DERP map, strict JSON.
run map-format-json-on-yaml 1 -- validate --map-format json $hs/seed-derp.yaml
run map-format-yaml-on-config 0 -- validate --map-format yaml $hs/embedded.yaml
run map-format-headscale-on-map 1 -- validate --map-format=headscale $hs/seed-derp.yaml
run map-format-json-strict 1 -- validate --map-format json tests/fixtures/nat-vps-policy.hujson
run map-format-bad 2 -- validate --map-format toml $hs/seed-derp.yaml
# A network command takes the config as --derp-map, says how the map was built, and stops
# at the unknown region before any traffic.
run hs-stun-unknown-region 2 -- stun --derp-map $hs/embedded.yaml --region nope

# --- CLI vocabulary -------------------------------------------------------------------
run no-command 2 --
run unknown-command 2 -- validat
run unknown-global-flag 2 -- --formt json validate x
run unknown-flag 2 -- validate --stirct x
run bad-format 2 -- --format jsn validate x
run bad-timeout 2 -- validate --timeout 5 --timeout soon x
run both-families 2 -- validate -4 -6 x
run help-diagnose 0 -- help diagnose
run debug-help 0 -- debug --help
# exporter: usage errors stop before any map, socket or thread
run help-exporter 0 -- help exporter
run exporter-no-map 2 -- exporter --listen 127.0.0.1:0
run exporter-bad-listen 2 -- exporter --derp-map tests/fixtures/nat-vps-policy.hujson --listen localhost
run exporter-bad-interval 2 -- exporter --derp-map tests/fixtures/nat-vps-policy.hujson --interval 10ms
run exporter-format 2 -- --format json exporter --derp-map tests/fixtures/nat-vps-policy.hujson
run exporter-bad-region 2 -- exporter --derp-map tests/fixtures/nat-vps-policy.hujson 901
run diagnose-all-and-region 2 -- diagnose --derp-map tests/fixtures/nat-vps-policy.hujson --all 900
run diagnose-bad-deadline 2 -- diagnose --derp-map tests/fixtures/nat-vps-policy.hujson --all --deadline never
# netcheck: only usage errors here (they stop before any map or network use)
run help-netcheck 0 -- help netcheck
run netcheck-args 2 -- netcheck somehost
run netcheck-bad-bind 2 -- netcheck --bind-address 1.2.3
run netcheck-bad-every 2 -- netcheck --every soon
run netcheck-bind-family 2 -- netcheck -6 --bind-address 127.0.0.1
run json-line-elsewhere 2 -- --format json-line validate x
run prometheus-elsewhere 2 -- --format prometheus validate x
run help 0 -- --help
run help-validate 0 -- help validate
run help-ping 0 -- help ping
# ping load modes: usage errors (before any map or network use)
run ping-rate-and-flood 2 -- ping --rate 1000 --flood 900
run ping-rate-and-interval 2 -- ping --rate 1000 -i 1ms 900
run ping-flood-and-count 2 -- ping --flood -c 10 900
run ping-bad-rate 2 -- ping --rate 0 900
run ping-rate-too-high 2 -- ping --rate 1000001 900
run validate-help 0 -- validate --help
run version 0 -- --version
run help-cert 0 -- help cert
run cert-no-args 2 -- cert
run cert-two-hosts 2 -- cert a.test b.test
run cert-bad-port 2 -- cert derp.test:99999
run cert-certdir-no-hostname 2 -- cert --certdir /tmp

# --- stun: usage (no network: these fail before any probe) ------------------------------
run help-stun 0 -- help stun
run stun-no-args 2 -- stun
run stun-bad-style 2 -- stun --style classic 127.0.0.1
run stun-host-and-region 2 -- stun --region 900 127.0.0.1
run stun-map-without-region 2 -- stun --derp-map tests/fixtures/nat-vps-policy.hujson 127.0.0.1
run stun-bad-bind 2 -- stun --bind-address 127.0.0.1:5 127.0.0.1
run stun-family-clash 2 -- stun -6 --bind-address 127.0.0.1 127.0.0.1
run stun-bind-family 2 -- stun --bind-address 127.0.0.1 ::1
run stun-unknown-region 2 -- stun --derp-map tests/fixtures/nat-vps-policy.hujson --region myvsp

# --- colour: only on a terminal, never with NO_COLOR, always with --color always ----
case_begin colour
(cd "$root" && "$DERPCHECK" --color always validate tests/fixtures/warnings-only.json >"$work/color.out" 2>&1)
if grep -q "$(printf '\033')\[" "$work/color.out"; then pass; else fail "--color always: no escape codes"; fi
(cd "$root" && "$DERPCHECK" --color never validate tests/fixtures/warnings-only.json >"$work/nocolor.out" 2>&1)
if grep -q "$(printf '\033')" "$work/nocolor.out"; then fail "--color never: escape codes"; else pass; fi
if command -v script >/dev/null 2>&1; then
	(cd "$root" && TERM=xterm NO_COLOR= script -qec "$DERPCHECK validate tests/fixtures/warnings-only.json" /dev/null >"$work/tty.out" 2>&1)
	if grep -q "$(printf '\033')\[" "$work/tty.out"; then pass; else fail "auto on a TTY: no colour"; fi
	(cd "$root" && TERM=xterm NO_COLOR=1 script -qec "$DERPCHECK validate tests/fixtures/warnings-only.json" /dev/null >"$work/tty-nc.out" 2>&1)
	if grep -q "$(printf '\033')" "$work/tty-nc.out"; then fail "NO_COLOR on a TTY: colour"; else pass; fi
else
	fail "script(1) from bsdutils is missing: cannot test colour on a TTY"
fi

# --- server: deployments from files (no running derper is looked at) -------------------
# The fixtures are copied so the private keys can be mode 600 (as acme.sh writes them; git
# keeps 644) and @DIR@ in the unit and inspect files names the copy. What varies between
# machines and runs is masked: the copy's path and this machine's addresses.
srv=$work/srv
cp -r "$root/tests/fixtures/server" "$srv"
chmod 600 "$srv"/seed/certs/*.key "$srv"/good/certs/*.key
sed -i "s|@DIR@|$srv|g" "$srv/mistakes/derper-port.service" "$srv/mistakes/inspect-seed.json"
export DERPCHECK_NOW=1798761600 # 2027-01-01, inside the fixture certificates' validity
RUN_SED="s|$srv|SRV|g; s|compared with .*|compared with ADDRESSES|"
S="--ca-file $srv/ca.pem --derp-map $srv/seed/policy.hujson"
run server-seed 1 -- server --compose "$srv/seed/docker-compose.yml" $S
run server-seed-json 1 -- server --format json --compose "$srv/seed/docker-compose.yml" $S
run server-good 0 -- server --compose "$srv/good/docker-compose.yml" $S
run server-stun-tcp 1 -- server --compose "$srv/mistakes/stun-tcp.yml" $S
run server-derp-udp 1 -- server --compose "$srv/mistakes/derp-udp.yml" $S
run server-host-network 1 -- server --compose "$srv/mistakes/host-network.yml" $S
run server-plain-http 1 -- server --compose "$srv/mistakes/plain-http.yml" $S
run server-env-vars 2 -- server --compose "$srv/mistakes/env-vars.yml" $S
run server-verify-clients 1 -- server --compose "$srv/mistakes/verify-clients.yml" $S
run server-mesh-key 1 -- server --compose "$srv/mistakes/mesh-key.yml" $S
run server-canport80 1 -- server --compose "$srv/mistakes/canport80.yml" --ca-file "$srv/ca.pem" --derp-map "$srv/mistakes/canport80.hujson"
run server-unit-bool 1 -- server --unit "$srv/mistakes/derper-bool.service" $S
run server-unit-port 1 -- server --unit "$srv/mistakes/derper-port.service" --ca-file "$srv/ca.pem" --derp-map "$srv/mistakes/map-443.hujson"
run server-inspect 1 -- server --inspect "$srv/mistakes/inspect-seed.json" $S
run server-no-map 0 -- server --compose "$srv/good/docker-compose.yml" --ca-file "$srv/ca.pem"
run server-two-files 2 -- server --compose a.yml --unit b.service
run server-bad-pid 2 -- server --pid 0
run server-missing-file 2 -- server --compose "$srv/none.yml"
run server-no-service 2 -- server --compose "$srv/seed/docker-compose.yml" --service relay
run help-server 0 -- help server
unset RUN_SED DERPCHECK_NOW

# --- maps over HTTPS from a local openssl s_server (loopback only) --------------------
. "$root/tests/lib/pki.sh"
pki_localhost "$work/pki"
mkdir -p "$work/www" && cp tests/fixtures/nat-vps-policy.hujson "$work/www/policy.hujson"
stop_server() { spawn_stop "$server_pid"; }
port=""
for try in 1 2 3 4 5; do
	p=$(free_port tcp)
	spawn_to "$work/s_server.log" "$work/s_server.err" env -C "$work/www" openssl s_server -quiet -WWW \
		-accept "127.0.0.1:$p" -cert "$work/pki/server.pem" -key "$work/pki/server.key"
	server_pid=$SPAWN_PID
	# Wait for the port to accept (deadline 5 s), not a fixed sleep.
	deadline=$(($(now_ms) + 5000))
	while [ "$(now_ms)" -le "$deadline" ] && kill -0 "$server_pid" 2>/dev/null; do
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
		sleep 0.05
	done
	[ -n "$port" ] && break
	stop_server
done
if [ -z "$port" ]; then
	fail "could not start openssl s_server on loopback"
else
	url="https://127.0.0.1:$port/policy.hujson"
	sed_url() { sed "s|$url|URL|g" "$work/$1" >"$work/$1.tmp" && mv "$work/$1.tmp" "$work/$1"; }
	case_begin https-ok
	(cd "$root" && "$DERPCHECK" validate --ca-file "$work/pki/ca.pem" --timeout 5s "$url" >"$work/https.out" 2>"$work/https.err"); rc=$?
	[ $rc = 0 ] && pass || fail "https with --ca-file: exit $rc"; cat "$work/https.err" >&2
	contains https-ok https.out "  source: URL"
	case_begin https-untrusted
	(cd "$root" && "$DERPCHECK" validate --timeout 5s "$url" >"$work/https-untrusted.out" 2>"$work/https-untrusted.err"); rc=$?
	[ $rc = 2 ] && pass || fail "https without the CA: exit $rc, want 2"
	contains https-untrusted https-untrusted.err "derpcheck: $url: fetch failed:"
	contains https-untrusted https-untrusted.err "hint: the server's certificate did not verify"
	case_begin https-insecure
	(cd "$root" && "$DERPCHECK" validate --insecure "$url" >"$work/https-insecure.out" 2>"$work/https-insecure.err"); rc=$?
	[ $rc = 0 ] && pass || fail "https --insecure: exit $rc, want 0"
	contains https-insecure https-insecure.err "warning: --insecure"
	# openssl s_server -WWW answers "200 ok" with an error text for a missing file.
	case_begin https-notjson
	(cd "$root" && "$DERPCHECK" validate --ca-file "$work/pki/ca.pem" "https://127.0.0.1:$port/missing.json" >"$work/https-notjson.out" 2>"$work/https-notjson.err"); rc=$?
	[ $rc = 1 ] && pass || fail "https not JSON: exit $rc, want 1"
	contains https-notjson https-notjson.out "missing.json:1:1: error: expected a value"
	contains https-notjson https-notjson.out "hint: this does not look like JSON at all; it starts with: Error opening 'missing.json'"
	stop_server
fi
# A closed loopback port fails fast with a clear error.
case_begin refused
(cd "$root" && "$DERPCHECK" validate --timeout 2s http://127.0.0.1:9/map.json >"$work/refused.out" 2>"$work/refused.err"); rc=$?
[ $rc = 2 ] && pass || fail "refused: exit $rc, want 2"
contains refused refused.err "hint: nothing accepted the connection"

finish
