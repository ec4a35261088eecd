#!/bin/bash
# deps.sh -- make sure every Debian package Weft needs to build, test, demo
# and benchmark is installed.  Checks with dpkg first, so it is fast and
# silent when everything is present; otherwise runs one `apt-get update` and
# one `apt-get install -y` for exactly the missing packages.  Without root it
# prints the missing packages and fails.
#
# Used by `make deps` (and so by `make test`, `make demo`, `make bench`).
# WEFT_DEPS_OPTIONAL=1 also installs the optional tools (ethtool).

set -euo pipefail

REQUIRED=(
    build-essential gcc make pkg-config
    clang                       # libFuzzer targets, BPF programs
    libjansson-dev libmicrohttpd-dev libsqlite3-dev libcurl4-openssl-dev
    libbpf-dev libmnl-dev       # kernel fast path: BPF loader, rtnetlink
    iproute2 iputils-ping iperf3 tcpdump netcat-openbsd curl procps jq
    python3-openstackclient python3-scapy
    isc-dhcp-client busybox     # DHCP clients: dhclient, udhcpc
    traceroute nmap             # routed hops; security-group port scans
    coreutils                   # timeout(1)
)
OPTIONAL=(ethtool)

if [ "${WEFT_DEPS_OPTIONAL:-0}" = 1 ]; then
    REQUIRED+=("${OPTIONAL[@]}")
fi

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
        grep -q 'install ok installed'
}

missing=()
for p in "${REQUIRED[@]}"; do
    installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "deps: missing packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: ERROR: not root; install them with:" >&2
    echo "    sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: ERROR: apt-get not found (Weft targets Debian 12)" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "deps: apt-get update"
apt-get update -qq >/dev/null
echo "deps: apt-get install ${missing[*]}"
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

still=()
for p in "${missing[@]}"; do
    installed "$p" || still+=("$p")
done
if [ ${#still[@]} -ne 0 ]; then
    echo "deps: ERROR: still missing after install: ${still[*]}" >&2
    exit 1
fi
echo "deps: all dependencies installed"
