# Tailscale's real DERP server (derper v1.34.2) and its Go DERP client, built from the
# vendored, unmodified sources in ../shared/peers by `make peers` into build/peers/bin.
# Tests of anything that speaks DERP, TLS to derper or Tailscale-style STUN run against
# these as well as against our own misbehaving servers (tests/tools).
#
# Source it after a library that defines work (a scratch directory), fail and pass
# (tests/integration/lib/derp.sh does). Every derper started here is stopped by its PID
# on exit (through server_pids when the caller keeps that list, else our own trap hook).
#
#   peers_require                     the binaries must exist: a missing build is a
#                                     failure, never a skip (CI must run this suite)
#   derper_certdir DIR CRT KEY [HOST] derper's --certmode manual folder: DIR/HOST.crt and
#                                     DIR/HOST.key (HOST defaults to derp.test)
#   derper_start NAME ADDR CERTDIR [derper flags...]
#                                     start derper on ADDR (an IPv4 loopback address) with
#                                     a free TCP port and a free UDP port for STUN, wait
#                                     until both listen; sets DERPER_PORT and DERPER_STUN
#                                     (and derper_port_NAME / derper_stun_NAME). Flags given
#                                     are appended (later ones win in Go's flag package),
#                                     e.g. -stun=false, -verify-clients, -mesh-with ...
#   derper_stop NAME                  stop it (SIGTERM, then wait)
#   derper_log NAME                   the path of its log (stderr + stdout)
#   derpclient ARGS...                Tailscale's derphttp client (cmd/derpclient)
#   netcheckjson ARGS...              Tailscale's netcheck.GetReport on a map file (cmd/netcheckjson);
#                                     it refuses to run outside a namespace with only loopback
#                                     (tests/lib/netns.sh makes one)
#
# With NETNS set (a network namespace, tests/lib/netns.sh), derper_start runs derper inside
# it: free ports, the readiness check and the process are all the namespace's.

: "${work:?source tests/integration/lib/derp.sh (or set work) before tests/lib/peers.sh}"
PEERS=${PEERS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/peers/bin}

peers_require() {
	local b
	for b in derper derpclient; do
		if [ ! -x "$PEERS/$b" ]; then
			fail "Tailscale's $b is not built in $PEERS: run \`make peers\` (needs ../shared/peers and Debian's golang-go)"
			finish
			exit 1
		fi
	done
}

derper_certdir() {
	local dir=$1 crt=$2 key=$3 host=${4:-derp.test}
	mkdir -p "$dir"
	cp "$crt" "$dir/$host.crt"
	cp "$key" "$dir/$host.key"
}

_peers_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Run in $NETNS when it is set, else here.
_peers_in() { if [ -n "${NETNS:-}" ]; then ip netns exec "$NETNS" "$@"; else "$@"; fi; }

# A port free on ADDR for TCP (proto t) or UDP (proto u); ss sees every socket of the host
# (of the namespace, with NETNS).
_peers_free_port() {
	local proto=$1 p
	while :; do
		p=$((20000 + $(od -An -N2 -tu2 /dev/urandom) % 40000))
		_peers_in ss -H"$proto"an "( sport = :$p )" 2>/dev/null | grep -q . || { echo "$p"; return; }
	done
}

derper_start() {
	local name=$1 addr=$2 certdir=$3 tries port stun pid deadline log stun_off=0
	shift 3
	case " $* " in *" -stun=false "* | *" --stun=false "*) stun_off=1 ;; esac
	log=$work/derper-$name.log
	mkdir -p "$work/derper-$name.state"
	for tries in 1 2 3; do
		port=$(_peers_free_port t)
		stun=$(_peers_free_port u)
		local args=(-a "$addr:$port" -http-port -1 -stun-port "$stun" -certmode manual -certdir "$certdir"
			-hostname derp.test -c "$work/derper-$name.state/derper.key" "$@")
		# Started as a simple command (ip netns exec execs): $! is derper itself, so
		# derper_stop reaches it.
		if [ -n "${NETNS:-}" ]; then
			ip netns exec "$NETNS" "$PEERS/derper" "${args[@]}" >"$log" 2>&1 </dev/null &
		else
			"$PEERS/derper" "${args[@]}" >"$log" 2>&1 </dev/null &
		fi
		pid=$!
		deadline=$(($(_peers_now_ms) + 10000))
		# Ready when the TLS port accepts and, unless STUN is off, derper has logged its
		# bound STUN socket. A port taken in between makes derper exit: try another.
		while kill -0 "$pid" 2>/dev/null && [ "$(_peers_now_ms)" -lt "$deadline" ]; do
			if _peers_in bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$addr" "$port" 2>/dev/null &&
				{ [ "$stun_off" = 1 ] || grep -q 'running STUN server' "$log"; }; then
				eval "derper_pid_${name//-/_}=$pid derper_port_${name//-/_}=$port derper_stun_${name//-/_}=$stun"
				server_pids="${server_pids:-} $pid"
				DERPER_PORT=$port DERPER_STUN=$stun
				return 0
			fi
			sleep 0.02
		done
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		grep -q 'address already in use' "$log" || break
	done
	fail "derper $name did not start on $addr (log below)"
	cat "$log" >&2
	return 1
}

derper_stop() {
	local pid
	eval "pid=\${derper_pid_${1//-/_}:-}"
	[ -n "$pid" ] || return 0
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

derper_log() { echo "$work/derper-$1.log"; }

derpclient() { "$PEERS/derpclient" "$@"; }

netcheckjson() { "$PEERS/netcheckjson" "$@"; }
