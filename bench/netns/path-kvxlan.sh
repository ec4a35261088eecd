#!/bin/bash
# path-kvxlan.sh -- baseline (b): what an operator gets for free.  The same
# 2-host topology as Weft (fabric bridge, hv1/hv2 namespaces, one VM each),
# but each host switches with a Linux bridge and tunnels with a kernel VXLAN
# device (VNI 100, UDP 4789, head-end replication to the other host via an
# all-zeros fdb entry).  VM MTU 1450, as on an overlay.
set -uo pipefail
. "$(dirname "$0")/../../tests/lib/netns.sh"
. "$(dirname "$0")/measure.sh"
netns_init

topo_hosts 2
for h in hv1 hv2; do
    local_ip=${W_HOST_IP[$h]}
    [ $h = hv1 ] && remote_ip=198.18.0.12 || remote_ip=198.18.0.11
    ns=$(host_ns $h)
    ip -n "$ns" link add br0 type bridge
    ip -n "$ns" link add vxlan0 type vxlan id 100 local "$local_ip" \
        dstport 4789 nolearning
    ip -n "$ns" link set vxlan0 master br0
    ip netns exec "$ns" bridge fdb append 00:00:00:00:00:00 dev vxlan0 \
        dst "$remote_ip"
    ip -n "$ns" link set vxlan0 up
    ip -n "$ns" link set br0 up
done
topo_vm vm1 hv1 tapvm1 10.0.0.11/24 fa:16:3e:00:00:11 1450
topo_vm vm2 hv2 tapvm2 10.0.0.12/24 fa:16:3e:00:00:12 1450
host_exec hv1 ip link set tapvm1 master br0
host_exec hv2 ip link set tapvm2 master br0
measure_all kvxlan "$(vm_ns vm1)" "$(vm_ns vm2)" 10.0.0.12
