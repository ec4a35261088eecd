#!/bin/bash
# test-cross-host.sh -- unicast between VMs on different hosts: the ports
# become ACTIVE, ICMP works both ways, a 8 MB TCP transfer arrives intact
# (sha256) with the VMs' offloads left at the kernel defaults, iperf3 runs
# for 2 s, and the sender's agent shows cached flows and tunnel counters.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent

topo_std 2

net=$(tenant_net net1 tenant1 10.0.0.0/24) || die "create network"
vm_port vm1 hv1 "$net" 10.0.0.11 tenant1
vm_port vm2 hv2 "$net" 10.0.0.12 tenant1
check "port on hv1 is ACTIVE" port_is ACTIVE "${W_PORT[vm1]}"
check "port on hv2 is ACTIVE" port_is ACTIVE "${W_PORT[vm2]}"
check "vm1 (hv1) pings vm2 (hv2)" ping_wait vm1 10.0.0.12 15
check "vm2 (hv2) pings vm1 (hv1), 5 of 5" \
    ping_all vm2 10.0.0.11 5
check "8 MB over TCP vm1 -> vm2 arrives intact" \
    tcp_transfer vm1 vm2 10.0.0.12 8 5001
check "8 MB over TCP vm2 -> vm1 arrives intact" \
    tcp_transfer vm2 vm1 10.0.0.11 8 5002

iperf_server "$(vm_ns vm2)" 5201
out=$(vm_exec vm1 timeout 20 iperf3 -c 10.0.0.12 -p 5201 -t 2 -J 2>/dev/null)
gbps=$(jq -r '.end.sum_received.bits_per_second / 1e9' <<<"$out" 2>/dev/null)
w_log "iperf3 vm1 -> vm2: ${gbps:-?} Gbit/s"
check "iperf3 -t 2 vm1 -> vm2 moves data" \
    awk -v g="${gbps:-0}" 'BEGIN{exit !(g > 0.001)}'

check "hv1 has cached flows" json_ok "$(ctl hv1 flows)" '.flows | length > 0'
check "hv1 sent tunnel packets" \
    json_ok "$(ctl hv1 counters)" '.datapath.tunnel_tx > 0'
finish
