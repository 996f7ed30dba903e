#!/bin/bash
# Documentation stays complete: the man page is lint-clean, and every option any
# implemented command's --help lists appears in the man page, the README and all
# three completion scripts.
set -u
. "$(dirname "$0")/lib.sh"

case_begin man-lint
lint=$(mandoc -Tlint "$root/docs/derpcheck.1" 2>&1 | grep -v 'mandoc.db')
if [ -z "$lint" ]; then pass; else fail "mandoc -Tlint docs/derpcheck.1:"; echo "$lint" >&2; fi

case_begin commands
commands=$("$DERPCHECK" --help | awk '/^Commands:/{on=1;next} /^$/{on=0} on {print $1}' | grep -v '^help$')
[ -n "$commands" ] && pass || fail "no implemented commands found in --help"
for cmd in "" $commands; do
	help=$("$DERPCHECK" $cmd --help)
	for opt in $(echo "$help" | grep -oE '^\s+(-[a-z0-9], )?--[a-z0-9-]+' | grep -oE -- '--[a-z0-9-]+'); do
		name=${opt#--}
		case_begin "${cmd:-global} $opt documented"
		grep -qE "Fl -$name\b" "$root/docs/derpcheck.1" && pass || fail "docs/derpcheck.1 lacks $opt"
		grep -qF -- "\`$opt" "$root/README.md" && pass || fail "README.md lacks $opt"
		grep -qF -- "$opt" "$root/completions/derpcheck.bash" && pass || fail "bash completion lacks $opt"
		grep -qF -- "$opt" "$root/completions/_derpcheck" && pass || fail "zsh completion lacks $opt"
		grep -qE -- "-l $name\b" "$root/completions/derpcheck.fish" && pass || fail "fish completion lacks $opt"
	done
	if [ -n "$cmd" ]; then
		case_begin "$cmd documented"
		grep -qF "Cm $cmd" "$root/docs/derpcheck.1" && pass || fail "docs/derpcheck.1 lacks command $cmd"
		grep -qF "derpcheck $cmd" "$root/README.md" && pass || fail "README.md lacks command $cmd"
	fi
done
# Every command in --help is completed.
for cmd in $("$DERPCHECK" --help | awk '/^Commands:/{on=1;next} /^$/{on=0} on {print $1}'); do
	case_begin "$cmd completed"
	grep -qw -- "$cmd" "$root/completions/derpcheck.bash" && grep -qF "'$cmd:" "$root/completions/_derpcheck" &&
		grep -qF -- "-a $cmd " "$root/completions/derpcheck.fish" && pass || fail "completions lack command $cmd"
done
# Every finding code the source can emit is documented.
for code in $(grep -ohE 'DC_SEV_(ERROR|WARNING), "[a-z0-9-]+"' "$root"/src/*/*.c | grep -oE '"[a-z0-9-]+"' | tr -d '"' | sort -u) syntax; do
	case_begin "finding $code documented"
	grep -qF "\`$code\`" "$root/docs/json.md" && pass || fail "docs/json.md lacks finding code $code"
done

finish
