#!/bin/bash
# Completion scripts: syntax in all three shells, and real completions in bash and fish.
set -u
. "$(dirname "$0")/lib.sh"
comp=$root/completions

case_begin syntax
bash -n "$comp/derpcheck.bash" && pass || fail "bash -n completions/derpcheck.bash"
zsh -n "$comp/_derpcheck" && pass || fail "zsh -n completions/_derpcheck"
fish -n "$comp/derpcheck.fish" && pass || fail "fish -n completions/derpcheck.fish"

# complete_bash WORDS...: what bash would offer for the last word.
complete_bash() {
	bash -c '
		source "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_derpcheck derpcheck "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort
	' _ "$comp/derpcheck.bash" "$@"
}

expect_completion() {
	name=$1 want=$2
	shift 2
	case_begin "bash $name"
	got=$(complete_bash "$@" | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" = "$want" ]; then pass; else fail "bash completion $name: got '$got', want '$want'"; fi
}

expect_completion commands "validate" derpcheck val
expect_completion all-commands "cert debug diagnose exporter help netcheck ping server status stun validate" derpcheck ""
expect_completion global-flag "--format" derpcheck --form
expect_completion format-values "json json-line prometheus text" derpcheck --format ""
expect_completion color-values "always auto" derpcheck --color a
expect_completion validate-flag "--strict" derpcheck validate --st
expect_completion validate-after-global "--strict" derpcheck --format json validate --st
expect_completion validate-timeout "--timeout" derpcheck validate --tim
expect_completion map-format-flag "--map-format" derpcheck validate --map
expect_completion map-format-values "headscale hujson" derpcheck ping --map-format h
expect_completion help-commands "status stun" derpcheck help st
expect_completion cert-flags "--cert-file --certdir" derpcheck cert --cert
expect_completion cert-write "--write-fullchain" derpcheck cert --wri
expect_completion stun-flag "--style" derpcheck stun --sty
expect_completion stun-style-values "rfc5389 tailscale" derpcheck stun --style ""
expect_completion stun-bind "--bind-address --bind-port" derpcheck stun --bind

expect_completion status-flag "--socket" derpcheck status --so
expect_completion ping-flag "--mesh" derpcheck ping --me
expect_completion ping-interval "100ms 1s" derpcheck ping -i 1

# Every option an implemented command's --help lists is offered by bash after "COMMAND -".
for cmd in $("$DERPCHECK" --help | awk '/^Commands:/{on=1;next} /^$/{on=0} on && $1 != "help" {print $1}'); do
	case_begin "bash $cmd options"
	offered=$(complete_bash derpcheck "$cmd" -)
	for opt in $("$DERPCHECK" "$cmd" --help | grep -oE '^\s+(-[a-z0-9], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+'); do
		if grep -qx -- "$opt" <<<"$offered"; then pass; else fail "bash does not complete $cmd $opt"; fi
	done
done

# Every option `derpcheck stun --help` lists is offered by bash after "stun -".
case_begin "bash stun options, one by one"
for opt in $("$DERPCHECK" stun --help | grep -oE '^\s+(-[a-z0-9], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+'); do
	if complete_bash derpcheck stun - | grep -qx -- "$opt"; then pass; else fail "bash does not complete stun $opt"; fi
done

# fish: ask fish itself what it would complete.
case_begin fish
got=$(fish -c "source $comp/derpcheck.fish; complete -C 'derpcheck val'" | cut -f1 | tr '\n' ' ')
[ "$got" = "validate " ] && pass || fail "fish completes 'derpcheck val' as '$got'"
got=$(fish -c "source $comp/derpcheck.fish; complete -C 'derpcheck validate --str'" | cut -f1 | tr '\n' ' ')
[ "$got" = "--strict " ] && pass || fail "fish completes 'derpcheck validate --str' as '$got'"
got=$(fish -c "source $comp/derpcheck.fish; complete -C 'derpcheck status --act'" | cut -f1 | tr '\n' ' ')
[ "$got" = "--active " ] && pass || fail "fish completes 'derpcheck status --act' as '$got'"
got=$(fish -c "source $comp/derpcheck.fish; complete -C 'derpcheck ping --me'" | cut -f1 | tr '\n' ' ')
[ "$got" = "--mesh " ] && pass || fail "fish completes 'derpcheck ping --me' as '$got'"
got=$(fish -c "source $comp/derpcheck.fish; complete -C 'derpcheck validate --map-format y'" | cut -f1 | tr '\n' ' ')
[ "$got" = "yaml " ] && pass || fail "fish completes 'derpcheck validate --map-format y' as '$got'"
got=$(fish -c "source $comp/derpcheck.fish; complete -C 'derpcheck stun --sty'" | cut -f1 | tr '\n' ' ')
[ "$got" = "--style " ] && pass || fail "fish completes 'derpcheck stun --sty' as '$got'"

finish
