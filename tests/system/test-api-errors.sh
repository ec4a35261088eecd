#!/bin/bash
# test-api-errors.sh -- the Neutron API rejects bad input with Neutron's
# status codes and a {"NeutronError": {"type", "message", ...}} body, and a
# rejected request changes nothing (a GET of every collection afterwards is
# identical to the one before): networks, subnets, ports, routers with
# their interfaces and static routes, and security groups, their rules and
# port security.  Controller only; no agents needed.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller
topo_fabric
start_controller

net=$(tenant_net api t1 10.0.0.0/24) || die "create network"
port=$(create_port "$net" hv1 10.0.0.11 t1) || die "create port"
mac=$(port_field "$port" mac_address)
sub=$(net_field "$net" subnets | jq -er '.[0]') || die "subnet id"
# A router on the subnet, with a static route through it.
rtr=$(api POST /v2.0/routers '{"router": {"name": "r1"}}' |
      jq -er .router.id) || die "create router"
rif=$(api PUT "/v2.0/routers/$rtr/add_router_interface" \
      "{\"subnet_id\": \"$sub\"}" | jq -er .port_id) ||
    die "add router interface"
api PUT "/v2.0/routers/$rtr" '{"router": {"routes": [{"destination":
    "10.9.0.0/16", "nexthop": "10.0.0.254"}]}}' >/dev/null ||
    die "set router routes"

# A security group of t1 with a rule, used by the port besides t1's
# default group.
sg=$(api POST /v2.0/security-groups '{"security_group": {"name": "web",
    "project_id": "t1"}}' | jq -er .security_group.id) ||
    die "create security group"
rule=$(api POST /v2.0/security-group-rules "{\"security_group_rule\": {
    \"security_group_id\": \"$sg\", \"direction\": \"ingress\",
    \"protocol\": \"tcp\", \"port_range_min\": 22, \"port_range_max\": 22,
    \"remote_ip_prefix\": \"10.0.0.0/24\"}}" |
    jq -er .security_group_rule.id) || die "create security group rule"
defsg=$(port_field "$port" 'security_groups[0]') || die "port's default group"
api PUT "/v2.0/ports/$port" "{\"port\": {\"security_groups\":
    [\"$defsg\", \"$sg\"]}}" >/dev/null || die "port set --security-group"

state() {
    local c
    for c in networks subnets ports routers security-groups \
        security-group-rules; do
        api GET "/v2.0/$c" | jq -S "[.[\"${c//-/_}\"][]] | sort_by(.id)"
    done
}
before=$(state)
# The comparisons below mean something only if the state was read.
n=$(grep -c "\"$net\"" <<<"$before")
check "the state holds the network, its subnet and its port ($n refs)" \
    [ "$n" -ge 3 ]
check "the state holds the router, its route and its interface" \
    eval 'grep -q 10.9.0.0/16 <<<"$before" && grep -q "\"$rif\"" <<<"$before"'
check "the state holds the groups and the rule" \
    eval 'grep -q "\"$rule\"" <<<"$before" && grep -q "\"web\"" <<<"$before" &&
          grep -q "\"default\"" <<<"$before"'

# quiet CMD...: CMD with its output dropped (for check).
quiet() { "$@" >/dev/null; }

# expect DESC CODE METHOD PATH [BODY]: the call returns CODE with a
# NeutronError body, and the state is unchanged.
expect() {
    local desc=$1 want=$2 method=$3 path=$4 body=${5-} out code
    out=$(api "$method" "$path" "$body")
    code=$(api_code)
    if [ "$code" != "$want" ]; then
        fail "$desc: want HTTP $want, got $code: ${out:0:200}"
        return
    fi
    if ! jq -e '.NeutronError.type and .NeutronError.message' \
        <<<"$out" >/dev/null 2>&1; then
        fail "$desc: HTTP $code but no NeutronError body: ${out:0:200}"
        return
    fi
    if [ "$(state)" != "$before" ]; then
        fail "$desc: HTTP $code but the state changed"
        return
    fi
    pass "$desc -> $code $(jq -r .NeutronError.type <<<"$out")"
}

expect "malformed JSON" 400 POST /v2.0/networks '{"network": {"name": "x"'
expect "not a JSON object" 400 POST /v2.0/networks '[1, 2, 3]'
expect "body without the resource key" 400 POST /v2.0/networks \
    '{"netw": {"name": "x"}}'

# bad_port DESC CODE FIELDS / bad_subnet DESC CODE NETWORK_ID CIDR: a POST
# of a port on $net with the extra JSON FIELDS / of an IPv4 subnet.
bad_port() {
    expect "$1" "$2" POST /v2.0/ports \
        "{\"port\": {\"network_id\": \"$net\", $3}}"
}
bad_subnet() {
    expect "$1" "$2" POST /v2.0/subnets \
        "{\"subnet\": {\"network_id\": \"$3\", \"cidr\": \"$4\", \"ip_version\": 4}}"
}
nowhere=5a0a8c3e-1a4b-4a5b-9c1d-000000000000
expect "port on an unknown network" 404 POST /v2.0/ports \
    "{\"port\": {\"network_id\": \"$nowhere\"}}"
bad_subnet "subnet on an unknown network" 404 "$nowhere" 10.9.0.0/24
bad_port "duplicate IP" 409 '"fixed_ips": [{"ip_address": "10.0.0.11"}]'
bad_port "duplicate MAC" 409 "\"mac_address\": \"$mac\""
bad_port "IP outside the subnet" 400 \
    '"fixed_ips": [{"ip_address": "192.168.7.7"}]'
bad_port "invalid MAC" 400 '"mac_address": "zz:16:3e:00:00:01"'
for cidr in 10.0.0.0/33 10.0.0.300/24 not-a-cidr; do
    bad_subnet "invalid CIDR $cidr" 400 "$net" "$cidr"
done
expect "deleting a network that has ports" 409 DELETE "/v2.0/networks/$net"
expect "GET an unknown port" 404 GET "/v2.0/ports/$nowhere"
expect "DELETE an unknown network" 404 DELETE "/v2.0/networks/$nowhere"
expect "update with a wrong type (admin_state_up: \"yes\")" 400 PUT \
    "/v2.0/networks/$net" '{"network": {"admin_state_up": "yes"}}'

# Routers.  bad_routes DESC CODE ROUTES: a PUT of the router's routes.
bad_routes() {
    expect "$1" "$2" PUT "/v2.0/routers/$rtr" \
        "{\"router\": {\"routes\": $3}}"
}
# iface DESC CODE ACTION BODY: add_ or remove_router_interface.
iface() {
    expect "$1" "$2" PUT "/v2.0/routers/$rtr/$3_router_interface" "$4"
}
expect "router: malformed JSON" 400 POST /v2.0/routers '{"router": {'
expect "router: name of the wrong type" 400 POST /v2.0/routers \
    '{"router": {"name": 5}}'
expect "router: admin_state_up \"yes\"" 400 POST /v2.0/routers \
    '{"router": {"admin_state_up": "yes"}}'
expect "router: routes in a create" 400 POST /v2.0/routers \
    '{"router": {"routes": []}}'
expect "router: an external gateway" 400 POST /v2.0/routers \
    "{\"router\": {\"external_gateway_info\": {\"network_id\": \"$net\"}}}"
expect "router: centralized" 400 POST /v2.0/routers \
    '{"router": {"distributed": false}}'
bad_routes "routes: not a list" 400 '"10.9.0.0/16"'
bad_routes "routes: bad CIDR" 400 \
    '[{"destination": "10.9.0.0/33", "nexthop": "10.0.0.254"}]'
bad_routes "routes: bad nexthop" 400 \
    '[{"destination": "10.9.0.0/16", "nexthop": "10.0.0.300"}]'
bad_routes "routes: nexthop missing" 400 '[{"destination": "10.9.0.0/16"}]'
bad_routes "routes: duplicate" 400 \
    '[{"destination": "10.8.0.0/16", "nexthop": "10.0.0.254"},
      {"destination": "10.8.0.0/16", "nexthop": "10.0.0.254"}]'
bad_routes "routes: nexthop on no interface" 400 \
    '[{"destination": "10.9.0.0/16", "nexthop": "192.168.1.1"}]'
bad_routes "routes: nexthop is the router" 400 \
    '[{"destination": "10.9.0.0/16", "nexthop": "10.0.0.1"}]'
iface "interface: unknown subnet" 404 add "{\"subnet_id\": \"$nowhere\"}"
iface "interface: unknown port" 404 add "{\"port_id\": \"$nowhere\"}"
iface "interface: the same subnet again" 400 add "{\"subnet_id\": \"$sub\"}"
iface "interface: a port in use" 409 add "{\"port_id\": \"$rif\"}"
iface "interface: malformed JSON" 400 add '{"subnet_id": '
iface "interface: neither subnet nor port" 400 add '{}'
iface "interface: both subnet and port" 400 add \
    "{\"subnet_id\": \"$sub\", \"port_id\": \"$port\"}"
iface "interface: not a UUID" 400 add '{"subnet_id": "sub1"}'
iface "interface: wrong type" 400 add '{"subnet_id": 7}'
iface "remove: a subnet the router is not on" 404 remove \
    "{\"subnet_id\": \"$nowhere\"}"
iface "remove: a port that is not an interface" 404 remove \
    "{\"port_id\": \"$port\"}"
iface "remove: an interface a route needs" 409 remove \
    "{\"subnet_id\": \"$sub\"}"
expect "interface: GET is not allowed" 405 GET \
    "/v2.0/routers/$rtr/add_router_interface"
expect "interface: unknown router" 404 PUT \
    "/v2.0/routers/$nowhere/add_router_interface" "{\"subnet_id\": \"$sub\"}"
expect "deleting a router with interfaces" 409 DELETE "/v2.0/routers/$rtr"
expect "deleting a router interface port" 409 DELETE "/v2.0/ports/$rif"
expect "deleting a subnet with a router interface" 409 DELETE \
    "/v2.0/subnets/$sub"

# Security groups.  bad_rule DESC CODE FIELDS: a POST of a rule in $sg with
# the extra JSON FIELDS.
bad_rule() {
    expect "$1" "$2" POST /v2.0/security-group-rules \
        "{\"security_group_rule\": {\"security_group_id\": \"$sg\", $3}}"
}
bad_rule "rule: no direction" 400 '"protocol": "tcp"'
bad_rule "rule: direction sideways" 400 '"direction": "sideways"'
bad_rule "rule: ethertype IPv5" 400 '"direction": "ingress",
    "ethertype": "IPv5"'
bad_rule "rule: unknown protocol" 400 '"direction": "ingress",
    "protocol": "tcpp"'
bad_rule "rule: protocol 256" 400 '"direction": "ingress", "protocol": 256'
bad_rule "rule: port range min > max" 400 '"direction": "ingress",
    "protocol": "tcp", "port_range_min": 90, "port_range_max": 80'
bad_rule "rule: port 0" 400 '"direction": "ingress", "protocol": "udp",
    "port_range_min": 0, "port_range_max": 10'
bad_rule "rule: port 65536" 400 '"direction": "ingress", "protocol": "tcp",
    "port_range_min": 1, "port_range_max": 65536'
bad_rule "rule: ports without a protocol" 400 '"direction": "ingress",
    "port_range_min": 22, "port_range_max": 22'
bad_rule "rule: ports for GRE" 400 '"direction": "ingress",
    "protocol": "gre", "port_range_min": 22, "port_range_max": 22'
bad_rule "rule: ICMP type 256" 400 '"direction": "ingress",
    "protocol": "icmp", "port_range_min": 256'
bad_rule "rule: ICMP code without type" 400 '"direction": "ingress",
    "protocol": "icmp", "port_range_max": 0'
bad_rule "rule: bad remote_ip_prefix" 400 '"direction": "ingress",
    "remote_ip_prefix": "10.0.0.0/33"'
bad_rule "rule: IPv6 prefix on an IPv4 rule" 400 '"direction": "ingress",
    "remote_ip_prefix": "2001:db8::/64"'
bad_rule "rule: remote group and prefix" 400 "\"direction\": \"ingress\",
    \"remote_group_id\": \"$sg\", \"remote_ip_prefix\": \"10.0.0.0/8\""
bad_rule "rule: unknown remote group" 404 "\"direction\": \"ingress\",
    \"remote_group_id\": \"$nowhere\""
bad_rule "rule: a duplicate" 409 '"direction": "ingress", "protocol": "6",
    "port_range_min": 22, "port_range_max": 22,
    "remote_ip_prefix": "10.0.0.9/24"'
expect "rule: unknown group" 404 POST /v2.0/security-group-rules \
    "{\"security_group_rule\": {\"security_group_id\": \"$nowhere\",
      \"direction\": \"ingress\"}}"
expect "rule: no update" 405 PUT "/v2.0/security-group-rules/$rule" \
    '{"security_group_rule": {"description": "x"}}'
expect "rule: DELETE an unknown rule" 404 DELETE \
    "/v2.0/security-group-rules/$nowhere"
expect "group: stateless" 400 POST /v2.0/security-groups \
    '{"security_group": {"name": "s", "stateful": false}}'
expect "group: another one called default" 409 POST /v2.0/security-groups \
    '{"security_group": {"name": "default", "project_id": "t1"}}'
expect "group: rename the default group" 409 PUT \
    "/v2.0/security-groups/$defsg" '{"security_group": {"name": "d2"}}'
expect "group: delete the default group" 409 DELETE \
    "/v2.0/security-groups/$defsg"
expect "group: delete a group in use" 409 DELETE "/v2.0/security-groups/$sg"
expect "port: an unknown group" 404 PUT "/v2.0/ports/$port" \
    "{\"port\": {\"security_groups\": [\"$nowhere\"]}}"
expect "port: a group that is not a UUID" 400 PUT "/v2.0/ports/$port" \
    '{"port": {"security_groups": ["web"]}}'
expect "port: port security off under its groups" 409 PUT \
    "/v2.0/ports/$port" '{"port": {"port_security_enabled": false}}'
bad_port "port: groups without port security" 400 \
    "\"port_security_enabled\": false, \"security_groups\": [\"$sg\"]"
bad_port "port: address pairs without port security" 409 \
    '"port_security_enabled": false,
     "allowed_address_pairs": [{"ip_address": "10.0.0.99"}]'
bad_port "port: a bad address pair" 400 \
    '"allowed_address_pairs": [{"ip_address": "10.0.0.300"}]'

# The router comes apart in order: routes, interface, router.
check "clear the routes" quiet api PUT "/v2.0/routers/$rtr" \
    '{"router": {"routes": []}}'
check "remove the interface" quiet api PUT \
    "/v2.0/routers/$rtr/remove_router_interface" "{\"subnet_id\": \"$sub\"}"
check "its port is gone (404)" \
    eval "api GET /v2.0/ports/$rif >/dev/null; [ \"\$(api_code)\" = 404 ]"
check "delete the router" api DELETE "/v2.0/routers/$rtr"

# The good path still works afterwards, and the delete order matters.
check "delete the port" api DELETE "/v2.0/ports/$port"
check "then its group deletes, with its rule" api DELETE \
    "/v2.0/security-groups/$sg"
check "the rule is gone (404)" eval "api GET \
    /v2.0/security-group-rules/$rule >/dev/null; [ \"\$(api_code)\" = 404 ]"
check "then the network deletes" api DELETE "/v2.0/networks/$net"
check "network is gone (404)" \
    eval "api GET /v2.0/networks/$net >/dev/null; [ \"\$(api_code)\" = 404 ]"
finish
