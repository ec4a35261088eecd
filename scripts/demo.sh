#!/bin/bash
# demo.sh -- `make demo`: Weft on two hypervisors in network namespaces.
#
#   fabric     Linux bridge, 198.18.0.1/15; weft-controller on :9696
#   hv1, hv2   hypervisor namespaces, weft-agent each (Geneve tunnels)
#   tenant A   network net-a 10.0.0.0/24: vm-a1 (hv1) 10.0.0.11,
#                                         vm-a2 (hv2) 10.0.0.12
#   tenant B   network net-b 10.0.0.0/24: vm-b1 (hv1) 10.0.0.11,
#                                         vm-b2 (hv2) 10.0.0.12
#
# The two tenants overlap on purpose.  The demo shows that a tenant's VMs
# reach each other across hosts (ping, iperf3) and that the other tenant's
# VM with the same IP never sees a packet; it prints weftctl's views and a
# PASS/FAIL report, tears everything down, and exits non-zero if a claim
# failed.  Needs root; `make demo` builds and installs dependencies first.

set -uo pipefail
. "$(dirname "$0")/../tests/lib/netns.sh"
W_NAME=demo
netns_init
need_bins weft-controller weft-agent weftctl

CLAIMS=()
claim() {
    local desc=$1; shift
    if "$@"; then
        CLAIMS+=("PASS  $desc")
        echo "  => PASS: $desc"
    else
        CLAIMS+=("FAIL  $desc")
        echo "  => FAIL: $desc"
    fi
}
step() { echo; echo "=== $*"; }
show() { echo "\$ $*"; }

step "Building the test hosts: fabric, hv1 (198.18.0.11), hv2 (198.18.0.12)"
topo_std 2
echo "weft-controller listening on $W_URL (sqlite store in $W_RUNDIR)"
echo "weft-agent running on hv1 and hv2"

step "Creating two tenants with the same subnet 10.0.0.0/24 (weftctl)"
for t in a b; do
    show weftctl network create net-$t --project tenant-$t
    weftctl network create "net-$t" --project "tenant-$t" >/dev/null ||
        die "network create net-$t"
    show weftctl subnet create sub-$t --network net-$t --cidr 10.0.0.0/24
    weftctl subnet create "sub-$t" --network "net-$t" --cidr 10.0.0.0/24 \
        --project "tenant-$t" >/dev/null || die "subnet create sub-$t"
done
declare -A PORT
for spec in "a1 a hv1 10.0.0.11" "a2 a hv2 10.0.0.12" \
            "b1 b hv1 10.0.0.11" "b2 b hv2 10.0.0.12"; do
    read -r vm t host ip <<<"$spec"
    show weftctl port create vm-$vm --network net-$t --host $host \
        --fixed-ip ip-address=$ip
    PORT[$vm]=$(weftctl -f json port create "vm-$vm" --network "net-$t" \
        --host "$host" --fixed-ip "ip-address=$ip" --project "tenant-$t" |
        jq -er .port.id) || die "port create vm-$vm"
    vm_for_port "vm-$vm" "$host" "${PORT[$vm]}"
    echo "  VM vm-$vm on $host: $ip, MAC $(vm_mac "vm-$vm"), interface" \
        "$(port_ifname "${PORT[$vm]}") (binding convention)"
done

step "Ports become ACTIVE when the agents attach the interfaces"
all_active() {
    local p
    for p in "${PORT[@]}"; do wait_port_active "$p" 20 || return 1; done
}
claim "all four ports ACTIVE" all_active
show weftctl port list
weftctl port list
show weftctl agent list
weftctl agent list
claim "both agents alive" agents_alive 2
show weftctl network list
weftctl network list

step "Tenant A: vm-a1 (hv1) pings 10.0.0.12; tcpdump in vm-a2 and vm-b2"
mac_a2=$(vm_mac vm-a2)
mac_b2=$(vm_mac vm-b2)
capture "$(vm_ns vm-a2)" a2 icmp
capture "$(vm_ns vm-b2)" b2
show "ip netns exec vm-a1 ping -c 5 10.0.0.12"
ping_wait vm-a1 10.0.0.12 15
vm_exec vm-a1 ping -n -c 5 -i 0.2 -W 1 10.0.0.12 | sed 's/^/    /'
claim "vm-a1 -> 10.0.0.12 across hosts: 5 of 5 replies" \
    ping_all vm-a1 10.0.0.12 5
neigh=$(vm_exec vm-a1 ip neigh show 10.0.0.12 dev eth0)
echo "    vm-a1's neighbour table: $neigh"
echo "    vm-a2's MAC is $mac_a2, vm-b2's MAC is $mac_b2"
claim "the answer came from vm-a2 ($mac_a2), not vm-b2" \
    grep -qi "$mac_a2" <<<"$neigh"
na2=$(pcap_count "$(capture_stop a2)" icmp)
nb2=$(pcap_count "$(capture_stop b2)")
echo "    tcpdump in vm-a2: $na2 ICMP packets;" \
    "in vm-b2 (tenant B, also 10.0.0.12): $nb2 packets"
claim "vm-a2 saw tenant A's pings" [ "$na2" -ge 10 ]
claim "vm-b2 saw nothing of tenant A's traffic" [ "$nb2" = 0 ]

step "Tenant B: vm-b1 (hv1) pings the same address, 10.0.0.12"
capture "$(vm_ns vm-b2)" b2 icmp
capture "$(vm_ns vm-a2)" a2
ping_wait vm-b1 10.0.0.12 15
claim "vm-b1 -> 10.0.0.12: 5 of 5 replies" ping_all vm-b1 10.0.0.12 5
neigh=$(vm_exec vm-b1 ip neigh show 10.0.0.12 dev eth0)
echo "    vm-b1's neighbour table: $neigh"
claim "vm-b1's 10.0.0.12 is vm-b2 ($mac_b2)" grep -qi "$mac_b2" <<<"$neigh"
nb2=$(pcap_count "$(capture_stop b2)" icmp)
na2=$(pcap_count "$(capture_stop a2)")
echo "    tcpdump in vm-b2: $nb2 ICMP packets; in vm-a2: $na2 packets"
claim "vm-b2 saw tenant B's pings" [ "$nb2" -ge 10 ]
claim "vm-a2 saw nothing of tenant B's traffic" [ "$na2" = 0 ]

step "TCP between hosts: iperf3 -t 3 from vm-a1 to vm-a2"
iperf_server "$(vm_ns vm-a2)" 5201
show "ip netns exec vm-a1 iperf3 -c 10.0.0.12 -t 3"
out=$(vm_exec vm-a1 timeout 30 iperf3 -c 10.0.0.12 -p 5201 -t 3 -J)
gbps=$(jq -r '.end.sum_received.bits_per_second / 1e9 * 100 | round / 100' \
    <<<"$out" 2>/dev/null)
retr=$(jq -r '.end.sum_sent.retransmits' <<<"$out" 2>/dev/null)
echo "    vm-a1 -> vm-a2: ${gbps:-?} Gbit/s, ${retr:-?} retransmits" \
    "(VM offloads left on)"
claim "iperf3 across hosts transfers data (${gbps:-0} Gbit/s)" \
    awk -v g="${gbps:-0}" 'BEGIN{exit !(g > 0.01)}'
claim "4 MB over TCP vm-b2 -> vm-b1 arrives intact (sha256)" \
    tcp_transfer vm-b2 vm-b1 10.0.0.11 4 5002

step "What hv1's datapath cached (weftctl flows)"
show weftctl --socket hv1.ctl flows
weftctl_host hv1 flows | head -20
show weftctl --socket hv1.ctl counters
weftctl_host hv1 counters | head -30

step "Report"
failed=0
for c in "${CLAIMS[@]}"; do
    echo "  $c"
    [[ $c == FAIL* ]] && failed=$((failed + 1))
done
echo "  ${#CLAIMS[@]} claims, $failed failed.  Tearing everything down."
[ "$failed" -eq 0 ]
