#!/bin/bash
# make demo: the problem derpcheck exists for, end to end on this machine, then the fix.
#
# The setup of the user who started the project: derper in a Docker container on a VPS
# behind NAT. acme.sh --cert-file installed the certificate without its intermediate, so
# the tailnet policy file got "InsecureForTests": true to make clients connect anyway;
# docker publishes STUN as 3478:38893/udp while the DERP map says STUNPort 38893.
# derpcheck validate, diagnose, cert, ping and server say what is wrong; then the chain
# is fixed, InsecureForTests removed and STUNPort corrected, and the same checks pass.
#
#   scripts/demo.sh [DERPCHECK] [TOOLS] [PEERS]
#
# As root the scene is network namespaces: a "container" (172.17.0.2) running derper, a
# "VPS" (203.0.113.10) that publishes it with iptables DNAT the way docker -p does
# (tcp/38894 -> 38894, udp/3478 -> 38893), and a "laptop" (203.0.113.2) where derpcheck
# runs; nothing can leave them. Not as root (or DEMO_NETNS=0) it is loopback: derper on
# 127.0.0.41, the test STUN server answering on 3478 and nothing on the map's port.
# The relay is Tailscale's own derper v1.34.2 when PEERS/derper is built (make peers),
# else the project's test DERP and STUN servers (tests/tools); DEMO_PEERS=0 forces those.
# Everything started here is stopped by its PID, the namespaces are deleted.
set -u
derpcheck=$(realpath "${1:-./derpcheck}")
tools=$(realpath "${2:-build/tools}")
peers_given=${3:-build/peers/bin}
peers=$(realpath -m "$peers_given")
export DERPCHECK_DEFAULT_MAP_URL= # never Tailscale's public map
export NO_COLOR=${NO_COLOR:-}
started=$(date +%s%N)

tag=${DEMO_TAG:-dcdemo$$} # names the namespaces and the scratch directory
lib=$(cd "$(dirname "$0")/../tests/lib" && pwd)
WORK_PREFIX=derpcheck-demo-$tag
. "$lib/assert.sh"
. "$lib/proc.sh"
. "$lib/pki.sh"
PEERS=$peers
. "$lib/peers.sh"
demo_fail() {
	echo "demo: $*" >&2
	exit 2
}

netns=1
[ "$(id -u)" -eq 0 ] && [ "${DEMO_NETNS:-1}" != 0 ] || netns=""
real=1
[ -x "$peers/derper" ] && [ "${DEMO_PEERS:-1}" != 0 ] || real=""

# ---- the scene ------------------------------------------------------------------------------

if [ -n "$netns" ]; then
	ctr=$tag-ctr vps=$tag-vps laptop=$tag-laptop
	for ns in $ctr $vps $laptop; do
		ip netns add "$ns" || demo_fail "cannot create network namespace $ns"
		netns_track "$ns"
		ip -n "$ns" link set lo up
	done
	# The links are made inside the namespaces: the host's own network is never touched.
	ip -n "$vps" link add "${tag}v" type veth peer name "${tag}c" netns "$ctr" &&
		ip -n "$vps" link add "${tag}p" type veth peer name "${tag}l" netns "$laptop" ||
		demo_fail "cannot link the namespaces"
	ip -n "$ctr" addr add 172.17.0.2/16 dev "${tag}c" && ip -n "$ctr" link set "${tag}c" up &&
		ip -n "$ctr" route add default via 172.17.0.1 &&
		ip -n "$vps" addr add 172.17.0.1/16 dev "${tag}v" && ip -n "$vps" link set "${tag}v" up &&
		ip -n "$vps" addr add 203.0.113.10/24 dev "${tag}p" && ip -n "$vps" link set "${tag}p" up &&
		ip -n "$laptop" addr add 203.0.113.2/24 dev "${tag}l" && ip -n "$laptop" link set "${tag}l" up &&
		ip netns exec "$vps" sysctl -qw net.ipv4.ip_forward=1 ||
		demo_fail "cannot address the namespaces"
	# What `docker run -p 38894:38894 -p 3478:38893/udp` does on the VPS.
	ip netns exec "$vps" iptables -t nat -A PREROUTING -p tcp --dport 38894 -j DNAT --to-destination 172.17.0.2:38894 &&
		ip netns exec "$vps" iptables -t nat -A PREROUTING -p udp --dport 3478 -j DNAT --to-destination 172.17.0.2:38893 ||
		demo_fail "iptables cannot publish the ports"
	ipv4=203.0.113.10 derp_port=38894
	at_laptop=(ip netns exec "$laptop")
	at_vps=(ip netns exec "$vps")
else
	ipv4=127.0.0.41 derp_port=""
	at_laptop=() at_vps=()
fi

pki_derp "$work/pki" 90 >/dev/null 2>&1 || demo_fail "openssl could not make the test certificates"
cp "$work/pki/ca.pem" "$work/ca.pem"
pki_leaf_only "$work/pki" "$work/certs"

# start_relay: derper (or the test DERP server) with the certificate in $work/certs; on
# loopback the second start (after the fix) keeps the first one's port, which the map and
# the compose file name.
start_relay() {
	if [ -n "$real" ]; then
		if [ -n "$netns" ]; then
			DERPER_NETNS=$ctr DERPER_TCP_PORT=38894 DERPER_STUN_PORT=38893 derper_start relay 172.17.0.2 "$work/certs" \
				-a :38894 || demo_fail "derper did not start"
		else
			DERPER_TCP_PORT=${derp_port:-} derper_start relay "$ipv4" "$work/certs" -stun=false ||
				demo_fail "derper did not start"
			derp_port=$DERPER_PORT
		fi
	else
		local ns=() listen=$ipv4:${derp_port:-0}
		[ -n "$netns" ] && ns=(ip netns exec "$ctr") listen=172.17.0.2:38894
		spawn relay '^ready' 5 "${ns[@]}" "$tools/derpserver" --cert "$work/certs/derp.test.crt" \
			--key "$work/certs/derp.test.key" --hostname derp.test --listen "$listen" || demo_fail "derpserver did not start"
		[ -n "$netns" ] || derp_port=$(sed -n 's/^ready .*:\([0-9]*\)$/\1/p' "$work/relay.ready")
	fi
}
stop_relay() { if [ -n "$real" ]; then derper_stop relay; else spawn_stop relay; fi; }

start_relay
# STUN: derper's own on the container's 38893; otherwise the test server, on the container's
# 38893 or, on loopback, on 3478 with nothing on the map's 38893.
if [ -z "$real" ] && [ -n "$netns" ]; then
	spawn stun '^ready' 5 ip netns exec "$ctr" "$tools/stunserver" -a 172.17.0.2 -p 38893 --lifetime 300 ||
		demo_fail "stunserver did not start"
elif [ -z "$netns" ]; then
	spawn stun '^ready' 5 "$tools/stunserver" -a "$ipv4" -p 3478 --lifetime 300 ||
		demo_fail "the test STUN server cannot listen on $ipv4:3478 (is the port taken?)"
fi

# policy STUNPORT [EXTRA]: the tailnet policy file, as the user pasted it.
policy() {
	cat >"$work/policy.hujson" <<EOF
// Tailnet policy file with a self-hosted DERP relay on a NAT VPS.
{
  "acls": [{"action": "accept", "src": ["autogroup:member"], "dst": ["*:*"]}],
  "derpMap": {
    "OmitDefaultRegions": false, // Tailscale's regions stay as a fallback
    "Regions": {
      "900": {
        "RegionID": 900, "RegionCode": "myvps", "RegionName": "My NAT VPS",
        "Nodes": [{
          "Name": "900a", "RegionID": 900, "HostName": "derp.test",
          "IPv4": "$ipv4", "IPv6": "none",
          "STUNPort": $1, "DERPPort": $derp_port,$2
        }],
      },
    },
  },
}
EOF
}
# The VPS's compose file, the way the seed deployed derper (server reads it; on loopback
# the host's DERP port is the relay's).
cat >"$work/docker-compose.yml" <<EOF
services:
  derper:
    image: derper:1.34.2
    command: ["/app/derper", "-a", ":38894", "-stun-port", "38893", "-certmode", "manual",
              "-certdir", "/app/certs", "-hostname", "derp.test", "-http-port", "-1"]
    ports: ["$derp_port:38894", "3478:38893/udp"]
    volumes: ["./certs:/app/certs"]
EOF

# show [vps] ARGS...: print the command, run derpcheck (on the laptop, or on the VPS) with
# its standard error in line with its output, say its exit status.
show() {
	local where=("${at_laptop[@]}") on=""
	if [ "$1" = vps ]; then
		shift
		where=("${at_vps[@]}") on="  (on the VPS)"
	fi
	echo
	echo "\$ derpcheck $*$on"
	(cd "$work" && "${where[@]}" "$derpcheck" "$@" 2>&1)
	echo "(exit status $?)"
}

say() { printf '%s\n' "$@"; }

# ---- 1. the broken setup ------------------------------------------------------------------

if [ -n "$real" ]; then relay="Tailscale's derper v1.34.2 ($peers_given/derper)"; else
	relay="the project's test DERP server (tests/tools/derpserver; \`make peers\` builds Tailscale's derper for this demo)"
fi
say "derpcheck demo: a self-hosted DERP relay that 'works' but is not used, diagnosed and fixed" ""
say "The relay: $relay."
if [ -n "$netns" ]; then
	say "It runs in a 'container' (network namespace, 172.17.0.2) that a 'VPS' (203.0.113.10)" \
		"publishes as docker -p does (iptables DNAT): tcp/38894 -> 38894, udp/3478 -> 38893." \
		"derpcheck runs on a 'laptop' (203.0.113.2). Nothing can leave these namespaces."
else
	say "Not root, so everything is on loopback: the relay on $ipv4:$derp_port and, standing in for" \
		"docker's 3478:38893/udp, the test STUN server on $ipv4:3478 with nothing on 38893."
fi
say "ca.pem stands in for the public CA every client trusts." "" \
	"== 1. As deployed: acme.sh --cert-file installed the leaf alone, so the policy file has" \
	"   \"InsecureForTests\": true; the map says STUNPort 38893, docker publishes 3478:38893/udp"
policy 38893 ' "InsecureForTests": true,'
show validate policy.hujson
show diagnose --derp-map policy.hujson --ca-file ca.pem 900
show cert --derp-map policy.hujson --ca-file ca.pem --region 900 --no-aia
show ping --derp-map policy.hujson --ca-file ca.pem -c 3 -i 50ms 900
show vps server --compose docker-compose.yml --derp-map policy.hujson --ca-file ca.pem

# ---- 2. the fix ---------------------------------------------------------------------------

echo
say "== 2. Fixed: the full chain as derp.test.crt (acme.sh --install-cert --fullchain-file;"
say "   here pki/derp-chain.pem), derper restarted, InsecureForTests removed, STUNPort 3478"
pki_full_chain "$work/pki" "$work/certs"
stop_relay
start_relay
policy 3478 ""
show validate policy.hujson
show diagnose --derp-map policy.hujson --ca-file ca.pem 900
show ping --derp-map policy.hujson --ca-file ca.pem -c 3 -i 50ms 900
show vps server --compose docker-compose.yml --derp-map policy.hujson --ca-file ca.pem

echo
say "demo done in $((($(date +%s%N) - started) / 1000000)) ms; every server it started is stopped${netns:+, its namespaces deleted}."
exit 0
