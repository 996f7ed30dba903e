# Tailscale's real DERP server (derper v1.34.2) and its Go DERP client, built from the
# vendored, unmodified sources in ../shared/peers by `make peers` into build/peers/bin.
# Tests of anything that speaks DERP, TLS to derper or Tailscale-style STUN run against
# these as well as against our own misbehaving servers (tests/tools).
#
# Source it after tests/lib/assert.sh and tests/lib/proc.sh (tests/integration/lib/derp.sh
# sources them). Every derper started here is stopped by its PID on exit (proc.sh).
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
#                                     Optional, in the environment of the call:
#                                       DERPER_TCP_PORT=N  this TCP port, not a free one
#                                       DERPER_STUN_PORT=N this UDP port for STUN, not a free one
#                                       DERPER_NETNS=NS    run it in network namespace NS
#                                                          (ip netns exec; readiness checked there)
#                                       DERPER_HOSTS=FILE  its /etc/hosts (bind-mounted in a
#                                                          private mount namespace; root): derper
#                                                          dials -mesh-with names itself
#                                       DERPER_CA=FILE     the only root it trusts when it dials
#                                                          (SSL_CERT_FILE): meshed derpers verify
#                                                          each other like any Go client
#   derper_stop NAME                  stop it (SIGTERM, then wait)
#   derper_log NAME                   the path of its log (stderr + stdout)
#   derpclient ARGS...                Tailscale's derphttp client (cmd/derpclient)
#   netcheckjson ARGS...              Tailscale's netcheck.GetReport on a map file (cmd/netcheckjson);
#                                     it refuses to run outside a namespace with only loopback
#                                     (tests/lib/netns.sh makes one)
#
# With DERPER_NETNS (or NETNS, the namespace the test runs derpcheck in) set, derper_start
# runs derper inside that network namespace: free ports, the readiness check and the
# process are all the namespace's. DERPER_HOSTS (a hosts file bind-mounted for derper
# alone) and DERPER_CA (its only trusted root, for mesh TLS) serve the mesh tests.
#
# Maps and certificates for those tests:
#   derper_node NAME HOST IPV4 DERPPORT STUNPORT [EXTRA-JSON]
#                                     one node of region 900, as a policy file writes it
#   derper_policy FILE NODE-JSON...   a tailnet policy file in HuJSON (comments, trailing
#                                     commas) whose derpMap has region 900 "myvps" with these
#                                     nodes and omits Tailscale's default regions
#   (certificates: tests/lib/pki.sh)
#   mesh_psk FILE                     a mesh key file derper accepts (64 hex digits)

: "${work:?source tests/lib/proc.sh (or tests/integration/lib/derp.sh) before tests/lib/peers.sh}"
PEERS=${PEERS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/peers/bin}
. "$(dirname "${BASH_SOURCE[0]}")/pki.sh"

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

# The network namespace derper runs in: DERPER_NETNS, else the test's NETNS, else none.
_peers_ns() { echo "${DERPER_NETNS:-${NETNS:-}}"; }

# Run in derper's namespace when there is one, else here.
_peers_in() {
	local ns
	ns=$(_peers_ns)
	if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# _peers_accepts ADDR PORT: a TCP connection to ADDR:PORT succeeds (in derper's namespace).
_peers_accepts() { _peers_in bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

derper_start() {
	local name=$1 addr=$2 certdir=$3 tries port stun pid deadline log stun_off=0 runner=()
	shift 3
	case " $* " in *" -stun=false "* | *" --stun=false "*) stun_off=1 ;; esac
	log=$work/derper-$name.log
	mkdir -p "$work/derper-$name.state"
	[ -n "$(_peers_ns)" ] && runner=(ip netns exec "$(_peers_ns)")
	# Each step execs the next, so $! is derper itself and derper_stop reaches it.
	[ -n "${DERPER_HOSTS:-}" ] && runner+=(unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$DERPER_HOSTS")
	runner+=(env ${DERPER_CA:+SSL_CERT_FILE=$DERPER_CA SSL_CERT_DIR=/nonexistent})
	for tries in 1 2 3; do
		port=${DERPER_TCP_PORT:-$(free_port tcp "$(_peers_ns)")}
		stun=${DERPER_STUN_PORT:-$(free_port udp "$(_peers_ns)")}
		"${runner[@]}" "$PEERS/derper" -a "$addr:$port" -http-port -1 -stun-port "$stun" -certmode manual \
			-certdir "$certdir" -hostname derp.test -c "$work/derper-$name.state/derper.key" "$@" \
			>"$log" 2>&1 </dev/null &
		pid=$!
		deadline=$(($(now_ms) + 10000))
		# Ready when the TLS port accepts and, unless STUN is off, derper has logged its
		# bound STUN socket. A port taken in between makes derper exit: try another.
		while kill -0 "$pid" 2>/dev/null && [ "$(now_ms)" -lt "$deadline" ]; do
			if _peers_accepts "$addr" "$port" &&
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
		[ -z "${DERPER_TCP_PORT:-}" ] && grep -q 'address already in use' "$log" || break
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

derper_node() {
	printf '{"Name": "%s", "RegionID": 900, "HostName": "%s", "IPv4": "%s", "IPv6": "none",\n           "STUNPort": %s, "DERPPort": %s%s},' \
		"$1" "$2" "$3" "$5" "$4" "${6:+, $6}"
}

derper_policy() {
	local file=$1
	shift
	{
		printf '// A tailnet policy file as people paste it: HuJSON, comments and trailing commas.\n{\n'
		printf '  "acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]},],\n'
		printf '  "derpMap": {\n    "OmitDefaultRegions": true, // only our relay\n    "Regions": {\n'
		printf '      "900": {\n        "RegionID": 900, "RegionCode": "myvps", "RegionName": "My NAT VPS",\n'
		printf '        "Nodes": [\n'
		printf '          %s\n' "$@"
		printf '        ],\n      },\n    },\n  },\n}\n'
	} >"$file"
}

mesh_psk() { od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$1"; echo >>"$1"; }

# derper_wait_log NAME TEXT [SECS]: until derper NAME's log has a line with TEXT (default 10 s).
derper_wait_log() {
	local log deadline
	log=$(derper_log "$1")
	deadline=$(($(now_ms) + ${3:-10} * 1000))
	until grep -qF -- "$2" "$log" 2>/dev/null; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# peers_rtt_avg FILE: the average of "rtt min/avg/max/mdev = a/b/c/d ms" (derpcheck ping and
# derpclient print the same line), or nothing.
peers_rtt_avg() { sed -n 's|^rtt min/avg/max/mdev = [0-9.]*/\([0-9.]*\)/.*|\1|p' "$1" | head -1; }

# peers_same_order A_MS B_MS FACTOR: true when the larger is at most FACTOR times the smaller,
# each counted from 0.5 ms up so that scheduling noise on sub-millisecond loopback RTTs does
# not decide (two clients on one loaded machine: the same order, not the same number).
peers_same_order() {
	awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN {
		if (a == "" || b == "") exit 1
		a += 0.5; b += 0.5
		exit !((a > b ? a / b : b / a) <= f)
	}'
}

# derpclient_ping NAME HOST PORT [derpclient flags...]: Tailscale's derphttp client pings
# through the derper at 127.0.0.1:PORT (in $NETNS if set) with HOST as the TLS name, 10
# packets 50 ms apart; output in $work/NAME.out and .err, exit status in DERPCLIENT_RC.
derpclient_ping() {
	local name=$1 host=$2 port=$3
	shift 3
	DERPCLIENT_RC=0
	${NETNS:+ip netns exec "$NETNS"} "$PEERS/derpclient" -url "https://$host:$port/derp" -resolve-to 127.0.0.1 \
		-n 10 -i 50ms -q -connect-timeout 5s -timeout 3s "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null ||
		DERPCLIENT_RC=$?
}

netcheckjson() { "$PEERS/netcheckjson" "$@"; }
