#!/bin/bash
# test-arp-local.sh -- ARP for known addresses is answered on the local host
# and never crosses the fabric.  A tcpdump on the fabric bridge records the
# tunnel traffic while vm1 (hv1) talks to vm2 (hv2) for the first time; the
# tunnel payloads are decoded with scapy (Geneve, UDP 6081; VXLAN, UDP
# 4789): the inner frames must contain the ICMP exchange and no ARP.  vm1
# must still have resolved vm2's MAC (from the agent's local responder).
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
topo_std 2

net=$(tenant_net arp t1 10.0.0.0/24) || die "create network"
vm_port vm1 hv1 "$net" 10.0.0.11 t1
vm_port vm2 hv2 "$net" 10.0.0.12 t1
mac2=$(vm_mac vm2)

CAP_IF=br0 capture "$W_FABRIC" fabric udp port 6081 or udp port 4789
capture "$(vm_ns vm1)" vm1 arp
vm_exec vm1 ip neigh flush dev eth0 2>/dev/null
vm_exec vm2 ip neigh flush dev eth0 2>/dev/null
check "vm1 pings vm2 (first contact)" ping_wait vm1 10.0.0.12 15
vm_exec vm1 ping -n -q -c 3 -i 0.2 -W 1 10.0.0.12 >/dev/null 2>&1
fab=$(capture_stop fabric)
v1=$(capture_stop vm1)

neigh=$(vm_exec vm1 ip neigh show 10.0.0.12 dev eth0)
w_log "vm1 neighbour entry: $neigh"
check "vm1 resolved 10.0.0.12 to vm2's MAC $mac2" grep -qi "$mac2" <<<"$neigh"
check "vm1 sent ARP and got a reply on its own port" \
    [ "$(pcap_count "$v1" arp and arp[6:2] = 2)" -ge 1 ]

res=$(/usr/bin/python3 - "$fab" <<'PY' 2>&1
import sys
import logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import rdpcap, Ether, UDP, ARP, IP
from scapy.contrib.geneve import GENEVE
from scapy.layers.vxlan import VXLAN
arp = ip = other = 0
for p in rdpcap(sys.argv[1]):
    if UDP not in p:
        continue
    u = p[UDP]
    if u.dport == 6081:
        inner = GENEVE(bytes(u.payload)).payload
    elif u.dport == 4789:
        inner = VXLAN(bytes(u.payload)).payload
    else:
        continue
    inner = Ether(bytes(inner))
    if ARP in inner:
        arp += 1
    elif IP in inner:
        ip += 1
    else:
        other += 1
print(arp, ip, other)
PY
)
w_log "inner frames on the fabric (arp ip other): $res"
read -r n_arp n_ip n_other <<<"$res"
check "tunnel traffic carried the IPv4 exchange" [ "${n_ip:-0}" -ge 4 ]
check "no ARP crossed the fabric" [ "${n_arp:-x}" = 0 ]
finish
