#!/bin/bash
# test-isolation.sh -- tenant isolation with overlapping addresses.  Tenants
# A and B each have a network 10.0.0.0/24 and VMs with the *same* IPs on the
# same two hosts.  Each tenant's pings reach its own VM (checked by the MAC
# that answered), the other tenant's VM with that IP sees no packet at all,
# and an address only tenant B uses is unreachable from tenant A.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
topo_std 2

neta=$(tenant_net net-a tenant-a 10.0.0.0/24) || die "network A"
netb=$(tenant_net net-b tenant-b 10.0.0.0/24) || die "network B"
vm_port a1 hv1 "$neta" 10.0.0.11 tenant-a
vm_port a2 hv2 "$neta" 10.0.0.12 tenant-a
vm_port b1 hv1 "$netb" 10.0.0.11 tenant-b
vm_port b2 hv2 "$netb" 10.0.0.12 tenant-b
vm_port b3 hv2 "$netb" 10.0.0.13 tenant-b
mac_a2=$(vm_mac a2)
mac_b2=$(vm_mac b2)
check "the two tenants' VMs at 10.0.0.12 have different MACs" \
    [ "$mac_a2" != "$mac_b2" ]

capture "$(vm_ns b2)" b2
check "a1 pings 10.0.0.12 (hv1 -> hv2)" ping_wait a1 10.0.0.12 15
check "a1 gets 10 of 10 replies" ping_all a1 10.0.0.12 10
f=$(capture_stop b2)
nb2=$(pcap_count "$f")
neigh=$(vm_exec a1 ip neigh show 10.0.0.12 dev eth0)
w_log "a1's neighbour 10.0.0.12: $neigh; b2 saw $nb2 frames"
check "a1's 10.0.0.12 is a2 ($mac_a2)" grep -qi "$mac_a2" <<<"$neigh"
check "tenant B's 10.0.0.12 (b2) saw no frame during A's pings" [ "$nb2" = 0 ]

capture "$(vm_ns a2)" a2
check "b1 pings 10.0.0.12 (its own b2)" ping_wait b1 10.0.0.12 15
f=$(capture_stop a2)
na2=$(pcap_count "$f")
neigh=$(vm_exec b1 ip neigh show 10.0.0.12 dev eth0)
check "b1's 10.0.0.12 is b2 ($mac_b2)" grep -qi "$mac_b2" <<<"$neigh"
check "tenant A's 10.0.0.12 (a2) saw no frame during B's pings" [ "$na2" = 0 ]

check_not "a1 cannot reach 10.0.0.13 (exists only in tenant B)" \
    ping_ok a1 10.0.0.13 3
check "b1 reaches 10.0.0.13" ping_wait b1 10.0.0.13 10
check "TCP a1 -> a2 intact" tcp_transfer a1 a2 10.0.0.12 2 5001
check "TCP b1 -> b2 intact" tcp_transfer b1 b2 10.0.0.12 2 5001
finish
