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

# ping_isolated SRC OWN OTHER: SRC pings 10.0.0.12, which is OWN in SRC's
# tenant and OTHER in the other one.  Both are captured: OWN must see the
# pings (so the captures work) and be the MAC that answered; OTHER must see
# no frame at all.
ping_isolated() {
    local src=$1 own=$2 other=$3 mac n_own n_other neigh
    mac=$(vm_mac "$own")
    capture "$(vm_ns "$own")" "$own" icmp
    capture "$(vm_ns "$other")" "$other"
    check "$src pings 10.0.0.12 (hv1 -> hv2)" ping_wait "$src" 10.0.0.12 15
    check "$src gets 10 of 10 replies" ping_all "$src" 10.0.0.12 10
    n_own=$(pcap_count "$(capture_stop "$own")" icmp)
    n_other=$(pcap_count "$(capture_stop "$other")")
    neigh=$(vm_exec "$src" ip neigh show 10.0.0.12 dev eth0)
    w_log "$src's neighbour 10.0.0.12: $neigh;" \
        "$own saw $n_own ICMP, $other $n_other frames"
    check "$src's 10.0.0.12 is $own ($mac)" grep -qi "$mac" <<<"$neigh"
    check "$own saw $src's pings ($n_own ICMP frames)" [ "$n_own" -ge 20 ]
    check "the other tenant's 10.0.0.12 ($other) saw no frame" \
        [ "$n_other" = 0 ]
}
ping_isolated a1 a2 b2
ping_isolated b1 b2 a2

check_not "a1 cannot reach 10.0.0.13 (exists only in tenant B)" \
    ping_ok a1 10.0.0.13 3
check "b1 reaches 10.0.0.13" ping_wait b1 10.0.0.13 10
check "TCP a1 -> a2 intact" tcp_transfer a1 a2 10.0.0.12 2 5001
check "TCP b1 -> b2 intact" tcp_transfer b1 b2 10.0.0.12 2 5001
finish
