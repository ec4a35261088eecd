#!/bin/bash
# path-weft.sh ENCAP -- Weft on the same 2-host topology as path-kvxlan.sh:
# fabric bridge, hv1/hv2 with weft-agent, the controller in the fabric
# namespace, one network 10.0.0.0/24 with a VM on each host (network MTU
# from the API).  ENCAP is geneve (default) or vxlan.  Also reports the
# agents' CPU per packet during the UDP test and their CPU when idle.
set -uo pipefail
W_ENCAP=${1:-geneve}
. "$(dirname "$0")/../../tests/lib/netns.sh"
. "$(dirname "$0")/measure.sh"
W_NAME="path-weft-$W_ENCAP"
netns_init
need_bins weft-controller weft-agent
path="weft-$W_ENCAP"

topo_fabric
topo_host hv1 198.18.0.11
topo_host hv2 198.18.0.12
start_controller
start_agent hv1
start_agent hv2
net=$(create_network bench bench) || die "network create failed"
create_subnet "$net" 10.0.0.0/24 bench >/dev/null || die "subnet failed"
p1=$(create_port "$net" hv1 10.0.0.11 bench) || die "port 1 failed"
p2=$(create_port "$net" hv2 10.0.0.12 bench) || die "port 2 failed"
vm_for_port vm1 hv1 "$p1"
vm_for_port vm2 hv2 "$p2"
wait_port_active "$p1" 20 || echo "bench: port $p1 not ACTIVE" >&2
wait_port_active "$p2" 20 || echo "bench: port $p2 not ACTIVE" >&2

B_CPU_PIDS="${W_AGENT_PID[hv1]} ${W_AGENT_PID[hv2]}"
sleep 1
measure_idle_cpu "$path" 5
measure_all "$path" "$(vm_ns vm1)" "$(vm_ns vm2)" 10.0.0.12
