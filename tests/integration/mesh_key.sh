#!/bin/bash
# diagnose --mesh-psk-file against three real derpers (v1.34.2) in a network namespace of
# their own, on port 443 of 127.0.0.1-3 with their names in a hosts file (derper dials
# -mesh-with peers by name on 443): 900a and 900b mesh both ways with the same key; 900c
# has the key but meshes only into 900a. With the key, WatchConns on each node lists the
# mesh clients connected to it: the check must find the pair that meshes, the one-way
# split and the pair that does not mesh at all, name who does not list whom, and name a
# wrong key as refused. JSON, and the exporter's series and alert-facing values, too.
set -u
export DAYS=90 # certificates that do not expire during the test
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C # ASCII marks
. "$(dirname "$0")/lib/derp.sh"
. "$root/tests/lib/peers.sh"
. "$root/tests/lib/netns.sh"
peers_require
netns_require_root "meshed derpers (a network namespace)"

pki=$work/pki
ca=(--ca-file pki/ca.pem)
netns=dcmeshkey$$
ip netns add "$netns" && netns_track "$netns" && ip -n "$netns" link set lo up || { fail "could not make namespace $netns"; finish; exit 1; }
printf '127.0.0.1 localhost derp.test\n127.0.0.2 derp2.test\n' >"$work/mesh-hosts"
mesh_psk "$work/mesh.key"
mesh_psk "$work/other.key"

derper_certdir "$work/certs-m1" "$pki/derp-chain.pem" "$pki/derp.key"
derper_certdir "$work/certs-m2" "$pki/derp-chain.pem" "$pki/derp.key" derp2.test
export DERPER_NETNS=$netns DERPER_HOSTS=$work/mesh-hosts DERPER_CA=$pki/ca.pem DERPER_TCP_PORT=443
derper_start m1 127.0.0.1 "$work/certs-m1" -mesh-psk-file "$work/mesh.key" -mesh-with derp2.test || exit 1
m1_stun=$DERPER_STUN
derper_start m2 127.0.0.2 "$work/certs-m2" -hostname derp2.test -mesh-psk-file "$work/mesh.key" -mesh-with derp.test || exit 1
m2_stun=$DERPER_STUN
# 900c: the same key, but it meshes into 900a only (no one dials it).
derper_start m3 127.0.0.3 "$work/certs-m2" -hostname derp2.test -mesh-psk-file "$work/mesh.key" -mesh-with derp.test || exit 1
m3_stun=$DERPER_STUN
unset DERPER_NETNS DERPER_HOSTS DERPER_CA DERPER_TCP_PORT
derper_wait_log m1 'mesh("derp2.test"): connected' 20 && derper_wait_log m2 'mesh("derp.test"): connected' 20 &&
	derper_wait_log m3 'mesh("derp.test"): connected' 20 || fail "the derpers did not mesh: $(tail -3 "$(derper_log m3)")"

derper_policy "$work/two.hujson" "$(derper_node 900a derp.test 127.0.0.1 443 "$m1_stun")" \
	"$(derper_node 900b derp2.test 127.0.0.2 443 "$m2_stun")"
derper_policy "$work/three.hujson" "$(derper_node 900a derp.test 127.0.0.1 443 "$m1_stun")" \
	"$(derper_node 900b derp2.test 127.0.0.2 443 "$m2_stun")" "$(derper_node 900c derp2.test 127.0.0.3 443 "$m3_stun")"

export NETNS=$netns

# ---- two nodes that mesh both ways --------------------------------------------------------------
run two 0 20000 diagnose --derp-map two.hujson "${ca[@]}" --mesh-psk-file mesh.key 900
contains two out "  ok   mesh-presence      900a <-> 900b: each lists the other's mesh client (900a: "
contains two out "DERP path: ok (2 of 2 nodes relay)"
run two-json 0 20000 diagnose --derp-map two.hujson "${ca[@]}" --mesh-psk-file mesh.key --format json 900
json two-json '[.nodes[].mesh_watch | .result] == ["ok", "ok"] and .nodes[0].mesh_watch.lists_mesh_clients_of == ["900b"] and .nodes[1].mesh_watch.lists_mesh_clients_of == ["900a"]'
json two-json '[.region_checks[] | select(.check == "mesh-presence") | .status] == ["ok"]'
# Without the flag nothing is watched: no mesh-presence check, mesh_watch null.
run two-nokey-json 0 20000 diagnose --derp-map two.hujson "${ca[@]}" --format json 900
json two-nokey-json '([.region_checks[] | select(.check == "mesh-presence")] | length) == 0 and .nodes[0].mesh_watch == null'

# ---- a one-way mesh and a pair that does not mesh ---------------------------------------------
run three 1 30000 diagnose --derp-map three.hujson "${ca[@]}" --mesh-psk-file mesh.key 900
# (client counts are not asserted: a test client of an earlier check may still be leaving)
contains three out "  ok   mesh-presence      900a <-> 900b: each lists the other's mesh client (900a: "
has_line three out "  FAIL mesh-presence      900a <-> 900c: 900c does not list 900a's mesh client (900a lists 900c's)"
contains three out "       cause: WatchConns on 900c lists "
contains three out ", none with 900a's server key nodekey:"
contains three out ": 900a's derper is not connected to 900c as a mesh client, so 900c cannot forward to clients on 900a"
has_line three out "       fix:   run 900a's derper with --mesh-with naming 900c (derp2.test) and the same --mesh-psk-file, and let it reach 900c on DERPPort (derper logs mesh(\"derp2.test\") errors)"
has_line three out "  FAIL mesh-presence      900b <-> 900c: neither lists the other's mesh client"
run three-json 1 30000 diagnose --derp-map three.hujson "${ca[@]}" --mesh-psk-file mesh.key --format json 900
json three-json '[.region_checks[] | select(.check == "mesh-presence") | [.nodes[0], .nodes[1], .status, .code]] == [["900a","900b","ok",null],["900a","900c","fail","mesh-split"],["900b","900c","fail","mesh-split"]]'
json three-json '.nodes[0].mesh_watch.lists_mesh_clients_of == ["900b","900c"] and .nodes[2].mesh_watch.lists_mesh_clients_of == []'

# ---- the wrong key is named as refused ------------------------------------------------------------
run wrongkey 1 20000 diagnose --derp-map two.hujson "${ca[@]}" --mesh-psk-file other.key 900
has_line wrongkey out "  FAIL mesh-presence      900a <-> 900b: the mesh key was refused by 900a and 900b"
contains wrongkey out "       cause: 900a closed the connection on WatchConns (the server closed the connection"
contains wrongkey out "): it runs with another --mesh-psk-file than other.key, or with none"
run wrongkey-json 1 20000 diagnose --derp-map two.hujson "${ca[@]}" --mesh-psk-file other.key --format json 900
json wrongkey-json '[.nodes[].mesh_watch.result] == ["refused", "refused"] and ([.region_checks[] | select(.check == "mesh-presence") | .code] == ["mesh-key-refused"])'

# ---- a file that is no mesh key: a usage error ---------------------------------------------------
printf 'not a key\n' >"$work/bad.key"
run badkey 2 5000 diagnose --derp-map two.hujson "${ca[@]}" --mesh-psk-file bad.key 900
contains badkey err "derpcheck: bad.key: not a mesh key: derper wants 64 or more hex digits"

# ---- the exporter's series ---------------------------------------------------------------------
case_begin exporter
(cd "$work" && exec ip netns exec "$netns" "$DERPCHECK" exporter --derp-map three.hujson "${ca[@]}" \
	--mesh-psk-file mesh.key --listen 127.0.0.1:0 --interval 60s >"$work/exporter.out" 2>"$work/exporter.err") &
exporter_pid=$!
server_pids="$server_pids $exporter_pid"
wait_for_line "$work/exporter.err" 'exporter on http://' "$exporter_pid" 5 && pass || { fail "the exporter did not start"; cat "$work/exporter.err" >&2; }
eport=$(sed -n 's#.*exporter on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$work/exporter.err" | head -1)
got=""
for _ in $(seq 1 300); do
	ip netns exec "$netns" curl -s -m 2 "http://127.0.0.1:$eport/metrics" >"$work/metrics.body" 2>/dev/null
	got=$(grep -E '^derpcheck_mesh_(sees|key_ok)\{' "$work/metrics.body" || true)
	[ -n "$got" ] && break
	sleep 0.1
done
want='derpcheck_mesh_key_ok{region="900",region_code="myvps",node="900a"} 1
derpcheck_mesh_key_ok{region="900",region_code="myvps",node="900b"} 1
derpcheck_mesh_key_ok{region="900",region_code="myvps",node="900c"} 1
derpcheck_mesh_sees{region="900",region_code="myvps",node="900a",peer="900b"} 1
derpcheck_mesh_sees{region="900",region_code="myvps",node="900a",peer="900c"} 1
derpcheck_mesh_sees{region="900",region_code="myvps",node="900b",peer="900a"} 1
derpcheck_mesh_sees{region="900",region_code="myvps",node="900b",peer="900c"} 0
derpcheck_mesh_sees{region="900",region_code="myvps",node="900c",peer="900a"} 0
derpcheck_mesh_sees{region="900",region_code="myvps",node="900c",peer="900b"} 0'
[ "$got" = "$want" ] && pass || fail "exporter: mesh series
$got
want
$want"
spawn_stop "$exporter_pid"

derper_stop m1
derper_stop m2
derper_stop m3
finish
