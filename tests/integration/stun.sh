#!/bin/bash
# derpcheck stun on loopback against the project's stunserver (every misbehaviour mode),
# coturn and stund: exact lines, exit codes, and no hang past the deadline.
set -u
: "${DERPCHECK:?}" "${TOOLS:?}"
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lab/lib.sh"
. "$here/../lib/hints.sh"
lab_deadline 120
out=$lab_dir/out err=$lab_dir/err

# dc ARGS...: run derpcheck (bounded), stdout in $out, stderr in $err, exit code in $rc,
# wall time in $ms.
dc() {
	case_begin "stun $*"
	t0=$(date +%s%N)
	rc=0
	NO_COLOR=1 timeout 30 "$DERPCHECK" "$@" >"$out" 2>"$err" || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	hints_check "stun $*" "$PWD" "$out" "$err"
}
# The local port derpcheck used, from its first line ("..., from 0.0.0.0:PORT").
local_port() { sed -n '1s/.*from [^ ]*:\([0-9]*\)$/\1/p' "$out"; }

stunserver() { # NAME ARGS...: start one and wait for it
	name=$1
	shift
	lab_spawn "$name" "" "$TOOLS/stunserver" --lifetime 110 "$@"
	lab_wait_ready "$name" 5 || exit 1
	port=$(lab_ports "$name" | head -1)
}

# --- a derper-like server ---------------------------------------------------------------
stunserver plain -p 0
p=$port
dc stun 127.0.0.1:$p
t_expect_exit derper-like 0 $rc
lp=$(local_port)
t_has_line derper-like "$out" "Tailscale-style binding requests, 3 probes per address, from 0.0.0.0:$lp"
t_has_line derper-like "$out" "127.0.0.1:$p (IPv4, address given)"
t_has_match derper-like "$out" "^  probe 3: mapped 127\.0\.0\.1:$lp, rtt [0-9]+\.[0-9]{3} ms$"
t_has_match derper-like "$out" "^  answered 3 of 3, rtt min/avg/max [0-9.]+/[0-9.]+/[0-9.]+ ms$"
t_has_line derper-like "$out" "  mapped address: 127.0.0.1:$lp (loopback), this machine's own 127.0.0.1:$lp: no NAT on the way"
t_has_line derper-like "$out" "  server: answers only Tailscale-style requests, like derper"
t_has_line derper-like "$out" "ok: no problems found"
[ $ms -lt 1500 ] && t_pass || t_fail "derper-like: took $ms ms; the cross-check should stop early"

# The same server asked the RFC 5389 way stays silent, and derpcheck says why.
dc stun --style rfc5389 --timeout 300ms -c 2 -i 50ms 127.0.0.1:$p
t_expect_exit rfc5389-to-derper 0 $rc
t_has_line rfc5389-to-derper "$out" "warning: 127.0.0.1:$p: the server ignores plain RFC 5389 requests but answers Tailscale's: it behaves like derper"
t_has_match rfc5389-to-derper "$out" "^  probe 1: timeout: no reply from 127\.0\.0\.1:$p to 3 requests in 0\.3 s$"

# --bind-address/--bind-port make the mapping exact.
bp=$(lab_free_port)
dc stun -c 1 --bind-address 127.0.0.1 --bind-port $bp 127.0.0.1:$p
t_expect_exit bind 0 $rc
t_has_line bind "$out" "  probe 1: mapped 127.0.0.1:$bp, rtt $(sed -n 's/.*rtt \([0-9.]* ms\)$/\1/p' "$out" | head -1)"
t_has_line bind "$out" "Tailscale-style binding requests, 1 probe per address, from 127.0.0.1:$bp"

dc stun --bind-address 192.0.2.1 127.0.0.1:$p
t_expect_exit bind-foreign 2 $rc
t_has_line bind-foreign "$err" "derpcheck: 192.0.2.1:0: cannot bind a UDP socket: Cannot assign requested address"
t_has_line bind-foreign "$err" "  hint: --bind-address must be an address of this machine (see 'ip addr')"

# JSON
dc --format json stun -c 2 -i 10ms 127.0.0.1:$p
t_expect_exit json 0 $rc
[ "$(jq -r '.targets[0].server_kind' "$out")" = derper ] && t_pass || t_fail "json: server_kind"
[ "$(jq -r '.targets[0].answered' "$out")" = 2 ] && t_pass || t_fail "json: answered"
[ "$(jq -r '.targets[0].probes[0].kernel_timestamp' "$out")" = true ] && t_pass || t_fail "json: kernel timestamps"
[ "$(jq -r '.targets[0].other_style.status' "$out")" = timeout ] && t_pass || t_fail "json: other_style"
[ "$(jq -r '.findings | length' "$out")" = 0 ] && t_pass || t_fail "json: findings"

# --- injected delay: the RTT is the delay -------------------------------------------
stunserver delay -p 0 --delay 20
dc --format json stun -c 20 -i 20ms 127.0.0.1:$port
t_expect_exit delay 0 $rc
median=$(jq '.targets[0].rtt_ms.median' "$out")
awk -v m="$median" 'BEGIN { exit !(m >= 19.7 && m <= 20.8) }' && t_pass || t_fail "delay: median $median ms for 20 ms injected"

# --- every misbehaviour: what is said and the exit code -------------------------------
stunserver loss -p 0 --drop-first 2
dc stun -c 1 --timeout 1s 127.0.0.1:$port
t_expect_exit retransmit 0 $rc
t_has_match retransmit "$out" "^  probe 1: mapped 127\.0\.0\.1:[0-9]+, rtt [0-9.]+ ms \(answer to the 3rd try\)$"

stunserver lossy -p 0 --loss 100
dc stun -c 3 -i 100ms --timeout 400ms 127.0.0.1:$port
t_expect_exit silent 1 $rc
t_has_line silent "$out" "error: 127.0.0.1:$port: no reply to any of 9 requests (3 probes, retransmissions included, waiting 0.4 s each)"
t_has_match silent "$out" "^  hint: neither Tailscale-style nor plain STUN requests were answered: UDP port $port is blocked"
# 2 x 100 ms apart, then 400 ms: the run must end by ~0.6 s (plus start-up).
[ $ms -lt 1200 ] && t_pass || t_fail "silent: took $ms ms, want the deadline (~600 ms)"

stunserver dup -p 0 --duplicate 2
dc stun -c 2 -i 20ms 127.0.0.1:$port
t_expect_exit duplicates 0 $rc
t_has_line duplicates "$out" "warning: 127.0.0.1:$port: the server sent 4 duplicate replies"

stunserver txid -p 0 --wrong-txid
dc stun -c 2 -i 20ms --timeout 300ms 127.0.0.1:$port
t_expect_exit wrong-txid 1 $rc
t_has_line wrong-txid "$out" "error: 127.0.0.1:$port: the server answered 6 times, but with transaction IDs we never sent"

stunserver trunc -p 0 --truncate 26
dc stun -c 1 --timeout 300ms 127.0.0.1:$port
t_expect_exit truncated 1 $rc
t_has_line truncated "$out" "error: 127.0.0.1:$port: no usable reply: 3 undecodable replies: truncated: the header announces 12 bytes of attributes but only 6 follow"

stunserver short -p 0 --truncate 12
dc stun -c 1 --timeout 300ms 127.0.0.1:$port
t_expect_exit short 1 $rc
t_has_line short "$out" "error: 127.0.0.1:$port: no usable reply: 3 undecodable replies: 12 bytes is shorter than the 20-byte STUN header"

stunserver big -p 0 --oversize 1200
dc stun -c 2 -i 20ms 127.0.0.1:$port
t_expect_exit oversized 0 $rc
t_has_line oversized "$out" "warning: 127.0.0.1:$port: 2 replies carried extra bytes after the STUN message (ignored, as Tailscale does)"

stunserver other -p 0 --other-port
dc stun -c 1 --timeout 300ms 127.0.0.1:$port
t_expect_exit other-port 1 $rc
t_has_match other-port "$out" "^error: 127\.0\.0\.1:$port: 3 replies to our requests came from 127\.0\.0\.1:[0-9]+ instead of 127\.0\.0\.1:$port; derpcheck does not accept them$"

stunserver docker -p 0 --mapped 172.17.0.1
dc stun -c 1 127.0.0.1:$port
t_expect_exit docker-on-loopback 0 $rc
t_has_match docker-on-loopback "$out" "^warning: 127\.0\.0\.1:$port: the server sees this machine as 172\.17\.0\.1, a Docker bridge 172\.17\.0\.0/16 address that is not this machine's \(127\.0\.0\.1\)"
t_has_match docker-on-loopback "$out" "^  hint: the STUN server runs in a Docker container behind Docker's NAT"

stunserver cgnat -p 0 --mapped 100.64.7.7:41641
dc stun -c 1 127.0.0.1:$port
t_has_line cgnat "$out" "  mapped address: 100.64.7.7:41641 (CGNAT 100.64.0.0/10), from 127.0.0.1:$(local_port): NAT, port translated"

stunserver v4mapped -p 0 --v4-as-v6
dc stun -c 1 127.0.0.1:$port
t_expect_exit v4-mapped 0 $rc
t_has_match v4-mapped "$out" "^  probe 1: mapped 127\.0\.0\.1:$(local_port), rtt"

stunserver plainonly -p 0 --answer plain
dc stun -c 1 --timeout 300ms 127.0.0.1:$port
t_expect_exit plain-only 1 $rc
t_has_line plain-only "$out" "error: 127.0.0.1:$port: the server answers plain RFC 5389 requests but not Tailscale's (SOFTWARE \"tailnode\" + FINGERPRINT): Tailscale clients get no STUN replies from it"

stunserver err401 -p 0 --error 401:Unauthorized
dc stun -c 1 127.0.0.1:$port
t_expect_exit error-response 1 $rc
t_has_line error-response "$out" "error: 127.0.0.1:$port: the server answered with STUN error 401 Unauthorized instead of a mapped address"

# Nothing listens: the ICMP error ends the probe at once.
closed=$(lab_free_port)
dc stun -c 2 -i 10ms 127.0.0.1:$closed
t_expect_exit closed-port 1 $rc
t_has_line closed-port "$out" "error: 127.0.0.1:$closed: ICMP port unreachable from 127.0.0.1"
[ $ms -lt 1000 ] && t_pass || t_fail "closed-port: took $ms ms; ICMP should end it at once"
t_has_line closed-port "$out" "  hint: UDP reaches 127.0.0.1, but nothing listens on UDP port $closed there: start the STUN server (derper serves STUN on UDP 3478 unless -stun-port says otherwise) or fix the port"

# Silence next to an answer means this server is silent; silence everywhere means no UDP.
stunserver quiet1 -p 0 --loss 100
q1=$port
stunserver quiet2 -p 0 --loss 100
q2=$port
dc stun -c 1 --timeout 300ms 127.0.0.1:$q1 127.0.0.1:$p
t_expect_exit silent-among-others 1 $rc
t_has_line silent-among-others "$out" "  hint: UDP works from here (1 other server answered), so this one is silent: its STUN server is down, or UDP port $q1 is filtered on its side (firewall, cloud security group, a NAT without port forwarding)"
dc stun -c 1 --timeout 300ms 127.0.0.1:$q1 127.0.0.1:$q2
t_expect_exit silent-everywhere 1 $rc
t_has_line silent-everywhere "$out" "  hint: none of the 2 servers asked answered and no ICMP error came back: outbound UDP is probably blocked on this network (or every server is down); the netcheck command compares every region of a map"

# IPv6 loopback.
stunserver six -a ::1 -p 0
dc stun -c 1 "[::1]:$port"
t_expect_exit ipv6 0 $rc
t_has_match ipv6 "$out" "^  probe 1: mapped \[::1\]:[0-9]+, rtt"
dc stun -4 "[::1]:$port"
t_expect_exit ipv6-with-4 2 $rc
t_has_line ipv6-with-4 "$err" "derpcheck: ::1 is an IPv6 address, but -4 asks for IPv4"

# --- coturn and stund, started here and stopped by pid ---------------------------------
cp=$(lab_free_port)
lab_spawn coturn "" turnserver -n --stun-only --no-auth -L 127.0.0.1 -E 127.0.0.1 -p "$cp" --no-tls --no-dtls \
	--no-cli --pidfile "$lab_dir/turnserver.pid" --userdb "$lab_dir/turndb" --log-file stdout
if lab_wait_stun "" 127.0.0.1:$cp 10; then
	dc stun -c 2 -i 20ms 127.0.0.1:$cp
	t_expect_exit coturn 0 $rc
	t_has_line coturn "$out" "  server: answers Tailscale-style and plain requests: a generic STUN server, usable by Tailscale"
	t_has_match coturn "$out" "^  software: Coturn-"
	t_has_match coturn "$out" "^  mapped address: 127\.0\.0\.1:[0-9]+ \(loopback\), this machine's own"
else
	t_fail "coturn did not start"; cat "$lab_dir/coturn.out" >&2
fi
sp=$(lab_free_port)
lab_spawn stund "" stund -h 127.0.0.1 -a 127.0.0.2 -p "$sp" -o $((sp + 1))
if lab_wait_stun "" 127.0.0.1:$sp 10; then
	dc stun -c 2 -i 20ms --style rfc5389 127.0.0.1:$sp
	t_expect_exit stund 0 $rc
	t_has_line stund "$out" "  software: Vovida.org 0.97"
	t_has_line stund "$out" "plain RFC 5389 binding requests, 2 probes per address, from 0.0.0.0:$(local_port)"
else
	t_fail "stund did not start"; cat "$lab_dir/stund.err" >&2
fi

# --- a region of a local map: static addresses, "none", STUNPort -1 ------------------
stunserver regiona -p 0
pa=$port
cat >"$lab_dir/map.json" <<JSON
{"Regions": {"900": {"RegionID": 900, "RegionCode": "lab", "RegionName": "Loopback lab", "Nodes": [
  {"Name": "900a", "RegionID": 900, "HostName": "stun-a.invalid", "IPv4": "127.0.0.1", "IPv6": "none", "STUNPort": $pa},
  {"Name": "900b", "RegionID": 900, "HostName": "stun-b.invalid", "IPv4": "127.0.0.1", "IPv6": "none", "STUNPort": -1}
]}}}
JSON
dc stun --derp-map "$lab_dir/map.json" --region lab -c 1
t_expect_exit region 0 $rc
t_has_match region "$out" "^region 900 lab \(Loopback lab\): 2 nodes, Tailscale-style binding requests, 1 probe per address, from 0\.0\.0\.0:[0-9]+$"
t_has_line region "$out" "900a 127.0.0.1:$pa (IPv4, from the map)"
t_has_line region "$out" "900a (IPv6): skipped: IPv6 is \"none\" in the map: Tailscale does not use it"
t_has_line region "$out" "900b (IPv4): skipped: STUN is off for this node (STUNPort -1)"
dc stun --derp-map "$lab_dir/map.json" --region 901
t_expect_exit region-unknown 2 $rc
t_has_line region-unknown "$err" "derpcheck: $lab_dir/map.json: no region '901' in this DERP map"
dc stun --derp-map "$lab_dir/map.json" --region lab -6
t_expect_exit region-no-target 1 $rc
t_has_line region-no-target "$out" "error: region 900 has no node that can be probed with STUN over the requested family"

# --- usage --------------------------------------------------------------------------
dc stun
t_expect_exit no-args 2 $rc
t_has_line no-args "$err" "derpcheck: stun needs a HOST[:PORT] or --region ID"
dc stun --style stun5389 127.0.0.1
t_expect_exit bad-style 2 $rc
t_has_line bad-style "$err" "derpcheck: invalid value 'stun5389' for --style"
dc stun 127.0.0.1:99999
t_expect_exit bad-port 2 $rc
t_has_line bad-port "$err" "derpcheck: invalid port '99999' in '127.0.0.1:99999'"
dc stun -c 0 127.0.0.1
t_expect_exit bad-count 2 $rc

t_finish
