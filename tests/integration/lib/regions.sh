# Many DERP regions on loopback for the tests of `diagnose --all` and the exporter, and for
# bench/exporter.sh: the test DERP server (tests/tools/derpserver.c) with four regions per
# process (one --listen each, each its own server key, not meshed), one address each
# (127.0.0.101, 127.0.0.102, ...), and one region in a process of its own whose relay
# holds every packet for an injected delay (derpserver --delay; tc netem is not here).
# Source after tests/integration/lib/derp.sh.
#
#   regions_start MAPFILE COUNT [SLOW DELAY_MS]
#       start COUNT regions 901.. (codes r901..) and write their map to $work/MAPFILE
#       (STUN off: STUNPort -1); region SLOW (an ID, code "slow") relays after DELAY_MS.
#       REGION_PIDS lists the servers (also stopped by derp.sh's cleanup).

regions_start() {
	local map=$1 count=$2 slow=${3:-0} delay=${4:-0} i id addr group=() groupids=() nodes="" n=0 port
	REGION_PIDS=""
	_regions_flush() {
		[ "${#group[@]}" -gt 0 ] || return 0
		local args=() k ports
		for k in "${group[@]}"; do args+=(--listen "$k:0"); done
		start_server "regions$n" --hostname derp.test "${args[@]}" "$@" || return 1
		REGION_PIDS="$REGION_PIDS $(eval echo "\$pid_regions$n")"
		ports=$(sed -n 's/^ready //p' "$work/regions$n.ready")
		k=0
		for port in $ports; do
			_regions_node "${groupids[$k]}" "${group[$k]}" "${port##*:}"
			k=$((k + 1))
		done
		n=$((n + 1))
		group=() groupids=()
	}
	_regions_node() {
		local code="r$1"
		[ "$1" = "$slow" ] && code=slow
		nodes="$nodes\"$1\":{\"RegionID\":$1,\"RegionCode\":\"$code\",\"RegionName\":\"Region $1\",\"Nodes\":[{\"Name\":\"${1}a\",\"RegionID\":$1,\"HostName\":\"derp.test\",\"IPv4\":\"$2\",\"IPv6\":\"none\",\"STUNPort\":-1,\"DERPPort\":$3}]},"
	}
	for i in $(seq 1 "$count"); do
		id=$((900 + i))
		addr=127.0.0.$((100 + i))
		if [ "$id" = "$slow" ]; then
			local sgroup=("${group[@]}") sids=("${groupids[@]}")
			group=("$addr") groupids=("$id")
			_regions_flush --delay "$delay" || return 1
			group=("${sgroup[@]}") groupids=("${sids[@]}")
			continue
		fi
		group+=("$addr") groupids+=("$id")
		[ "${#group[@]}" -eq 4 ] && { _regions_flush || return 1; }
	done
	_regions_flush || return 1
	printf '{"Regions":{%s}}\n' "${nodes%,}" >"$work/$map"
}
