# The derpcheck network test lab: a shell library that tests and benchmarks source.
#
# Servers (no root needed):
#   lab_spawn NAME NS CMD...     start CMD (inside namespace NS, or here when NS is ""),
#                                stdout to $lab_dir/NAME.out; stopped by pid at exit
#   lab_wait_ready NAME SECS     wait until NAME printed "ready" (stunserver does)
#   lab_ports NAME               the ports NAME printed as "listening ADDR:PORT"
#   lab_wait_stun NS ADDR SECS   wait until a STUN server answers at ADDR (coturn, stund)
#   lab_free_port                a UDP port nobody uses on this host, for loopback servers
#
# Topology (root only; lab_require_root first):
#   lab_topology                 three namespaces:
#       client  10.77.1.2/24, 2001:db8:1::2/64       (LAB_CLIENT)
#       router  10.77.1.1 | 203.0.113.1/24           (LAB_ROUTER)  IPv4 NAT, IPv6 routed
#               2001:db8:1::1 | 2001:db8:2::1
#       inet    203.0.113.10 and .11, 2001:db8:2::10 (LAB_INET)    "the internet"
#   lab_nat MODE                 the router's IPv4 NAT: masquerade (endpoint-independent
#                                mapping), random-fully (address-and-port-dependent), or
#                                drop-udp (masquerade, but all UDP from inside dropped)
#   lab_in NS CMD...             run CMD inside a namespace
#   lab_icmp_echo NAME NS ADDR=MS...
#                                the kernel stops answering ICMP echo in NS; tests/tools/icmpecho
#                                answers ADDR after MS instead (its "held ADDR MS" lines in NAME.out)
#
# Everything is bounded and torn down on every exit path: lab_deadline SECS kills the
# test (running the teardown) if it takes longer. Traffic stays on loopback and inside
# these namespaces.
#
# The scratch directory, the teardown and the counting are tests/lib's (proc.sh, assert.sh;
# $lab_dir is $work). Assertions under the lab's names: t_pass, t_fail MSG,
# t_expect_exit NAME WANT GOT, t_has_line NAME FILE LINE, t_has_match NAME FILE ERE,
# t_lacks_match NAME FILE ERE, t_finish.

_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
WORK_PREFIX=derpcheck-lab
. "$_lib/assert.sh"
. "$_lib/proc.sh"
lab_dir=$work

lab_deadline() { deadline "$@"; }

# Lab tests need root for namespaces and iptables. CI runs as root, so there they must run.
. "$_lib/root.sh"
lab_require_root() { require_root "$1"; }

lab_in() {
	ns=$1
	shift
	if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

lab_spawn() {
	local name=$1 ns=$2
	shift 2
	spawn_to "$lab_dir/$name.out" "$lab_dir/$name.err" ${ns:+ip netns exec "$ns"} "$@"
	eval "lab_pid_$name=$SPAWN_PID"
}

lab_wait_ready() {
	local pid
	eval "pid=\$lab_pid_$1"
	wait_for_line "$lab_dir/$1.out" '^ready$' "$pid" "$2" && return 0
	if kill -0 "$pid" 2>/dev/null; then echo "lab: $1 not ready after $2 s" >&2; else
		echo "lab: $1 exited before it was ready:" >&2
		cat "$lab_dir/$1.err" >&2
	fi
	return 1
}

lab_ports() {
	sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$lab_dir/$1.out"
}

lab_wait_stun() {
	local ns=$1 addr=$2 secs=$3 end
	end=$(($(now_ms) + secs * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		lab_in "$ns" "$DERPCHECK" stun --style rfc5389 --timeout 100ms -c 1 "$addr" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "lab: no STUN server answers at $addr after $secs s" >&2
	return 1
}

lab_free_port() { free_port udp; }

lab_topology() {
	id=$$
	LAB_CLIENT=dc$id-client LAB_ROUTER=dc$id-router LAB_INET=dc$id-inet
	for ns in $LAB_CLIENT $LAB_ROUTER $LAB_INET; do
		ip netns add "$ns" || return 1
		netns_track "$ns"
		ip -n "$ns" link set lo up
		# No duplicate address detection: addresses (link-local ones too) work at once.
		lab_in "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	done
	ip link add dc${id}c type veth peer name dc${id}ri
	ip link add dc${id}ro type veth peer name dc${id}i
	ip link set dc${id}c netns "$LAB_CLIENT"
	ip link set dc${id}ri netns "$LAB_ROUTER"
	ip link set dc${id}ro netns "$LAB_ROUTER"
	ip link set dc${id}i netns "$LAB_INET"

	ip -n "$LAB_CLIENT" addr add 10.77.1.2/24 dev dc${id}c
	ip -n "$LAB_CLIENT" addr add 2001:db8:1::2/64 dev dc${id}c nodad
	ip -n "$LAB_CLIENT" link set dc${id}c up
	ip -n "$LAB_CLIENT" route add default via 10.77.1.1
	ip -n "$LAB_CLIENT" -6 route add default via 2001:db8:1::1

	ip -n "$LAB_ROUTER" addr add 10.77.1.1/24 dev dc${id}ri
	ip -n "$LAB_ROUTER" addr add 2001:db8:1::1/64 dev dc${id}ri nodad
	ip -n "$LAB_ROUTER" addr add 203.0.113.1/24 dev dc${id}ro
	ip -n "$LAB_ROUTER" addr add 2001:db8:2::1/64 dev dc${id}ro nodad
	ip -n "$LAB_ROUTER" link set dc${id}ri up
	ip -n "$LAB_ROUTER" link set dc${id}ro up
	lab_in "$LAB_ROUTER" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1

	ip -n "$LAB_INET" addr add 203.0.113.10/24 dev dc${id}i
	ip -n "$LAB_INET" addr add 203.0.113.11/24 dev dc${id}i
	ip -n "$LAB_INET" addr add 2001:db8:2::10/64 dev dc${id}i nodad
	ip -n "$LAB_INET" link set dc${id}i up
	ip -n "$LAB_INET" -6 route add 2001:db8:1::/64 via 2001:db8:2::1
	LAB_ROUTER_OUT=dc${id}ro LAB_ROUTER_IN=dc${id}ri
}

lab_nat() {
	lab_in "$LAB_ROUTER" iptables -t nat -F POSTROUTING
	lab_in "$LAB_ROUTER" iptables -F FORWARD
	lab_in "$LAB_ROUTER" ip6tables -F FORWARD
	case $1 in
	masquerade)
		lab_in "$LAB_ROUTER" iptables -t nat -A POSTROUTING -o "$LAB_ROUTER_OUT" -j MASQUERADE ;;
	random-fully)
		lab_in "$LAB_ROUTER" iptables -t nat -A POSTROUTING -o "$LAB_ROUTER_OUT" -j MASQUERADE --random-fully ;;
	drop-udp)
		lab_in "$LAB_ROUTER" iptables -t nat -A POSTROUTING -o "$LAB_ROUTER_OUT" -j MASQUERADE
		lab_in "$LAB_ROUTER" iptables -A FORWARD -i "$LAB_ROUTER_IN" -p udp -j DROP
		lab_in "$LAB_ROUTER" ip6tables -A FORWARD -i "$LAB_ROUTER_IN" -p udp -j DROP ;;
	*)
		echo "lab_nat: unknown mode $1" >&2
		return 1 ;;
	esac
}

lab_icmp_echo() {
	name=$1 ns=$2
	shift 2
	lab_in "$ns" sysctl -qw net.ipv4.icmp_echo_ignore_all=1 || return 1
	lab_spawn "$name" "$ns" "$TOOLS/icmpecho" --lifetime 140 --log-holds "$@"
	lab_wait_ready "$name" 5
}

# ---- assertions (the names lab tests and benchmarks use; tests/lib/assert.sh) ----------

t_pass() { pass; }
t_fail() { fail "$@"; }
t_expect_exit() { assert_exit "$@"; }
t_has_line() { assert_line "$@"; }
t_has_match() { assert_match "$@"; }
t_lacks_match() { assert_no_match "$@"; }
t_finish() { finish; }
