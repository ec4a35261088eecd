#!/bin/bash
# test-vxlan.sh -- VXLAN mode (controller --encap vxlan): cross-host ping
# and TCP between Weft VMs over UDP 4789 (and no Geneve on the fabric); then
# interoperability with a Linux kernel VXLAN device: host hv3 runs no agent
# but a bridge + vxlan0 (VNI = the network's provider:segmentation_id, dst
# port 4789, fdb entries pointing at the Weft hosts) -- a software VTEP, as
# DESIGN.md promises ("the VNI names the virtual network, the inner
# destination MAC names the port").  hv3 is registered through the agent
# report endpoint and its VM's port is created with the VM's MAC.
set -uo pipefail
W_ENCAP=vxlan
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
topo_std 2

net=$(tenant_net vx t1 10.0.0.0/24) || die "create network"
vni=$(net_field "$net" provider:segmentation_id)
w_log "network VNI $vni"
vm_port vm1 hv1 "$net" 10.0.0.11 t1
vm_port vm2 hv2 "$net" 10.0.0.12 t1
# The kernel-VXLAN VM is not a port, so not a member of t1's default
# group: a rule lets the network's addresses in.
sg_default_allow t1 10.0.0.0/24 || die "security group rule: $(api_code)"

CAP_IF=br0 capture "$W_FABRIC" fabric udp
check "vm1 -> vm2 over VXLAN" ping_wait vm1 10.0.0.12 15
check "TCP vm1 -> vm2 intact over VXLAN" tcp_transfer vm1 vm2 10.0.0.12 4 5001
f=$(capture_stop fabric)
n4789=$(pcap_count "$f" udp dst port 4789)
n6081=$(pcap_count "$f" udp dst port 6081)
w_log "fabric: $n4789 VXLAN, $n6081 Geneve packets"
check "traffic crossed the fabric as VXLAN" [ "$n4789" -gt 10 ]
check "no Geneve on the fabric" [ "$n6081" = 0 ]

res=$(/usr/bin/python3 - "$f" "$vni" <<'PY' 2>&1
import sys, logging
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import rdpcap, UDP
from scapy.layers.vxlan import VXLAN
vnis = set()
for p in rdpcap(sys.argv[1]):
    if UDP in p and p[UDP].dport == 4789:
        vnis.add(VXLAN(bytes(p[UDP].payload)).vni)
print(" ".join(str(v) for v in sorted(vnis)))
PY
)
check "every VXLAN packet carries the network's VNI $vni (saw: $res)" \
    [ "$res" = "$vni" ]

# ---- a Linux kernel VXLAN device as a peer on hv3
topo_host hv3 198.18.0.13
report='{"agent": {"host": "hv3", "tunnel_ip": "198.18.0.13", "binary": "kernel-vtep", "agent_type": "Weft agent"}}'
api POST /v2.0/weft/agents/report "$report" >/dev/null ||
    die "registering hv3 failed ($(api_code))"
bg "$W_FABRIC" hv3-heartbeat timeout 200 bash -c "for i in \$(seq 200); do
    curl -s -m 2 -o /dev/null -X POST -H 'Content-Type: application/json' \
        --data-binary '$report' $W_URL/v2.0/weft/agents/report; sleep 1; done"
mac3=fa:16:3e:00:99:13
api POST /v2.0/ports "{\"port\": {\"network_id\": \"$net\", \
\"binding:host_id\": \"hv3\", \"mac_address\": \"$mac3\", \
\"fixed_ips\": [{\"ip_address\": \"10.0.0.13\"}]}}" >/dev/null ||
    die "create hv3's port ($(api_code))"
h3=$(host_ns hv3)
# hv3's "NIC" must compute the checksums the kernel leaves partial (a veth
# would pass them on unfilled; see tx_csum_off in tests/lib/netns.sh).
tx_csum_off "$h3" eth0 || fail "cannot turn off tx checksum offload on hv3"
ip -n "$h3" link add br0 type bridge
ip -n "$h3" link add vxlan0 type vxlan id "$vni" local 198.18.0.13 \
    dstport 4789 nolearning
ip -n "$h3" link set vxlan0 master br0
for peer in 198.18.0.11 198.18.0.12; do
    ip netns exec "$h3" bridge fdb append 00:00:00:00:00:00 dev vxlan0 \
        dst "$peer"
done
ip netns exec "$h3" bridge fdb append "$(vm_mac vm1)" dev vxlan0 dst 198.18.0.11
ip netns exec "$h3" bridge fdb append "$(vm_mac vm2)" dev vxlan0 dst 198.18.0.12
ip -n "$h3" link set vxlan0 up
ip -n "$h3" link set br0 up
topo_vm vm3 hv3 kvm3 10.0.0.13/24 "$mac3" 1450
ip -n "$h3" link set kvm3 master br0
check "Weft VM vm1 -> kernel-VXLAN VM vm3" ping_wait vm1 10.0.0.13 20
check "kernel-VXLAN VM vm3 -> Weft VM vm2" ping_wait vm3 10.0.0.12 20
CAP_IF=br0 capture "$W_FABRIC" interop udp port 4789
check "TCP vm3 -> vm1 intact (kernel VTEP <-> Weft)" \
    tcp_transfer vm3 vm1 10.0.0.11 2 5002
f=$(capture_stop interop)
# No IP fragments.  (Size is not checked here: Weft sends bursts with UDP
# GSO, which a veth capture shows as one datagram larger than the MTU; the
# kernel refuses a GSO send whose segments would not fit the device MTU,
# and a real NIC puts MTU-sized segments on the wire.  The kernel VTEP
# taking every one of them is what the TCP transfer above shows.)
n=$(pcap_count "$f" udp port 4789)
frags=$(pcap_count "$f" 'ip[6:2] & 0x3fff != 0')
w_log "interop capture: $n VXLAN packets, $frags fragments"
check "the transfer crossed the fabric as VXLAN ($n packets)" [ "$n" -gt 10 ]
check "no fragmented tunnel packets to the kernel VTEP" [ "$frags" = 0 ]
finish
