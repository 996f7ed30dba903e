#!/bin/bash
# derpcheck exporter watched by a real Prometheus (Debian's prometheus 2.42, its own config
# and data directory in $work, listening on loopback, stopped by its PID: never the system
# service), the exporter watching two of Tailscale's real derpers (v1.34.2): region 901 with
# the full chain, region 902 with the leaf alone (acme.sh --cert-file). Both leaves expire in
# 5 days. Prometheus loads examples/prometheus/derpcheck-alerts.yml with every `for` set to
# 0s and scrapes and evaluates every second; the test asks its HTTP API (/api/v1/query,
# /api/v1/alerts) for the series and alerts, waiting on each with a deadline: the chain and
# expiry alerts fire, the healthy region's relay does not; then the healthy derper is
# stopped mid-run and its relay, region and STUN alerts fire. Before that, the exporter's
# HTTP side on its own: promtool check metrics, the blackbox-style /probe, the status page,
# and the requests it must refuse (method, body, size, version). SIGTERM stops it, exit 0.
set -u
export DAYS=5 # leaves that expire within the 14-day alert threshold
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C
. "$(dirname "$0")/lib/derp.sh"
. "$root/tests/lib/peers.sh"
peers_require
for b in prometheus promtool; do
	command -v "$b" >/dev/null || { fail "$b is not installed: run scripts/deps.sh check (Debian's prometheus)"; finish; exit 1; }
done

# The example alert rules against their unit tests (every alert, its labels and texts).
if (cd "$root/examples/prometheus" && promtool test rules derpcheck-alerts.test.yml) >"$work/rules-test.out" 2>&1; then pass; else
	fail "promtool test rules examples/prometheus/derpcheck-alerts.test.yml"
	cat "$work/rules-test.out" >&2
fi
(cd "$root/examples/prometheus" && promtool check config prometheus.yml) >/dev/null 2>&1 && pass ||
	fail "promtool check config examples/prometheus/prometheus.yml"

pki=$work/pki
prom_pid=""
exporter_pid=""
extra_cleanup='for p in $exporter_pid $prom_pid; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done'

# wait_for DESCRIPTION SECONDS COMMAND...: until COMMAND succeeds (every 0.2 s) or the deadline.
wait_for() {
	local what=$1 deadline=$(($(now_ms) + $2 * 1000))
	shift 2
	until "$@"; do
		if [ "$(now_ms)" -gt "$deadline" ]; then
			fail "$what: not within the deadline"
			return 1
		fi
		sleep 0.2
	done
	pass
}

# ---- two real derpers: the full chain (901) and the leaf alone (902) ------------------------------
derper_certdir "$work/certs-good" "$pki/derp-chain.pem" "$pki/derp.key"
derper_start good 127.0.0.61 "$work/certs-good" || { finish; exit 1; }
good_port=$DERPER_PORT good_stun=$DERPER_STUN
derper_certdir "$work/certs-leaf" "$pki/derp.pem" "$pki/derp.key"
derper_start leaf 127.0.0.62 "$work/certs-leaf" || { finish; exit 1; }
leaf_port=$DERPER_PORT leaf_stun=$DERPER_STUN
region() { # ID CODE IPV4 DERPPORT STUNPORT
	printf '"%s":{"RegionID":%s,"RegionCode":"%s","RegionName":"%s","Nodes":[{"Name":"%sa","RegionID":%s,"HostName":"derp.test","IPv4":"%s","IPv6":"none","DERPPort":%s,"STUNPort":%s}]}' \
		"$1" "$1" "$2" "$2" "$1" "$1" "$3" "$4" "$5"
}
printf '{"Regions":{%s,%s}}\n' "$(region 901 good 127.0.0.61 "$good_port" "$good_stun")" \
	"$(region 902 leaf 127.0.0.62 "$leaf_port" "$leaf_stun")" >"$work/map.json"

# ---- the exporter ----------------------------------------------------------------------------------
(cd "$work" && exec "$DERPCHECK" exporter --derp-map map.json --ca-file pki/ca.pem --listen 127.0.0.1:0 \
	--interval 1s --timeout 2s -c 2 2>"$work/exporter.err") &
exporter_pid=$!
wait_for "the exporter's ready line" 5 grep -q 'exporter on http://' "$work/exporter.err"
addr=$(sed -n 's|.*http://\([^/]*\)/metrics.*|\1|p' "$work/exporter.err")
contains exporter.err "" "derpcheck: exporter on http://$addr/metrics: 2 regions of file map.json every 1s"

# get NAME PATH [curl options...]: the response's head and body in $work/NAME.head, $work/NAME.body.
get() {
	local name=$1 path=$2
	shift 2
	curl -s -m 20 -D "$work/$name.head" -o "$work/$name.body" "$@" "http://$addr$path"
}
status_is() { # NAME CODE
	if head -1 "$work/$1.head" | grep -q "^HTTP/1.1 $2 "; then pass; else
		fail "$1: want HTTP $2, got: $(head -1 "$work/$1.head")"
	fi
}
# Both: 901 (the good region) relays too and finishes after 902; a busy machine showed
# 902's result with 901's still missing when only 902 was waited for.
has_results() {
	get m /metrics && grep -q '^derpcheck_result_stale{region="901",region_code="good"} 0' "$work/m.body" &&
		grep -q '^derpcheck_result_stale{region="902",region_code="leaf"} 0' "$work/m.body"
}
wait_for "both regions' first results" 20 has_results

get metrics /metrics
status_is metrics 200
contains metrics.head "" "Content-Type: text/plain; version=0.0.4; charset=utf-8"
contains metrics.head "" "Connection: close"
if promtool check metrics <"$work/metrics.body" >"$work/lint.out" 2>&1; then pass; else
	fail "promtool check metrics refused /metrics"
	cat "$work/lint.out" >&2
fi
contains metrics.body "" 'derpcheck_cert_chain_ok{region="901",region_code="good",node="901a"} 1'
contains metrics.body "" 'derpcheck_cert_chain_ok{region="902",region_code="leaf",node="902a"} 0'
contains metrics.body "" 'derpcheck_cert_trust{region="902",region_code="leaf",node="902a",state="rejected"} 1'
contains metrics.body "" 'derpcheck_region_verdict{region="901",region_code="good",path="derp",verdict="ok"} 1'
contains metrics.body "" 'derpcheck_admission_ok{region="901",region_code="good",node="901a"} 1'
contains metrics.body "" 'derpcheck_node_stun_ok{region="901",region_code="good",node="901a",family="ipv4"} 1'
contains metrics.body "" 'derpcheck_diagnose_check_ok{region="902",region_code="leaf",node="902a",check="certificate"} 0'
# No fraction stands for a state in the new series: every derpcheck_region_verdict/cert_trust sample is 0 or 1.
if grep -E '^derpcheck_(region_verdict|cert_trust|node_derp_ok|node_stun_ok|cert_chain_ok|admission_ok|result_stale)\{' "$work/metrics.body" |
	awk '$NF != 0 && $NF != 1 { bad = 1 } END { exit bad }'; then pass; else fail "a state series has a value other than 0 or 1"; fi
not_after=$(sed -n 's/^derpcheck_cert_not_after_seconds{region="901",[^}]*} //p' "$work/metrics.body")
want=$(date -d "$(openssl x509 -in "$pki/derp.pem" -noout -enddate | cut -d= -f2)" +%s)
[ "$not_after" = "$want" ] && pass || fail "cert_not_after_seconds is '$not_after', the leaf says $want"

# raw NAME REQUEST: REQUEST as typed, the whole answer in $work/NAME.head.
raw() { printf "$2" | timeout 5 bash -c "exec 3<>/dev/tcp/${addr%:*}/${addr##*:}; cat >&3; cat <&3" >"$work/$1.head"; }
# HEAD: the same head with the length of the body it leaves out.
raw head 'HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n'
status_is head 200
contains head.head "" "Content-Length: "
[ "$(tail -c 4 "$work/head.head" | od -An -tx1 | tr -d ' ')" = 0d0a0d0a ] && pass || fail "HEAD /metrics sent a body"
# The blackbox exporter's shape, on demand.
get probe-good '/probe?region=good'
status_is probe-good 200
contains probe-good.body "" "probe_success 1"
contains probe-good.body "" 'derpcheck_relay_loss_ratio{region="901",region_code="good",node="901a"} 0'
get probe-leaf '/probe?region=902'
contains probe-leaf.body "" "probe_success 0"
if promtool check metrics <"$work/probe-leaf.body" >"$work/lint2.out" 2>&1; then pass; else
	fail "promtool check metrics refused /probe"
	cat "$work/lint2.out" >&2
fi
get probe-none /probe
status_is probe-none 400
get probe-bad '/probe?region=nope'
status_is probe-bad 404
get status /
status_is status 200
contains status.body "" '<td class="">902</td><td class="">leaf</td>'
get healthz /healthz
contains healthz.body "" "ok"
get unknown /nope
status_is unknown 404
# What it refuses: another method, a body, a head over 8 KiB, HTTP/2, a missing Host.
get post /metrics -X POST -d x=1
status_is post 405
contains post.head "" "Allow: GET, HEAD"
get body /metrics -H 'Content-Length: 5' --data-binary 'abcde' -X GET
status_is body 400
get big /metrics -H "X-Big: $(head -c 9000 /dev/zero | tr '\0' a)"
status_is big 431
raw h2 'GET /metrics HTTP/2.0\r\nHost: x\r\n\r\n'
status_is h2 505
raw nohost 'GET /metrics HTTP/1.1\r\n\r\n'
status_is nohost 400
# A client that sends half a request and nothing more is cut off after the read timeout (5 s) with 408.
start=$(now_ms)
exec 5<>"/dev/tcp/${addr%:*}/${addr##*:}"
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\n' >&5
timeout 10 cat <&5 >"$work/slow.head"
exec 5>&-
status_is slow 408
took=$(($(now_ms) - start))
[ "$took" -ge 4500 ] && [ "$took" -le 9000 ] && pass || fail "a stalled request was cut off after $took ms, not about 5 s"

# ---- Prometheus: the example rules with every `for` at 0s, scraping and evaluating every second -----
ppt=$(free_port tcp)
mkdir -p "$work/prom-data"
sed -E 's/^( +for:) .*/\1 0s/' "$root/examples/prometheus/derpcheck-alerts.yml" >"$work/rules.yml"
cat >"$work/prometheus.yml" <<EOF2
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [rules.yml]
scrape_configs:
  - job_name: derpcheck
    static_configs:
      - targets: ["$addr"]
EOF2
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom-data" \
	--web.listen-address="127.0.0.1:$ppt" --log.level=warn >"$work/prometheus.log" 2>&1 &
prom_pid=$!
prom_ready() { curl -sf -m 2 "http://127.0.0.1:$ppt/-/ready" >/dev/null; }
wait_for "Prometheus ready" 30 prom_ready || { cat "$work/prometheus.log" >&2; finish; exit 1; }

# query EXPR: the value of the instant query's only sample, or nothing.
query() {
	curl -s -m 5 --data-urlencode "query=$1" "http://127.0.0.1:$ppt/api/v1/query" |
		jq -r 'if .status == "success" and (.data.result | length) == 1 then .data.result[0].value[1] else empty end'
}
query_is() { [ "$(query "$1")" = "$2" ]; }
# firing ALERT LABEL VALUE: the alert is firing for that label value.
firing() {
	curl -s -m 5 "http://127.0.0.1:$ppt/api/v1/alerts" |
		jq -e --arg a "$1" --arg l "$2" --arg v "$3" \
			'[.data.alerts[] | select(.labels.alertname == $a and .state == "firing" and .labels[$l] == $v)] | length > 0' >/dev/null
}
not_firing() { ! firing "$@"; }

wait_for "Prometheus scraped the exporter" 20 query_is 'up{job="derpcheck"}' 1
wait_for "chain ok for 901" 20 query_is 'derpcheck_cert_chain_ok{region="901"}' 1
wait_for "chain not ok for 902" 20 query_is 'derpcheck_cert_chain_ok{region="902"}' 0
wait_for "902 rejected" 20 query_is 'derpcheck_cert_trust{region="902",state="rejected"}' 1
wait_for "901 relays" 20 query_is 'derpcheck_region_verdict{region="901",path="derp",verdict="ok"}' 1
wait_for "both leaves expire within 14 days" 20 query_is 'count(derpcheck_cert_not_after_seconds - time() < 14 * 86400)' 2
wait_for "fresh results" 20 query_is 'sum(derpcheck_result_stale)' 0
wait_for "DerpCertificateChainBroken for 902" 20 firing DerpCertificateChainBroken region 902
wait_for "DerpCertificateExpiringSoon for 901" 20 firing DerpCertificateExpiringSoon region 901
wait_for "DerpCertificateExpiringSoon for 902" 20 firing DerpCertificateExpiringSoon region 902
wait_for "DerpRelayDown for 902 (clients refuse its chain)" 20 firing DerpRelayDown region 902
# Every query of the example Grafana dashboard runs against these series.
while read -r expr; do
	got=$(curl -s -m 5 --data-urlencode "query=$expr" "http://127.0.0.1:$ppt/api/v1/query" | jq -r '.status')
	[ "$got" = success ] && pass || fail "dashboard query '$expr': $got"
done < <(jq -r '.panels[].targets[].expr' "$root/examples/grafana/derpcheck-dashboard.json")
not_firing DerpRelayDown region 901 && pass || fail "DerpRelayDown fires for the healthy region 901"
not_firing DerpStunDown region 901 && pass || fail "DerpStunDown fires for the healthy region 901"

# ---- the healthy derper stops mid-run --------------------------------------------------------------
derper_stop good
wait_for "901 broken" 30 query_is 'derpcheck_region_verdict{region="901",path="derp",verdict="broken"}' 1
wait_for "DerpRelayDown for 901" 30 firing DerpRelayDown region 901
wait_for "DerpRegionDown for 901" 30 firing DerpRegionDown region 901
wait_for "DerpStunDown for 901" 30 firing DerpStunDown region 901
wait_for "901 results stay fresh" 10 query_is 'derpcheck_result_stale{region="901"}' 0

# ---- SIGTERM: a clean stop ---------------------------------------------------------------------------
start=$(now_ms)
kill -TERM "$exporter_pid"
wait "$exporter_pid"
rc=$?
exporter_pid=""
[ "$rc" = 0 ] && pass || fail "exporter exit status $rc after SIGTERM, want 0"
[ $(($(now_ms) - start)) -le 5000 ] && pass || fail "exporter took more than 5 s to stop"
contains exporter.err "" "derpcheck: exporter stopping (SIGTERM)"

finish
