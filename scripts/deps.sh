#!/bin/sh
# Install the Debian packages derpcheck needs, and only those that are missing.
#
#   scripts/deps.sh build   libraries and tools to compile derpcheck
#   scripts/deps.sh check   + what the test suite runs (man page lint, shells, fuzzing)
#   scripts/deps.sh bench   + the benchmark tools
#
# As root it runs `apt-get install -y` for what is missing; otherwise it prints the
# one command to run and fails, so nothing is ever half-installed by hand.
set -eu

want=${1:-build}

# pkg-config module -> Debian package. libyaml reads YAML with exact line:column marks
# (Headscale's config.yaml and derp.paths files, src/input/yaml.c).
libs="openssl:libssl-dev libcurl:libcurl4-openssl-dev libcjson:libcjson-dev
      libsodium:libsodium-dev cmocka:libcmocka-dev yaml-0.1:libyaml-dev"
# command -> Debian package
tools_build="cc:gcc make:make pkg-config:pkg-config"
# The test lab's real peers: coturn and stund as STUN servers, Debian's stun client and
# coturn's turnutils_stunclient for side-by-side benchmarks, miniupnpd as a gateway,
# iptables for NAT namespaces, openssl s_server as a TLS peer, script(1) for TTY tests,
# jq and curl to check JSON output and the test DERP server in the integration tests;
# strace counts the sockets a benchmark run opens.
# nginx, caddy and haproxy stand in front of Tailscale's real derper in
# tests/integration/proxies.sh (each run in the foreground by the test, never as a service).
# prometheus: its promtool lints the exporter's /metrics and unit-tests the example alert
# rules, and tests/integration/exporter.sh runs a Prometheus of its own (never the service).
tools_check="mandoc:mandoc zsh:zsh fish:fish clang:clang ip:iproute2 openssl:openssl
      turnserver:coturn stund:stun-server stun:stun-client miniupnpd:miniupnpd
      iptables:iptables script:bsdutils jq:jq curl:curl nginx:nginx caddy:caddy haproxy:haproxy
      promtool:prometheus"
tools_bench="hyperfine:hyperfine strace:strace"

missing=""
add() { case " $missing " in *" $1 "*) ;; *) missing="$missing $1" ;; esac; }

for pair in $tools_build; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || add "${pair#*:}"
done
for pair in $libs; do
    if ! command -v pkg-config >/dev/null 2>&1 ||
       ! pkg-config --exists "${pair%%:*}" 2>/dev/null; then
        add "${pair#*:}"
    fi
done
case $want in
    check|bench)
        for pair in $tools_check; do
            command -v "${pair%%:*}" >/dev/null 2>&1 || add "${pair#*:}"
        done
        # clang's libFuzzer runtime ships separately on Debian 12.
        if command -v clang >/dev/null 2>&1; then
            rt=$(clang -print-resource-dir 2>/dev/null)/lib/linux/libclang_rt.fuzzer-x86_64.a
            [ "$(uname -m)" != x86_64 ] || [ -e "$rt" ] ||
                add "libclang-rt-$(clang -dumpversion | cut -d. -f1)-dev"
        fi
        ;;
esac
[ "$want" = bench ] && for pair in $tools_bench; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || add "${pair#*:}"
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "derpcheck: missing Debian packages:$missing" >&2
    echo "derpcheck: run this once, then repeat your make command:" >&2
    echo "    sudo apt-get install -y$missing" >&2
    exit 1
fi

echo "derpcheck: installing Debian packages:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# nginx, caddy, haproxy and prometheus start a system service when installed unless
# policy-rc.d says no: the tests run their own instances and start no service, so say no
# for this install (only when the machine has no policy of its own, and only for its duration).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi
# A fresh machine may have empty package lists; refresh only when needed.
if ! apt-get install -y --no-install-recommends $missing >/dev/null 2>&1; then
    apt-get update -qq
    apt-get install -y --no-install-recommends $missing
fi
