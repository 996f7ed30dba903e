# The hostile-input suite's assertions (issue #13), sourced after lib/derp.sh. Every case
# runs the real binary against a misbehaving server or file and asserts four things:
#
#   1. the documented exit code (0 healthy, 1 problems found, 2 usage or input error);
#   2. a NAMED error: a fixed piece of text that says what went wrong;
#   3. completion within --timeout + 1 s, measured (plus HOSTILE_SLACK_MS, default 500, for
#      a loaded 2-core CI machine; `make asan` sets 2500: the sanitizers slow derpcheck 2-3x);
#      a hang is killed at the limit + 10 s so a broken build fails instead of blocking;
#   4. nothing raw on the terminal: standard output and error hold no control bytes other
#      than newline and tab (no ESC, no C1 controls) and are valid UTF-8.
#
#   hostile NAME WANT-EXIT LIMIT-MS TEXT ARGS...
#        run derpcheck ARGS in $work; TEXT must appear in stdout or stderr (empty: no check);
#        WANT-EXIT may list codes ("0|1") where the verdict itself depends on the machine
#   terminal_clean NAME   assertion 4 alone (hostile does it already)
#   start_tool NAME READY-REGEX COMMAND...   a test server, waited for
#   json_valid NAME       NAME.out is one valid JSON document in valid UTF-8

HOSTILE_SLACK_MS=${HOSTILE_SLACK_MS:-500}

# start_tool NAME READY-REGEX COMMAND...: start a test server, stdout in $work/NAME.ready and
# stderr in $work/NAME.log; wait (5 s at most) for a stdout line matching READY-REGEX. Its
# PID joins server_pids (lib/derp.sh stops them on exit) and TOOL_PID.
start_tool() {
	local name=$1 ready=$2 deadline
	shift 2
	"$@" >"$work/$name.ready" 2>"$work/$name.log" &
	TOOL_PID=$!
	server_pids="$server_pids $TOOL_PID"
	deadline=$(($(now_ms) + 5000))
	until grep -qE "$ready" "$work/$name.ready" 2>/dev/null; do
		if ! kill -0 "$TOOL_PID" 2>/dev/null || [ "$(now_ms)" -gt "$deadline" ]; then
			fail "$name: $(basename "$1") did not get ready"
			cat "$work/$name.log" >&2
			return 1
		fi
		sleep 0.01
	done
}

terminal_clean() {
	local f
	for f in "$work/$1.out" "$work/$1.err"; do
		[ -f "$f" ] || continue
		# Control bytes except \n and \t (JSON's indentation), and DEL; then C1 controls (U+0080..U+009F) as UTF-8.
		if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$f" || LC_ALL=C grep -qP '\xc2[\x80-\x9f]' "$f"; then
			fail "$1: raw control bytes on the terminal ($(basename "$f")):"
			LC_ALL=C cat -v "$f" | head -20 >&2
		elif ! iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1; then
			fail "$1: invalid UTF-8 on the terminal ($(basename "$f")):"
			LC_ALL=C cat -v "$f" | head -20 >&2
		else
			pass
		fi
	done
}

hostile() {
	local name=$1 want=$2 limit=$3 text=$4 start got=0 elapsed kill_after
	shift 4
	kill_after=$(((limit + HOSTILE_SLACK_MS) / 1000 + 10))
	start=$(now_ms)
	(cd "$work" && NO_COLOR=1 timeout -k 2 "$kill_after" "$DERPCHECK" "$@" >"$work/$name.out" 2>"$work/$name.err") || got=$?
	elapsed=$(($(now_ms) - start))
	ELAPSED=$elapsed
	if [[ "|$want|" == *"|$got|"* ]]; then pass; else
		fail "$name: exit status $got, want $want$([ "$got" = 124 ] && echo " (killed: it hung)")"
		head -c 3000 "$work/$name.out" "$work/$name.err" | LC_ALL=C cat -v >&2
	fi
	if [ "$elapsed" -le $((limit + HOSTILE_SLACK_MS)) ]; then pass; else
		fail "$name: took ${elapsed} ms, more than ${limit} ms (+${HOSTILE_SLACK_MS} ms slack)"
	fi
	if [ -n "$text" ]; then
		if cat "$work/$name.out" "$work/$name.err" | grep -qF -- "$text"; then pass; else
			fail "$name: '$text' is not in its output"
			head -c 3000 "$work/$name.out" "$work/$name.err" | LC_ALL=C cat -v >&2
		fi
	fi
	terminal_clean "$name"
}

json_valid() {
	if iconv -f UTF-8 -t UTF-8 "$work/$1.out" >/dev/null 2>&1 && jq -e . "$work/$1.out" >/dev/null 2>&1; then pass; else
		fail "$1: standard output is not valid JSON in UTF-8"
		head -c 2000 "$work/$1.out" | LC_ALL=C cat -v >&2
	fi
}
