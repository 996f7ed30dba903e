#!/bin/bash
# A Headscale config.yaml as the map, against Tailscale's real derper (tests/lib/peers.sh):
# the embedded region Headscale would build from server_url https://derp.test:PORT,
# stun_listen_addr and ipv4 127.0.0.44 points at derper (-hostname derp.test), and
# validate, ping and diagnose use it; then derp.urls served by our own loopback HTTP server
# (tests/tools/httpfiles) merged with a derp.paths file. Nothing leaves loopback:
# Tailscale's default URL is never fetched (DERPCHECK_DEFAULT_MAP_URL is empty).
set -u
. "$(dirname "$0")/lib/derp.sh"
. "$root/tests/lib/peers.sh"
export DERPCHECK_DEFAULT_MAP_URL=
peers_require

addr=127.0.0.44
derper_certdir "$work/certs" "$work/pki/derp-chain.pem" "$work/pki/derp.key"
derper_start hs "$addr" "$work/certs" || { finish; exit 1; }
port=$DERPER_PORT stun=$DERPER_STUN

cat >"$work/config.yaml" <<EOF
server_url: https://derp.test:$port
listen_addr: 127.0.0.1:8080
derp:
  server:
    enabled: true
    region_id: 999
    region_code: headscale
    region_name: Headscale Embedded DERP
    verify_clients: true
    stun_listen_addr: "0.0.0.0:$stun"
    ipv4: $addr
    ipv6: none
  urls: []
  paths: []
EOF

# ---- validate: the exact map clients get, one region (a single point of failure) -------
run validate 0 5000 validate config.yaml
sed -e "s/:$port/:PORT/g" -e "s|udp/$stun|udp/STUN|g" -e "s|tcp/$port|tcp/PORT|g" "$work/validate.out" >"$work/validate.norm"
if diff -u - "$work/validate.norm" >"$work/validate.diff" <<'EOF'; then pass; else fail "validate: output differs"; cat "$work/validate.diff" >&2; fi
config.yaml:4:3: warning: derp.server: clients get a single DERP region; if it goes down, peers that cannot connect directly lose each other
  hint: add a second region on another host, or keep Tailscale's default map in derp.urls
config.yaml: 0 errors, 1 warning
  map: urls none; paths none; embedded region 999 from server_url
  clients use 1 region with 1 node
  from derp.urls: 0 regions
  from derp.paths and the embedded server: 1 region
    999 headscale "Headscale Embedded DERP": 1 node
      999 derp.test IPv4 127.0.0.44 IPv6 off, DERP tcp/PORT, STUN udp/STUN
      from the embedded server (derp.server, server_url)
EOF
expect validate err </dev/null

# ---- ping through derper, with the map from the config ------------------------------------
run ping 0 8000 ping --derp-map config.yaml --ca-file pki/ca.pem -c 3 -i 50ms 999
sed -e "s/$addr:$port/ADDR:PORT/g" "$work/ping.out" | mask >"$work/ping.norm"
if diff -u - "$work/ping.norm" >"$work/ping.diff" <<'EOF'; then pass; else fail "ping: output differs"; cat "$work/ping.diff" >&2; fi
DERP ping to region 999 (headscale): 3 packets of 64 bytes every Nms
A: node 999 (derp.test) at ADDR:PORT, TLS 1.3, fast start, connected in Nms
B: node 999 (derp.test) at ADDR:PORT, TLS 1.3, fast start, connected in Nms
pong from B via DERP(headscale) in Nms (seq 1)
pong from B via DERP(headscale) in Nms (seq 2)
pong from B via DERP(headscale) in Nms (seq 3)

--- DERP(headscale) relay statistics ---
3 packets sent, 3 received, 0% packet loss, time Nms
rtt min/avg/max/mdev = N/N/N/N ms
server ping A (node 999) min/avg/max = N/N/N ms, 3 of 3 answered
server ping B (node 999) min/avg/max = N/N/N ms, 3 of 3 answered
  phases (ms)                  dns       tcp       tls    verify   upgrade handshake     total
  A 999 ADDR:PORT         - N N N N N N
  B 999 ADDR:PORT         - N N N N N N
EOF
expect ping err <<'EOF'
derpcheck: DERP map: Headscale config config.yaml: urls none; paths none; embedded region 999 from server_url
EOF

# ---- diagnose: STUN to derper's port from stun_listen_addr, TLS, relay --------------------
run diagnose 0 20000 diagnose --derp-map config.yaml --ca-file pki/ca.pem 999
contains diagnose out "DERP region 999 (headscale) from Headscale config config.yaml: 1 node"
contains diagnose out "node 999 (derp.test): IPv4 127.0.0.44, IPv6 none, DERPPort $port, STUNPort $stun"
contains diagnose out "STUN path: ok"
contains diagnose out "DERP path: ok"
contains diagnose err "derpcheck: DERP map: Headscale config config.yaml: urls none; paths none; embedded region 999 from server_url"

# A stun_listen_addr port nothing answers on: the map says so, and diagnose finds the STUN path broken.
sed "s/0.0.0.0:$stun/0.0.0.0:9/" "$work/config.yaml" >"$work/wrong-stun.yaml"
run wrong-stun 1 20000 diagnose --derp-map wrong-stun.yaml --ca-file pki/ca.pem 999
contains wrong-stun out "STUNPort 9"
contains wrong-stun out "DERP path: ok"
if grep -q "STUN path: ok" "$work/wrong-stun.out"; then fail "wrong-stun: STUN path reported ok"; else pass; fi

# ---- derp.urls from our loopback HTTP server, then derp.paths, then the embedded region ----
mkdir -p "$work/www"
cat >"$work/www/map.json" <<EOF
{"Regions": {"900": {"RegionID": 900, "RegionCode": "fromurl", "RegionName": "From URL",
  "Nodes": [{"Name": "900a", "RegionID": 900, "HostName": "derp.test", "IPv4": "$addr", "IPv6": "none",
             "STUNPort": $stun, "DERPPort": $port}]},
 "901": {"RegionID": 901, "RegionCode": "gone", "Nodes": [{"Name": "901a", "RegionID": 901, "HostName": "derp2.test", "IPv4": "$addr", "IPv6": "none", "STUNPort": -1, "DERPPort": $port}]}}}
EOF
cat >"$work/derp.yaml" <<EOF
regions:
  901: null
EOF
"$TOOLS/httpfiles" "$work/www" >"$work/httpfiles.out" 2>"$work/httpfiles.log" &
http_pid=$!
server_pids="$server_pids $http_pid"
deadline=$(($(now_ms) + 5000))
until grep -q '^listening' "$work/httpfiles.out" 2>/dev/null || [ "$(now_ms)" -gt "$deadline" ]; do sleep 0.02; done
http_port=$(sed -n 's/^listening 127.0.0.1://p' "$work/httpfiles.out")
[ -n "$http_port" ] && pass || fail "httpfiles did not start"
sed -e "s|  urls: \[\]|  urls:\n    - http://127.0.0.1:$http_port/map.json|" -e "s|  paths: \[\]|  paths:\n    - $work/derp.yaml|" \
	"$work/config.yaml" >"$work/sources.yaml"
run sources 0 5000 validate sources.yaml
contains sources out "  map: urls http://127.0.0.1:$http_port/map.json (2 regions); paths $work/derp.yaml (1 region); embedded region 999 from server_url"
contains sources out "  clients use 2 regions with 2 nodes"
contains sources out "  from derp.urls: 1 region"
[ "$(grep -c '^GET /map.json 200' "$work/httpfiles.log")" = 1 ] && pass || fail "map.json fetched $(grep -c map.json "$work/httpfiles.log") times, want 1"
# Region 900 came over HTTP: ping it through derper.
run ping-url 0 8000 ping --derp-map sources.yaml --ca-file pki/ca.pem -c 2 -i 50ms fromurl
contains ping-url out "2 packets sent, 2 received, 0% packet loss"
contains ping-url err "urls http://127.0.0.1:$http_port/map.json (2 regions)"
# Region 901 was removed by the null in derp.yaml.
run ping-gone 2 5000 ping --derp-map sources.yaml --ca-file pki/ca.pem -c 1 901
contains ping-gone err "no region '901' in this map"

derper_stop hs
finish
