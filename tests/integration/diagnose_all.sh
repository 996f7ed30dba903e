#!/bin/bash
# derpcheck diagnose --all and diagnose R1 R2 ...: 30 loopback regions checked at the same
# time, one of them slowed by a relay that holds every packet for 1 s (derpserver --delay),
# so its relayed ping takes 2 s there and back. The whole map must take about as long as
# that slowest region, not the sum of all (the pool runs whole regions on threads). Then:
# a dead region among the healthy ones, JSON and Prometheus for many regions (promtool
# check metrics), --parallel with --deadline, and usage errors.
set -u
export DAYS=90 # certificates that do not expire during the test (no expiry warning)
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C
. "$(dirname "$0")/lib/derp.sh"
. "$(dirname "$0")/lib/regions.sh"

ca=(--ca-file pki/ca.pem)
regions_start all.json 30 915 1000 || { finish; exit 1; }

# Region and run times ("0.21s") vary: T.
secs() { sed -E 's/ +[0-9]+\.[0-9]+s$/ Ts/; s/in [0-9]+\.[0-9]+s,/in Ts,/'; }
# expect_secs NAME: expect with the times masked.
expect_secs() { secs <"$work/$1.out" >"$work/$1.out.s" && mv "$work/$1.out.s" "$work/$1.out" && expect "$1" out; }

# Seconds of a region in the summary ("  915 slow  STUN n/a  DERP ok  3.21s") as milliseconds.
region_ms() { awk -v id="$2" '$1 == id { sub(/s$/, "", $NF); printf "%d\n", $NF * 1000 }' "$work/$1.out"; }

# ---- 30 regions at once: the wall time is the slowest region's plus a little -------------------------
run all 0 20000 diagnose --derp-map all.json "${ca[@]}" --timeout 5s --all
wall=$ELAPSED
slow=$(region_ms all 915)
# Everything but the slowest region happens while it runs: 700 ms for start-up, the map, the
# threads and a loaded 2-core machine.
# (Sanitizer builds are 2-3 times slower at that part: SANITIZER_SLACK_MS, set by make asan.)
if [ -n "$slow" ] && [ "$wall" -le $((slow + 700 + ${SANITIZER_SLACK_MS:-0})) ]; then pass; else
	fail "all: 30 regions took $wall ms, the slowest alone ${slow:-?} ms: not concurrent"
fi
# The delay really was there: 2 s there and back through the slow relay.
if [ -n "$slow" ] && [ "$slow" -ge 2000 ]; then pass; else fail "all: the slow region took ${slow:-?} ms, under its 2 s relay"; fi
sed -n '/^30 regions in/,$p' "$work/all.out" | secs >"$work/all.summary"
{
	echo "30 regions in Ts, at most 30 at a time:"
	for i in $(seq 901 930); do
		code=r$i
		[ "$i" = 915 ] && code=slow
		printf '  %-18s STUN %-9s DERP %-9s\n' "$i $code" n/a ok | sed 's/ *$/ Ts/'
	done
	echo "30 healthy, 0 with problems"
} >"$work/all.want"
if diff -u "$work/all.want" "$work/all.summary" >"$work/all.diff"; then pass; else
	fail "all: the summary differs (- want, + got)"
	cat "$work/all.diff" >&2
fi

# ---- a dead region among healthy ones: named in its section and the summary, exit 1 ------------------
jq '.Regions["931"] = {"RegionID":931,"RegionCode":"dead","Nodes":[{"Name":"931a","RegionID":931,"HostName":"derp.test","IPv4":"127.0.0.99","IPv6":"none","STUNPort":-1,"DERPPort":9}]}' \
	"$work/all.json" >"$work/dead.json"
run dead 1 15000 diagnose --derp-map dead.json "${ca[@]}" -q 901 931 902
expect_secs dead <<'EOF2'
region 931 (dead):
node 931a:
  FAIL tcp-ipv4           127.0.0.99:9: no connection
       cause: TCP connection refused
       fix:   nothing listens on TCP 9: start derper with -a :9, or fix DERPPort in the map or the port forwarding (publish 9/tcp)
  warn map                0 errors, 1 warning
       cause: Regions.931.Nodes: no node of region 931 answers STUN, so clients with working UDP never measure it and never pick it as home
       fix:   enable STUN on a node ("STUNPort": 0 for 3478, or derper's -stun-port)
STUN path: n/a (no node of the region serves STUN)
DERP path: broken (0 of 1 nodes relay; 931a: tcp-ipv4)

3 regions in Ts, at most 3 at a time:
  931 dead           STUN n/a       DERP broken Ts
2 healthy, 1 with problems
EOF2

# ---- JSON: one document, every region and the summary ------------------------------------------------
run json 1 15000 --format json diagnose --derp-map dead.json "${ca[@]}" 901 931
json json '.ok == false and (.regions | length) == 2 and .summary.regions == 2 and .summary.healthy == 1'
json json '.summary.problems == 1 and .summary.not_checked == 0 and .summary.workers == 2'
json json '[.regions[].region.id] == [901, 931] and [.regions[].checked] == [true, true]'
json json '.regions[1].verdicts.derp.verdict == "broken" and .regions[0].verdicts.derp.verdict == "ok"'
json json '(.regions[0] | has("map")) == false and (.map | startswith("file "))'

# ---- Prometheus: each family once, the samples of every region; promtool accepts it -------------------
run prom 1 15000 --format prometheus diagnose --derp-map dead.json "${ca[@]}" 901 931 902
if promtool check metrics <"$work/prom.out" >"$work/prom.lint" 2>&1; then pass; else
	fail "prom: promtool check metrics refused the exposition"
	cat "$work/prom.lint" >&2
fi
helps=$(grep -c '^# HELP derpcheck_diagnose_path_ok ' "$work/prom.out")
[ "$helps" = 1 ] && pass || fail "prom: HELP derpcheck_diagnose_path_ok appears $helps times"
contains prom out 'derpcheck_diagnose_path_ok{region="931",region_code="dead",path="derp"} 0'
contains prom out 'derpcheck_diagnose_path_ok{region="902",region_code="r902",path="derp"} 1'
contains prom out 'derpcheck_diagnose_check_ok{region="931",region_code="dead",node="931a",check="tcp-ipv4"} 0'

# ---- --parallel 1 and a deadline: the slow region runs, the next one is not started ------------------
run deadline 1 15000 diagnose --derp-map all.json "${ca[@]}" --timeout 5s --parallel 1 --deadline 500ms -q 915 901
expect_secs deadline <<'EOF2'
2 regions in Ts, at most 1 at a time:
  901 r901           not checked: no worker was free before --deadline Nms
1 healthy, 0 with problems, 1 not checked
EOF2

# ---- usage ---------------------------------------------------------------------------------------------
run all-and-region 2 2000 diagnose --derp-map all.json --all 901
expect all-and-region err <<'EOF2'
derpcheck: --all checks every region: give no REGION with it
  hint: e.g. derpcheck diagnose --derp-map policy.hujson 900 (a region ID or RegionCode), or derpcheck diagnose --derp-map policy.hujson --all
EOF2
run bad-parallel 2 2000 diagnose --derp-map all.json --all --parallel 0
contains bad-parallel err "derpcheck: invalid --parallel '0'"
run one-bad-region 2 2000 diagnose --derp-map all.json 901 r9O2
contains one-bad-region err "derpcheck: "

finish
