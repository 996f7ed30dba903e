# Every derpcheck command that derpcheck prints must run as printed (issue #12): a hint
# that sends the user to `derpcheck cert derp.test:42894` (a name only the map knows) or
# to a flag the command does not have is worse than no hint.
#
# The test scripts hand every output they produce to hints_check right after the run,
# while the servers it names still listen. Each backticked `derpcheck ...` command in it
# is run at once, the way a user would paste it: in the same working directory, in the
# same network namespace ($NETNS), with DERPCHECK_DEFAULT_MAP_URL empty and stdin from
# /dev/null. It fails when the command ends in exit status 2 (a usage or input error),
# is killed, or outlives 60 s. Names are looked up with a resolver that points at an
# unused loopback address (a private mount namespace, root only), so a hint that needs
# DNS for a name the map already resolves fails here instead of asking the real DNS.
#
# Safety, since the commands come from output: a command that would need a map it does
# not name (diagnose, netcheck, --region, ping REGION without --derp-map) or a non-local
# URL is refused (a failure: a hint must carry the --derp-map the user gave); netcheck
# gets --no-portmap (never the real gateway); --write-fullchain and --output write into
# a scratch directory instead of the test's files.
#
# A derpcheck command printed without backticks cannot be checked, so that fails too;
# usage examples after "e.g." and templates with placeholders (<certdir>, REGION, FILE)
# are not commands.
#
#   hints_check LABEL CWD FILE...   check the outputs in FILE... produced in CWD
#   HINTS_LOG                        if set, every command run is appended with its
#                                    exit status (make integration: build/hints.log)
#
# Needs assert.sh (pass, fail), proc.sh (work) and DERPCHECK.

# Scratch space inside the sourcing script's own (removed with it).
hints_dir=$(mktemp -d "${work:?source tests/lib/proc.sh before hints.sh}/hints.XXXXXX")
printf 'nameserver 127.3.5.3\noptions timeout:1 attempts:1\n' >"$hints_dir/resolv.conf"
hints_seen=$hints_dir/seen
: >"$hints_seen"
hints_warned_root=""

# The backticked derpcheck commands in FILE..., one per line.
hints_commands() {
	grep -ohE '`derpcheck [^`]+`' "$@" 2>/dev/null | sed -e 's/^`//' -e 's/`$//' -e 's/\\"/"/g'
}

# Lines that show a derpcheck command without backticks (nothing checks those).
hints_unquoted() {
	sed -E -e 's/`derpcheck [^`]*`//g' "$@" 2>/dev/null |
		grep -E '(^|[^[:alnum:]_./-])derpcheck (validate|stun|ping|status|cert|netcheck|diagnose|debug)( |$)' |
		grep -vE 'e\.g\.,? derpcheck|derpcheck [^;`]*(<[A-Za-z][^>]*>|\<[A-Z][A-Z_]{2,}\>)|^Usage: '
}

# True when TEXT (an argument, or a map's IPv4/IPv6 value) is an address off this host.
_hints_foreign_ip() {
	local a=$1
	a=${a#[}
	a=${a%%]*}
	case $a in
	"" | none | 127.* | ::1 | localhost*) return 1 ;;
	[0-9]*.[0-9]*.[0-9]*.[0-9]* | *:*:*) return 0 ;;
	esac
	return 1
}

# True when the map FILE gives a node an address off this host.
_hints_map_foreign() {
	local v
	[ -f "$1" ] || return 1
	while IFS= read -r v; do
		_hints_foreign_ip "$v" && return 0
	done < <(grep -oiE '"(ipv4|ipv6|stuntestip)"[[:space:]]*:[[:space:]]*"[^"]*"' "$1" | sed -E 's/.*"([^"]*)"$/\1/')
	return 1
}

# hints_run LABEL CWD COMMAND: run one printed command; pass or fail.
hints_run() {
	local label=$1 cwd=$2 cmd=$3 args=() a i rc=0 need_map="" has_map="" sub="" skip_next="" isolate=""
	if ! mapfile -d '' args < <(printf '%s\n' "${cmd#derpcheck }" | xargs printf '%s\0' 2>/dev/null) || [ ${#args[@]} -eq 0 ]; then
		fail "$label: the printed command cannot be split into arguments: $cmd"
		return
	fi
	for ((i = 0; i < ${#args[@]}; i++)); do
		a=${args[i]}
		if [ -n "$skip_next" ]; then skip_next=""; continue; fi
		case $a in
		--derp-map) has_map=${args[i + 1]:-}; skip_next=1 ;;
		--derp-map=*) has_map=${a#--derp-map=} ;;
		--region | --region=*) need_map=1 ;;
		--write-fullchain | --output | -o) args[i + 1]=$hints_dir/written.$RANDOM; skip_next=1 ;;
		--format | --color | --timeout | --ca-file | --servername | --hostname | --certdir | --node | -c | -i | --count | --interval | --socket | --file | --peer | --size | --every | --cert-file | --key-file | --bind-address | --bind-port | --style) skip_next=1 ;;
		--extra-stun) _hints_foreign_ip "${args[i + 1]%:*}" && isolate=1; skip_next=1 ;;
		http://* | https://*)
			case $a in http://127.* | https://127.* | http://\[::1\]* | https://\[::1\]* | http://localhost* | https://localhost*) ;;
			*) fail "$label: refused to run, it names a URL that is not local: $cmd"; return ;;
			esac ;;
		-*) ;;
		*)
			if [ -z "$sub" ]; then
				sub=$a
			else
				case $a in \[*) _hints_foreign_ip "$a" && isolate=1 ;; *:*:*) _hints_foreign_ip "$a" && isolate=1 ;; *) _hints_foreign_ip "${a%:*}" && isolate=1 ;; esac
				if [ "$sub" = ping ] && ! [[ $a == *.* || $a == *:* || $a == localhost ]]; then
					need_map=1 # a REGION, not a HOST[:PORT]
				fi
			fi ;;
		esac
	done
	case $sub in diagnose | debug | netcheck) need_map=1 ;; esac
	case $has_map in http://* | https://* | embedded:*)
		fail "$label: refused to run, its map is not a local file ($has_map): $cmd"
		return ;;
	esac
	if [ -n "$need_map" ] && [ -z "$has_map" ]; then
		fail "$label: the printed command names no --derp-map, so it would check another map than the one given: $cmd"
		return
	fi
	[ -n "$has_map" ] && (cd "$cwd" && _hints_map_foreign "$has_map") && isolate=1
	[ "$sub" = netcheck ] && args+=(--no-portmap)
	# Inside a test namespace every address is the test's own; on the host, a command that
	# names another address runs in a namespace of its own with only loopback, where
	# nothing off this host can be reached.
	[ -n "${NETNS:-}" ] && isolate=""
	local sandbox=()
	if [ "$(id -u)" -eq 0 ]; then
		sandbox=(unshare -m ${isolate:+-n} sh -c '[ -z "$1" ] || ip link set lo up || exit 97; mount --bind "$0" /etc/resolv.conf || exit 97; shift; exec "$@"' \
			"$hints_dir/resolv.conf" "$isolate")
	else
		if [ -z "$hints_warned_root" ]; then
			hints_warned_root=1
			echo "## hints: not root: printed commands that name other hosts are not run, and names are looked up with the system resolver (CI runs as root)" >&2
		fi
		if [ -n "$isolate" ]; then
			pass
			return
		fi
	fi
	(cd "$cwd" && DERPCHECK_DEFAULT_MAP_URL= NO_COLOR=1 timeout 60 ${NETNS:+ip netns exec "$NETNS"} \
		"${sandbox[@]}" "$DERPCHECK" "${args[@]}" </dev/null >"$hints_dir/out" 2>"$hints_dir/err") || rc=$?
	local verdict=ok
	if [ "$rc" = 97 ]; then
		verdict="could not set up the sandbox"
	elif [ "$rc" -ge 124 ]; then
		verdict="killed or timed out (exit $rc)"
	elif [ "$rc" = 2 ]; then
		verdict="exit status 2"
		# Off-host addresses are unreachable in the sandbox by design: only that is forgiven.
		if [ -n "$isolate" ] && grep -qiE 'unreachable|refused|timed out|did not answer|no route' "$hints_dir/err" &&
			! grep -qiE 'cannot resolve|unknown option|needs |invalid |not both|cannot be used' "$hints_dir/err"; then
			verdict=ok
		fi
	fi
	[ -n "${HINTS_LOG:-}" ] && printf '%s\t%s\t%s\t%s\n' "$rc" "${isolate:+isolated}" "$(basename "$0"):$label" "$cmd" >>"$HINTS_LOG"
	if [ "$verdict" = ok ]; then
		pass
	else
		fail "$label: the printed command \`$cmd\` ends in $verdict (run in $cwd${NETNS:+, namespace $NETNS}):"
		sed 's/^/    | /' "$hints_dir/err" >&2
	fi
}

hints_check() {
	local label=$1 cwd=$2 cmd line
	shift 2
	while IFS= read -r line; do
		fail "$label: a derpcheck command printed without backticks (nothing can check it): $line"
	done < <(hints_unquoted "$@")
	while IFS= read -r cmd; do
		# Each command once per directory and namespace: the same hint comes from many runs.
		grep -qxF -- "$cwd ${NETNS:-} $cmd" "$hints_seen" && continue
		printf '%s\n' "$cwd ${NETNS:-} $cmd" >>"$hints_seen"
		hints_run "$label" "$cwd" "$cmd"
	done < <(hints_commands "$@")
}
