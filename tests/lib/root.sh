# Tests that need root (network namespaces, iptables, raw sockets) must run in CI, which
# runs as root; elsewhere they skip loudly, never silently.
#   require_root WHAT      not root: a banner on stderr and exit 0; with CI set, exit 1
require_root() {
	[ "$(id -u)" -eq 0 ] && return 0
	if [ -n "${CI:-}" ]; then
		echo "FAIL: $(basename "$0") needs root (network namespaces, iptables) and CI is set" >&2
		exit 1
	fi
	echo "########################################################################" >&2
	echo "## SKIPPED: $(basename "$0") ($1) needs root for network namespaces" >&2
	echo "## and iptables. Run 'sudo make check' to include it. CI runs it as root." >&2
	echo "########################################################################" >&2
	exit 0
}
