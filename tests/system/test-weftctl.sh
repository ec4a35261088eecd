#!/bin/bash
# test-weftctl.sh -- weftctl drives a whole deployment: every resource is
# created, read, changed and deleted through it (names resolved to ids,
# NeutronError messages and exit codes passed through, -f json parseable),
# security groups and their rules are managed, and the agent views
# (status, flows, counters, flush, router-routes) read a
# live agent's control socket while two VMs it plugged in talk across hosts.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent weftctl
topo_std 2

# wc_json ARGS...: weftctl -f json, output on stdout.
wc_json() { weftctl -f json "$@"; }
# wc_fails PATTERN ARGS...: weftctl exits 1 and says PATTERN on stderr.
wc_fails() {
    local pat=$1 err rc; shift
    err=$(weftctl "$@" 2>&1 >/dev/null); rc=$?
    [ "$rc" -eq 1 ] && grep -qi -- "$pat" <<<"$err"
}

# ---- resources (routers: after the VMs are gone, below)
check "network create" wc_json network create cnet --project t1
net=$(wc_json network show cnet | jq -er .network.id) || die "network show"
check "network list shows it" \
    eval 'wc_json network list | jq -e ".networks | map(.name) == [\"cnet\"]"'
check "table output names it" eval 'weftctl network list | grep -q cnet'
check "subnet create (network by name)" \
    wc_json subnet create csub --network cnet --cidr 10.0.0.0/24 \
        --project t1
check "subnet belongs to the network" \
    eval "[ \"\$(wc_json subnet show csub | jq -r .subnet.network_id)\" = $net ]"
check "port create on hv1 with a fixed IP" \
    wc_json port create p1 --network cnet --host hv1 --project t1 \
        --fixed-ip ip-address=10.0.0.11
check "port create on hv2" \
    wc_json port create p2 --network cnet --host hv2 --project t1 \
        --fixed-ip ip-address=10.0.0.12
p1=$(wc_json port show p1 | jq -er .port.id) || die "port show p1"
p2=$(wc_json port show p2 | jq -er .port.id) || die "port show p2"
check "port list --host filters" \
    eval 'wc_json port list --host hv2 | jq -e ".ports | map(.name) == [\"p2\"]"'

# ---- errors come through with the controller's message and exit 1
check "duplicate IP: 409 message, exit 1" \
    wc_fails "already allocated" port create p3 --network cnet \
        --fixed-ip ip-address=10.0.0.11
check "invalid CIDR: exit 1" \
    wc_fails "cidr" subnet create bad --network cnet --cidr 10.0.0.0/33
check "unknown network name: exit 1" wc_fails "no network found" network show nosuch
wc_json network create cnet >/dev/null
check "ambiguous name: exit 1" wc_fails "more than one" network show cnet
check "unreachable controller: the URL is named" eval \
    '! out=$(fab_exec "$WEFT_BIN/weftctl" --url http://127.0.0.1:1 \
        network list 2>&1) && grep -q "127.0.0.1:1" <<<"$out"'
dup=$(wc_json network list | jq -er \
    "[.networks[] | select(.id != \"$net\")][0].id")
check "delete by id" wc_json network delete "$dup"

# ---- plug the VMs in; weftctl sees what the agents did
vm_for_port vm1 hv1 "$p1"
vm_for_port vm2 hv2 "$p2"
check "ports become ACTIVE (seen through weftctl)" wait_for \
    "[ \"\$(wc_json port list --network cnet | jq -r \
        '[.ports[].status] | unique | join(\",\")')\" = ACTIVE ]" 20
check "agent list: both alive" wait_for \
    "wc_json agent list | jq -e '[.agents[] | select(.alive)] | length == 2'" \
    15
check "vm1 -> vm2 across hosts" ping_wait vm1 10.0.0.12 15

check "agent-status: connected, one bound port" eval \
    'weftctl_host hv1 -f json agent-status |
        jq -e ".connected and .bound_ports == 1"'
check "flows: the tunnel flow to hv2 is there" eval \
    'weftctl_host hv1 -f json flows |
        jq -e "[.flows[].actions | select(test(\"tunnel\"))] | length > 0"'
check "flows as a table" eval 'weftctl_host hv1 flows | grep -q tunnel'
check "counters: packets received on vm1's port" eval \
    "weftctl_host hv1 -f json counters |
        jq -e '[.ports[] | select(.port_id == \"$p1\") | .rx_packets][0] > 0'"
check "flush drops the cached flows" eval \
    'weftctl_host hv1 -f json flush | jq -e ".flushed > 0"'
check "traffic is simulated again after the flush" ping_wait vm1 10.0.0.12 10

# ---- updates and deletes
check "network update --name" wc_json network update cnet --name cnet2
check "renamed" eval '[ "$(wc_json network show "'"$net"'" |
    jq -r .network.name)" = cnet2 ]'
check "port update --admin-state down" \
    wc_json port update p2 --admin-state down
check "admin-down port is unreachable" eval '! ping_ok vm1 10.0.0.12 2'

# ---- security groups: groups, rules, a port's groups and port security
check "security-group create" \
    wc_json security-group create cweb --project t1 --description "web"
sg=$(wc_json security-group show cweb | jq -er .security_group.id) ||
    die "security-group show"
check "security-group list: t1 has its default group and cweb" eval \
    'wc_json security-group list --project t1 |
        jq -e ".security_groups | map(.name) | sort ==
            [\"cweb\", \"default\"]"'
check "security-group-rule create: tcp 22 from 10.0.0.0/24" eval \
    "wc_json security-group-rule create cweb --direction ingress \
        --protocol tcp --port-range-min 22 --port-range-max 22 \
        --remote-ip-prefix 10.0.0.0/24 --project t1 |
        jq -e '.security_group_rule | .security_group_id == \"$sg\"
            and .port_range_min == 22 and .port_range_max == 22
            and .remote_ip_prefix == \"10.0.0.0/24\"'"
check "security-group-rule create: icmp from the group (by name)" eval \
    "wc_json security-group-rule create cweb --direction ingress \
        --protocol icmp --remote-group cweb --project t1 |
        jq -e '.security_group_rule.remote_group_id == \"$sg\"'"
# Two egress rules came with the group (Neutron), two were added.
check "security-group-rule list --group" eval \
    'wc_json security-group-rule list --group cweb |
        jq -e ".security_group_rules | length == 4"'
check "security-group show embeds the rules" eval \
    'wc_json security-group show cweb |
        jq -e ".security_group.security_group_rules | length == 4"'
check "rule table output" eval \
    'weftctl security-group-rule list --group cweb | grep -q 10.0.0.0/24'
check "duplicate rule: exit 1" wc_fails "already exists" \
    security-group-rule create cweb --direction ingress --protocol tcp \
        --port-range-min 22 --port-range-max 22 \
        --remote-ip-prefix 10.0.0.0/24
check "rule without --direction: exit 1" wc_fails "needs --direction" \
    security-group-rule create cweb --protocol tcp
check "non-numeric port: exit 1" wc_fails "must be an integer" \
    security-group-rule create cweb --direction ingress --protocol tcp \
        --port-range-min ssh --port-range-max 22
check "port update --security-group (by name)" eval \
    "wc_json port update p1 --security-group cweb |
        jq -e '.port.security_groups == [\"$sg\"]'"
check "security-group delete refused while a port uses it" \
    wc_fails "in use" security-group delete cweb
check "port security off needs the groups gone" \
    wc_fails "security group" port update p1 --disable-port-security
check "port update --no-security-group --disable-port-security" eval \
    "wc_json port update p1 --no-security-group --disable-port-security |
        jq -e '.port.security_groups == [] and
               .port.port_security_enabled == false'"
rule=$(wc_json security-group-rule list --group cweb --protocol icmp |
       jq -er '.security_group_rules[0].id') || die "rule list"
check "security-group-rule delete" wc_json security-group-rule delete "$rule"
check "three rules left" eval \
    'wc_json security-group-rule list --group cweb |
        jq -e ".security_group_rules | length == 3"'
check "security-group delete" wc_json security-group delete cweb
check "its rules went with it" eval \
    "wc_json security-group-rule list | jq -e '[.security_group_rules[] |
        select(.security_group_id == \"$sg\")] == []'"
check "network delete refused while ports exist" \
    wc_fails "in use" network delete cnet2
check "port delete" wc_json port delete p1 p2

# ---- routers: interfaces by subnet and by port, static routes
check "router create" wc_json router create crt --project t1
rt=$(wc_json router show crt | jq -er .router.id) || die "router show"
check "router list shows it" \
    eval 'wc_json router list | jq -e ".routers | map(.name) == [\"crt\"]"'
check "router interface-add --subnet (by name)" \
    wc_json router interface-add crt --subnet csub
check "the interface port holds the gateway IP" eval \
    "wc_json port list --device-id $rt | jq -e '.ports | length == 1
        and .[0].fixed_ips[0].ip_address == \"10.0.0.1\"
        and .[0].device_owner == \"network:router_interface\"'"
check "router update --route" wc_json router update crt \
    --route destination=10.9.0.0/16,nexthop=10.0.0.254
check "the route is there" eval \
    "wc_json router show crt | jq -e '.router.routes == [{
        \"destination\": \"10.9.0.0/16\", \"nexthop\": \"10.0.0.254\"}]'"
check "table output shows the route" \
    eval "weftctl router show crt | grep -q \"nexthop='10.0.0.254'\""
check "router-routes: hv1's agent has the connected and the static route" \
    wait_for "weftctl_host hv1 -f json router-routes $rt | jq -e '
        any(.routes[]; .destination == \"10.0.0.0/24\") and
        any(.routes[]; .destination == \"10.9.0.0/16\"
                       and .nexthop == \"10.0.0.254\")'" 10
check "router-routes as a table" \
    eval "weftctl_host hv2 router-routes $rt | grep -q 10.9.0.0/16"
check "router-routes of an unknown router: exit 1" eval \
    '! weftctl_host hv1 router-routes 6b1f3a5e-0000-4000-8000-000000000000 \
        2>/dev/null' 
check "route via an unconnected nexthop: exit 1" \
    wc_fails "not connected" router update crt \
        --route destination=10.9.0.0/16,gateway=10.1.0.1
check "interface-remove refused while a route needs it" \
    wc_fails "required by one or more routes" \
        router interface-remove crt --subnet csub
check "router delete refused while it has interfaces" \
    wc_fails "still has ports" router delete crt
check "interface-add without --subnet or --port: exit 1" \
    wc_fails "needs --subnet" router interface-add crt
check "router update --no-route" \
    eval "wc_json router update crt --no-route |
        jq -e '.router.routes == []'"
check "router interface-remove --subnet" \
    wc_json router interface-remove crt --subnet csub
check "its port is gone" \
    eval "wc_json port list --device-id $rt | jq -e '.ports == []'"
check "a port for the router" \
    wc_json port create rp --network cnet2 --fixed-ip ip-address=10.0.0.50
check "router interface-add --port (by name)" eval \
    "wc_json router interface-add crt --port rp |
        jq -e '.port_id != null and (.subnet_ids | length) == 1'"
check "the port is the router's now" \
    eval "[ \"\$(wc_json port show rp | jq -r .port.device_id)\" = $rt ]"
check "router interface-remove --port" \
    wc_json router interface-remove crt --port rp
check "router delete" wc_json router delete crt
check "no router left" \
    eval '[ "$(wc_json router list | jq ".routers | length")" = 0 ]'
check "subnet delete" wc_json subnet delete csub
check "network delete" wc_json network delete cnet2
check "nothing left" eval \
    '[ "$(wc_json network list | jq ".networks | length")" = 0 ]'
finish
