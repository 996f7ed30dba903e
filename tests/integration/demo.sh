#!/bin/bash
# `make demo` (scripts/demo.sh) tells the seed's story and leaves nothing behind: in every
# variant it can run — network namespaces (root) or loopback, Tailscale's derper or the
# project's test servers — the broken setup gets its verdicts (STUN answering on 3478
# instead of the map's 38893, a leaf-only chain accepted only because of InsecureForTests,
# each command's exit status) and the fixed setup turns green; afterwards no process of
# its session is left, no namespace, no scratch directory, no listener on 127.0.0.41.
set -u
export LC_ALL=C.UTF-8 # the demo shows the UTF-8 marks a terminal shows
. "$(dirname "$0")/lib/derp.sh"
. "$root/tests/lib/peers.sh"
peers_require

variants="loopback,real loopback,ours"
if [ "$(id -u)" -eq 0 ]; then variants="netns,real netns,ours $variants"; else
	echo "## demo.sh: not root: the network-namespace variants are skipped (CI runs as root)" >&2
	[ -z "${CI:-}" ] || fail "the namespace variants need root and CI is set"
fi

for v in $variants; do
	scene=${v%,*} relay=${v#*,}
	name=demo-$scene-$relay
	tag=dct$$${scene:0:1}${relay:0:1}
	case_begin "$name"
	got=0
	start=$(now_ms)
	# A session of its own: whatever the demo starts stays in it, so what outlives it shows.
	setsid bash -c 'echo $$ >"$0"; exec "$@"' "$work/$name.sid" env DEMO_TAG="$tag" \
		DEMO_NETNS=$([ "$scene" = netns ] && echo 1 || echo 0) DEMO_PEERS=$([ "$relay" = real ] && echo 1 || echo 0) \
		"$root/scripts/demo.sh" "$DERPCHECK" "$TOOLS" "$PEERS" >"$work/$name.out" 2>"$work/$name.err" </dev/null || got=$?
	elapsed=$(($(now_ms) - start))
	assert_exit "$name" 0 "$got"
	expect_empty "$name: standard error" "$work/$name.err"
	out=$work/$name.out
	if [ "$scene" = netns ]; then ip=203.0.113.10 client=203.0.113.2; else ip=127.0.0.41 client=127.0.0.1; fi
	if [ "$relay" = real ]; then
		assert_line "$name" "$out" "The relay: Tailscale's derper v1.34.2 ($PEERS/derper)."
	else
		assert_match "$name" "$out" "^The relay: the project's test DERP server \(tests/tools/derpserver"
	fi
	if [ "$scene" = netns ]; then
		assert_text "$name" "$out" "Nothing can leave these namespaces."
	else
		assert_text "$name" "$out" "the test STUN server on 127.0.0.41:3478 with nothing on 38893."
	fi
	# Each command's exit status, in order: validate warns (0), then diagnose, cert, ping and
	# server find the problems (1); after the fix all four pass.
	statuses=$(sed -n 's/^(exit status \([0-9]*\))$/\1/p' "$out" | tr -d '\n')
	[ "$statuses" = 011110000 ] && pass || fail "$name: exit statuses $statuses, want 011110000"
	# The broken setup: the first diagnose.
	sed -n '/^\$ derpcheck diagnose/,/^(exit status/p' "$out" | sed -n '1,/^(exit status/p' >"$work/$name.broken"
	assert_line "$name" "$work/$name.broken" "  ✗ stun-ipv4          no answer from $ip:38893 (3 probes, 3 datagrams sent)"
	assert_line "$name" "$work/$name.broken" "    cause: STUN answers on 3478, not on 38893 (38893: closed, ICMP port unreachable): clients ask the map's port and get nothing; typical of a forwarding from host port 3478 to container port 38893"
	assert_line "$name" "$work/$name.broken" "    fix:   set STUNPort to 3478 in the derpMap, or publish 38893/udp"
	assert_line "$name" "$work/$name.broken" "  ⚠ certificate        clients accept it only because InsecureForTests turns verification off"
	assert_match "$name" "$work/$name.broken" "^    cause: the server omits its intermediate certificate: curl and Tailscale on Linux/Android reject the chain"
	assert_line "$name" "$work/$name.broken" "STUN path: broken (0 of 1 nodes answer STUN; 900a: stun-ipv4)"
	assert_line "$name" "$work/$name.broken" "DERP path: insecure (1 of 1 nodes relay, 1 only because InsecureForTests turns certificate checks off; 900a: certificate)"
	assert_text "$name" "$out" "  error: chain-incomplete: the server sends its certificate without the intermediate that issued it"
	assert_text "$name" "$out" "  ✗ stun-port       the map's STUNPort 38893 is not published; host udp/3478 goes to derper's 38893 (\"3478:38893/udp\")"
	# The fixed setup: the second diagnose.
	sed -n '/^== 2\./,$p' "$out" | sed -n '/^\$ derpcheck diagnose/,/^(exit status/p' >"$work/$name.fixed"
	assert_match "$name" "$work/$name.fixed" "^  ✓ stun-ipv4          $ip:3478: mapped $client:[0-9]+, 3/3 answered, "
	assert_line "$name" "$work/$name.fixed" "  ✓ certificate        valid for derp.test, issued by CN = derpcheck test intermediate CA"
	assert_line "$name" "$work/$name.fixed" "STUN path: ok (1 of 1 nodes answer STUN)"
	assert_line "$name" "$work/$name.fixed" "DERP path: ok (1 of 1 nodes relay)"
	assert_no_match "$name" "$work/$name.fixed" "^  (✗|⚠|!) "
	# Nothing left behind.
	sid=$(cat "$work/$name.sid")
	left=$(pgrep -s "$sid" -a)
	[ -z "$left" ] && pass || fail "$name: still running after the demo: $left"
	[ -z "$(ip netns list | grep -F "$tag")" ] && pass || fail "$name: namespaces left: $(ip netns list | grep -F "$tag")"
	[ -z "$(ls -d /tmp/derpcheck-demo-"$tag".* 2>/dev/null)" ] && pass || fail "$name: scratch directory left"
	[ -z "$(ss -Htuln src 127.0.0.41)" ] && pass || fail "$name: listening on 127.0.0.41 after the demo: $(ss -Htuln src 127.0.0.41)"
	# Fast: the story in a few seconds (on a loaded CI machine, within 15).
	[ "$elapsed" -le 15000 ] && pass || fail "$name: took $elapsed ms, more than 15 s"
	echo "$name: $elapsed ms"
done
finish
