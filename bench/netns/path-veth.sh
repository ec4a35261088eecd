#!/bin/bash
# path-veth.sh -- baseline (a): two namespaces joined by one veth pair, no
# switch, no tunnel.  The I/O limit of this machine: every other path adds
# work on top of exactly this.  MTU 1500 (no encapsulation overhead).
set -uo pipefail
. "$(dirname "$0")/../../tests/lib/netns.sh"
. "$(dirname "$0")/measure.sh"
netns_init

a="${W_PREFIX}va"; b="${W_PREFIX}vb"
w_ns_add "$a"; w_ns_add "$b"
ip link add eth0 netns "$a" type veth peer name eth0 netns "$b"
ip -n "$a" addr add 10.0.0.11/24 dev eth0
ip -n "$b" addr add 10.0.0.12/24 dev eth0
ip -n "$a" link set eth0 up
ip -n "$b" link set eth0 up
measure_all veth "$a" "$b" 10.0.0.12
