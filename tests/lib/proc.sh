# Scratch space, background servers and the teardown, for every test script (and for
# scripts/demo.sh): whatever a script starts here is stopped by its PID, and its network
# namespaces removed, on every exit path — normal end, failure, Ctrl-C, the deadline.
#
#   root                          the repository (DERPCHECK_ROOT overrides)
#   work                          a scratch directory, removed at exit (KEEP=1 keeps it);
#                                 WORK_PREFIX names it (default derpcheck-test)
#   now_ms                        milliseconds since the epoch
#   wait_for_line FILE ERE PID SECS
#                                 until FILE has a line matching ERE (a server's ready
#                                 line); status 1 when PID exits first or after SECS
#   spawn_to OUT ERR CMD...       start CMD in the background (stdout to OUT, stderr to
#                                 ERR, which may be OUT); its PID in SPAWN_PID, stopped at exit. Run it
#                                 directly (ip netns exec and env exec): the PID is then
#                                 the server's own and the kill reaches it
#   spawn NAME READY-ERE SECS CMD...
#                                 spawn_to $work/NAME.ready $work/NAME.log, then wait
#                                 until a stdout line matches READY-ERE (empty: no wait);
#                                 sets pid_NAME; on failure prints the log, status 1
#   spawn_stop NAME|PID           SIGTERM, then wait for it
#   on_exit COMMAND               run COMMAND (eval) during the teardown
#   netns_track NS                delete network namespace NS during the teardown
#   free_port udp|tcp [NS]        a port nothing on this host (namespace NS) uses
#   deadline SECS                 end the script (teardown included) after SECS seconds
#
# For scripts written before this library: PIDs added to server_pids or lab_pids, the
# commands in extra_cleanup (eval) and the functions named in cleanup_hooks are part of
# the teardown too.

root=${DERPCHECK_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
work=$(mktemp -d "/tmp/${WORK_PREFIX:-derpcheck-test}.XXXXXX")
server_pids=""
lab_pids=""
lab_namespaces=""
extra_cleanup=""
cleanup_hooks=""
_on_exit=""
_watchdog=""

_proc_teardown() {
	local p h
	for p in $server_pids $lab_pids; do kill "$p" 2>/dev/null; done
	for p in $server_pids $lab_pids; do wait "$p" 2>/dev/null; done
	[ -n "$extra_cleanup" ] && eval "$extra_cleanup"
	for h in $cleanup_hooks; do $h || true; done
	[ -n "$_on_exit" ] && eval "$_on_exit"
	for p in $lab_namespaces; do ip netns del "$p" 2>/dev/null; done
	[ -n "$_watchdog" ] && kill "$_watchdog" 2>/dev/null
	if [ -n "${KEEP:-}" ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap _proc_teardown EXIT
trap 'exit 130' INT TERM
trap 'echo "TIMEOUT: $(basename "$0") ran longer than its deadline; tearing down" >&2; exit 124' USR1

now_ms() { echo $(($(date +%s%N) / 1000000)); }

wait_for_line() {
	local deadline=$(($(now_ms) + $4 * 1000))
	until grep -qE -- "$2" "$1" 2>/dev/null; do
		if ! kill -0 "$3" 2>/dev/null || [ "$(now_ms)" -gt "$deadline" ]; then
			return 1
		fi
		sleep 0.01
	done
}

spawn_to() {
	local out=$1 err=$2
	shift 2
	if [ "$err" = "$out" ]; then
		"$@" >"$out" 2>&1 </dev/null &
	else
		"$@" >"$out" 2>"$err" </dev/null &
	fi
	SPAWN_PID=$!
	server_pids="$server_pids $SPAWN_PID"
}

spawn() {
	local name=$1 ready=$2 secs=$3
	shift 3
	spawn_to "$work/$name.ready" "$work/$name.log" "$@"
	eval "pid_${name//[^a-zA-Z0-9_]/_}=$SPAWN_PID"
	[ -z "$ready" ] && return 0
	wait_for_line "$work/$name.ready" "$ready" "$SPAWN_PID" "$secs" && return 0
	fail "$name: not ready within $secs s ($*); its log:"
	sed 's/^/    | /' "$work/$name.log" >&2
	return 1
}

spawn_stop() {
	local pid=$1 var=""
	case $pid in *[!0-9]*)
		var=pid_${1//[^a-zA-Z0-9_]/_}
		eval "pid=\${$var:-}" ;;
	esac
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[ -z "$var" ] || eval "$var="
	return 0
}

on_exit() { _on_exit="${_on_exit:+$_on_exit; }$1"; }

netns_track() { lab_namespaces="$lab_namespaces $1"; }

free_port() {
	local proto=${1:0:1} ns=${2:-} p
	while :; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
		# the port and the next one (stund and coturn use pairs) must both be free
		${ns:+ip netns exec "$ns"} ss -H"$proto"an "( sport = :$p or sport = :$((p + 1)) )" 2>/dev/null |
			grep -q . || { echo "$p"; return; }
	done
}

# The watchdog holds none of the script's output pipes (a reader would wait for it), and
# takes its sleep with it when the teardown stops it.
deadline() {
	(
		sleep "$1" &
		nap=$!
		trap 'kill $nap 2>/dev/null; exit 0' TERM
		wait $nap && kill -USR1 $$
	) </dev/null >/dev/null 2>&1 &
	_watchdog=$!
}
