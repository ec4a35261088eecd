#!/bin/bash
# test-kpath.sh -- the kernel fast path (datapath/kpath.h), VXLAN mode.
#
# Two hosts, three VMs on one network: vm1 and vm3 on hv1, vm2 on hv2; the
# ports of vm1, vm2 and vm3 without port security (their flows are plain
# outputs and tunnel sends, which the kernel executes), vm4 on hv2 in the
# default group (its flows carry conntrack: they stay in the agent).
# Shows: both agents run the fast path; cross-host and same-host ping and
# TCP work; after the first packets, a 300-ping run is forwarded by the
# kernel (its hit counters grow by the pings; the agent receives almost
# none of them); filtered ports still work, through the agent; a port set
# admin-down loses its kernel flows at once (its traffic stops) and gets
# them back; an agent that exits removes its devices; --fastpath off
# leaves everything in the agent.
set -uo pipefail
W_ENCAP=vxlan
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
topo_std 2

for h in hv1 hv2; do
    st=$(ctl "$h" status) || die "$h: no status"
    check "$h runs the kernel fast path" \
        json_ok "$st" '.fastpath.mode == "kernel"'
    check "$h has a kernel VXLAN device" json_ok "$st" '.fastpath.vxlan'
done

net=$(tenant_net kp t1 10.0.0.0/24) || die "create network"
vm_port vm1 hv1 "$net" 10.0.0.11 t1
vm_port vm2 hv2 "$net" 10.0.0.12 t1
vm_port vm3 hv1 "$net" 10.0.0.13 t1
for vm in vm1 vm2 vm3; do
    port_unfiltered "${W_PORT[$vm]}" || die "port security off for $vm"
done
vm_port vm4 hv2 "$net" 10.0.0.14 t1

check "vm1 (hv1) pings vm2 (hv2)" ping_wait vm1 10.0.0.12 15
check "vm1 pings vm3 on the same host" ping_wait vm1 10.0.0.13 10
check "TCP vm1 -> vm2 intact" tcp_transfer vm1 vm2 10.0.0.12 4 5001
check "TCP vm2 -> vm1 intact" tcp_transfer vm2 vm1 10.0.0.11 4 5002
check "TCP vm3 -> vm1 intact (same host)" tcp_transfer vm3 vm1 10.0.0.11 4 5003

# counter HOST JQ-PATH
counter() { ctl "$1" counters | jq -er "$2"; }

flows=$(ctl hv1 flows) || die "hv1: no flows"
n_kernel=$(jq '[.flows[] | select(.kernel)] | length' <<<"$flows")
w_log "hv1: $n_kernel flows in the kernel"
check "hv1 has flows in the kernel" [ "$n_kernel" -gt 0 ]
check "a kernel flow sends through the tunnel" \
    json_ok "$flows" '[.flows[] | select(.kernel and (.actions | test("tunnel")))] | length > 0'

# Warm, then measure: 300 pings vm1 -> vm2.
ping_ok vm1 10.0.0.12 >/dev/null
h1_hits0=$(counter hv1 .fastpath.port_hits)
h2_hits0=$(counter hv2 .fastpath.tunnel_hits)
h1_miss0=$(counter hv1 .fastpath.misses_received)
sent=$(vm_exec vm1 ping -q -c 300 -i 0.002 -W 1 10.0.0.12 |
       sed -n 's/.* \([0-9]*\) received.*/\1/p')
h1_hits1=$(counter hv1 .fastpath.port_hits)
h2_hits1=$(counter hv2 .fastpath.tunnel_hits)
h1_miss1=$(counter hv1 .fastpath.misses_received)
dh1=$((h1_hits1 - h1_hits0)); dh2=$((h2_hits1 - h2_hits0))
dm1=$((h1_miss1 - h1_miss0))
w_log "300 pings: ${sent:-0} answered; hv1 kernel sent $dh1, hv2 kernel" \
      "delivered $dh2, hv1 agent received $dm1"
check "all 300 pings answered" [ "${sent:-0}" = 300 ]
check "hv1's kernel sent the requests (port hits $dh1 >= 300)" \
    [ "$dh1" -ge 300 ]
check "hv2's kernel delivered them (tunnel hits $dh2 >= 300)" \
    [ "$dh2" -ge 300 ]
check "hv1's agent saw almost none of them ($dm1 < 30)" [ "$dm1" -lt 30 ]

out=$(weftctl_host hv1 counters 2>&1)
check "weftctl counters shows the fast path's table" \
    grep -q "Kernel fast path" <<<"$out"
check "weftctl flows has a Kernel column" \
    grep -q "Kernel" <<<"$(weftctl_host hv1 flows 2>&1)"

# The agent's flow statistics include the kernel's hits (synced each
# second).
sleep 1.5
pk=$(ctl hv1 flows | jq '[.flows[] | select(.kernel) | .packets] | add')
check "kernel hits are in the flow statistics ($pk >= 300)" [ "$pk" -ge 300 ]

# A filtered port: its flows carry conntrack, so they stay in the agent,
# and still work.
sg_default_allow t1 10.0.0.0/24 || fail "default group rule"
check "vm1 pings vm4 (default group, through the agent)" \
    ping_wait vm1 10.0.0.14 10
flows=$(ctl hv2 flows)
check "hv2 has conntrack flows for vm4" \
    json_ok "$flows" '[.flows[] | select(.actions | test("ct\\("))] | length > 0'
check "hv2 keeps vm4's conntrack flows in the agent" \
    json_ok "$flows" '[.flows[] | select((.actions | test("ct\\(")) and .kernel)] | length == 0'
check "TCP vm4 -> vm2 intact (agent path)" tcp_transfer vm4 vm2 10.0.0.12 4 5004

# Invalidation reaches the kernel: vm2's port admin-down.
api PUT "/v2.0/ports/${W_PORT[vm2]}" \
    '{"port": {"admin_state_up": false}}' >/dev/null || fail "port down"
sleep 1
check_not "vm2 unreachable once its port is down" ping_ok vm1 10.0.0.12
api PUT "/v2.0/ports/${W_PORT[vm2]}" \
    '{"port": {"admin_state_up": true}}' >/dev/null || fail "port up"
check "vm2 reachable again once its port is up" ping_wait vm1 10.0.0.12 10

# Exit removes the devices.
stop_agent hv2
check_not "hv2's agent removed weft-miss on exit" \
    ip -n "$(host_ns hv2)" link show weft-miss
check_not "hv2's agent removed weft-vxlan on exit" \
    ip -n "$(host_ns hv2)" link show weft-vxlan

# --fastpath off: all in the agent, and still working.  hv1's kernel
# leaves inner checksums for the NIC to fill, as the kernel's own VXLAN
# does; a veth NIC passes them on unfilled, which only a receiver that is
# also the kernel can take, so hv1's "NIC" fills them here, as a real one
# does (see tx_csum_off in tests/lib/netns.sh).
tx_csum_off "$(host_ns hv1)" eth0 || fail "tx checksum offload off on hv1"
start_agent hv2 --fastpath off
check "hv2 restarted with --fastpath off" \
    json_ok "$(ctl hv2 status)" '.fastpath.mode == "off"'
check "vm1 pings vm2 with hv2's fast path off" ping_wait vm1 10.0.0.12 15
check "TCP vm2 -> vm1 intact with hv2's fast path off" \
    tcp_transfer vm2 vm1 10.0.0.11 4 5005
finish
