# bash completion for derpcheck                                 -*- shell-script -*-
# Keep the word lists in step with `derpcheck help COMMAND` (tests/cli/docs.sh checks).

_derpcheck()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null 2>&1; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local commands="validate netcheck ping status cert diagnose stun server exporter debug help"
	local global_opts="--format --color --verbose -v --quiet -q --help -h --version"
	local net_opts="--derp-map --map-format --ca-file --insecure --timeout --ipv4 -4 --ipv6 -6"

	case $prev in
	--format) COMPREPLY=($(compgen -W "text json json-line prometheus" -- "$cur")); return ;;
	--color) COMPREPLY=($(compgen -W "auto always never" -- "$cur")); return ;;
	--map-format) COMPREPLY=($(compgen -W "auto json hujson yaml headscale" -- "$cur")); return ;;
	--transport) COMPREPLY=($(compgen -W "derp websocket auto" -- "$cur")); return ;;
	--socket) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--file) COMPREPLY=($(compgen -f -- "$cur") $(compgen -W "-" -- "$cur")); return ;;
	--peer) return ;;
	--ca-file|--derp-map)
		COMPREPLY=($(compgen -f -- "$cur"))
		[ "$prev" = --derp-map ] && COMPREPLY+=($(compgen -W "embedded: -" -- "$cur"))
		return ;;
	--timeout) COMPREPLY=($(compgen -W "1s 2s 5s 10s 30s" -- "$cur")); return ;;
	--certdir) COMPREPLY=($(compgen -d -- "$cur")); return ;;
	--cert-file|--key-file|--write-fullchain|--compose|--inspect|--unit) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--servername|--hostname|--region) return ;;
	--interval|-i) COMPREPLY=($(compgen -W "0 20ms 100ms 200ms 500ms 1s" -- "$cur")); return ;;
	--count|-c) COMPREPLY=($(compgen -W "1 5 10 100" -- "$cur")); return ;;
	--size) COMPREPLY=($(compgen -W "33 64 1200 65536" -- "$cur")); return ;;
	--rate) COMPREPLY=($(compgen -W "1000 5000 10000 50000" -- "$cur")); return ;;
	--node) return ;;
	--style) COMPREPLY=($(compgen -W "tailscale rfc5389" -- "$cur")); return ;;
	--bind-address|--bind-port|--stun-port-guess) return ;;
	--listen|--parallel|--probe-limit|--cert-warn-days) return ;;
	--load-rate) COMPREPLY=($(compgen -W "100 1000 5000" -- "$cur")); return ;;
	--mesh-psk-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--deadline|--probe-timeout) COMPREPLY=($(compgen -W "10s 30s 1m 5m" -- "$cur")); return ;;
	esac

	local i cmd=""
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--format|--color) ((i++)) ;;
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done

	case $cmd in
	"")
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi ;;
	help)
		COMPREPLY=($(compgen -W "${commands% help}" -- "$cur")) ;;
	diagnose)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--all --parallel --deadline --cert-warn-days --mesh-psk-file --load-rate --count -c --every --output -o --stun-port-guess --transport $net_opts $global_opts" -- "$cur")) ;;
	exporter)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--listen --interval --parallel --probe-limit --probe-timeout --cert-warn-days --mesh-psk-file --count -c $net_opts $global_opts" -- "$cur")) ;;
	debug)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--all --parallel --deadline --cert-warn-days --mesh-psk-file --load-rate --count -c --every --output -o --stun-port-guess --transport $net_opts $global_opts" -- "$cur"))
		elif [[ $prev == debug ]]; then
			COMPREPLY=($(compgen -W "derp" -- "$cur"))
		fi ;;
	netcheck)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--every --bind-address --bind-port --no-portmap --hairpin --check-derp --transport --extra-stun --stun-port-guess --socket $net_opts $global_opts" -- "$cur")) ;;
	server)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--compose --service --inspect --unit --pid --region --node --resolve $net_opts $global_opts" -- "$cur")) ;;
	stun)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--count -c --interval -i --style --region --bind-address --bind-port $net_opts $global_opts" -- "$cur")) ;;
	validate)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--strict --map-format --ca-file --insecure --timeout --ipv4 -4 --ipv6 -6 $global_opts" -- "$cur"))
		else
			COMPREPLY=($(compgen -f -- "$cur") $(compgen -W "embedded: -" -- "$cur"))
		fi ;;
	status)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--socket --file --peer --active --netcheck --no-portmap --derp-map --map-format --ca-file --insecure --timeout $global_opts" -- "$cur")) ;;
	cert)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--servername --region --no-aia --write-fullchain --certdir --hostname --cert-file --key-file $net_opts $global_opts" -- "$cur")) ;;
	ping)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "--node --mesh --count -c --interval -i --size --rate --flood --transport $net_opts $global_opts" -- "$cur")) ;;
	*)
		[[ $cur == -* ]] && COMPREPLY=($(compgen -W "$net_opts $global_opts" -- "$cur")) ;;
	esac
}
complete -o filenames -F _derpcheck derpcheck
