#!/bin/bash
# derper behind real proxies: Debian's nginx, Caddy and HAProxy on loopback in front of
# Tailscale's real derper v1.34.2 (tests/lib/peers.sh), each in a configuration that works
# and in the broken ones people write (tests/fixtures/proxies/). For every case:
#   - derpcheck diagnose: the verdict lines (status and summary), the cause and the fix,
#     and the exit status;
#   - derpcheck ping over Upgrade: DERP and over WebSocket (--transport), and auto;
#   - Tailscale's own Go client (derpclient, Upgrade: DERP) through the same proxy: where it
#     fails, diagnose must have said why.
# Each proxy runs in the foreground as a process of this test (pid and log in $work),
# started on a free port of 127.0.0.70 and stopped by its PID; no system service is
# started or touched. nginx, caddy and haproxy come from scripts/deps.sh check.
set -u
. "$(dirname "$0")/lib/derp.sh"
. "$root/tests/lib/peers.sh"
export DERPCHECK_DEFAULT_MAP_URL=
export LC_ALL=C # ASCII marks (ok, FAIL, warn) in the checklists compared below
peers_require
for tool in nginx caddy haproxy; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		fail "$tool is not installed: run scripts/deps.sh check (as root) to install nginx, caddy and haproxy"
		finish
		exit 1
	fi
done

fixtures=$root/tests/fixtures/proxies
bind=127.0.0.70
# A leaf valid for 30 days: the certificate line stays quiet (the default PKI expires tomorrow).
DAYS=30 "$root/tests/tools/mkpki-derp.sh" "$work/pki30"
pki=$work/pki30
derper_certdir "$work/certs" "$pki/derp-chain.pem" "$pki/derp.key"
cat "$pki/derp-chain.pem" "$pki/derp.key" >"$work/haproxy.pem"

derper_start tls 127.0.0.61 "$work/certs" || { finish; exit 1; }
tls=127.0.0.61:$DERPER_PORT
# letsencrypt mode on a port other than 443: derper serves plain HTTP (cmd/derper/derper.go).
derper_start plain 127.0.0.62 "$work/certs" -certmode letsencrypt || { finish; exit 1; }
plain=127.0.0.62:$DERPER_PORT
derper_start tls2 127.0.0.63 "$work/certs" || { finish; exit 1; }
tls2=127.0.0.63:$DERPER_PORT

# proxy_start NAME FIXTURE: fill in the fixture, start the proxy it is for on a free port of
# $bind, wait until the port accepts (10 s at most); sets PPORT.
proxy_start() {
	local name=$1 fixture=$2 dir=$work/proxy-$1 port pid deadline conf
	mkdir -p "$dir"
	port=$(free_port tcp)
	conf=$dir/${fixture}
	sed -e "s|@WORK@|$dir|g" -e "s|@LISTEN@|$bind:$port|g" -e "s|@BIND@|$bind|g" -e "s|@PORT@|$port|g" \
		-e "s|@PLAIN@|$plain|g" -e "s|@TLS2@|$tls2|g" -e "s|@TLS@|$tls|g" -e "s|@CERT@|$pki/derp-chain.pem|g" \
		-e "s|@KEY@|$pki/derp.key|g" -e "s|@PEM@|$work/haproxy.pem|g" -e "s|@CA@|$pki/ca.pem|g" \
		"$fixtures/$fixture" >"$conf"
	case $fixture in
	nginx-*) nginx -p "$dir" -c "$conf" -g 'daemon off;' >"$dir/out.log" 2>&1 </dev/null & ;;
	caddy-*) XDG_CONFIG_HOME=$dir XDG_DATA_HOME=$dir HOME=$dir caddy run --config "$conf" --adapter caddyfile \
			 >"$dir/out.log" 2>&1 </dev/null & ;;
	haproxy-*) haproxy -f "$conf" -db >"$dir/out.log" 2>&1 </dev/null & ;;
	esac
	pid=$!
	echo "$pid" >"$dir/pid"
	server_pids="$server_pids $pid"
	eval "proxy_pid_${name//-/_}=$pid"
	deadline=$(($(now_ms) + 10000))
	until (exec 3<>"/dev/tcp/$bind/$port") 2>/dev/null; do
		if ! kill -0 "$pid" 2>/dev/null || [ "$(now_ms)" -gt "$deadline" ]; then
			fail "$name: the proxy did not start (log below)"
			cat "$dir/out.log" "$dir/error.log" 2>/dev/null >&2
			return 1
		fi
		sleep 0.02
	done
	PPORT=$port
}

proxy_stop() {
	local pid
	eval "pid=\${proxy_pid_${1//-/_}:-}"
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# check NAME STATUS ID SUMMARY: diagnose printed this checklist line.
check() {
	contains "$1" out "$(printf '  %-4s %-18s %s' "$2" "$3" "$4")"
}

# go_client NAME WANT-EXIT: Tailscale's derphttp client pings A -> B -> A through the proxy.
go_client() {
	local got=0
	"$PEERS/derpclient" -ca "$pki/ca.pem" -resolve-to "$bind" -n 3 -i 50ms -timeout 2s -q \
		"https://derp.test:$PPORT/derp" >"$work/$1.out" 2>"$work/$1.err" || got=$?
	if [ "$got" = "$2" ]; then pass; else
		fail "$1: Tailscale's client exited $got, want $2"
		cat "$work/$1.out" "$work/$1.err" >&2
	fi
}

# case_start NAME FIXTURE: the proxy, and a map whose node 900a is the proxy's port.
case_start() {
	proxy_start "$1" "$2" || return 1
	write_map "map-$1.json" "$(node 900a derp.test "$bind" none "$PPORT")"
}

diagnose() { run "$1-diagnose" "$2" 30000 diagnose --derp-map "map-$1.json" --ca-file pki30/ca.pem 900; }
ping_with() { run "$1-ping-$2" "$3" 10000 ping --derp-map "map-$1.json" --ca-file pki30/ca.pem -c 3 -i 50ms --transport "$2" 900; }

# ---- nginx, the working configuration ------------------------------------------------------
case_start nginx-good nginx-good.conf
diagnose nginx-good 0
check nginx-good-diagnose ok proxy "nginx/1.22.1 terminates TLS (its Server header; no derpkey certificate), TLSv1.2, certificate issued by CN = derpcheck test intermediate CA; derper answers behind it in plain HTTP"
check nginx-good-diagnose ok http-derp "GET /derp reaches derper at /derp (426 \"DERP requires connection upgrade\")"
check nginx-good-diagnose ok derp-upgrade "101 Switching Protocols from derper through the proxy, server key nodekey:"
check nginx-good-diagnose ok websocket "101 with the derp subprotocol; derper's ServerKey arrives in binary messages"
check nginx-good-diagnose ok http-latency-check "GET /derp/latency-check answered 200 from derper"
contains nginx-good-diagnose out "DERP path: ok (1 of 1 nodes relay)"
ping_with nginx-good derp 0
ping_with nginx-good websocket 0
contains nginx-good-ping-websocket out ", WebSocket, connected in"
contains nginx-good-ping-websocket out "3 packets sent, 3 received, 0% packet loss"
go_client nginx-good-go 0
run nginx-good-prom 0 30000 --format prometheus diagnose --derp-map map-nginx-good.json --ca-file pki30/ca.pem 900
contains nginx-good-prom out 'derpcheck_diagnose_upgrade_ok{region="900",region_code="test",node="900a",transport="derp"} 1'
contains nginx-good-prom out 'derpcheck_diagnose_upgrade_ok{region="900",region_code="test",node="900a",transport="websocket"} 1'
contains nginx-good-prom out 'derpcheck_diagnose_front_info{region="900",region_code="test",node="900a",front="proxy",proxy="nginx",transport="derp",server_keys="1"} 1'
run nginx-good-ws 0 30000 --format json diagnose --transport websocket --derp-map map-nginx-good.json --ca-file pki30/ca.pem 900
json nginx-good-ws '.nodes[0].transport == "websocket" and .nodes[0].proxy.kind == "nginx" and .nodes[0].proxy.derp_upgrade and .nodes[0].proxy.websocket'
json nginx-good-ws '(.nodes[0].checks[] | select(.check == "relay") | .status == "ok")'
proxy_stop nginx-good

# ---- nginx without the Upgrade headers ------------------------------------------------------
case_start nginx-no-upgrade nginx-no-upgrade.conf
diagnose nginx-no-upgrade 1
check nginx-no-upgrade-diagnose ok http-derp "GET /derp reaches derper at /derp (426 \"DERP requires connection upgrade\")"
check nginx-no-upgrade-diagnose FAIL derp-upgrade "Upgrade: DERP: HTTP 426 Upgrade Required (\"DERP requires connection upgrade\") from derper"
contains nginx-no-upgrade-diagnose out "       cause: nginx/1.22.1 passes GET /derp to derper but drops its Upgrade header: derper answered HTTP 426 Upgrade Required (\"DERP requires connection upgrade\") from derper as to a plain GET"
contains nginx-no-upgrade-diagnose out "fix:   pass GET /derp to derper with its Upgrade and Connection headers (derper switches protocols only when it sees Upgrade: DERP or websocket)"
contains nginx-no-upgrade-diagnose out '              nginx: in the location for derper: proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection "upgrade"; proxy_set_header Host $host; proxy_buffering off; proxy_read_timeout 3600s; (nginx speaks HTTP/1.0 upstream and drops Upgrade unless told)'
check nginx-no-upgrade-diagnose warn websocket "Upgrade: websocket: HTTP 426 Upgrade Required (\"DERP requires connection upgrade\") from derper"
contains nginx-no-upgrade-diagnose out "DERP path: broken (0 of 1 nodes relay; 900a: derp-upgrade)"
# cert gives the same verdict under the certificate's, and exits 1 for it
run nginx-no-upgrade-cert 1 20000 cert --ca-file pki30/ca.pem --servername derp.test "$bind:$PPORT"
contains nginx-no-upgrade-cert out "result: every client accepts it"
contains nginx-no-upgrade-cert out "  FAIL derp-upgrade       Upgrade: DERP: HTTP 426 Upgrade Required (\"DERP requires connection upgrade\") from derper"
contains nginx-no-upgrade-cert out "result: 1 problem in front of derper: Tailscale's clients cannot relay through this port"
run nginx-no-upgrade-cert-json 1 20000 --format json cert --ca-file pki30/ca.pem --servername derp.test "$bind:$PPORT"
json nginx-no-upgrade-cert-json '.targets[0].proxy.kind == "nginx" and .targets[0].proxy.derp_upgrade == false and ([.targets[0].proxy.checks[] | select(.status == "fail") | .code] == ["proxy-strips-upgrade"])'
go_client nginx-no-upgrade-go 2
contains nginx-no-upgrade-go err "DERP requires connection upgrade"
ping_with nginx-no-upgrade derp 1
ping_with nginx-no-upgrade websocket 1
proxy_stop nginx-no-upgrade

# ---- nginx with location /derp/ --------------------------------------------------------------
case_start nginx-path nginx-path.conf
diagnose nginx-path 1
check nginx-path-diagnose FAIL http-derp "GET /derp: HTTP 301 Moved Permanently to https://derp.test:$PPORT/derp/ from nginx/1.22.1"
contains nginx-path-diagnose out "       cause: nginx/1.22.1 redirects /derp to /derp/: its route is for /derp/ with a trailing slash, so /derp itself never reaches derper, and Tailscale's clients do not follow redirects"
contains nginx-path-diagnose out "       fix:   send the exact path /derp (and /derp/probe, /derp/latency-check, /generate_204) to derper unchanged: Tailscale's clients always ask for /derp and have no setting for another path"
contains nginx-path-diagnose out "              nginx: proxy everything to derper: location / { proxy_pass http://DERPER; ... } (no path after the address: location /derp/ answers /derp with a 301, and proxy_pass http://DERPER/; rewrites the path)"
check nginx-path-diagnose FAIL derp-upgrade "Upgrade: DERP: HTTP 301 Moved Permanently to https://derp.test:$PPORT/derp/ from nginx/1.22.1"
contains nginx-path-diagnose out "DERP path: broken (0 of 1 nodes relay; 900a: http-derp)"
go_client nginx-path-go 2
contains nginx-path-go err "301 Moved Permanently"
proxy_stop nginx-path

# ---- a WebSocket-only path (what cloudflared passes) -----------------------------------------
case_start ws-only nginx-websocket-only.conf
diagnose ws-only 1
check ws-only-diagnose FAIL derp-upgrade "Upgrade: DERP: HTTP 426 Upgrade Required (\"DERP requires connection upgrade\") from derper"
contains ws-only-diagnose out "       cause: only WebSocket upgrades pass: Upgrade: DERP (what tailscaled sends) got HTTP 426 Upgrade Required (\"DERP requires connection upgrade\") from derper, while Upgrade: websocket reached derper; the proxy forwards websocket as an upgrade and any other Upgrade value not at all"
contains ws-only-diagnose out "fix:   tailscaled connects with Upgrade: DERP; only browser (wasm) clients use WebSocket: the path to derper must pass every Upgrade, not only websocket, or clients must reach derper directly"
contains ws-only-diagnose out '              nginx: proxy_set_header Upgrade $http_upgrade; (not a map that keeps only websocket) with proxy_http_version 1.1; and proxy_set_header Connection "upgrade";'
check ws-only-diagnose ok websocket "101 with the derp subprotocol; derper's ServerKey arrives in binary messages"
go_client ws-only-go 2
contains ws-only-go err "DERP requires connection upgrade"
ping_with ws-only derp 1
ping_with ws-only websocket 0
ping_with ws-only auto 1
contains ws-only-ping-auto out ", WebSocket (auto: the DERP upgrade failed), connected in"
contains ws-only-ping-auto out "3 packets sent, 3 received, 0% packet loss"
contains ws-only-ping-auto err "derpcheck: A: node 900a relays only over WebSocket: the server answered the DERP upgrade with HTTP 426 Upgrade Required, not 101 Switching Protocols: \"DERP requires connection upgrade\""
contains ws-only-ping-auto err "  hint: tailscaled connects with Upgrade: DERP only, so it cannot use this node; browser clients can."
# netcheck --check-derp with --transport: the DERP handshake per region, and which transport carried it
# (STUN from derper itself on a STUNOnly node, so netcheck has a home region to report)
write_map map-ws-only-stun.json "$(node 900a derp.test "$bind" none "$PPORT")" \
	"{\"Name\":\"900s\",\"RegionID\":900,\"HostName\":\"derp.test\",\"IPv4\":\"127.0.0.62\",\"IPv6\":\"none\",\"STUNOnly\":true,\"STUNPort\":$derper_stun_plain}"
run ws-only-netcheck 0 15000 netcheck --no-portmap --derp-map map-ws-only-stun.json --ca-file pki30/ca.pem --check-derp --transport auto
contains ws-only-netcheck out "		  DERP handshake: admitted, WebSocket (auto: the DERP upgrade failed)"
contains ws-only-netcheck out "warning: region 900 node 900a relays only over WebSocket: the DERP upgrade tailscaled uses fails there"
run ws-only-netcheck-derp 0 15000 --format json netcheck --no-portmap --derp-map map-ws-only-stun.json --ca-file pki30/ca.pem --check-derp --transport derp
json ws-only-netcheck-derp '.derpcheck.https[0].derp_handshake.ok == false and (.derpcheck.https[0].derp_handshake.error | contains("426"))'
proxy_stop ws-only

# ---- Caddy, the working configuration --------------------------------------------------------
case_start caddy-good caddy-good.Caddyfile
diagnose caddy-good 0
check caddy-good-diagnose ok proxy "Caddy terminates TLS (its Server header; no derpkey certificate), TLSv1.3, certificate issued by CN = derpcheck test intermediate CA; derper answers behind it in plain HTTP"
check caddy-good-diagnose ok proxy-alpn "offered h2,http/1.1: the proxy chose h2; Tailscale offers none and speaks HTTP/1.1"
check caddy-good-diagnose ok derp-upgrade "101 Switching Protocols from derper through the proxy, server key nodekey:"
check caddy-good-diagnose ok websocket "101 with the derp subprotocol; derper's ServerKey arrives in binary messages"
run caddy-good-cert 0 20000 cert --ca-file pki30/ca.pem --servername derp.test "$bind:$PPORT"
contains caddy-good-cert out "  ok   proxy              Caddy terminates TLS (its Server header; no derpkey certificate), TLSv1.3"
go_client caddy-good-go 0
ping_with caddy-good derp 0
ping_with caddy-good websocket 0
proxy_stop caddy-good

# ---- Caddy speaking HTTP/2 to derper ---------------------------------------------------------
case_start caddy-h2 caddy-h2.Caddyfile
diagnose caddy-h2 1
check caddy-h2-diagnose ok proxy "Caddy terminates TLS (its Server header; no derpkey certificate), TLSv1.3, certificate issued by CN = derpcheck test intermediate CA; derper answers behind it over TLS of its own"
check caddy-h2-diagnose ok http-derp "GET /derp reaches derper at /derp (426 \"DERP requires connection upgrade\")"
check caddy-h2-diagnose FAIL derp-upgrade "Upgrade: DERP: HTTP 502 Bad Gateway from Caddy"
contains caddy-h2-diagnose out "       cause: only WebSocket upgrades pass: Upgrade: DERP (what tailscaled sends) got HTTP 502 Bad Gateway from Caddy, while Upgrade: websocket reached derper; plain requests reach derper too, so the proxy cannot carry this one upgrade: it speaks HTTP/2 to derper (no Upgrade there) or knows only WebSocket upgrades"
contains caddy-h2-diagnose out "fix:   tailscaled connects with Upgrade: DERP; only browser (wasm) clients use WebSocket: the path to derper must pass every Upgrade, not only websocket, or clients must reach derper directly"
contains caddy-h2-diagnose out "              Caddy: speak HTTP/1.1 to derper: reverse_proxy ... { transport http { versions 1.1 } } (over HTTP/2 or h2c there is no Upgrade: Caddy then carries WebSocket only and answers other upgrades with 502)"
check caddy-h2-diagnose ok websocket "101 with the derp subprotocol; derper's ServerKey arrives in binary messages"
check caddy-h2-diagnose FAIL derp-handshake "failed at upgrade: http-status"
contains caddy-h2-diagnose out "       fix:   see derp-upgrade above: it names what refuses the upgrade and the lines to change"
go_client caddy-h2-go 2
contains caddy-h2-go err "GET failed"
ping_with caddy-h2 derp 1
ping_with caddy-h2 websocket 0
ping_with caddy-h2 auto 1
contains caddy-h2-ping-auto out ", WebSocket (auto: the DERP upgrade failed), connected in"
contains caddy-h2-ping-auto out "A: WebSocket because the DERP upgrade failed: the server answered the DERP upgrade with HTTP 502 Bad Gateway, not 101 Switching Protocols"
proxy_stop caddy-h2

# ---- HAProxy: TLS passthrough by SNI, and HTTP mode ------------------------------------------
case_start haproxy-tcp haproxy-tcp.cfg
diagnose haproxy-tcp 0
check haproxy-tcp-diagnose ok proxy "derper terminates TLS itself (its derpkey certificate follows the chain), TLSv1.3, certificate issued by CN = derpcheck test intermediate CA"
check haproxy-tcp-diagnose ok proxy-alpn "offered h2,http/1.1: derper chose h2; Tailscale offers none and speaks HTTP/1.1"
go_client haproxy-tcp-go 0
ping_with haproxy-tcp websocket 0
proxy_stop haproxy-tcp

case_start haproxy-http haproxy-http.cfg
diagnose haproxy-http 0
check haproxy-http-diagnose ok proxy "HAProxy terminates TLS (by the look of it: no Server header, header names in lower case; no derpkey certificate), TLSv1.3, certificate issued by CN = derpcheck test intermediate CA; derper answers behind it in plain HTTP"
check haproxy-http-diagnose ok derp-upgrade "101 Switching Protocols from derper through the proxy, server key nodekey:"
go_client haproxy-http-go 0
ping_with haproxy-http derp 0
ping_with haproxy-http websocket 0
proxy_stop haproxy-http

# ---- HAProxy in HTTP mode deleting the Upgrade header ----------------------------------------
case_start haproxy-strip haproxy-strip.cfg
diagnose haproxy-strip 1
check haproxy-strip-diagnose FAIL derp-upgrade "Upgrade: DERP: HTTP 426 Upgrade Required (\"DERP requires connection upgrade\") from derper"
contains haproxy-strip-diagnose out "       cause: HAProxy passes GET /derp to derper but drops its Upgrade header: derper answered HTTP 426 Upgrade Required (\"DERP requires connection upgrade\") from derper as to a plain GET"
contains haproxy-strip-diagnose out "fix:   pass GET /derp to derper with its Upgrade and Connection headers (derper switches protocols only when it sees Upgrade: DERP or websocket)"
contains haproxy-strip-diagnose out "              HAProxy: remove the rule that deletes Upgrade (http-request del-header Upgrade) and set timeout tunnel 1h in mode http; or use mode tcp with tcp-request inspect-delay 5s and use_backend ... if { req_ssl_sni -i derp.test } so derper keeps its own TLS"
go_client haproxy-strip-go 2
contains haproxy-strip-go err "DERP requires connection upgrade"
proxy_stop haproxy-strip

# ---- two unmeshed derpers behind one HAProxy, round-robin -------------------------------------
case_start haproxy-rr haproxy-rr.cfg
diagnose haproxy-rr 1
check haproxy-rr-diagnose ok proxy "derper terminates TLS itself (its derpkey certificate follows the chain), TLSv1.3, certificate issued by CN = derpcheck test intermediate CA"
check haproxy-rr-diagnose FAIL relay "A -> B -> A:"
if grep -qE '^       cause: [0-9]+ connections to this node met 2 different server keys: a load balancer spreads clients over several derpers' "$work/haproxy-rr-diagnose.out"; then pass; else fail "haproxy-rr: no multiple-keys cause"; cat "$work/haproxy-rr-diagnose.out" >&2; fi
contains haproxy-rr-diagnose out "       fix:   every connection to one map node must reach the same derper: give each derper its own map node (its own HostName, or IPv4/IPv6), or mesh the derpers behind the balancer (the same --mesh-psk-file, each listed in the others' --mesh-with)"
contains haproxy-rr-diagnose out "              HAProxy: one server per backend (balance source still splits clients that come from different addresses)"
run haproxy-rr-json 1 30000 --format json diagnose --derp-map map-haproxy-rr.json --ca-file pki30/ca.pem 900
json haproxy-rr-json '.nodes[0].proxy.front == "derper" and .nodes[0].proxy.server_keys == 2 and .nodes[0].transport == "derp"'
json haproxy-rr-json '(.nodes[0].checks[] | select(.check == "relay") | .code == "derp-multiple-keys")'
go_client haproxy-rr-go 1
proxy_stop haproxy-rr

# ---- no proxy: derper without TLS on the DERP port ---------------------------------------------
PPORT=${plain##*:}
write_map map-plain.json "$(node 900a derp.test 127.0.0.62 none "$PPORT")"
diagnose plain 1
check plain-diagnose FAIL proxy "derper serves plain HTTP on TCP $PPORT, not TLS"
contains plain-diagnose out "       cause: GET /derp sent without TLS answered HTTP 426 Upgrade Required (\"DERP requires connection upgrade\") from derper: derper runs on port $PPORT without TLS, and Tailscale's clients fail with \"tls: first record does not look like a TLS handshake\""
contains plain-diagnose out "       fix:   derper serves TLS only when it listens on :443 or runs with --certmode manual: run it with --certmode manual --certdir DIR --hostname derp.test (derp.test.crt and derp.test.key in DIR; any port), or with -a :443 (and publish that as port $PPORT), or put a TLS-terminating proxy in front of it"
check plain-diagnose skip derp-upgrade "not judged: the port speaks plain HTTP"
run plain-ping 1 10000 ping --derp-map map-plain.json --ca-file pki30/ca.pem -c 1 900
contains plain-ping err "the port serves plain HTTP, not TLS: GET /derp without TLS got derper's own \"426 DERP requires connection upgrade\" (Tailscale's clients fail with \"tls: first record does not look like a TLS handshake\")"
contains plain-ping err "  hint: derper serves TLS only on :443 or with --certmode manual: run it with --certmode manual --certdir DIR --hostname derp.test, or -a :443, or put a TLS-terminating proxy in front of it"
run plain-prom 1 30000 --format prometheus diagnose --derp-map map-plain.json --ca-file pki30/ca.pem 900
contains plain-prom out 'derpcheck_diagnose_front_info{region="900",region_code="test",node="900a",front="plain-http",proxy="unknown",transport="",server_keys="1"} 1'
contains plain-prom out 'derpcheck_diagnose_check_ok{region="900",region_code="test",node="900a",check="proxy"} 0'

if [ "${DISCOVER:-}" ]; then cat "$work"/*-diagnose.out; fi
finish
