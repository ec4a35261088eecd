#!/bin/bash
# test-port-security.sh -- anti-spoofing at the ingress host.  vm1 (hv1)
# sends frames with scapy to vm2 (hv2): from its own MAC and IP (they
# arrive), from a spoofed IP, a spoofed MAC, a spoofed ARP sender and as a
# DHCP server (none arrives; each is counted under its drop reason); an
# address in the port's allowed_address_pairs passes; with
# port_security_enabled false on the port the spoofed IP arrives too.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
/usr/bin/python3 -c 'import scapy' 2>/dev/null ||
    skip "python3-scapy not installed (make deps)"
topo_std 2

net=$(tenant_net net1 tenant1 10.0.0.0/24) || die "create network"
vm_port vm1 hv1 "$net" 10.0.0.11 tenant1
vm_port vm2 hv2 "$net" 10.0.0.12 tenant1
check "vm1 pings vm2" ping_wait vm1 10.0.0.12 15
mac1=$(vm_mac vm1)
mac2=$(vm_mac vm2)

# n_seen NAME EXPR FILTER...: how many of 5 frames EXPR from vm1 reach vm2.
n_seen() { n_arrived vm1 vm2 "$@"; }

E="Ether(src='$mac1', dst='$mac2')"
check "from vm1's own MAC and IP: 5 of 5 arrive" \
    [ "$(n_seen ok "$E/IP(src='10.0.0.11', dst='10.0.0.12')/UDP(sport=4000, dport=9)" \
        udp port 9)" = 5 ]
check "spoofed source IP 10.0.0.99: none arrives" \
    [ "$(n_seen ip "$E/IP(src='10.0.0.99', dst='10.0.0.12')/UDP(sport=4000, dport=9)" \
        udp port 9)" = 0 ]
check "spoofed source MAC: none arrives" \
    [ "$(n_seen mac "Ether(src='02:00:00:00:00:99', dst='$mac2')/IP(src='10.0.0.11', dst='10.0.0.12')/UDP(sport=4000, dport=9)" \
        udp port 9)" = 0 ]
check "ARP claiming vm2's address: none arrives" \
    [ "$(n_seen arp "Ether(src='$mac1', dst='ff:ff:ff:ff:ff:ff')/ARP(op=2, hwsrc='$mac1', psrc='10.0.0.12', pdst='10.0.0.12')" \
        arp)" = 0 ]
check "a DHCP offer from vm1: none arrives" \
    [ "$(n_seen dhcp "Ether(src='$mac1', dst='ff:ff:ff:ff:ff:ff')/IP(src='10.0.0.11', dst='255.255.255.255')/UDP(sport=67, dport=68)/BOOTP(op=2, yiaddr='10.0.0.12')/DHCP(options=[('message-type', 'offer'), 'end'])" \
        udp port 68)" = 0 ]

cnt=$(ctl hv1 counters)
for r in spoofed_ip spoofed_mac spoofed_arp dhcp_server_vm; do
    check "hv1 counts drops as $r" json_ok "$cnt" ".drops.$r >= 5"
done

# An allowed address pair lets vm1 send from 10.0.0.200/29.
check "PUT vm1's port allowed_address_pairs 10.0.0.200/29" \
    api PUT "/v2.0/ports/${W_PORT[vm1]}" \
    '{"port": {"allowed_address_pairs": [{"ip_address": "10.0.0.200/29"}]}}'
sleep 1
check "from an allowed pair address 10.0.0.201: 5 of 5 arrive" \
    [ "$(n_seen pair "$E/IP(src='10.0.0.201', dst='10.0.0.12')/UDP(sport=4000, dport=9)" \
        udp port 9)" = 5 ]

# Port security off: no filtering (vm2 unfiltered too, or its security
# groups would refuse the spoofed source).
port_unfiltered "${W_PORT[vm2]}" || die "unfilter vm2: $(api_code)"
check "PUT vm1's port port_security_enabled false" \
    api PUT "/v2.0/ports/${W_PORT[vm1]}" \
    '{"port": {"allowed_address_pairs": [], "security_groups": [],
        "port_security_enabled": false}}'
sleep 1
check "port security off: the spoofed IP arrives, 5 of 5" \
    [ "$(n_seen off "$E/IP(src='10.0.0.99', dst='10.0.0.12')/UDP(sport=4000, dport=9)" \
        udp port 9)" = 5 ]
check "vm1 still pings vm2" ping_all vm1 10.0.0.12 3
finish
