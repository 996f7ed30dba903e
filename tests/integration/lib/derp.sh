# The integration tests' entry point: the shared library (tests/lib: assert.sh, proc.sh,
# compare.sh, pki.sh, hints.sh) plus what DERP tests need — a PKI in $work/pki, the test
# DERP server (tests/tools/derpserver.c) with a ready-line wait, maps with its ports, and
# runs of derpcheck with an exit status and a time limit.
#
#   start_server NAME [derpserver options...]
#                         start derpserver, wait for its "ready" line (5 s), set PORT (and
#                         PORT2 for a second --listen); $NETNS runs it in a namespace;
#                         SERVER_CERT/SERVER_KEY replace the chain and key
#   stop_server NAME
#   node NAME HOST IPV4 IPV6 PORT [EXTRA-JSON]    one node of region 900, STUN off
#   write_map FILE NODE-JSON...                   region 900 "test" in $work/FILE
#   run NAME WANT-EXIT MAX-MS ARGS...
#                         one case: derpcheck ARGS in $work (in $NETNS if set), output in
#                         $work/NAME.out and .err; asserts the exit status and the time
#                         (two assertions), then runs the commands the output prints
#   contains NAME out|err TEXT     the (unmasked) stream holds TEXT
#   has_line NAME out|err LINE     the stream, masked, has LINE as a whole line
#   json NAME JQ-EXPR              the JSON output makes the jq expression true
#   (expect and mask: tests/lib/compare.sh)

: "${DERPCHECK:?set DERPCHECK to the derpcheck binary}" "${TOOLS:?set TOOLS to the build/tools directory}"
_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../lib" && pwd)
WORK_PREFIX=derpcheck-derp
. "$_lib/assert.sh"
. "$_lib/proc.sh"
. "$_lib/compare.sh"
. "$_lib/pki.sh"
. "$_lib/hints.sh"
pki_derp "$work/pki"

start_server() {
	local name=$1
	shift
	spawn "$name" '^ready' 5 ${NETNS:+ip netns exec "$NETNS"} "$TOOLS/derpserver" \
		--cert "${SERVER_CERT:-$work/pki/derp-chain.pem}" --key "${SERVER_KEY:-$work/pki/derp.key}" "$@" || return 1
	set -- $(sed -n 's/^ready //p' "$work/$name.ready")
	PORT=${1##*:}
	PORT2=${2:-}
	PORT2=${PORT2##*:}
}

stop_server() { spawn_stop "$1"; }

node() {
	printf '{"Name":"%s","RegionID":900,"HostName":"%s","IPv4":"%s","IPv6":"%s","STUNPort":-1,"DERPPort":%s%s}' \
		"$1" "$2" "$3" "$4" "$5" "${6:+,$6}"
}

write_map() {
	local file=$1 nodes
	shift
	nodes=$(printf '%s,' "$@")
	printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"test","RegionName":"Test","Nodes":[%s]}}}\n' \
		"${nodes%,}" >"$work/$file"
}

run() {
	local name=$1 want=$2 max_ms=$3 start got=0 elapsed
	shift 3
	case_begin "$name"
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

contains() {
	if grep -qF -- "$3" "$work/$1${2:+.$2}"; then pass; else
		fail "$1: '$3' not in its standard $2"
		cat "$work/$1${2:+.$2}" >&2
	fi
}

json() { assert_json "$1" "$work/$1.out" "$2"; }

has_line() {
	if mask <"$work/$1.$2" | grep -qxF -- "$3"; then pass; else
		fail "$1: no line '$3' in its standard $2 (times masked as Nms):"
		mask <"$work/$1.$2" | sed 's/^/    | /' >&2
	fi
}
