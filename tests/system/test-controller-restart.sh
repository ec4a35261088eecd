#!/bin/bash
# test-controller-restart.sh -- the controller is stateless apart from its
# store: after a restart on the same SQLite file every object is back with
# the same ids, MACs, IPs, VNIs and binding; agents reconnect; new objects
# still get fresh, non-conflicting allocations; traffic between ports
# created before and after the restart works.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
topo_std 2

net=$(tenant_net persist t1 10.0.0.0/24) || die "create network"
tenant_net persist2 t2 10.1.0.0/24 >/dev/null || die "create network 2"
vm_port vm1 hv1 "$net" 10.0.0.11 t1
vm_port vm2 hv2 "$net" 10.0.0.12 t1

# A canonical dump of the objects and the fields that must survive.
dump() {
    {
        api GET /v2.0/networks | jq -S '[.networks[] | {id, name,
            project_id, mtu, vni: .["provider:segmentation_id"]}]
            | sort_by(.id)'
        api GET /v2.0/subnets | jq -S '[.subnets[] | {id, network_id, cidr,
            gateway_ip}] | sort_by(.id)'
        api GET /v2.0/ports | jq -S '[.ports[] | {id, network_id,
            mac_address, fixed_ips, host: .["binding:host_id"]}]
            | sort_by(.id)'
    } 2>&1
}
before=$(dump)
check "dump has 2 networks, 2 subnets, 2 ports" \
    [ "$(grep -c '"id"' <<<"$before")" = 6 ]

stop_controller
check_not "API is down while the controller is stopped" api_up
start_controller
t=$(utc_now)
after=$(dump)
if [ "$before" = "$after" ]; then
    pass "every object is back unchanged after the restart"
else
    fail "objects changed across the restart"
    diff <(echo "$before") <(echo "$after") | head -20
fi
check "agents reported alive again" \
    wait_for "agents_reported_since 2 '$t'" 20
check "old ports still talk (vm1 -> vm2)" ping_wait vm1 10.0.0.12 15

vm_port vm3 hv2 "$net" 10.0.0.13 t1
mac3=$(port_field "${W_PORT[vm3]}" mac_address)
check "new port's MAC $mac3 is not a reused one" \
    [ "$(grep -c "$mac3" <<<"$after")" = 0 ]
check "new port after the restart reachable (vm1 -> vm3)" \
    ping_wait vm1 10.0.0.13 15
api POST /v2.0/ports "{\"port\": {\"network_id\": \"$net\", \
\"fixed_ips\": [{\"ip_address\": \"10.0.0.12\"}]}}" >/dev/null
check "IP 10.0.0.12 is still known as allocated (409, got $(api_code))" \
    [ "$(api_code)" = 409 ]
finish
