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

topo_std 2
net=$(tenant_net bench bench 10.0.0.0/24) || die "network create failed"
vm_port vm1 hv1 "$net" 10.0.0.11 bench
vm_port vm2 hv2 "$net" 10.0.0.12 bench

B_CPU_PIDS="${W_AGENT_PID[hv1]} ${W_AGENT_PID[hv2]}"
sleep 1
measure_idle_cpu "$path" 5
measure_all "$path" "$(vm_ns vm1)" "$(vm_ns vm2)" 10.0.0.12
