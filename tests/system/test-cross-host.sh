#!/bin/bash
# test-cross-host.sh -- unicast between VMs on different hosts: the ports
# become ACTIVE, ICMP works both ways, a 8 MB TCP transfer arrives intact
# (sha256) with the VMs' offloads left at the kernel defaults, iperf3 runs
# for 2 s, and the sender's agent shows cached flows and tunnel counters.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent

topo_fabric
topo_host hv1 198.18.0.11
topo_host hv2 198.18.0.12
start_controller
start_agent hv1
start_agent hv2

net=$(create_network net1 tenant1) || die "create network"
create_subnet "$net" 10.0.0.0/24 tenant1 >/dev/null || die "create subnet"
p1=$(create_port "$net" hv1 10.0.0.11 tenant1) || die "create port 1"
p2=$(create_port "$net" hv2 10.0.0.12 tenant1) || die "create port 2"
vm_for_port vm1 hv1 "$p1"
vm_for_port vm2 hv2 "$p2"

check "port on hv1 becomes ACTIVE" wait_port_active "$p1" 20
check "port on hv2 becomes ACTIVE" wait_port_active "$p2" 20
check "vm1 (hv1) pings vm2 (hv2)" ping_wait vm1 10.0.0.12 15
check "vm2 (hv2) pings vm1 (hv1), 5 of 5" \
    ping_all vm2 10.0.0.11 5
check "8 MB over TCP vm1 -> vm2 arrives intact" \
    tcp_transfer vm1 vm2 10.0.0.12 8 5001
check "8 MB over TCP vm2 -> vm1 arrives intact" \
    tcp_transfer vm2 vm1 10.0.0.11 8 5002

bg "$(vm_ns vm2)" iperf3-s timeout 20 iperf3 -s -1 -p 5201
wait_for "vm_exec vm2 ss -Hltn 'sport = :5201' | grep -q LISTEN" 5
out=$(vm_exec vm1 timeout 20 iperf3 -c 10.0.0.12 -p 5201 -t 2 -J 2>/dev/null)
gbps=$(jq -r '.end.sum_received.bits_per_second / 1e9' <<<"$out" 2>/dev/null)
w_log "iperf3 vm1 -> vm2: ${gbps:-?} Gbit/s"
check "iperf3 -t 2 vm1 -> vm2 moves data" \
    awk -v g="${gbps:-0}" 'BEGIN{exit !(g > 0.001)}'

flows=$(ctl hv1 flows)
check "hv1 has cached flows" \
    jq -e '.flows | length > 0' <<<"$flows" >/dev/null
counters=$(ctl hv1 counters)
check "hv1 sent tunnel packets" \
    jq -e '.datapath.tunnel_tx > 0' <<<"$counters" >/dev/null
finish
