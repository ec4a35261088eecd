#!/bin/bash
# test-port-move.sh -- a port moves from host hv2 to host hv3 (a live
# migration as Nova does it: the VM's interface appears on the new host and
# the port's binding:host_id is updated).  The port goes DOWN when its
# interface leaves hv2 and ACTIVE again when hv3 attaches it; traffic from
# vm1 (hv1) follows it to hv3, with the same MAC and IP; hv2 must have
# released it.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
topo_std 3

net=$(tenant_net mv t1 10.0.0.0/24) || die "create network"
vm_port vm1 hv1 "$net" 10.0.0.11 t1
vm_port vm2 hv2 "$net" 10.0.0.12 t1
p2=${W_PORT[vm2]}
tap=$(port_ifname "$p2")
check "vm1 -> vm2 on hv2 before the move" ping_wait vm1 10.0.0.12 15

# The interface leaves hv2 first (binding unchanged): hv2's agent must
# detach it and report the port DOWN.  Then the binding follows the
# interface to hv3, whose agent attaches it and reports it ACTIVE.
host_exec hv2 ip link set "$tap" netns "$(host_ns hv3)" ||
    die "cannot move $tap to hv3"
host_exec hv3 ip link set "$tap" up
check "port DOWN once its interface left hv2" \
    wait_for "port_is DOWN $p2" 15
check_not "vm1 -> vm2 fails while the port is bound to the wrong host" \
    ping_ok vm1 10.0.0.12 2
api PUT "/v2.0/ports/$p2" '{"port": {"binding:host_id": "hv3"}}' >/dev/null
check "PUT binding:host_id=hv3 accepted ($(api_code))" \
    [ "$(port_field "$p2" '"binding:host_id"')" = hv3 ]
check "port ACTIVE again after the move" wait_port_active "$p2" 20
check "vm1 -> vm2 on hv3 after the move" ping_wait vm1 10.0.0.12 20
check "10 of 10 pings after the move" ping_all vm1 10.0.0.12 10
check "TCP vm1 -> vm2 intact after the move" \
    tcp_transfer vm1 vm2 10.0.0.12 2 5001
bound=$(bound_ports hv2)
check "hv2 no longer binds the port (bound_ports=$bound)" [ "$bound" = 0 ]
bound=$(bound_ports hv3)
check "hv3 binds it (bound_ports=$bound)" [ "$bound" = 1 ]

# And back to hv2, binding first this time.
api PUT "/v2.0/ports/$p2" '{"port": {"binding:host_id": "hv2"}}' >/dev/null
check "PUT binding:host_id=hv2 accepted ($(api_code))" \
    [ "$(port_field "$p2" '"binding:host_id"')" = hv2 ]
host_exec hv3 ip link set "$tap" netns "$(host_ns hv2)" ||
    die "cannot move $tap back to hv2"
host_exec hv2 ip link set "$tap" up
check "vm1 -> vm2 after moving back to hv2" ping_wait vm1 10.0.0.12 20
check "port ACTIVE after moving back" wait_port_active "$p2" 20
check "hv2 binds the port again" wait_for "[ \"\$(bound_ports hv2)\" = 1 ]" 10
bound=$(bound_ports hv3)
check "hv3 released it (bound_ports=$bound)" [ "$bound" = 0 ]
finish
