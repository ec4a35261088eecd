#!/bin/bash
# test-api-errors.sh -- the Neutron API rejects bad input with Neutron's
# status codes and a {"NeutronError": {"type", "message", ...}} body, and a
# rejected request changes nothing (a GET of every collection afterwards is
# identical to the one before).  Controller only; no agents needed.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller
topo_fabric
start_controller

net=$(tenant_net api t1 10.0.0.0/24) || die "create network"
port=$(create_port "$net" hv1 10.0.0.11 t1) || die "create port"
mac=$(port_field "$port" mac_address)

state() {
    local c
    for c in networks subnets ports; do
        api GET "/v2.0/$c" | jq -S "[.$c[]] | sort_by(.id)"
    done
}
before=$(state)
# The comparisons below mean something only if the state was read.
n=$(grep -c "\"$net\"" <<<"$before")
check "the state holds the network, its subnet and its port ($n refs)" \
    [ "$n" -ge 3 ]

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

# The good path still works afterwards, and the delete order matters.
check "delete the port" api DELETE "/v2.0/ports/$port"
check "then the network deletes" api DELETE "/v2.0/networks/$net"
check "network is gone (404)" \
    eval "api GET /v2.0/networks/$net >/dev/null; [ \"\$(api_code)\" = 404 ]"
finish
