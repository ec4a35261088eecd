#!/bin/bash
# test-broadcast.sh -- broadcast replication: a broadcast ping from a VM on
# hv1 reaches the VMs of the same network on hv1 (local), hv2 and hv3 (one
# tunnel copy per host), and none of a second network's VMs, although one
# shares hv2 with a receiver.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
topo_std 3

net=$(tenant_net bcast t1 10.0.0.0/24) || die "create network"
other=$(tenant_net other t2 10.0.0.0/24) || die "create network 2"
vm_port vm1 hv1 "$net" 10.0.0.11 t1
vm_port vm2 hv2 "$net" 10.0.0.12 t1
vm_port vm3 hv3 "$net" 10.0.0.13 t1
vm_port vm4 hv1 "$net" 10.0.0.14 t1
vm_port ox2 hv2 "$other" 10.0.0.22 t2
# This test is about the switch.  Behind security groups a reply to a
# broadcast ping is dropped (conntrack never saw a request to the
# replying address: ct_invalid, as with Neutron's OVS firewall), so the
# ports are unfiltered here.
for vm in vm1 vm2 vm3 vm4 ox2; do
    port_unfiltered "${W_PORT[$vm]}" || die "unfilter $vm: $(api_code)"
done
for v in vm2 vm3 vm4 ox2; do
    vm_exec $v sysctl -qw net.ipv4.icmp_echo_ignore_broadcasts=0
done
check "unicast works first (vm1 -> vm3)" ping_wait vm1 10.0.0.13 15

for v in vm2 vm3 vm4 ox2; do
    capture "$(vm_ns $v)" "$v" ether broadcast and icmp
done
out=$(vm_exec vm1 timeout 10 ping -n -b -c 3 -i 0.5 -W 1 10.0.0.255 2>&1)
w_log "ping -b: $(grep -c 'bytes from' <<<"$out") replies"
declare -A seen
for v in vm2 vm3 vm4 ox2; do
    seen[$v]=$(pcap_count "$(capture_stop $v)" ether broadcast and icmp)
    w_log "$v saw ${seen[$v]} broadcast ICMP frames"
done
check "vm4 (same host hv1) received the broadcast" [ "${seen[vm4]}" -ge 3 ]
check "vm2 (hv2) received the broadcast" [ "${seen[vm2]}" -ge 3 ]
check "vm3 (hv3) received the broadcast" [ "${seen[vm3]}" -ge 3 ]
check "each receiver got each broadcast once (no duplicates)" \
    [ "${seen[vm2]}:${seen[vm3]}:${seen[vm4]}" = 3:3:3 ]
check "other network's VM on hv2 saw none" [ "${seen[ox2]}" = 0 ]
for ip in 10.0.0.12 10.0.0.13 10.0.0.14; do
    check "broadcast ping answered by $ip" grep -q "from $ip" <<<"$out"
done
check_not "no reply from the other network's VM (10.0.0.22)" \
    grep -q "from 10.0.0.22" <<<"$out"
finish
