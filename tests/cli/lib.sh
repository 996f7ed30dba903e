# The CLI tests' entry point: the shared library (tests/lib: assert.sh, proc.sh,
# compare.sh, hints.sh) plus a run that compares with the expected files.
# Set UPDATE=1 (through make: `make cli-tests UPDATE=1`) to rewrite the expected files;
# review the diff before committing.
#
#   run NAME EXIT [--stdin FILE] -- ARGS...
#                       one case: derpcheck ARGS from the repository root; asserts the exit
#                       status, stdout against expected/NAME.out and stderr against
#                       expected/NAME.err (none: stderr must be empty), then runs the
#                       commands the output prints. RUN_SED, when set, rewrites what
#                       varies between runs (e.g. the scratch directory) first.
#   contains NAME FILE TEXT    $work/FILE (from the last run) contains TEXT

: "${DERPCHECK:?set DERPCHECK to the derpcheck binary}"
# Never Tailscale's public default map, even when run outside make: Headscale configs that
# list it get the embedded snapshot (src/input/headscale.c), other commands skip it.
export DERPCHECK_DEFAULT_MAP_URL=
here=$(cd "$(dirname "$0")" && pwd)
expected_dir="$here/expected"
_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")/../lib" && pwd)
WORK_PREFIX=derpcheck-cli
. "$_lib/assert.sh"
. "$_lib/proc.sh"
. "$_lib/compare.sh"
. "$_lib/hints.sh"

run() {
	local name=$1 want=$2 stdin=/dev/null got=0
	shift 2
	if [ "$1" = "--stdin" ]; then
		stdin=$2
		shift 2
	fi
	[ "$1" = "--" ] && shift
	case_begin "$name"
	(cd "$root" && NO_COLOR= "$DERPCHECK" "$@" <"$stdin" >"$work/$name.out" 2>"$work/$name.err") || got=$?
	hints_check "$name" "$root" "$work/$name.out" "$work/$name.err"
	if [ -n "${RUN_SED:-}" ]; then sed -i "$RUN_SED" "$work/$name.out" "$work/$name.err"; fi
	update_expected "$work/$name.out" "$expected_dir/$name.out"
	update_expected "$work/$name.err" "$expected_dir/$name.err" optional
	assert_exit "$name" "$want" "$got"
	expect_file "$name: stdout" "$work/$name.out" "$expected_dir/$name.out"
	if [ -f "$expected_dir/$name.err" ]; then
		expect_file "$name: stderr" "$work/$name.err" "$expected_dir/$name.err"
	else
		expect_empty "$name: stderr" "$work/$name.err"
	fi
	return 0
}

contains() { assert_text "$1" "$work/$2" "$3"; }
