# Shared by the bench/bench_*.sh scripts that compare derpcheck with a reference (Tailscale's
# own code, or derpcheck itself at another size). Source it after tests/lab/lib.sh (servers,
# namespaces and their teardown).
#
# Every figure is a median over several runs made in the same invocation, the two tools'
# runs interleaved (derpcheck, reference, derpcheck, ...), so a noisy shared machine slows
# both alike; goals are ratios, never a lone absolute time.
#
#   median                     stdin: numbers, one a line; stdout: their median
#   goal LABEL UNIT DC REF OP LIMIT [WHY]
#                              one line: derpcheck's figure, the reference's, the ratio
#                              DC/REF and the goal (ratio OP LIMIT); a missed goal sets
#                              bench_status=1 and prints WHY, the known reason (its profile
#                              is in bench/README.md). REF "-" prints DC against LIMIT.
#   figure LABEL UNIT DC REF   the same line without a goal (for context)
#   goal_header TITLE REF-NAME the table's heading
#   bench_netns NAME           (root) a namespace with loopback and one IPv4 interface
#                              that leads nowhere (no default route): Tailscale's netcheck
#                              plans IPv4 probes only when a non-loopback interface has an
#                              IPv4 address, and refuses to run where 203.0.113.1 routes;
#                              removed at exit with the lab's namespaces
#   bench_needs_root WHAT      not root: says loudly what is not measured, marks the bench
#                              missed (a goal not measured is not met), returns 1
#   bench_explain FILE         print an explanation kept in bench/explain/FILE

bench_status=0

median() {
	sort -g | awk '{ v[NR] = $1 }
	END {
		if (NR == 0) { print "nan"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		if (m == int(m)) printf "%d\n", m; else if (m < 10) printf "%.3f\n", m; else if (m < 1000) printf "%.1f\n", m; else printf "%.0f\n", m
	}'
}

goal_header() {
	printf '\n== %s\n' "$1"
	printf '  %-44s %12s %12s %8s  %-10s %s\n' "figure" "derpcheck" "$2" "ratio" "goal" "verdict"
}

goal() {
	local label=$1 unit=$2 dc=${3:-none} ref=${4:-none} op=$5 limit=$6 ratio verdict value
	if [ "$ref" = - ]; then
		ratio=-
		value=$dc
	else
		ratio=$(awk -v a="$dc" -v b="$ref" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/) print "nan"; else if (b + 0 == 0) print "inf"; else printf "%.2f", a / b }')
		value=$ratio
	fi
	if awk -v v="$value" -v l="$limit" "BEGIN { exit !(v ~ /^[0-9.]+\$/ && v + 0 $op l + 0) }"; then
		verdict=ok
	else
		verdict=MISSED
		bench_status=1
	fi
	printf '  %-44s %12s %12s %8s  %-10s %s\n' "$label ($unit)" "$dc" "$ref" "$ratio" "$op $limit" "$verdict"
	if [ "$verdict" = MISSED ] && [ -n "${7:-}" ]; then
		printf '    why: %s (profile: bench/README.md)\n' "$7"
	fi
}

figure() {
	local ratio
	ratio=$(awk -v a="$3" -v b="$4" 'BEGIN { if (b + 0 == 0) print "-"; else printf "%.2f", a / b }')
	printf '  %-44s %12s %12s %8s  %-10s %s\n' "$1 ($2)" "$3" "$4" "$ratio" "" ""
}

bench_needs_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	echo "########################################################################"
	echo "## NOT MEASURED: $1 needs root (network namespaces: Tailscale's netcheck"
	echo "## runs only where 203.0.113.1 does not route). Run 'sudo make bench'."
	echo "########################################################################"
	bench_status=1
	return 1
}

bench_netns() {
	ip netns add "$1" || return 1
	lab_namespaces="$lab_namespaces $1"
	ip -n "$1" link set lo up &&
		ip -n "$1" link add dcb0 type veth peer name dcb1 &&
		ip -n "$1" addr add 10.99.0.2/24 dev dcb0 &&
		ip -n "$1" link set dcb0 up && ip -n "$1" link set dcb1 up
}

bench_explain() {
	sed 's/^/  | /' "$(dirname "${BASH_SOURCE[0]}")/explain/$1"
}
