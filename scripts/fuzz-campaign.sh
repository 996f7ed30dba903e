#!/bin/bash
# A fuzzing campaign over every libFuzzer target in tests/fuzz (docs/fuzzing.md): each
# target runs until RUNS executions or SECONDS seconds, whichever comes first, at the
# lowest CPU priority (or --nice N), one after the other. For each it appends one row to the results
# table at the end of docs/fuzzing.md: the date, executions, wall time and the CPU time
# the fuzzer got (on a shared machine they differ), coverage (cov and ft from libFuzzer's
# final line) and the outcome. A crash stops nothing: its input is kept
# in build/fuzz/ and the row says so; the exit status is 1 if any target crashed.
#
#   scripts/fuzz-campaign.sh [--runs N] [--seconds S] [--nice N] [--merge] [TARGET...]
#
#   --runs N      executions per target (default 10000000)
#   --seconds S   time per target (default 3600)
#   --nice N      the fuzzer's niceness (default 19: it yields to everything else; 0 makes
#                 it a full CPU load, e.g. while a test run is to be measured under load)
#   --merge       afterwards, add to tests/fuzz/corpus/NAME the inputs of the run that
#                 add coverage to it (libFuzzer -merge=1: the corpus grows minimised)
#   TARGET        names like stun or fuzz_stun (default: all)
#
# An input that runs longer than 60 s of wall time counts as a hang. The limit is wall
# time: at nice 19 beside a busy machine a fuzzer can be starved for seconds (a 10 s limit
# fired so once), so replay such an input (build/fuzz/fuzz_NAME FILE) before calling it one.
#
# Builds the targets first (make fuzz-build). The grown corpora live in
# build/fuzz/corpus-fuzz_NAME between runs.
set -u
cd "$(dirname "$0")/.." || exit 2

runs=10000000
seconds=3600
merge=0
niceness=19
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--nice) niceness=$2; shift 2 ;;
	--merge) merge=1; shift ;;
	-h | --help) awk 'NR > 1 && /^#/ { print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	-*) echo "fuzz-campaign: unknown option $1" >&2; exit 2 ;;
	*) targets+=("fuzz_${1#fuzz_}"); shift ;;
	esac
done
if [ ${#targets[@]} -eq 0 ]; then
	for src in tests/fuzz/fuzz_*.c; do targets+=("$(basename "$src" .c)"); done
fi

nice -n 19 make --no-print-directory fuzz-build >/dev/null || { echo "fuzz-campaign: make fuzz-build failed" >&2; exit 2; }

doc=docs/fuzzing.md
marker='<!-- campaign results: scripts/fuzz-campaign.sh appends rows at the end of this file -->'
grep -qF "$marker" "$doc" || { echo "fuzz-campaign: $doc lacks the results marker" >&2; exit 2; }

# cpu_now := CPU seconds (user + system) used so far by this shell's finished children.
# `times` runs here, not in a $(...) subshell, which would report its own children.
children_cpu() {
	local f
	f=$(mktemp)
	times >"$f"
	cpu_now=$(tail -1 "$f" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%d", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
	rm -f "$f"
}

status=0
for t in "${targets[@]}"; do
	bin=build/fuzz/$t
	name=${t#fuzz_}
	[ -x "$bin" ] || { echo "fuzz-campaign: no $bin" >&2; status=1; continue; }
	work=build/fuzz/corpus-$t
	log=build/fuzz/$t.campaign.log
	mkdir -p "$work"
	start=$(date +%s)
	children_cpu
	cpu0=$cpu_now
	echo "fuzz-campaign: $t: up to $runs executions or ${seconds}s ..."
	if nice -n "$niceness" "$bin" -runs="$runs" -max_total_time="$seconds" -max_len=65536 -timeout=60 -rss_limit_mb=2048 \
		-artifact_prefix="build/fuzz/$t-" -print_final_stats=1 "$work" "tests/fuzz/corpus/$name" >"$log" 2>&1; then
		outcome=clean
	else
		outcome="crash, input in build/fuzz/$t-*"
		status=1
	fi
	took=$(($(date +%s) - start))
	children_cpu
	cpu=$((cpu_now - cpu0))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	# The last status line: "#N DONE cov: C ft: F corp: ..." (or the last "#N ..." before a crash).
	last=$(grep -E '^#[0-9]+' "$log" | tail -1)
	cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	rate=$(( took > 0 ? ${execs:-0} / took : ${execs:-0} ))
	row="| $(date -u +%Y-%m-%d) | $name | ${execs:-?} | ${took}s (cpu ${cpu}s) | ${rate}/s | ${cov:-?} | ${ft:-?} | $outcome |"
	echo "$row" >>"$doc"
	echo "fuzz-campaign: $row"
	if [ "$merge" = 1 ] && [ "$outcome" = clean ]; then
		# Into the tree's corpus: only inputs that add coverage to what is there (the named
		# seeds stay), so the corpus grows minimised.
		before=$(ls "tests/fuzz/corpus/$name" | wc -l)
		if nice -n "$niceness" "$bin" -merge=1 -max_len=65536 -timeout=60 -rss_limit_mb=2048 "tests/fuzz/corpus/$name" "$work" \
			>"build/fuzz/$t.merge.log" 2>&1; then
			echo "fuzz-campaign: $t: tests/fuzz/corpus/$name: $before -> $(ls "tests/fuzz/corpus/$name" | wc -l) inputs"
		else
			echo "fuzz-campaign: $t: merge failed, see build/fuzz/$t.merge.log" >&2
		fi
	fi
done
exit $status
