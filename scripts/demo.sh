#!/bin/bash
# demo.sh -- `make demo`: Weft on two hypervisors in network namespaces.
#
#   fabric     Linux bridge, 198.18.0.1/15; weft-controller on :9696
#   hv1, hv2   hypervisor namespaces, weft-agent each (Geneve tunnels)
#   tenant A   network net-a 10.0.0.0/24: vm-a1 (hv1) 10.0.0.11,
#                                         vm-a2 (hv2) 10.0.0.12
#   tenant B   network net-b 10.0.0.0/24: vm-b1 (hv1) 10.0.0.11,
#                                         vm-b2 (hv2) 10.0.0.12
#   tenant C   subnets 10.1.0.0/24 and 10.2.0.0/24 joined by router r-c
#              (distributed: both agents route); vm-c1 (hv1) and vm-c2
#              (hv2) boot without addresses and get them from the agents'
#              DHCP server (ISC dhclient and busybox udhcpc)
#
# The two tenants overlap on purpose.  The demo shows that a tenant's VMs
# reach each other across hosts (ping, iperf3) and that the other tenant's
# VM with the same IP never sees a packet; that tenant C's VMs get their
# addresses by DHCP, answered on their own host, and reach each other
# through the router (ping, traceroute: one hop); that a security group
# admitting only TCP 8080 to vm-c2 lets that through and refuses a
# listening 8081 and ping (counted as sg_denied); it prints weftctl's
# views and a PASS/FAIL report, tears everything down, and exits non-zero
# if a claim failed.  Needs root; `make demo` builds and installs
# dependencies first.

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
not() { ! "$@"; }
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

step "Tenant C: two subnets and a distributed router (weftctl)"
for n in 1 2; do
    show weftctl network create net-c$n --project tenant-c
    weftctl network create "net-c$n" --project tenant-c >/dev/null ||
        die "network create net-c$n"
    show weftctl subnet create sub-c$n --network net-c$n \
        --cidr 10.$n.0.0/24 --dns 198.51.100.53
    weftctl subnet create "sub-c$n" --network "net-c$n" \
        --cidr "10.$n.0.0/24" --dns 198.51.100.53 --project tenant-c \
        >/dev/null || die "subnet create sub-c$n"
done
show weftctl router create r-c --project tenant-c
weftctl router create r-c --project tenant-c >/dev/null ||
    die "router create r-c"
for n in 1 2; do
    show weftctl router interface-add r-c --subnet sub-c$n
    weftctl router interface-add r-c --subnet "sub-c$n" >/dev/null ||
        die "router interface-add r-c sub-c$n"
done
show weftctl router list
weftctl router list
for spec in "c1 hv1 net-c1 10.1.0.11" "c2 hv2 net-c2 10.2.0.12"; do
    read -r vm host net ip <<<"$spec"
    show weftctl port create vm-$vm --network $net --host $host \
        --fixed-ip ip-address=$ip
    PORT[$vm]=$(weftctl -f json port create "vm-$vm" --network "$net" \
        --host "$host" --fixed-ip "ip-address=$ip" --project tenant-c |
        jq -er .port.id) || die "port create vm-$vm"
    vm_for_port_bare "vm-$vm" "$host" "${PORT[$vm]}"
    wait_port_active "${PORT[$vm]}" 20 || die "port of vm-$vm not ACTIVE"
    echo "  VM vm-$vm on $host: no address yet, MAC $(vm_mac "vm-$vm")"
done

step "vm-c1 and vm-c2 boot: DHCP, answered by the agent on their own host"
CAP_IF=br0 capture "$W_FABRIC" fabric-dhcp
show "ip netns exec vm-c1 dhclient -v eth0   (script: ip addr/route only)"
t0=$(date +%s%3N)
dhclient_start vm-c1
if wait_for "dhcp_events vm-c1 | grep -q ' BOUND '" 25; then
    t1=$(dhcp_events vm-c1 | awk '$2 == "BOUND" {print $1; exit}')
    echo "    bound after $((t1 - t0)) ms"
fi
grep -E '^DHCP' "$W_RUNDIR/dhclient-vm-c1.log" | sed 's/^/    /'
show "ip netns exec vm-c2 busybox udhcpc -i eth0 -q"
udhcpc_run vm-c2
grep -E 'lease|select|sending' "$W_RUNDIR/udhcpc-vm-c2.log" | sed 's/^/    /'
for spec in "c1 10.1.0.11 10.1.0.1" "c2 10.2.0.12 10.2.0.1"; do
    read -r vm ip gw <<<"$spec"
    echo "    vm-$vm: $(vm_ipv4 "vm-$vm" | tr '\n' ' ')," \
        "$(vm_exec "vm-$vm" ip -4 route show default), MTU" \
        "$(vm_exec "vm-$vm" cat /sys/class/net/eth0/mtu)," \
        "DNS $(dhcp_state "vm-$vm" dns)"
    claim "vm-$vm got its port's address $ip/24 by DHCP" \
        [ "$(vm_ipv4 "vm-$vm")" = "$ip/24" ]
    claim "vm-$vm's default route is its gateway $gw" \
        grep -q "^default via $gw " <<<"$(vm_exec "vm-$vm" ip -4 route)"
done
step "Routing: vm-c1 (hv1, 10.1.0.11) -> vm-c2 (hv2, 10.2.0.12)"
show "ip netns exec vm-c1 ping -c 5 10.2.0.12"
ping_wait vm-c1 10.2.0.12 15
out=$(vm_exec vm-c1 ping -n -c 5 -i 0.2 -W 1 10.2.0.12)
sed 's/^/    /' <<<"$out"
claim "vm-c1 -> vm-c2 across the router and hosts: 5 of 5 replies" \
    grep -q ' 5 received' <<<"$out"
claim "the replies crossed one router (TTL 63)" grep -q 'ttl=63 ' <<<"$out"
pcap=$(capture_stop fabric-dhcp)
ndhcp=$(pcap_count "$pcap" \
    'udp port 67 or udp port 68 or (geneve and (udp port 67 or udp port 68))')
nicmp=$(pcap_count "$pcap" 'geneve and icmp')
echo "    tcpdump on the fabric bridge since the VMs booted: $ndhcp DHCP" \
    "packets, $nicmp tunnelled ICMP packets (the pings)"
claim "no DHCP packet left the hosts (but the pings did)" \
    eval '[ "$ndhcp" = 0 ] && [ "$nicmp" -gt 0 ]'
show "ip netns exec vm-c1 traceroute -n 10.2.0.12"
out=$(vm_exec vm-c1 timeout 30 traceroute -n -q 1 -w 2 -m 6 10.2.0.12 2>&1)
sed 's/^/    /' <<<"$out"
hops=$(awk 'NR > 1 {print $2}' <<<"$out" | tr '\n' ' ')
claim "traceroute: the gateway 10.1.0.1, then vm-c2 -- one routed hop" \
    [ "$hops" = "10.1.0.1 10.2.0.12 " ]
show "ip netns exec vm-c1 ping -c 1 10.2.0.99   (no such VM)"
out=$(vm_exec vm-c1 timeout 10 ping -n -c 1 -W 2 10.2.0.99 2>&1)
sed -n 2p <<<"$out" | sed 's/^/    /'
claim "the router answers for a missing host: Destination Host Unreachable" \
    grep -q 'From 10.1.0.1 .*Destination Host Unreachable' <<<"$out"
claim "4 MB over TCP vm-c2 -> vm-c1 through the router arrives intact" \
    tcp_transfer vm-c2 vm-c1 10.1.0.11 4 5003
echo "    hv1's routed flows (set_eth + dec_ttl):"
ctl hv1 flows | jq -r '.flows[] | select(.actions | test("dec_ttl"))
    | "      " + .match + "\n        => " + .actions' 2>/dev/null | head -6
stop_pid "${W_DHCLIENT_PID[vm-c1]}"

step "Security groups: vm-c2 admits only TCP 8080 (weftctl)"
show weftctl security-group create web-c --project tenant-c
weftctl security-group create web-c --project tenant-c >/dev/null ||
    die "security-group create web-c"
show weftctl security-group-rule create web-c --direction ingress \
    --protocol tcp --port-range-min 8080 --port-range-max 8080
weftctl security-group-rule create web-c --direction ingress --protocol tcp \
    --port-range-min 8080 --port-range-max 8080 --project tenant-c \
    >/dev/null || die "security-group-rule create web-c"
show weftctl port update vm-c2 --no-security-group --security-group web-c
weftctl port update "${PORT[c2]}" --no-security-group --security-group web-c \
    >/dev/null || die "port update vm-c2"
sleep 1
denied0=$(ctl hv2 counters | jq -r '.drops.sg_denied // 0')
bg "$(vm_ns vm-c2)" nc-8081 timeout 30 nc -l -p 8081
wait_for "vm_exec vm-c2 ss -Hltn 'sport = :8081' | grep -q LISTEN" 5
claim "vm-c1 -> vm-c2:8080: 1 MB arrives intact (the rule admits it)" \
    tcp_transfer vm-c1 vm-c2 10.2.0.12 1 8080
claim "vm-c1 cannot connect to vm-c2:8081, although vm-c2 listens there" \
    not vm_exec vm-c1 timeout 5 nc -z -w 2 10.2.0.12 8081
claim "vm-c1 no longer gets ping replies from vm-c2 (no ICMP rule)" \
    not ping_ok vm-c1 10.2.0.12 2
denied1=$(ctl hv2 counters | jq -r '.drops.sg_denied // 0')
echo "    hv2 counters: sg_denied $denied0 -> $denied1"
claim "hv2 (vm-c2's host) dropped them as sg_denied" \
    [ "$denied1" -gt "$denied0" ]

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
