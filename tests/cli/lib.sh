# Shared helpers for the CLI tests: run the real binary, compare exact output.
# Set UPDATE=1 to (re)write expected files; review the diff before committing.

: "${DERPCHECK:?set DERPCHECK to the derpcheck binary}"
# Never Tailscale's public default map, even when run outside make: Headscale configs that
# list it get the embedded snapshot (src/input/headscale.c), other commands skip it.
export DERPCHECK_DEFAULT_MAP_URL=
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
expected_dir="$here/expected"
failures=0
passes=0
work=$(mktemp -d /tmp/derpcheck-cli.XXXXXX)
cleanup_hooks=""
cleanup() {
	for h in $cleanup_hooks; do $h || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
. "$root/tests/lib/hints.sh"

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

pass() {
	passes=$((passes + 1))
}

# run NAME EXIT [--stdin FILE] -- ARGS...: runs derpcheck from the repository root,
# checks the exit code, and compares stdout and stderr with expected/NAME.out/.err
# (a missing .err file means stderr must be empty).
run() {
	name=$1 want=$2
	shift 2
	stdin=/dev/null
	if [ "$1" = "--stdin" ]; then
		stdin=$2
		shift 2
	fi
	[ "$1" = "--" ] && shift
	got=0
	(cd "$root" && NO_COLOR= "$DERPCHECK" "$@" <"$stdin" >"$work/$name.out" 2>"$work/$name.err") || got=$?
	hints_check "$name" "$root" "$work/$name.out" "$work/$name.err"
	# RUN_SED, when set, rewrites what varies between runs (e.g. the scratch directory).
	if [ -n "${RUN_SED:-}" ]; then sed -i "$RUN_SED" "$work/$name.out" "$work/$name.err"; fi
	if [ "${UPDATE:-0}" = 1 ]; then
		cp "$work/$name.out" "$expected_dir/$name.out"
		if [ -s "$work/$name.err" ]; then cp "$work/$name.err" "$expected_dir/$name.err"; else rm -f "$expected_dir/$name.err"; fi
	fi
	ok=1
	if [ "$got" != "$want" ]; then
		fail "$name: exit code $got, want $want"
		ok=0
	fi
	if ! diff -u "$expected_dir/$name.out" "$work/$name.out" >&2; then
		fail "$name: stdout differs"
		ok=0
	fi
	if [ -f "$expected_dir/$name.err" ]; then
		if ! diff -u "$expected_dir/$name.err" "$work/$name.err" >&2; then
			fail "$name: stderr differs"
			ok=0
		fi
	elif [ -s "$work/$name.err" ]; then
		fail "$name: unexpected stderr:"
		cat "$work/$name.err" >&2
		ok=0
	fi
	[ $ok = 1 ] && pass
	return 0
}

# contains NAME FILE TEXT: FILE (from the last run) must contain TEXT.
contains() {
	if grep -qF -- "$3" "$work/$2"; then pass; else fail "$1: '$3' not in $2"; cat "$work/$2" >&2; fi
}

finish() {
	echo "$(basename "$0"): $passes passed, $failures failed"
	[ "$failures" -eq 0 ]
}
