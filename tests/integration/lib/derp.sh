# Helpers for the DERP integration tests: a throw-away PKI, the test DERP server
# (tests/tools/derpserver.c) started with a ready-line wait, maps with its ports, and
# runs of derpcheck whose output is compared line by line after masking the numbers
# that change from run to run (ports, times).

: "${DERPCHECK:?set DERPCHECK to the derpcheck binary}" "${TOOLS:?set TOOLS to the build/tools directory}"
root=${DERPCHECK_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)} # $0: the test script that sources this (bench/ sets DERPCHECK_ROOT)
work=$(mktemp -d /tmp/derpcheck-derp.XXXXXX)
failures=0
passes=0
server_pids=""
extra_cleanup=""

cleanup() {
	for p in $server_pids; do
		kill "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	[ -n "$extra_cleanup" ] && eval "$extra_cleanup"
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

pass() {
	passes=$((passes + 1))
}

finish() {
	echo "$(basename "$0"): $passes passed, $failures failed"
	[ "$failures" -eq 0 ]
}

. "$root/tests/lib/hints.sh"
"$root/tests/tools/mkpki-derp.sh" "$work/pki"

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# wait_for_line FILE ERE PID SECS: until FILE has a line matching ERE (a server's ready
# line); fails when PID exits first or after SECS seconds.
wait_for_line() {
	local deadline=$(($(now_ms) + $4 * 1000))
	until grep -qE -- "$2" "$1" 2>/dev/null; do
		if ! kill -0 "$3" 2>/dev/null || [ "$(now_ms)" -gt "$deadline" ]; then
			return 1
		fi
		sleep 0.01
	done
}

# start_server NAME [derpserver options...]: start the server, wait for its "ready" line
# (at most 5 s), and set PORT (and PORT2 for a second --listen). $NETNS runs it in a netns.
start_server() {
	local name=$1 cert=${SERVER_CERT:-$work/pki/derp-chain.pem} key=${SERVER_KEY:-$work/pki/derp.key} pid deadline
	shift
	${NETNS:+ip netns exec "$NETNS"} "$TOOLS/derpserver" --cert "$cert" --key "$key" "$@" \
		>"$work/$name.ready" 2>"$work/$name.log" &
	pid=$!
	server_pids="$server_pids $pid"
	eval "pid_${name//-/_}=$pid"
	wait_for_line "$work/$name.ready" '^ready' "$pid" 5 || {
		fail "$name: derpserver did not get ready"
		cat "$work/$name.log" >&2
		return 1
	}
	set -- $(sed -n 's/^ready //p' "$work/$name.ready")
	PORT=${1##*:}
	PORT2=${2:-}
	PORT2=${PORT2##*:}
}

stop_server() {
	local pid
	eval "pid=\$pid_${1//-/_}"
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# node NAME HOST IPV4 IPV6 PORT [EXTRA-JSON]: one node of region 900
node() {
	printf '{"Name":"%s","RegionID":900,"HostName":"%s","IPv4":"%s","IPv6":"%s","STUNPort":-1,"DERPPort":%s%s}' \
		"$1" "$2" "$3" "$4" "$5" "${6:+,$6}"
}

# write_map FILE NODE-JSON...: region 900 "test" with these nodes
write_map() {
	local file=$1 nodes
	shift
	nodes=$(printf '%s,' "$@")
	printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"test","RegionName":"Test","Nodes":[%s]}}}\n' \
		"${nodes%,}" >"$work/$file"
}

# The numbers that change between runs; everything else is compared exactly.
mask() {
	sed -E \
		-e 's/(127\.0\.0\.1|\[::1\]):[0-9]+/\1:PORT/g' \
		-e 's/[0-9]+(\.[0-9]+)?ms/Nms/g' \
		-e 's/ +[0-9]+\.[0-9]{3}/ N/g' \
		-e 's/[0-9]+\.[0-9]{3}/N/g' \
		-e "s|$work|WORK|g"
}

# run NAME WANT-EXIT MAX-MS ARGS...: derpcheck ARGS in $work; checks exit status and time.
run() {
	local name=$1 want=$2 max_ms=$3 start got=0 elapsed
	shift 3
	start=$(now_ms)
	(cd "$work" && NO_COLOR=1 ${NETNS:+ip netns exec "$NETNS"} "$DERPCHECK" "$@" >"$work/$name.out" 2>"$work/$name.err") || got=$?
	elapsed=$(($(now_ms) - start))
	if [ "$got" = "$want" ]; then pass; else
		fail "$name: exit status $got, want $want"
		cat "$work/$name.out" "$work/$name.err" >&2
	fi
	if [ "$elapsed" -le "$max_ms" ]; then pass; else fail "$name: took ${elapsed} ms, more than $max_ms ms"; fi
	ELAPSED=$elapsed
	hints_check "$name" "$work" "$work/$name.out" "$work/$name.err"
}

# expect NAME out|err: the masked stream must equal standard input.
expect() {
	mask <"$work/$1.$2" >"$work/$1.$2.masked"
	if diff -u - "$work/$1.$2.masked" >"$work/$1.$2.diff"; then pass; else
		fail "$1: standard $( [ "$2" = out ] && echo output || echo error) differs (- want, + got):"
		cat "$work/$1.$2.diff" >&2
	fi
}

# contains NAME out|err TEXT: the (unmasked) stream holds TEXT.
contains() {
	if grep -qF -- "$3" "$work/$1${2:+.$2}"; then pass; else
		fail "$1: '$3' not in its standard $2"
		cat "$work/$1${2:+.$2}" >&2
	fi
}

# json NAME JQ-EXPR: the JSON output makes the jq expression true.
json() {
	if jq -e "$2" "$work/$1.out" >/dev/null; then pass; else
		fail "$1: JSON check failed: $2"
		cat "$work/$1.out" >&2
	fi
}

# has_line NAME out|err LINE: the stream, times masked (mask: 0.3ms -> Nms), has LINE as a
# whole line.
has_line() {
	if mask <"$work/$1.$2" | grep -qxF -- "$3"; then pass; else
		fail "$1: no line '$3' in its standard $2 (times masked as Nms):"
		mask <"$work/$1.$2" | sed 's/^/    | /' >&2
	fi
}
