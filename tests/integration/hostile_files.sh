#!/bin/bash
# Hostile files and the terminal (issue #13, faults 1, 4, 6 and 7): output written through
# a planted symbolic link, FIFOs and other non-regular files where a file is expected,
# escape sequences and invalid UTF-8 in maps and status files, binary garbage quoted in a
# message, and line:col in files with CR-only and CRLF line endings. Every case asserts
# the exit code, a named error, the time, and that nothing raw reaches the terminal
# (tests/integration/lib/hostile.sh). Loopback only.
set -u
export DERPCHECK_DEFAULT_MAP_URL=""
export LC_ALL=C.UTF-8
. "$(dirname "$0")/lib/derp.sh"
. "$(dirname "$0")/lib/hostile.sh"

cd "$work" || exit 1
ESC=$(printf '\033')

# A region whose only node is a closed loopback port: every command fails fast and still
# reports (diagnose writes its report with -o).
closed_port=23456
while (exec 3<>"/dev/tcp/127.0.0.1/$closed_port") 2>/dev/null; do closed_port=$((closed_port + 1)); done
write_map dead.json "$(node 900a derp.test 127.0.0.1 none "$closed_port")"

# ---- fault 1: -o never writes through a planted symbolic link -------------------------------
# The attacker can write to the output directory and plants <FILE>.tmp.<pid> (the name
# derpcheck used to open with fopen) as a link to a file the victim (root) may write.
echo precious >victim
# exec keeps the shell's PID, so $$ is derpcheck's PID: the planted name is exactly the one it used.
got=0
start=$(now_ms)
timeout -k 2 20 sh -c 'ln -s victim out.prom.tmp.$$ && exec "$0" --format prometheus diagnose --derp-map dead.json --timeout 1s -o out.prom 900' \
	"$DERPCHECK" >symlink.out 2>symlink.err || got=$?
[ "$got" = 1 ] && pass || { fail "symlink: exit status $got, want 1"; cat symlink.err >&2; }
[ "$(cat victim)" = precious ] && pass || fail "symlink: the file behind the planted link was overwritten: $(head -c 200 victim)"
[ -f out.prom ] && [ ! -L out.prom ] && grep -q '^derpcheck_' out.prom && pass || fail "symlink: out.prom was not written as a regular file with the report"
ls -A | grep -qE '^\.out\.prom\.' && fail "symlink: a temporary file was left behind" || pass
terminal_clean symlink

# The target itself a link: it is replaced, never written through.
echo precious >victim2
ln -s victim2 linked.prom
hostile symlink-target 1 4000 "" --format prometheus diagnose --derp-map dead.json --timeout 1s -o linked.prom 900
[ "$(cat victim2)" = precious ] && pass || fail "symlink-target: the link's target was overwritten"
[ -f linked.prom ] && [ ! -L linked.prom ] && pass || fail "symlink-target: linked.prom is not the new regular file"

# --write-fullchain goes through the same helper: a read-only directory is a clear error.
# (The happy path and its file mode are covered by tests/integration/cert.sh.)

# ---- fault 6: FIFOs and other non-regular files ---------------------------------------------
mkfifo fifo
mkdir -p certdir adir
mkfifo certdir/derp.test.crt
hostile fifo-validate 2 1000 "fifo: is a FIFO (named pipe), not a regular file" validate fifo
hostile fifo-status 2 1000 "fifo: is a FIFO (named pipe), not a regular file" status --file fifo
hostile fifo-cert-file 2 1000 "fifo: is a FIFO (named pipe), not a regular file" cert --cert-file fifo --hostname derp.test
hostile fifo-key-file 2 1000 "fifo: is a FIFO (named pipe), not a regular file" cert --cert-file "$work/pki/derp-chain.pem" --key-file fifo --hostname derp.test
hostile fifo-certdir 2 1000 "certdir/derp.test.crt: is a FIFO (named pipe), not a regular file" cert --certdir certdir --hostname derp.test
hostile fifo-derp-map 2 1000 "fifo: is a FIFO (named pipe), not a regular file" ping --derp-map fifo -c 1 900
hostile fifo-ca-file 2 1000 "fifo: is a FIFO (named pipe), not a regular file" ping --derp-map dead.json --ca-file fifo -c 1 900
hostile dir-validate 2 1000 "adir: is a directory, not a regular file" validate adir
hostile dev-zero 2 1000 "/dev/zero: is a character device, not a regular file" validate /dev/zero
contains fifo-validate err "hint: derpcheck reads regular files; to read from a pipe, give - and redirect it: derpcheck validate - < fifo"
# Standard input stays allowed, also when it is a pipe.
(cd "$work" && printf '{"Regions":{}}' | "$DERPCHECK" validate - >stdin-pipe.out 2>&1) && pass || fail "stdin-pipe: exit status $?, want 0"
contains stdin-pipe out "  source: standard input"

# ---- fault 4: untrusted text on the terminal ------------------------------------------------
# Escapes in the map's names (as JSON \u escapes, so the map is valid): OSC title, clear
# screen, a C1 CSI, a bidi override, and a forged line.
cat >escapes.json <<'EOF'
{"Regions":{"900":{"RegionID":900,"RegionCode":"x\u001b]0;pwned\u0007","RegionName":"\u001b[2J\u001b[Hcleared\u009b31m\u202e",
 "Nodes":[{"Name":"900a\nderpcheck: all good","RegionID":900,"HostName":"derp.test","IPv4":"127.0.0.1","IPv6":"none","DERPPort":443}]}}}
EOF
hostile escapes-validate 0 1000 "" validate escapes.json
contains escapes-validate out '\x1b]0;pwned\x07'
contains escapes-validate out '\x1b[2J\x1b[Hcleared\u009b31m\u202e'
hostile escapes-validate-json 0 1000 "" --format json validate escapes.json
json_valid escapes-validate-json
# A HostName with an escape is an error, and its message quotes it visibly.
sed 's/"derp.test"/"derp\\u001b[8m.test"/' escapes.json >escapes-host.json
hostile escapes-host 1 1000 'HostName "derp\x1b[8m.test" contains '"'"'\x1b'"'"', which no DNS name or IP address has' validate escapes-host.json
hostile escapes-ping 1 3000 "" ping --derp-map escapes.json --timeout 1s -c 1 900
hostile escapes-diagnose 1 6000 "" diagnose --derp-map escapes.json --timeout 1s 900
hostile escapes-diagnose-json 1 6000 "" --format json diagnose --derp-map escapes.json --timeout 1s 900
json_valid escapes-diagnose-json
hostile escapes-prom 1 6000 "" --format prometheus diagnose --derp-map escapes.json --timeout 1s 900

# Binary garbage instead of JSON: the excerpt in the hint is shown with visible escapes.
printf '\033[2J\033]0;owned\007\001\002\377\376 not json' >garbage.json
hostile garbage 1 1000 "this does not look like JSON at all; it starts with: \\x1b[2J\\x1b]0;owned\\x07\\x01\\x02\\xff\\xfe not json" validate garbage.json
hostile garbage-json 1 1000 "" --format json validate garbage.json
json_valid garbage-json

# Invalid UTF-8 in a map: a finding of its own, and JSON output stays valid UTF-8.
printf '{"Regions":{"900":{"RegionID":900,"RegionCode":"ab\377c","RegionName":"Caf\303",\n"Nodes":[{"Name":"900a","RegionID":900,"HostName":"derp.test","IPv4":"127.0.0.1","IPv6":"none"}]}}}\n' >badutf8.json
hostile badutf8 0 1000 "badutf8.json:1:48: warning: Regions.900.RegionCode: the string holds bytes that are not UTF-8 (\\xff at byte 3); Tailscale replaces each with U+FFFD" validate badutf8.json
contains badutf8 out "badutf8.json:1:68: warning: Regions.900.RegionName: the string holds bytes that are not UTF-8 (\\xc3 at byte 4)"
hostile badutf8-json 0 1000 "" --format json validate badutf8.json
json_valid badutf8-json
json badutf8-json '[.[] | select(.code == "invalid-utf8")] | length == 2'
hostile badutf8-ping-json 1 3000 "" --format json ping --derp-map badutf8.json --timeout 1s -c 1 900
json_valid badutf8-ping-json

# A status file with escapes in peer names and OS, and invalid UTF-8.
cat >status-escapes.json <<'EOF'
{"Version":"1.86.2\u001b[31m","BackendState":"Running","Self":{"ID":"n1","HostName":"me\u001b]0;x\u0007","DNSName":"me.ts.net.","OS":"linux","TailscaleIPs":["100.64.0.1"],"Online":true},
 "Peer":{"nodekey:01":{"ID":"n2","HostName":"evil\u001b[2J","DNSName":"evil\u001b[2J.ts.net.","OS":"\u001b[8mlinux\u009b","TailscaleIPs":["100.64.0.2"],"Online":true,"Active":true,"Relay":"x\u001b[1m","CurAddr":"","RxBytes":5,"TxBytes":5,"LastHandshake":"2026-08-22T11:59:00Z"}}}
EOF
hostile status-escapes 1 1000 "" status --file status-escapes.json
contains status-escapes out 'evil\x1b[2J'
hostile status-escapes-json 1 1000 "" --format json status --file status-escapes.json
json_valid status-escapes-json

# ---- fault 7: line:col with CR-only and CRLF line endings ---------------------------------
printf '{\r  "Regions": {\r    "900": {"RegionID": 901}\r  }\r}\r' >cr.json
hostile cr-only 1 1000 "cr.json:3:25: error: Regions.900.RegionID: region key \"900\" but RegionID 901" validate cr.json
printf '{\r\n  "Regions": {\r\n    "900": {"RegionID": 901}\r\n  }\r\n}\r\n' >crlf.json
hostile crlf 1 1000 "crlf.json:3:25: error: Regions.900.RegionID: region key \"900\" but RegionID 901" validate crlf.json
printf '{\r  "Regions": {\r    "900": {"RegionID": 900,,}\r  }\r}\r' >cr-syntax.json
hostile cr-syntax 1 1000 "cr-syntax.json:3:29: error:" validate cr-syntax.json
printf '{"Version":"1.0",\r"Peer":{\r  "x": [}\r}' >cr-status.json
hostile cr-status 2 1000 "cr-status.json:3:9" status --file cr-status.json

finish
