# Exact comparison of derpcheck's output with what a test expects, after masking what
# changes from run to run (ports, times, the scratch directory), and nothing else.
# Needs assert.sh (pass, fail) and proc.sh (work).
#
#   mask                         standard input to output: 127.0.0.1:PORT, [::1]:PORT,
#                                Nms and N for times, WORK for $work
#   expect NAME out|err          masked $work/NAME.out (or .err) equals standard input
#   expect_file LABEL GOT WANT   GOT equals the file WANT exactly
#   expect_empty LABEL FILE      FILE is empty (e.g. no standard error)
#   update_expected GOT WANT [optional]
#                                UPDATE=1 only: copy GOT to WANT (review the diff before
#                                committing); with "optional", an empty GOT removes WANT

mask() {
	sed -E \
		-e 's/(127\.0\.0\.1|\[::1\]):[0-9]+/\1:PORT/g' \
		-e 's/[0-9]+(\.[0-9]+)?ms/Nms/g' \
		-e 's/ +[0-9]+\.[0-9]{3}/ N/g' \
		-e 's/[0-9]+\.[0-9]{3}/N/g' \
		-e "s|$work|WORK|g"
}

expect() {
	mask <"$work/$1.$2" >"$work/$1.$2.masked"
	if diff -u - "$work/$1.$2.masked" >"$work/$1.$2.diff"; then pass; else
		fail "$1: standard $([ "$2" = out ] && echo output || echo error) differs (- want, + got):"
		cat "$work/$1.$2.diff" >&2
	fi
}

expect_file() {
	if diff -u "$3" "$2" >"$2.diff" 2>&1; then pass; else
		fail "$1: differs from $(basename "$3") (- want, + got):"
		cat "$2.diff" >&2
	fi
}

expect_empty() {
	if [ -s "$2" ]; then
		fail "$1: unexpected output:"
		sed 's/^/    | /' "$2" >&2
	else pass; fi
}

update_expected() {
	[ "${UPDATE:-0}" = 1 ] || return 0
	if [ -s "$1" ] || [ "${3:-}" != optional ]; then cp "$1" "$2"; else rm -f "$2"; fi
}
