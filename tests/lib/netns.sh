# Network namespaces for integration tests that need an isolated network (root only):
# fixed ports (3478, 38893) nobody else on the machine can hold, UDP dropped without
# touching the host, ICMP echo with injected delays, and the loopback-only namespace
# Tailscale's netcheckjson insists on. Source it after tests/lib/assert.sh and proc.sh
# (tests/integration/lib/derp.sh sources them); everything made here is removed at exit.
#
#   netns_require_root WHAT         not root: skip loudly (exit 0); with CI set, fail
#   netns_new                       a namespace with only loopback up; its name in NETNS_NEW
#   netns_etc NS FILE TEXT          /etc/netns/NS/FILE (resolv.conf, hosts: what `ip netns
#                                   exec` shows the programs in NS instead of /etc/FILE)
#   netns_ipv4_iface NS ADDR/LEN    a non-loopback interface with an IPv4 address (a veth
#                                   pair inside NS, leading nowhere; no default route):
#                                   Tailscale's netcheck plans IPv4 probes only when some
#                                   non-loopback interface has IPv4
#   netns_drop_udp NS [PORT]        drop UDP arriving in NS (to PORT only): silence, no ICMP
#   netns_icmp_echo NAME NS ADDR=MS...
#                                   the kernel stops answering echo requests in NS and
#                                   tests/tools/icmpecho answers ADDR after MS instead; waits
#                                   for its ready line; its "held ADDR MS" log is
#                                   $work/NAME.ready (netns_max_hold reads it)
#   netns_max_hold NAME ADDR MARK   the longest hold of replies from ADDR logged after line
#                                   MARK of NAME's log (empty when none)
#   netns_ping_groups NS LO HI      net.ipv4.ping_group_range in NS (who may open
#                                   unprivileged ICMP sockets; "1 0" is nobody)

. "$(dirname "${BASH_SOURCE[0]}")/root.sh"
netns_require_root() { require_root "$1"; }

_netns_count=0
_netns_etc=""
netns_new() {
	_netns_count=$((_netns_count + 1))
	NETNS_NEW=dc$$n$_netns_count
	ip netns add "$NETNS_NEW" || return 1
	netns_track "$NETNS_NEW"
	ip -n "$NETNS_NEW" link set lo up
}

netns_etc() {
	mkdir -p "/etc/netns/$1" || return 1
	case " $_netns_etc " in *" $1 "*) ;; *)
		_netns_etc="$_netns_etc $1"
		on_exit "rm -rf /etc/netns/$1" ;;
	esac
	printf '%s\n' "$3" >"/etc/netns/$1/$2"
}

netns_ipv4_iface() {
	ip -n "$1" link add dcv0 type veth peer name dcv1 &&
		ip -n "$1" addr add "$2" dev dcv0 &&
		ip -n "$1" link set dcv0 up &&
		ip -n "$1" link set dcv1 up || {
		fail "netns_ipv4_iface: no interface with $2 in $1"
		return 1
	}
}

netns_drop_udp() {
	ip netns exec "$1" iptables -A INPUT -p udp ${2:+--dport "$2"} -j DROP
}

netns_ping_groups() {
	ip netns exec "$1" sysctl -qw net.ipv4.ping_group_range="$2 $3"
}

netns_max_hold() {
	tail -n +$(($3 + 1)) "$work/$1.ready" | awk -v a="$2" '$1 == "held" && $2 == a { print $3 }' | sort -g | tail -1
}

netns_icmp_echo() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" sysctl -qw net.ipv4.icmp_echo_ignore_all=1 || return 1
	spawn "$name" '^ready$' 5 ip netns exec "$ns" "$TOOLS/icmpecho" --lifetime 120 --log-holds "$@"
}
