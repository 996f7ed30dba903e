#!/bin/bash
# Exit statuses agree everywhere: for every command `derpcheck --help` lists, the three
# sentences `derpcheck help COMMAND` prints under "Exit status:" are word for word those
# of derpcheck(1) EXIT STATUS (rendered by mandoc) and of the README's exit status table;
# then each command is run against local servers in cases for 0, 1 and 2, each case named
# by a phrase of its documented sentence (so a case is what the documents promise), and
# every command must have a case for every status. Loopback only; two cases need root for
# a private mount namespace (a resolver that answers nothing, no tailscaled socket).
set -u
export DAYS=90 LC_ALL=C DERPCHECK_DEFAULT_MAP_URL=
. "$(dirname "$0")/lib/derp.sh"

# ---- the documents ------------------------------------------------------------------------

commands=$("$DERPCHECK" --help | awk '/^Commands:/{on=1;next} /^$/{on=0} on && $1 != "help" {print $1}')

# help_exit CMD: "CODE<TAB>sentence" for 0, 1, 2 from `derpcheck help CMD` (lines joined).
help_exit() {
	"$DERPCHECK" help "$1" | awk '
		/^Exit status:$/ { on = 1; next }
		on && /^  [012]  / { if (code != "") print code "\t" text; code = $1; sub(/^  [012]  /, ""); text = $0; next }
		on && /^     / { sub(/^ +/, ""); text = text " " $0; next }
		END { if (code != "") print code "\t" text }'
}

# man_exit CMD: the same from derpcheck(1) EXIT STATUS ("diagnose, debug derp" for both).
mandoc -T ascii -O width=1000 "$root/docs/derpcheck.1" | col -b >"$work/man.txt"
man_exit() {
	awk -v cmd="$1" '
		/^EXIT STATUS/ { on = 1; next }
		/^[A-Z]/ { on = 0 }
		on && /^     [a-z]/ { sub(/^ +/, ""); n = split($0, names, /, /); mine = 0
			for (i = 1; i <= n; i++) if (names[i] == cmd || names[i] == cmd " derp") mine = 1; next }
		on && mine && /^[ \t]+[012]\t/ { sub(/^[ \t]+/, ""); code = substr($0, 1, 1); sub(/^[012]\t/, ""); print code "\t" $0 }' \
		"$work/man.txt"
}

# readme_exit CMD: the same from the README table ("`diagnose`, `debug derp`" for both).
readme_exit() {
	awk -F ' [|] ' -v cmd="$1" '
		/^### Exit status/ { on = 1; next }
		/^#/ { on = 0 }
		on && /^[|] `/ { names = substr($1, 3); gsub(/`/, "", names)
			n = split(names, each, /, /)
			for (i = 1; i <= n; i++) if (each[i] == cmd || each[i] == cmd " derp") {
				sub(/ [|]$/, "", $4); print "0\t" $2; print "1\t" $3; print "2\t" $4 } }' "$root/README.md"
}

for cmd in $commands; do
	case_begin "$cmd: documents"
	help_exit "$cmd" >"$work/$cmd.help"
	if [ "$(cut -f1 "$work/$cmd.help" | tr -d '\n')" = 012 ]; then pass; else
		fail "$cmd: \`derpcheck help $cmd\` does not say what exit status 0, 1 and 2 mean:"
		sed 's/^/    | /' "$work/$cmd.help" >&2
	fi
	man_exit "$cmd" >"$work/$cmd.man"
	expect_file "$cmd: derpcheck(1) EXIT STATUS against --help" "$work/$cmd.man" "$work/$cmd.help"
	readme_exit "$cmd" >"$work/$cmd.readme"
	expect_file "$cmd: README exit status table against --help" "$work/$cmd.readme" "$work/$cmd.help"
done

# ---- the behaviour ------------------------------------------------------------------------

covered=""
# exits NAME CMD CODE PHRASE ARGS...: one case — PHRASE is part of CMD's documented sentence
# for CODE, and derpcheck ARGS (in $work, with $SANDBOX before it when set) exits CODE.
exits() {
	local name=$1 cmd=$2 code=$3 phrase=$4 got=0
	shift 4
	case_begin "$name"
	if awk -F '\t' -v c="$code" '$1 == c { print $2 }' "$work/$cmd.help" | grep -qF -- "$phrase"; then pass; else
		fail "$name: '$phrase' is not in what \`derpcheck help $cmd\` says exit status $code means"
	fi
	(cd "$work" && NO_COLOR=1 ${SANDBOX:+"${SANDBOX[@]}"} "$DERPCHECK" "$@" >"$work/$name.out" 2>"$work/$name.err") || got=$?
	if [ "$got" = "$code" ]; then pass; else
		fail "$name: derpcheck $* exited $got, want $code ($phrase)"
		sed 's/^/    | /' "$work/$name.out" "$work/$name.err" >&2
	fi
	hints_check "$name" "$work" "$work/$name.out" "$work/$name.err"
	covered="$covered $cmd:$code"
}

# As root, a private mount namespace: a resolver that answers nothing (an unused loopback
# address) and no tailscaled socket at the default paths. Elsewhere these cases are skipped
# loudly (CI runs as root).
printf 'nameserver 127.3.5.3\noptions timeout:1 attempts:1\n' >"$work/resolv.conf"
sandboxed() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "## exit_codes.sh: not root: case $1 skipped (it needs a private mount namespace; CI runs as root)" >&2
		[ -z "${CI:-}" ] || fail "$1: needs root and CI is set"
		covered="$covered $3:$4"
		return
	fi
	local SANDBOX=(unshare -m sh -c 'mount --bind "$0" /etc/resolv.conf && mount -t tmpfs none /run &&
		for d in /var/packages /tmp/tailscale; do [ ! -d $d ] || mount -t tmpfs none $d; done && exec "$@"' \
		"$work/resolv.conf")
	exits "$@"
}

# The servers: the test DERP server with the full chain and with the leaf alone, a STUN
# server that answers as derper does and one that answers only plain RFC 5389.
start_server full --hostname derp.test --listen 127.0.0.1:0 || { finish; exit 1; }
full=$PORT
SERVER_CERT=$work/pki/derp.pem start_server leaf --hostname derp.test --listen 127.0.0.1:0 || { finish; exit 1; }
leaf=$PORT
spawn stun '^ready' 5 "$TOOLS/stunserver" -a 127.0.0.1 -p 0 --lifetime 120 || { finish; exit 1; }
stun=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/stun.ready" | head -1)
spawn plain '^ready' 5 "$TOOLS/stunserver" -a 127.0.0.1 -p 0 --lifetime 120 --answer plain || { finish; exit 1; }
plain=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/plain.ready" | head -1)
closed_udp=$(free_port udp)
closed_tcp=$(free_port tcp)
ca=(--ca-file pki/ca.pem)
# map FILE DERPPORT STUNPORT [EXTRA-JSON]: region 900, one node on 127.0.0.1
map() { write_map "$1" "$(node 900a derp.test 127.0.0.1 none "$2" "${4:-}" | sed "s/\"STUNPort\":-1/\"STUNPort\":$3/")"; }
map good.json "$full" "$stun"
map leaf.json "$leaf" "$stun"
map insecure.json "$leaf" "$stun" '"InsecureForTests":true'
map insecure-full.json "$full" "$stun" '"InsecureForTests":true'
map silent.json "$full" "$closed_udp"
map closed.json "$closed_tcp" "$stun"
map nostun.json "$full" -1

exits validate-ok validate 0 "none has an error" validate "$root/examples/policy.hujson"
exits validate-warnings validate 0 "warnings are allowed" validate "$root/tests/fixtures/warnings-only.json"
exits validate-errors validate 1 "an input has an error" validate "$root/tests/fixtures/broken-policy.hujson"
exits validate-strict validate 1 "with --strict, any finding" validate --strict "$root/tests/fixtures/warnings-only.json"
exits validate-missing validate 2 "an input that cannot be read" validate missing.json good.json
exits validate-usage validate 2 "a usage error" validate --stirct good.json

exits stun-ok stun 0 "every address answered" stun -c 1 "127.0.0.1:$stun"
exits stun-silent stun 1 "did not answer" stun -c 1 --timeout 300ms "127.0.0.1:$closed_udp"
exits stun-plain stun 1 "only to plain RFC 5389 requests" stun -c 1 --timeout 300ms "127.0.0.1:$plain"
exits stun-no-target stun 1 "a node of --region cannot be probed" stun --derp-map nostun.json --region 900
exits stun-unknown-region stun 2 "an unknown --region" stun --derp-map good.json --region 999
sandboxed stun-unresolved stun 2 "does not resolve" stun -c 1 nowhere.invalid

nc=(netcheck --no-portmap --socket "$work/no.sock")
exits netcheck-ok netcheck 0 "UDP works and a home region was found" "${nc[@]}" --derp-map good.json "${ca[@]}"
exits netcheck-no-udp netcheck 1 "no STUN server answered" "${nc[@]}" --derp-map silent.json --timeout 1s
exits netcheck-insecure netcheck 1 "accepted only because of InsecureForTests" "${nc[@]}" --check-derp \
	--derp-map insecure.json "${ca[@]}"
exits netcheck-missing-map netcheck 2 "an unreadable map" "${nc[@]}" --derp-map missing.json

exits ping-ok ping 0 "every packet came back" ping --derp-map good.json "${ca[@]}" -c 2 -i 20ms 900
exits ping-refused ping 1 "a connection failed" ping --derp-map closed.json "${ca[@]}" -c 1 900
exits ping-leaf ping 1 "a certificate is not verified" ping --derp-map leaf.json "${ca[@]}" -c 1 900
exits ping-insecure ping 1 "InsecureForTests on the node" ping --derp-map insecure.json "${ca[@]}" -c 1 900
exits ping-unknown-region ping 2 "an unknown region" ping --derp-map good.json 999
exits ping-ca-file ping 2 "a --ca-file that cannot be loaded" ping --derp-map good.json --ca-file missing.pem 900

export DERPCHECK_NOW=1787400000 # the status fixtures' "now"
fx=$root/tests/fixtures/status
exits status-direct status 0 "every active peer shown goes direct" status --file "$fx/all-direct.json"
exits status-relayed status 1 "an active peer shown is relayed" status --file "$fx/mixed.json"
exits status-stopped status 1 "has no session" status --file "$fx/stopped.json"
sandboxed status-no-tailscaled status 1 "no socket at the default paths" status
exits status-socket status 2 "a --socket nobody listens on" status --socket "$work/none.sock"
exits status-peer status 2 "a --peer that matches no peer" status --file "$fx/mixed.json" --peer nobody
unset DERPCHECK_NOW

exits cert-ok cert 0 "every client accepts the chain" cert "${ca[@]}" --servername derp.test "127.0.0.1:$full"
exits cert-leaf cert 1 "a client rejects the chain" cert "${ca[@]}" --no-aia --servername derp.test "127.0.0.1:$leaf"
exits cert-insecure cert 1 "a node has InsecureForTests" cert --derp-map insecure-full.json "${ca[@]}" --region 900
exits cert-refused cert 2 "nothing answering at a HOST given on the command line" cert --servername derp.test \
	"127.0.0.1:$closed_tcp"
exits cert-unknown-region cert 2 "an unknown region" cert --derp-map good.json --region 999

exits diagnose-ok diagnose 0 "both paths are ok" diagnose --derp-map good.json "${ca[@]}" 900
exits diagnose-leaf diagnose 1 "a check failed" diagnose --derp-map leaf.json "${ca[@]}" 900
exits diagnose-insecure diagnose 1 "is insecure" diagnose --derp-map insecure-full.json "${ca[@]}" 900
exits diagnose-unknown-region diagnose 2 "an unknown region" diagnose --derp-map good.json 999
exits diagnose-output diagnose 2 "an --output file that cannot be written" diagnose --derp-map good.json "${ca[@]}" \
	-o "$work/no/such/dir/report.txt" 900
exits debug-ok debug 0 "both paths are ok" debug derp --derp-map good.json "${ca[@]}" 900
exits debug-stun debug 1 "the STUN or DERP path is not ok" debug derp --derp-map silent.json "${ca[@]}" 900
exits debug-usage debug 2 "a usage error" debug drep 900

# server: the deployment fixtures, copied so the keys can be mode 600 (git keeps 644).
srv=$work/srv
cp -r "$root/tests/fixtures/server" "$srv"
chmod 600 "$srv"/seed/certs/*.key "$srv"/good/certs/*.key
export DERPCHECK_NOW=1798761600 # inside the fixture certificates' validity
S=(--ca-file "$srv/ca.pem" --derp-map "$srv/seed/policy.hujson")
exits server-good server 0 "no check fails" server --compose "$srv/good/docker-compose.yml" "${S[@]}"
exits server-seed server 1 "the deployment disagrees with the map's node" server --compose "$srv/seed/docker-compose.yml" "${S[@]}"
exits server-variables server 2 "derper's flags that cannot be read from the input" server \
	--compose "$srv/mistakes/env-vars.yml" "${S[@]}"
exits server-unknown-region server 2 "an unknown --region" server --compose "$srv/good/docker-compose.yml" "${S[@]}" \
	--region 999
unset DERPCHECK_NOW

# exporter: serves until SIGTERM, then exits 0 (the status of a long-running service).
case_begin exporter-sigterm
if awk -F '\t' '$1 == 0 { print $2 }' "$work/exporter.help" | grep -qF "stopped by SIGTERM"; then pass; else
	fail "exporter-sigterm: 'stopped by SIGTERM' is not what \`derpcheck help exporter\` says exit status 0 means"
fi
(cd "$work" && exec "$DERPCHECK" exporter --derp-map good.json "${ca[@]}" --listen 127.0.0.1:0 --interval 1h \
	>"$work/exporter.out" 2>"$work/exporter.err") &
exporter_pid=$!
if wait_for_line "$work/exporter.err" '^derpcheck: exporter on http://' "$exporter_pid" 10; then pass; else
	fail "exporter-sigterm: the exporter did not start serving:"; sed 's/^/    | /' "$work/exporter.err" >&2
fi
kill -TERM "$exporter_pid" 2>/dev/null
got=0; wait "$exporter_pid" || got=$?
if [ "$got" = 0 ]; then pass; else fail "exporter-sigterm: exited $got after SIGTERM, want 0"; fi
covered="$covered exporter:0"
exits exporter-no-map exporter 2 "a usage error" exporter --listen 127.0.0.1:0
exits exporter-busy exporter 2 "an address that cannot be listened on" exporter --derp-map good.json "${ca[@]}" \
	--listen "127.0.0.1:$full"

# Every command has a case for every status it documents; a status documented as
# "never: ..." (exporter's 1: its findings are in /metrics) has none to have.
for cmd in $commands; do
	case_begin "$cmd: every status exercised"
	for code in 0 1 2; do
		if awk -F '\t' -v c="$code" '$1 == c { print $2 }' "$work/$cmd.help" | grep -q '^never: '; then
			case " $covered " in *" $cmd:$code "*) fail "$cmd: a case exits $code, documented as never" ;; *) pass ;; esac
			continue
		fi
		case " $covered " in *" $cmd:$code "*) pass ;; *) fail "$cmd: no case above exits $code" ;; esac
	done
done
finish
