#!/bin/bash
# make install / uninstall honour PREFIX and DESTDIR and ship the binary, the man page
# and the three completion scripts.
#   tests/cli/install.sh MAKE BIN
set -u
DERPCHECK=${DERPCHECK:-$2}
. "$(dirname "$0")/lib.sh"
make_cmd=$1 bin=$2
dest=$work/dest
case_begin "make install, make uninstall"
(cd "$root" && $make_cmd -s --no-print-directory install DESTDIR="$dest" PREFIX=/opt/dc BIN="$bin" >/dev/null) ||
	fail "make install failed"
for f in bin/derpcheck share/man/man1/derpcheck.1 share/bash-completion/completions/derpcheck \
	share/zsh/vendor-completions/_derpcheck share/fish/vendor_completions.d/derpcheck.fish; do
	[ -f "$dest/opt/dc/$f" ] && pass || fail "make install did not create \$DESTDIR/opt/dc/$f"
done
[ "$("$dest/opt/dc/bin/derpcheck" --version)" = "$("$DERPCHECK" --version)" ] && pass || fail "installed binary differs"
(cd "$root" && $make_cmd -s --no-print-directory uninstall DESTDIR="$dest" PREFIX=/opt/dc >/dev/null) ||
	fail "make uninstall failed"
left=$(find "$dest" -type f | wc -l)
[ "$left" = 0 ] && pass || fail "make uninstall left $left files"
finish
