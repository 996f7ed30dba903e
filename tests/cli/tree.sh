#!/bin/bash
# The repository's top level holds only what the project uses (issue #19: a stray
# invalid m.json sat there, later an empty escapes-host.json a hand-run test left):
# every tracked top-level entry is either one of the project's fixed files or named in
# the Makefile or the README, which is how a newcomer learns what it is for.
#   tests/cli/tree.sh
set -u
DERPCHECK=${DERPCHECK:-unused}
. "$(dirname "$0")/lib.sh"
case_begin "top-level files"
if ! git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# A release tarball has no git: nothing to compare with, said loudly, failed in CI.
	echo "## tree.sh: $root is not a git work tree: top-level files not checked" >&2
	[ -z "${CI:-}" ] || fail "tree.sh needs the git work tree in CI"
	finish
	exit
fi
fixed=" .ci .gitignore Makefile README.md "
for entry in $(git -C "$root" ls-files | cut -d/ -f1 | sort -u); do
	case $fixed in *" $entry "*) pass; continue ;; esac
	# as a word of its own ("docs/…", "`examples/`", "data/x.json"), not inside another word
	re="(^|[^A-Za-z0-9_.-])${entry//./\\.}([^A-Za-z0-9_-]|\$)"
	if grep -qE -- "$re" "$root/Makefile" "$root/README.md"; then pass; else
		fail "top-level '$entry' is named neither in the Makefile nor in the README: remove it, or say what it is for"
	fi
done
finish
