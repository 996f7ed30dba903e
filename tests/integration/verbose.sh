#!/bin/bash
# -v says more in every command, and says what the documents promise: for every command
# `derpcheck --help` lists, the "With -v:" sentence of its --help is word for word the one
# in derpcheck(1) (-v, --verbose) and in the README's table; then each command runs with
# and without -v against local servers, and the extra detail it documents appears only
# with -v, while everything printed without -v is still there (-v only adds).
set -u
export DAYS=90 LC_ALL=C DERPCHECK_DEFAULT_MAP_URL=
. "$(dirname "$0")/lib/derp.sh"

commands=$("$DERPCHECK" --help | awk '/^Commands:/{on=1;next} /^$/{on=0} on && $1 != "help" {print $1}')
mandoc -T ascii -O width=1000 "$root/docs/derpcheck.1" | col -b >"$work/man.txt"

# help_v CMD / man_v CMD / readme_v CMD: the sentence, whitespace collapsed.
help_v() { "$DERPCHECK" help "$1" | awk '/^With -v:$/ { on = 1; next } on && /^  / { sub(/^ +/, ""); printf "%s ", $0; next } { on = 0 } END { printf "\n" }' | sed 's/ $//'; }
# In the man page the -v entry is a list of paragraphs, each starting with the command's name.
man_v() {
	local label=$1
	[ "$1" = diagnose ] || [ "$1" = debug ] && label="diagnose, debug derp"
	awk -v label="$label" '
		/^     -v, --verbose/ { on = 1; next }
		on && /^     -/ { on = 0 }
		on && /^$/ { if (para != "") check(); para = ""; next }
		on { line = $0; gsub(/^[ \t]+/, "", line); para = para (para == "" ? "" : " ") line }
		function check() { if (index(para, label) == 1) { t = substr(para, length(label) + 1); gsub(/^[ \t]+/, "", t); gsub(/[ \t]+/, " ", t); print t } }
		END { if (on && para != "") check() }' "$work/man.txt"
}
readme_v() {
	awk -F ' [|] ' -v cmd="$1" '
		/^### What `-v` adds/ { on = 1; next }
		/^#/ { on = 0 }
		on && /^[|] `/ { names = substr($1, 3); gsub(/`/, "", names); n = split(names, each, /, /)
			for (i = 1; i <= n; i++) if (each[i] == cmd || each[i] == cmd " derp") { sub(/ [|]$/, "", $2); print $2 } }' \
		"$root/README.md"
}

for cmd in $commands; do
	case_begin "$cmd: -v documented"
	help_v "$cmd" >"$work/$cmd.help"
	[ -s "$work/$cmd.help" ] && pass || fail "$cmd: \`derpcheck help $cmd\` has no \"With -v:\" paragraph"
	man_v "$cmd" >"$work/$cmd.man"
	expect_file "$cmd: derpcheck(1) -v, --verbose against --help" "$work/$cmd.man" "$work/$cmd.help"
	readme_v "$cmd" >"$work/$cmd.readme"
	expect_file "$cmd: README's -v table against --help" "$work/$cmd.readme" "$work/$cmd.help"
done

# ---- behaviour ---------------------------------------------------------------------------

checked=""
# both NAME CMD ARGS...: run derpcheck ARGS twice in $work, as NAME (without -v) and NAME-v
# (-v first), in one case; the exit statuses agree, and every line of NAME's standard
# output (times masked) is in NAME-v's.
both() {
	local name=$1 cmd=$2 got=0 gotv=0
	shift 2
	case_begin "$cmd -v"
	checked="$checked $cmd"
	(cd "$work" && NO_COLOR=1 "$DERPCHECK" "$cmd" "$@" >"$work/$name.out" 2>"$work/$name.err") || got=$?
	(cd "$work" && NO_COLOR=1 "$DERPCHECK" -v "$cmd" "$@" >"$work/$name-v.out" 2>"$work/$name-v.err") || gotv=$?
	[ "$got" = "$gotv" ] && pass || fail "$name: exit status $got without -v, $gotv with it"
	mask_times() {
		sed -E -e 's/[0-9]+(\.[0-9]+)?(ms|µs|s)\b/T/g' -e 's/[0-9]+\.[0-9]+/N/g' -e 's/:[0-9]{4,5}\b/:PORT/g' \
			-e 's/Time: .*/Time: T/' -e 's/\(derp[0-9]+, /(/' -e 's/[[:space:]]+/ /g' "$1"
		# netcheck -v names regions as Tailscale's does; columns are as wide as the numbers in them
	}
	local missing
	missing=$(grep -vxF -f <(mask_times "$work/$name-v.out") <(mask_times "$work/$name.out") | head -3)
	[ -z "$missing" ] && pass || fail "$name: -v dropped lines of the output: $missing"
	hints_check "$name" "$work" "$work/$name.out" "$work/$name.err" "$work/$name-v.out" "$work/$name-v.err"
}
# json_same NAME ARGS...: --format json prints the same document with -v as without
# (numbers masked: timings differ from run to run); -v is for people, not for scripts.
json_same() {
	local name=$1
	shift
	case_begin "$name -v JSON"
	(cd "$work" && "$DERPCHECK" --format json "$@" >"$work/$name.json" 2>/dev/null)
	(cd "$work" && "$DERPCHECK" -v --format json "$@" >"$work/$name-v.json" 2>/dev/null)
	jq -e . "$work/$name.json" >/dev/null && pass || fail "$name: --format json is not JSON"
	local masked=(sed -E 's/-?[0-9]+(\.[0-9]+)?(e[-+]?[0-9]+)?/N/g')
	if diff <("${masked[@]}" "$work/$name.json") <("${masked[@]}" "$work/$name-v.json") >"$work/$name-json.diff"; then
		pass
	else
		fail "$name: -v changed the JSON:"
		_assert_show "$work/$name-json.diff"
	fi
}
# only_v NAME out|err ERE: the extra detail is in NAME-v's stream and not in NAME's.
only_v() {
	assert_match "$1 -v" "$work/$1-v.$2" "$3"
	assert_no_match "$1 without -v" "$work/$1.$2" "$3"
}

start_server derp --hostname derp.test --listen 127.0.0.1:0 || { finish; exit 1; }
derp=$PORT
spawn stun '^ready' 5 "$TOOLS/stunserver" -a 127.0.0.1 -p 0 --lifetime 120 || { finish; exit 1; }
stun=$(sed -n 's/^listening .*:\([0-9]*\)$/\1/p' "$work/stun.ready" | head -1)
write_map map.json "$(node 900a derp.test 127.0.0.1 none "$derp" | sed "s/\"STUNPort\":-1/\"STUNPort\":$stun/")"
ca=(--ca-file pki/ca.pem)

both validate validate "$root/examples/policy.hujson"
only_v validate out '^  the map as clients decode it: 29 regions, 88 nodes$'
only_v validate out '^    node 900a derp\.example\.com \(RegionID 900\), IPv4 203\.0\.113\.10, IPv6 off, DERP tcp/38894, STUN udp/38893$'
only_v validate out '^    node 1f derp1f\.tailscale\.com \(RegionID 1\), .*DERP tcp/443 \(default\), STUN udp/3478 \(default\), CanPort80$'
only_v validate err "^derpcheck: reading $root/examples/policy\.hujson$"

both stun stun -c 2 "127.0.0.1:$stun"
only_v stun err '^derpcheck: stun: [0-9]+ requests sent \(0 send errors\), [0-9]+ datagrams received, [0-9]+ accepted; ignored: '

both netcheck netcheck --no-portmap --socket "$work/no.sock" --derp-map map.json "${ca[@]}"
only_v netcheck err '^netcheck: DERP map: file map\.json'
only_v netcheck out '^		- test: +[0-9.]+(ms|µs|s) +\(derp900, Test\)$'

both ping ping --derp-map map.json "${ca[@]}" -c 2 -i 20ms 900
only_v ping out '^map: map\.json \(file\)$'
only_v ping out '^relay: 900a forwards to 900a \(first packet from A reached B after [0-9.]+ms\)$'

both cert cert "${ca[@]}" --servername derp.test "127.0.0.1:$derp"
only_v cert out '^       serial        [0-9A-F]+$'
only_v cert out '^       ext\. key use  serverAuth$'
only_v cert out '^       constraints   CA, pathlen 0$'
only_v cert out '^       authority key [0-9A-F:]+$'
json_same cert cert "${ca[@]}" --servername derp.test "127.0.0.1:$derp"
only_v cert err "^derpcheck: connecting to 127\.0\.0\.1:$derp, TLS name derp\.test$"

both diagnose diagnose --derp-map map.json "${ca[@]}" 900
only_v diagnose out "^         probe 1: 1 datagram from 127\.0\.0\.1:[0-9]+, answered in [0-9.]+ms: mapped 127\.0\.0\.1:[0-9]+$"
only_v diagnose out "^         TCP to 127\.0\.0\.1:$derp \(DERPPort $derp of IPv4\): connected in [0-9.]+ms$"
only_v diagnose out '^         \[0\] leaf CN = derp\.test, issued by CN = derpcheck test intermediate CA, valid until '
only_v diagnose out '^         Tailscale on Linux/Android ok: accepts$'
only_v diagnose out "^         GET https://derp\.test:$derp/derp/probe: \"HTTP/1\.1 200 OK\" in [0-9.]+ms, 0 bytes$"
only_v diagnose out '^         X-Tailscale-Response: response derpcheck-[0-9a-f]{16}$'
only_v diagnose out "^         127\.0\.0\.1:$derp: [0-9.]+ms TCP, [0-9.]+ms TLS, .*ms DERP handshake$"
only_v diagnose out '^         seq 3: [0-9.]+ms \(A to B [0-9.]+ms, B to A [0-9.]+ms\)$'
json_same diagnose diagnose --derp-map map.json "${ca[@]}" 900
# diagnose --all: every region's checks get their evidence too.
both diagnose-all diagnose --derp-map map.json "${ca[@]}" --all
only_v diagnose-all out '^         seq 3: [0-9.]+ms \(A to B [0-9.]+ms, B to A [0-9.]+ms\)$'
json_same diagnose-all diagnose --derp-map map.json "${ca[@]}" --all
checked="$checked debug" # the same code as diagnose

cp -r "$root/tests/fixtures/server" "$work/srv"
chmod 600 "$work"/srv/seed/certs/*.key
export DERPCHECK_NOW=1798761600
both server server --compose srv/seed/docker-compose.yml --derp-map srv/seed/policy.hujson --ca-file srv/ca.pem
only_v server out "^derper's flags as derper reads them:$"
only_v server out '^  -stun-port          38893 \(written\)$'
only_v server out '^  -verify-clients     false \(default\)$'
unset DERPCHECK_NOW

export DERPCHECK_NOW=1787400000
spawn fake '^ready$' 5 "$TOOLS/fake_localapi" --socket "$work/ts.sock" --status "$root/tests/fixtures/status/mixed.json" \
	--derpmap "$root/data/tailscale-default-derpmap.json" || { finish; exit 1; }
both status status --socket "$work/ts.sock"
only_v status err "^derpcheck: GET /localapi/v0/status over $work/ts\.sock$"
only_v status err "^derpcheck: GET /localapi/v0/derpmap over $work/ts\.sock$"

# exporter: serves until SIGTERM; -v logs every request on standard error.
# exporter_run NAME [-v]: start it, ask /healthz and a path it does not serve, stop it.
exporter_run() {
	local name=$1 pid
	shift
	(cd "$work" && exec "$DERPCHECK" "$@" exporter --derp-map map.json "${ca[@]}" --listen 127.0.0.1:0 --interval 1h \
		>"$work/$name.out" 2>"$work/$name.err") &
	pid=$!
	if wait_for_line "$work/$name.err" '^derpcheck: exporter on http://' "$pid" 10; then pass; else
		fail "$name: the exporter did not start serving:"; _assert_show "$work/$name.err"
	fi
	local addr
	addr=$(sed -n 's|^derpcheck: exporter on http://\([^/]*\)/metrics.*|\1|p' "$work/$name.err")
	curl -s "http://$addr/healthz" >/dev/null
	curl -s "http://$addr/nothing?x=1" >/dev/null
	kill -TERM "$pid" 2>/dev/null
	local got=0
	wait "$pid" || got=$?
	[ "$got" = 0 ] && pass || fail "$name: exited $got after SIGTERM, want 0"
}
case_begin "exporter -v"
checked="$checked exporter"
exporter_run exporter
exporter_run exporter-v -v
only_v exporter err '^derpcheck: exporter: GET /healthz: 200$'
only_v exporter err '^derpcheck: exporter: GET /nothing\?x=1: 404$'

for cmd in $commands; do
	case_begin "$cmd: -v tested"
	case " $checked " in *" $cmd "*) pass ;; *) fail "$cmd: no case above shows what -v adds" ;; esac
done
finish
