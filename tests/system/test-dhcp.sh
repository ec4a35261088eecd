#!/bin/bash
# test-dhcp.sh -- the agents' DHCP server, driven by real clients.
#
# Network net1 10.1.0.0/24 (MTU 1400, DHCP on, two DNS servers, one host
# route) has a VM on each host, both started with NO address: vm1 (hv1)
# runs ISC dhclient, vm2 (hv2) busybox udhcpc, both with the client script
# of tests/lib/netns.sh (ip(8) only; /etc/resolv.conf is never written:
# the DNS servers go to a state file).  Checked for each: its port's fixed
# IP with the subnet's prefix, the default route via the gateway, the host
# route (option 121), the MTU (option 26), the DNS servers (option 6), the
# server identifier (the gateway), the host name (option 12, from the
# address: the ports have no name) and the domain (option 15).  Then,
# with the agents' lease at 6 s (--dhcp-lease-time): dhclient renews and
# keeps its address; after the port's fixed IP changes through the API,
# the next renewal is refused (NAK) and dhclient comes back with the new
# address.  A capture on the fabric bridge shows no DHCP packet leaving
# any host, plain or inside a Geneve tunnel (pings between the VMs in the
# same capture show that tunnelled traffic is seen).  A subnet with
# enable_dhcp false gives no lease; one without a gateway gives a lease
# without a default route.
# dhclient's time from start to bound is logged, not asserted.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
command -v dhclient >/dev/null || skip "dhclient not installed (make deps)"
busybox udhcpc --help >/dev/null 2>&1 ||
    skip "busybox udhcpc not available (make deps)"
command -v tcpdump >/dev/null || skip "tcpdump not installed (make deps)"

LEASE=6
WEFT_AGENT_OPTS="${WEFT_AGENT_OPTS:-} --dhcp-lease-time $LEASE"
topo_std 2

read -r net1 sub1 < <(tenant_subnet net1 tenant1 10.1.0.0/24 \
    '"dns_nameservers": ["198.51.100.53", "198.51.100.54"],
     "host_routes": [{"destination": "192.168.77.0/24",
                      "nexthop": "10.1.0.9"}]')
[ -n "${sub1:-}" ] || die "create net1/subnet: $(api_code)"
api PUT "/v2.0/networks/$net1" '{"network": {"mtu": 1400}}' >/dev/null ||
    die "set net1 mtu 1400: $(api_code)"
check "subnet has DHCP enabled by default" \
    json_ok "$(api GET "/v2.0/subnets/$sub1")" '.subnet.enable_dhcp == true'

vm_port_bare vm1 hv1 "$net1" 10.1.0.11 tenant1
vm_port_bare vm2 hv2 "$net1" 10.1.0.12 tenant1
check "vm1 starts without an IPv4 address" [ -z "$(vm_ipv4 vm1)" ]
check "vm2 starts without an IPv4 address" [ -z "$(vm_ipv4 vm2)" ]

# The inner filter of a Geneve packet: the DHCP ports.
DHCP_PORTS='(udp port 67 or udp port 68)'
# no_dhcp_on_fabric NAME: the fabric capture NAME (stopped) has no DHCP
# packet, plain or in Geneve, and does have Geneve ICMP (the control).
no_dhcp_on_fabric() {
    local pcap n_plain n_inner n_icmp
    pcap=$(capture_stop "$1")
    n_plain=$(pcap_count "$pcap" "$DHCP_PORTS")
    n_inner=$(pcap_count "$pcap" "geneve and $DHCP_PORTS")
    n_icmp=$(pcap_count "$pcap" "geneve and icmp")
    w_log "fabric capture $1: $n_plain plain DHCP, $n_inner DHCP in" \
        "Geneve, $n_icmp Geneve ICMP packets"
    check "capture $1 saw the VMs' tunnelled pings ($n_icmp)" \
        [ "$n_icmp" -gt 0 ]
    check "no DHCP packet on the fabric, plain ($n_plain)" [ "$n_plain" = 0 ]
    check "no DHCP packet on the fabric in a tunnel ($n_inner)" \
        [ "$n_inner" = 0 ]
}

# lease_ok VM IP: the checks every lease on net1 must pass.
lease_ok() {
    local vm=$1 ip=$2 routes
    w_log "$vm state: $(tr '\n' ' ' <"$W_RUNDIR/dhcp-$vm.state" 2>/dev/null)"
    routes=$(vm_exec "$vm" ip -4 route show)
    w_log "$vm routes: $(tr '\n' ';' <<<"$routes")"
    check "$vm got its port's fixed IP $ip" \
        [ "$(dhcp_state "$vm" ip)" = "$ip" ]
    check "$vm's eth0 has $ip/24" grep -qx "$ip/24" <<<"$(vm_ipv4 "$vm")"
    check "$vm has a default route via the gateway 10.1.0.1" \
        grep -q '^default via 10.1.0.1 dev eth0' <<<"$routes"
    check "$vm has the subnet's host route 192.168.77.0/24 via 10.1.0.9" \
        grep -q '^192.168.77.0/24 via 10.1.0.9 dev eth0' <<<"$routes"
    check "$vm's eth0 MTU is the network's, 1400 (option 26)" \
        [ "$(vm_exec "$vm" cat /sys/class/net/eth0/mtu)" = 1400 ]
    check "$vm's client saw DNS servers 198.51.100.53 198.51.100.54" \
        [ "$(dhcp_state "$vm" dns)" = "198.51.100.53 198.51.100.54" ]
    check "$vm's server identifier is the gateway 10.1.0.1" \
        [ "$(dhcp_state "$vm" serverid)" = 10.1.0.1 ]
    # The port has no name: Neutron's host-A-B-C-D (option 12), and the
    # agents' default domain (option 15).
    check "$vm's host name is host-${ip//./-} (option 12)" \
        [ "$(dhcp_state "$vm" hostname)" = "host-${ip//./-}" ]
    check "$vm's domain is openstacklocal (option 15)" \
        [ "$(dhcp_state "$vm" domain)" = openstacklocal ]
}

CAP_IF=br0 capture "$W_FABRIC" fab1

# vm1: ISC dhclient.
t0=$(date +%s%3N)
dhclient_start vm1
if wait_for "dhcp_events vm1 | grep -q ' BOUND '" 25; then
    t1=$(dhcp_events vm1 | awk '$2 == "BOUND" {print $1; exit}')
    w_log "dhclient boot -> bound: $((t1 - t0)) ms"
    pass "dhclient in vm1 got a lease"
else
    fail "dhclient in vm1 got a lease (events: $(dhcp_events vm1 |
        tr '\n' ';'))"
    tail -n 15 "$W_RUNDIR/dhclient-vm1.log"
fi
lease_ok vm1 10.1.0.11
check "vm1's lease time is the agent's --dhcp-lease-time $LEASE" \
    [ "$(dhcp_state vm1 lease)" = "$LEASE" ]

# vm2: busybox udhcpc.
check "udhcpc in vm2 got a lease" udhcpc_run vm2
lease_ok vm2 10.1.0.12

check "vm1 (hv1) pings vm2 (hv2) on the leased addresses" \
    ping_wait vm1 10.1.0.12 10
check "vm2 (hv2) pings vm1 (hv1), 5 of 5" ping_all vm2 10.1.0.11 5

# Renewal with a 6 s lease: T1 is about 3 s after the ACK.
if wait_for "dhcp_events vm1 | grep -Eq ' (RENEW|REBIND) '" 15; then
    pass "dhclient in vm1 renewed its lease"
    w_log "vm1 events: $(dhcp_events vm1 | awk '{print $2}' |
        tr '\n' ' ')"
    dhcp_events vm1 | grep -q ' RENEW ' ||
        w_log "NOTE: only REBIND (broadcast) succeeded: the unicast" \
            "RENEW to the server identifier 10.1.0.1 got no answer"
else
    fail "dhclient in vm1 renewed its lease (events: $(dhcp_events vm1 |
        tr '\n' ';'))"
fi
check "after the renewal vm1 still has 10.1.0.11/24" \
    grep -qx 10.1.0.11/24 <<<"$(vm_ipv4 vm1)"
check_not "vm1's client never lost its lease (no EXPIRE/FAIL)" \
    grep -Eq ' (EXPIRE|FAIL) ' <<<"$(dhcp_events vm1)"
check "vm2 pings vm1 after the renewal, 5 of 5" \
    ping_all vm2 10.1.0.11 5
no_dhcp_on_fabric fab1

# A new fixed IP takes effect at the next renewal: NAK, then DISCOVER.
CAP_IF=br0 capture "$W_FABRIC" fab2
check "PUT port vm1 fixed_ips 10.1.0.50" \
    api PUT "/v2.0/ports/${W_PORT[vm1]}" \
    "{\"port\": {\"fixed_ips\": [{\"subnet_id\": \"$sub1\",
                                  \"ip_address\": \"10.1.0.50\"}]}}" \
    >/dev/null
if wait_for '[ "$(dhcp_state vm1 ip)" = 10.1.0.50 ]' 25; then
    pass "dhclient in vm1 got the new address 10.1.0.50"
else
    fail "dhclient in vm1 got the new address 10.1.0.50 (events:" \
        "$(dhcp_events vm1 | tr '\n' ';'))"
fi
w_log "vm1 events: $(dhcp_events vm1 | awk '{print $2 "=" $3}' |
    tr '\n' ' ')"
check "vm1's client saw the old lease refused (EXPIRE after a NAK)" \
    grep -q ' EXPIRE ' <<<"$(dhcp_events vm1)"
check "vm1's eth0 has exactly 10.1.0.50/24" \
    [ "$(vm_ipv4 vm1)" = 10.1.0.50/24 ]
check "vm2 pings vm1 at its new address 10.1.0.50" \
    ping_wait vm2 10.1.0.50 10
lease_ok vm1 10.1.0.50
no_dhcp_on_fabric fab2
stop_pid "${W_DHCLIENT_PID[vm1]}"

# enable_dhcp false: no answer at all.
read -r net3 sub3 < <(tenant_subnet net3 tenant1 10.5.0.0/24 \
    '"enable_dhcp": false')
[ -n "${sub3:-}" ] || die "create net3 (enable_dhcp false): $(api_code)"
vm_port_bare vm3 hv1 "$net3" 10.5.0.11 tenant1
check_not "udhcpc in vm3 (subnet with enable_dhcp false) gets no lease" \
    udhcpc_run vm3
check "vm3 has no IPv4 address" [ -z "$(vm_ipv4 vm3)" ]

# No gateway: a lease, but no router option and no default route.
read -r net4 sub4 < <(tenant_subnet net4 tenant1 10.6.0.0/24 \
    '"gateway_ip": null')
[ -n "${sub4:-}" ] || die "create net4 (no gateway): $(api_code)"
vm_port_bare vm4 hv2 "$net4" 10.6.0.14 tenant1
check "udhcpc in vm4 (subnet without a gateway) gets a lease" udhcpc_run vm4
w_log "vm4 state: $(tr '\n' ' ' <"$W_RUNDIR/dhcp-vm4.state" 2>/dev/null)"
check "vm4 got 10.6.0.14/24" [ "$(vm_ipv4 vm4)" = 10.6.0.14/24 ]
check "vm4 got no router option" [ -z "$(dhcp_state vm4 routers)" ]
check_not "vm4 has no default route" \
    grep -q '^default' <<<"$(vm_exec vm4 ip -4 route show)"
sid4=$(dhcp_state vm4 serverid)
check "vm4's server identifier ($sid4) is on its subnet, not its own IP" \
    eval '[[ $sid4 == 10.6.0.* ]] && [ "$sid4" != 10.6.0.14 ]'
finish
