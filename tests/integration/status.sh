#!/bin/bash
# derpcheck status against a fake tailscaled LocalAPI on a Unix socket
# (tests/tools/fake_localapi.c) and against saved `tailscale status --json` files:
# exact output lines and exit codes. Loopback only: nothing leaves this machine.
set -u
. "$(dirname "$0")/../cli/lib.sh"
: "${TOOLS:?set TOOLS to the build/tools directory}"

# Ages ("4s ago") are computed from this instant, the fixtures' "now".
export DERPCHECK_NOW=1787400000 # 2026-08-22T12:00:00Z
RUN_SED="s|$work|WORK|g"
fx=tests/fixtures/status
sock=$work/tailscaled.sock

# --- the fake tailscaled -------------------------------------------------------------
stop_server() { spawn_stop fake; }

# start_server ARGS...: fake_localapi on $sock (the one before is stopped); waits for its
# "ready" line (deadline 5 s).
start_server() {
	stop_server
	: >"$work/requests.log"
	spawn fake '^ready$' 5 env -C "$root" "$TOOLS/fake_localapi" --socket "$sock" --log "$work/requests.log" "$@"
}

# --- over the socket ------------------------------------------------------------------
start_server --status $fx/mixed.json --derpmap data/tailscale-default-derpmap.json
run status-socket-mixed 1 -- status --socket "$sock"
# The request tailscaled insists on: its Host, no Origin, no Referer.
printf 'GET /localapi/v0/status host=local-tailscaled.sock\nGET /localapi/v0/derpmap host=local-tailscaled.sock\n' >"$work/want.log"
diff -u "$work/want.log" "$work/requests.log" >&2 && pass || fail "LocalAPI requests differ"
run status-socket-verbose 1 -- -v status --socket "$sock" -q
run status-socket-json 1 -- status --socket "$sock" --format json --active

start_server --status $fx/all-direct.json --derpmap data/tailscale-default-derpmap.json
run status-socket-direct 0 -- status --socket="$sock"

# Region names from tailscaled's own map, which has the custom region.
start_server --status $fx/custom-region.json --derpmap $fx/derpmap-custom.json
run status-socket-custom-map 1 -- status --socket "$sock"

# A tailscaled without the derpmap endpoint: the embedded map, and the report says why.
start_server --status $fx/mixed.json
run status-socket-no-derpmap 1 -- status --socket "$sock" --peer phone

# --derp-map wins over tailscaled's map.
start_server --status $fx/custom-region.json --derpmap $fx/derpmap-custom.json
run status-socket-derp-map-flag 1 -- status --socket "$sock" --derp-map embedded: -q
[ "$(wc -l <"$work/requests.log")" -eq 1 ] && pass || fail "--derp-map still asked tailscaled for its map"

# --- LocalAPI failures ------------------------------------------------------------------
for mode in 403 404 500 garbage close; do
	start_server --status $mode
	run status-socket-$mode 2 -- status --socket "$sock"
done
start_server --status $fx/truncated.json
run status-socket-malformed 2 -- status --socket "$sock"

# A tailscaled that never answers, or answers too slowly, is given up on in time.
for mode in hang slow; do
	start_server --status $mode
	start=$(date +%s%N)
	run status-socket-$mode 2 -- status --socket "$sock" --timeout 1s
	ms=$((($(date +%s%N) - start) / 1000000))
	[ "$ms" -lt 3000 ] && pass || fail "status-socket-$mode took ${ms} ms with --timeout 1s"
done
stop_server

# Nothing at a --socket given on the command line: an input error (2), as for any address given.
run status-socket-missing 2 -- status --socket "$work/no-such.sock"
"$TOOLS/fake_localapi" --socket "$work/stale.sock" --stale >/dev/null
run status-socket-stale 2 -- status --socket "$work/stale.sock"

# No tailscaled where it runs by default is what status found: exit 1, as --help says. The
# default sockets are hidden under empty file systems in a private mount namespace.
if [ "$(id -u)" -eq 0 ]; then
	(cd "$root" && unshare -m sh -c 'mount -t tmpfs none /run || exit 97
		[ -L /var/run ] || mount -t tmpfs none /var/run || exit 97
		for d in /var/packages /tmp/tailscale /perm; do [ ! -e "$d" ] || mount -t tmpfs none "$d" || exit 97; done
		exec "$@"' sh "$DERPCHECK" status >"$work/default.out" 2>"$work/default.err"); rc=$?
	[ $rc = 1 ] && pass || { fail "status without tailscaled: exit $rc, want 1"; cat "$work/default.err" >&2; }
	printf '%s\n' "derpcheck: /var/run/tailscale/tailscaled.sock: no such socket: tailscaled is not running, or its socket is elsewhere" \
		'  hint: start tailscaled (sudo systemctl start tailscaled), or give its socket with --socket PATH; --file FILE reads saved `tailscale status --json` output' >"$work/default.want"
	diff -u "$work/default.want" "$work/default.err" >&2 && pass || fail "status without tailscaled: stderr differs"
	[ ! -s "$work/default.out" ] && pass || fail "status without tailscaled: something on standard output"
elif [ -n "${CI:-}" ]; then
	fail "status without tailscaled needs root (a private mount namespace) and CI is set"
else
	echo "## SKIPPED: status without tailscaled (exit 1) needs root for a private mount namespace; CI runs it" >&2
fi

# Permission denied: as root, ask as nobody, who cannot enter the scratch directory.
start_server --status $fx/mixed.json
if [ "$(id -u)" -eq 0 ]; then
	(cd "$root" && setpriv --reuid=65534 --regid=65534 --clear-groups "$DERPCHECK" status --socket "$sock" \
		>"$work/perm.out" 2>"$work/perm.err"); rc=$?
else
	chmod 000 "$sock"
	(cd "$root" && "$DERPCHECK" status --socket "$sock" >"$work/perm.out" 2>"$work/perm.err"); rc=$?
fi
sed -i "s|$work|WORK|g" "$work/perm.err"
printf '%s\n' "derpcheck: WORK/tailscaled.sock: permission denied opening tailscaled's socket" \
	'  hint: run derpcheck with sudo, or let your user operate Tailscale: sudo tailscale set --operator=$USER' >"$work/perm.want"
[ $rc = 2 ] && pass || fail "permission denied: exit $rc, want 2"
diff -u "$work/perm.want" "$work/perm.err" >&2 && pass || fail "permission denied: stderr differs"
[ -s "$work/perm.out" ] && fail "permission denied: unexpected stdout" || pass
stop_server

# --- saved status files -------------------------------------------------------------------
run status-file-mixed 1 -- status --file $fx/mixed.json
run status-file-json 1 -- --format json status --file $fx/mixed.json
run status-file-active 1 -- status --file $fx/mixed.json --active
run status-file-quiet 1 -- status -q --file $fx/mixed.json
run status-file-quiet-direct 0 -- status -q --file $fx/all-direct.json
run status-file-peer 1 -- status --file $fx/mixed.json --peer phone
run status-file-peer-direct 0 -- status --file $fx/mixed.json --peer 100.64.0.2
run status-file-peer-idle 0 -- status --file $fx/mixed.json --peer work-pc.tail1234.ts.net
run status-file-peer-json 1 -- status --file $fx/mixed.json --peer vps --format json
run status-file-peer-unknown 2 -- status --file $fx/mixed.json --peer phnoe
run status-file-stdin 1 --stdin $fx/udp-blocked.json -- status --file -
run status-file-no-endpoints 1 -- status --file $fx/no-endpoints.json
run status-file-edge 1 -- status --file $fx/edge-cases.json
run status-file-old 1 -- status --file $fx/old-1.2.json
run status-file-old-no-endpoints 1 -- status --file $fx/old-peer-no-endpoints.json
run status-file-stopped 1 -- status --file $fx/stopped.json
run status-file-needs-login 1 -- status --file $fx/needs-login.json --format json
run status-file-custom 1 -- status --file $fx/custom-region.json --derp-map tests/fixtures/nat-vps-policy.hujson
run status-file-map-as-status 2 -- status --file tests/fixtures/nat-vps-policy.hujson
run status-file-text-output 2 -- status --file $fx/text-output.txt
run status-file-truncated 2 -- status --file $fx/truncated.json
run status-file-missing 2 -- status --file $fx/nope.json
run status-file-bad-map 2 -- status --file $fx/mixed.json --derp-map tests/fixtures/syntax-error.hujson

# --- usage -------------------------------------------------------------------------------
run status-socket-and-file 2 -- status --socket "$sock" --file $fx/mixed.json
run status-extra-arg 2 -- status nas
run status-help 0 -- status --help
(cd "$root" && DERPCHECK_NOW=soon "$DERPCHECK" status --file $fx/mixed.json >/dev/null 2>"$work/now.err"); rc=$?
[ $rc = 2 ] && grep -qF "invalid DERPCHECK_NOW 'soon'" "$work/now.err" && pass || fail "DERPCHECK_NOW=soon: exit $rc"
(cd "$root" && "$DERPCHECK" status --file $fx/mixed.json --insecure >/dev/null 2>"$work/insecure.err")
grep -qF "derpcheck: warning: --insecure" "$work/insecure.err" && pass || fail "--insecure did not warn"
(cd "$root" && "$DERPCHECK" --color always status --file $fx/mixed.json >"$work/color.out")
grep -q "$(printf '\033')\[1;33mrelayed" "$work/color.out" && pass || fail "--color always: relayed not coloured"

# Every JSON output parses.
for f in status-socket-json status-file-json status-file-peer-json status-file-needs-login; do
	"$TOOLS/json_valid" "$expected_dir/$f.out" && pass || fail "$f.out is not JSON"
done

finish
