# Counting and reporting for every test script (tests/cli, tests/integration, tests/lab,
# tests/demo.sh): an ASSERTION is one check that can fail; a CASE is the group of
# assertions about one thing under test, usually one run of derpcheck (the run helpers
# of tests/cli/lib.sh and tests/integration/lib/derp.sh begin one). The summary names
# both, so a number never counts more than what was checked:
#
#     diagnose.sh: 58 cases, 231 assertions: all hold
#     diagnose.sh: 58 cases, 231 assertions: 2 failed (cases: leaf-only docker-json)
#
#   pass                         an assertion held
#   fail MESSAGE...              an assertion failed ("FAIL: MESSAGE" on stderr)
#   case_begin NAME              the assertions that follow are about NAME
#   finish                       the summary line; status 0 when nothing failed
#
# Assertions on files (NAME labels a failure; the file is shown when one fails):
#   assert_exit NAME WANT GOT        an exit status
#   assert_line NAME FILE LINE       FILE has LINE as a whole line
#   assert_match NAME FILE ERE       a line of FILE matches ERE
#   assert_no_match NAME FILE ERE    no line of FILE matches ERE
#   assert_text NAME FILE TEXT       FILE contains TEXT (a fixed string)
#   assert_json NAME FILE JQ-EXPR    jq -e JQ-EXPR holds for the JSON in FILE

passes=0
failures=0
cases=0
_case_name=""
_case_failed=""
_failed_cases=""

pass() { passes=$((passes + 1)); }

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
	if [ -n "$_case_name" ] && [ -z "$_case_failed" ]; then
		_case_failed=1
		_failed_cases="$_failed_cases $_case_name"
	fi
}

case_begin() {
	cases=$((cases + 1))
	_case_name=$1
	_case_failed=""
}

finish() {
	local what="$((passes + failures)) assertions"
	[ "$cases" -gt 0 ] && what="$cases cases, $what"
	if [ "$failures" -eq 0 ]; then
		echo "$(basename "$0"): $what: all hold"
	else
		echo "$(basename "$0"): $what: $failures failed${_failed_cases:+ (cases:$_failed_cases)}"
	fi
	[ "$failures" -eq 0 ]
}

# _assert_show FILE: the file a failed assertion looked at, indented.
_assert_show() { sed 's/^/    | /' "$1" >&2 2>/dev/null; }

assert_exit() {
	if [ "$3" = "$2" ]; then pass; else fail "$1: exit status $3, want $2"; fi
}

assert_line() {
	if grep -qxF -- "$3" "$2" 2>/dev/null; then pass; else
		fail "$1: no line '$3' in $(basename "$2"):"
		_assert_show "$2"
	fi
}

assert_match() {
	if grep -qE -- "$3" "$2" 2>/dev/null; then pass; else
		fail "$1: nothing matches /$3/ in $(basename "$2"):"
		_assert_show "$2"
	fi
}

assert_no_match() {
	if grep -qE -- "$3" "$2" 2>/dev/null; then
		fail "$1: /$3/ should not match in $(basename "$2"):"
		_assert_show "$2"
	else pass; fi
}

assert_text() {
	if grep -qF -- "$3" "$2" 2>/dev/null; then pass; else
		fail "$1: '$3' not in $(basename "$2"):"
		_assert_show "$2"
	fi
}

assert_json() {
	if jq -e "$3" "$2" >/dev/null 2>&1; then pass; else
		fail "$1: JSON check failed: $3"
		_assert_show "$2"
	fi
}
