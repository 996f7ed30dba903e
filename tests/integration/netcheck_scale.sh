#!/bin/bash
# derpcheck netcheck on a 1,000-node map (250 regions x 4 nodes, one test STUN server port
# each, every one answering any binding request), 20 runs: Tailscale's early stop may end a
# report before some replies are read, and that must never turn into a finding. Every run:
# no false finding (a region "did not answer", a node "failed" or "answers only plain
# STUN"), every node either measured or "not measured", and every region measured. Also
# one run where a quarter of the nodes are silent: exactly those are named, with evidence.
# Loopback only; local maps; no port mapping.
set -u
: "${DERPCHECK:?}" "${TOOLS:?}"
cd "$(dirname "$0")/../.."
. tests/lab/lib.sh
lab_deadline 600
export DERPCHECK_DEFAULT_MAP_URL=

lab_spawn many "" "$TOOLS/stunserver" --lifetime 590 -p 0 -n 1000 --answer any
lab_wait_ready many 20 || exit 1
lab_ports many >"$lab_dir/ports"
[ "$(wc -l <"$lab_dir/ports")" = 1000 ] && t_pass || t_fail "stunserver did not open 1000 ports"

# map FILE PORTS...: 250 regions x 4 nodes on these ports, in order
map() {
	local file=$1
	shift
	printf '%s\n' "$@" | awk 'BEGIN { printf "{\"Regions\":{" }
	{ r = int((NR - 1) / 4) + 1
	  if ((NR - 1) % 4 == 0) { if (NR > 1) printf "]},"; printf "\"%d\":{\"RegionID\":%d,\"RegionCode\":\"x%d\",\"RegionName\":\"X %d\",\"Nodes\":[", r, r, r, r }
	  else printf ","
	  printf "{\"Name\":\"n%d\",\"RegionID\":%d,\"HostName\":\"n.invalid\",\"IPv4\":\"127.0.0.1\",\"IPv6\":\"none\",\"STUNPort\":%d}", NR, r, $1 }
	END { printf "]}}}\n" }' >"$file"
}
map "$lab_dir/map.json" $(cat "$lab_dir/ports")

false_findings=0 unexplained=0 fewest=250
for run in $(seq 20); do
	rc=0
	"$DERPCHECK" --format json netcheck --no-portmap --derp-map "$lab_dir/map.json" >"$lab_dir/r.json" 2>"$lab_dir/r.err" || rc=$?
	t_expect_exit "run $run" 0 $rc
	# every node answers: any finding about a region or a node is false
	n=$(jq '[.derpcheck.findings[] | select(.code | test("^netcheck-(region|node|stun)-"))] | length' "$lab_dir/r.json")
	false_findings=$((false_findings + n))
	# each node is measured or honestly "not measured"; never "timeout" or "plain-only"
	u=$(jq '[.derpcheck.nodes[] | select(.family == 4) | select(.status != "ok" and (.error // "" | startswith("not measured") | not))] | length' "$lab_dir/r.json")
	unexplained=$((unexplained + u))
	regions=$(jq '.RegionLatency | length' "$lab_dir/r.json")
	[ "$regions" -lt "$fewest" ] && fewest=$regions
	if [ "$n" != 0 ] || [ "$u" != 0 ]; then
		jq -c '.derpcheck.findings[:3]' "$lab_dir/r.json" >&2
	fi
done
[ "$false_findings" = 0 ] && t_pass || t_fail "20 runs on 1,000 answering nodes: $false_findings false findings"
[ "$unexplained" = 0 ] && t_pass || t_fail "20 runs: $unexplained nodes neither measured nor 'not measured'"
[ "$fewest" = 250 ] && t_pass || t_fail "20 runs: as few as $fewest of 250 regions measured (every node answers)"

# --- silent nodes: named, each with the requests it left unanswered ------------------------
# 50 regions of 4 nodes: in regions 1-49 the fourth node is silent, region 50 is silent
# altogether (so the STUN phase runs its whole 3 s and every silent node's probe ends on
# its own, not cut short). With -v: fewer regions than Tailscale's verbose "enough
# regions" (100), so nothing stops the report early.
lab_spawn quiet "" "$TOOLS/stunserver" --lifetime 590 -p 0 -n 53 --loss 100
lab_wait_ready quiet 20 || exit 1
mapfile -t answering <"$lab_dir/ports"
mapfile -t silent < <(lab_ports quiet)
ports=()
for r in $(seq 0 48); do
	ports+=("${answering[$((4 * r))]}" "${answering[$((4 * r + 1))]}" "${answering[$((4 * r + 2))]}" "${silent[$r]}")
done
ports+=("${silent[49]}" "${silent[50]}" "${silent[51]}" "${silent[52]}")
map "$lab_dir/quiet.json" "${ports[@]}"
rc=0
"$DERPCHECK" --format json netcheck -v --no-portmap --derp-map "$lab_dir/quiet.json" >"$lab_dir/q.json" 2>/dev/null || rc=$?
t_expect_exit quiet 0 $rc # findings are warnings: netcheck exits 1 only for errors
jq -e '.RegionLatency | length == 49' "$lab_dir/q.json" >/dev/null && t_pass || t_fail "quiet: not every answering region measured"
jq -e '[.derpcheck.findings[] | select(.code == "netcheck-region-unreachable") | .message] ==
	["region 50 (x50) did not answer while others did"]' "$lab_dir/q.json" >/dev/null &&
	t_pass || { t_fail "quiet: regions called unreachable are not exactly region 50"; jq -c '[.derpcheck.findings[].message][:5]' "$lab_dir/q.json" >&2; }
# exactly the silent nodes are named: every fourth, and all of region 50
jq -e '[.derpcheck.findings[] | select(.code == "netcheck-node-silent") | .message | capture("^n(?<n>[0-9]+) ").n | tonumber] ==
	[range(4; 197; 4)] + [197, 198, 199, 200]' "$lab_dir/q.json" >/dev/null && t_pass ||
	{ t_fail "quiet: the nodes named are not exactly the silent ones"; jq -c '[.derpcheck.findings[].message][:5]' "$lab_dir/q.json" >&2; }
jq -e '[.derpcheck.findings[] | select(.code == "netcheck-node-silent") | .message] |
	all(test("^n[0-9]+ \\(IPv4, 127\\.0\\.0\\.1:[0-9]+\\): no reply on UDP [0-9]+ \\(3 requests in [0-9]+ms, no ICMP error\\) while other nodes answer"))' \
	"$lab_dir/q.json" >/dev/null && t_pass || { t_fail "quiet: a node finding without its evidence"; jq '.derpcheck.findings[0]' "$lab_dir/q.json" >&2; }
t_finish
