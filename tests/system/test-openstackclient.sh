#!/bin/bash
# test-openstackclient.sh -- drives weft-controller with Debian's real
# python3-openstackclient (auth type none) over HTTP on 127.0.0.1:
# network/subnet/port create, list, show, set, delete; router create,
# add/remove subnet and port, set/unset --route, show, delete; security
# group create/show/list/delete, security group rule create (port range
# and remote IP prefix, remote group)/list/delete, port set
# --security-group, --no-security-group --disable-port-security; agent list
# and delete (after a Weft agent report), then restarts the controller on
# the same SQLite store and checks that the objects survived.
#
# Prints "PASS name" / "FAIL name" lines and a final
# "openstackclient: N passed, N failed"; exits 1 on any failure, 77 (skip)
# if /usr/bin/openstack is missing.
#
#   tests/system/test-openstackclient.sh [path/to/weft-controller]

set -u

TOP=$(cd "$(dirname "$0")/../.." && pwd)
CONTROLLER=${1:-$TOP/build/bin/weft-controller}
OPENSTACK=/usr/bin/openstack

if [ ! -x "$OPENSTACK" ]; then
    echo "SKIP: $OPENSTACK not found (apt-get install python3-openstackclient)"
    echo "openstackclient: SKIPPED"
    exit 77
fi
if [ ! -x "$CONTROLLER" ]; then
    echo "FAIL: $CONTROLLER not built (run make)"
    echo "openstackclient: 0 passed, 1 failed"
    exit 1
fi

TMP=$(mktemp -d /tmp/weft-osc.XXXXXX)
STORE="sqlite:$TMP/weft.db"
PID=
passed=0
failed=0

cleanup() {
    if [ -n "$PID" ]; then
        kill "$PID" 2>/dev/null
        wait "$PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1${2:+: $2}"; failed=$((failed + 1)); }

# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then
        pass "$1"
    else
        fail "$1" "expected '$2', got '$3'"
    fi
}

free_port() {
    /usr/bin/python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

start_controller() {
    "$CONTROLLER" --listen "127.0.0.1:$PORT" --store "$STORE" \
        >>"$TMP/controller.log" 2>&1 &
    PID=$!
    for _ in $(seq 1 50); do
        if /usr/bin/python3 - "$PORT" <<'EOF' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen("http://127.0.0.1:%s/" % sys.argv[1], timeout=1)
EOF
        then
            return 0
        fi
        if ! kill -0 "$PID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "controller did not start; log:"
    cat "$TMP/controller.log"
    return 1
}

stop_controller() {
    kill -TERM "$PID"
    local status=0
    wait "$PID" || status=$?
    PID=
    return $status
}

PORT=$(free_port)
os() {
    "$OPENSTACK" --os-auth-type none \
        --os-endpoint "http://127.0.0.1:$PORT" "$@" 2>>"$TMP/osc.err"
}

if ! start_controller; then
    fail controller-start
    echo "openstackclient: $passed passed, $failed failed"
    exit 1
fi
pass controller-start

# Networks.
NET=$(os network create net1 -f value -c id)
if [[ "$NET" =~ ^[0-9a-f-]{36}$ ]]; then pass network-create; else
    fail network-create "$NET"; fi
check network-create-dup-name-ok 36 \
    "$(os network create net2 -f value -c id | tr -d '\n' | wc -c)"
check network-show-mtu 1442 "$(os network show net1 -f value -c mtu)"
check network-show-type geneve \
    "$(os network show net1 -f value -c provider:network_type)"
check network-list-count 2 "$(os network list -f value -c ID | wc -l)"
os network set --name net1b --description blue net1 && pass network-set \
    || fail network-set
check network-show-renamed "blue net1b" \
    "$(os network show "$NET" -f value -c name -c description | tr '\n' ' ' \
       | sed 's/ $//')"
check network-show-admin-state True \
    "$(os network show net1b -f value -c admin_state_up)"
os network set --disable net1b && \
    check network-set-disable False \
        "$(os network show net1b -f value -c admin_state_up)"

# Subnets.
SUB=$(os subnet create --network net1b --subnet-range 10.10.0.0/24 sub1 \
      -f value -c id)
if [[ "$SUB" =~ ^[0-9a-f-]{36}$ ]]; then pass subnet-create; else
    fail subnet-create "$SUB"; fi
check subnet-gateway 10.10.0.1 "$(os subnet show sub1 -f value -c gateway_ip)"
check subnet-pool "[{'start': '10.10.0.2', 'end': '10.10.0.254'}]" \
    "$(os subnet show sub1 -f value -c allocation_pools)"
check network-subnets "['$SUB']" "$(os network show net1b -f value -c subnets)"
if os subnet create --network net1b --subnet-range 10.10.0.128/25 bad \
       -f value -c id >/dev/null; then
    fail subnet-overlap-rejected
else
    pass subnet-overlap-rejected
fi
SUB6=$(os subnet create --network net1b --ip-version 6 \
       --subnet-range fd00:10::/64 sub6 -f value -c id)
check subnet6-cidr fd00:10::/64 "$(os subnet show sub6 -f value -c cidr)"
os subnet set --name sub1b sub1 && pass subnet-set || fail subnet-set
check subnet-list-count 2 "$(os subnet list -f value -c ID | wc -l)"
check subnet-list-network 2 \
    "$(os subnet list --network net1b -f value -c ID | wc -l)"

# Ports.
P1=$(os port create --network net1b p1 -f value -c id)
if [[ "$P1" =~ ^[0-9a-f-]{36}$ ]]; then pass port-create; else
    fail port-create "$P1"; fi
check port-status DOWN "$(os port show p1 -f value -c status)"
MAC=$(os port show p1 -f value -c mac_address)
if [[ "$MAC" =~ ^fa:16:3e:[0-9a-f]{2}:[0-9a-f]{2}:[0-9a-f]{2}$ ]]; then
    pass port-mac; else fail port-mac "$MAC"; fi
P2=$(os port create --network net1b \
     --fixed-ip subnet=sub1b,ip-address=10.10.0.50 --host hv1 \
     --binding-profile interface_name=vm1-eth0 p2 -f value -c id)
if [[ "$P2" =~ ^[0-9a-f-]{36}$ ]]; then pass port-create-fixed-ip; else
    fail port-create-fixed-ip "$P2"; fi
check port-fixed-ip "[{'subnet_id': '$SUB', 'ip_address': '10.10.0.50'}]" \
    "$(os port show p2 -f value -c fixed_ips)"
check port-host hv1 "$(os port show p2 -f value -c binding_host_id)"
check port-profile "{'interface_name': 'vm1-eth0'}" \
    "$(os port show p2 -f value -c binding_profile)"
if os port create --network net1b \
       --fixed-ip subnet=sub1b,ip-address=10.10.0.50 dup -f value -c id \
       >/dev/null; then
    fail port-duplicate-ip-rejected
else
    pass port-duplicate-ip-rejected
fi
check port-list-count 2 "$(os port list -f value -c ID | wc -l)"
check port-list-network 2 \
    "$(os port list --network net1b -f value -c ID | wc -l)"
os port set --name p2b --fixed-ip subnet=sub1b,ip-address=10.10.0.60 \
    --no-fixed-ip p2 && pass port-set || fail port-set
check port-set-fixed-ip "[{'subnet_id': '$SUB', 'ip_address': '10.10.0.60'}]" \
    "$(os port show p2b -f value -c fixed_ips)"
P3=$(os port create --network net1b \
     --fixed-ip subnet=sub1b,ip-address=10.10.0.50 p3 -f value -c id)
if [[ "$P3" =~ ^[0-9a-f-]{36}$ ]]; then pass port-reuse-freed-ip; else
    fail port-reuse-freed-ip "$P3"; fi
if os network delete net1b; then
    fail network-delete-in-use-rejected
else
    pass network-delete-in-use-rejected
fi

# Routers.
RTR=$(os router create r1 -f value -c id)
if [[ "$RTR" =~ ^[0-9a-f-]{36}$ ]]; then pass router-create; else
    fail router-create "$RTR"; fi
RJ=$(os router show r1 -f json)
check router-show-fields "ACTIVE true false null 0" \
    "$(jq -r '[.status, .distributed, .ha, .external_gateway_info,
               (.routes | length)] | map(tostring) | join(" ")' <<<"$RJ")"
os router add subnet r1 sub1b && pass router-add-subnet \
    || fail router-add-subnet
RJ=$(os router show r1 -f json)
check router-interface-ip "10.10.0.1 $SUB" \
    "$(jq -r '.interfaces_info | map(.ip_address + " " + .subnet_id)
              | join(",")' <<<"$RJ")"
RPORT=$(jq -r '.interfaces_info[0].port_id' <<<"$RJ")
check router-interface-port "network:router_interface $RTR ACTIVE" \
    "$(os port show "$RPORT" -f json |
       jq -r '[.device_owner, .device_id, .status] | join(" ")')"
if os router add subnet r1 sub1b; then fail router-add-subnet-twice-rejected
else pass router-add-subnet-twice-rejected; fi
os router set --route destination=10.20.0.0/16,gateway=10.10.0.254 r1 \
    && pass router-set-route || fail router-set-route
check router-show-route "10.20.0.0/16 via 10.10.0.254" \
    "$(os router show r1 -f json |
       jq -r '.routes | map(.destination + " via " + .nexthop) | join(",")')"
if os router set --route destination=10.21.0.0/16,gateway=10.99.0.1 r1; then
    fail router-route-unconnected-rejected
else
    pass router-route-unconnected-rejected
fi
check router-route-unchanged 1 \
    "$(os router show r1 -f json | jq '.routes | length')"
if os router remove subnet r1 sub1b; then
    fail router-remove-subnet-used-by-route-rejected
else
    pass router-remove-subnet-used-by-route-rejected
fi
if os port delete "$RPORT"; then fail router-port-delete-rejected; else
    pass router-port-delete-rejected; fi
if os router delete r1; then fail router-delete-in-use-rejected; else
    pass router-delete-in-use-rejected; fi
os router unset --route destination=10.20.0.0/16,gateway=10.10.0.254 r1 \
    && pass router-unset-route || fail router-unset-route
check router-routes-empty '[]' "$(os router show r1 -f json | jq -c .routes)"
os router remove subnet r1 sub1b && pass router-remove-subnet \
    || fail router-remove-subnet
check router-interface-gone 0 \
    "$(os port list --device-id "$RTR" -f value -c ID | wc -l)"
os subnet create --network net2 --subnet-range 10.30.0.0/24 sub2 \
    -f value -c id >/dev/null || fail subnet-create-net2
RP=$(os port create --network net2 rp -f value -c id)
os router add port r1 rp && pass router-add-port || fail router-add-port
check router-add-port-owner "network:router_interface $RTR 10.30.0.2" \
    "$(os port show rp -f json |
       jq -r '[.device_owner, .device_id, .fixed_ips[0].ip_address]
              | join(" ")')"
os router remove port r1 rp && pass router-remove-port \
    || fail router-remove-port
if os port show "$RP" -f value -c id >/dev/null; then
    fail router-remove-port-deletes-it
else
    pass router-remove-port-deletes-it
fi
check router-list r1 "$(os router list -f value -c Name)"

# Security groups.  The project's default group exists (the ports above
# got it), with its four rules.
DEF=$(os security group show default -f json | jq -r .id)
if [[ "$DEF" =~ ^[0-9a-f-]{36}$ ]]; then pass sg-default-exists; else
    fail sg-default-exists "$DEF"; fi
check sg-default-rules \
    "egress IPv4 -,egress IPv6 -,ingress IPv4 $DEF,ingress IPv6 $DEF" \
    "$(os security group show default -f json | jq -r '[.rules[] |
        "\(.direction) \(.ethertype) \(.remote_group_id // "-")"] | sort |
        join(",")')"
check sg-port-default "[\"$DEF\"]" \
    "$(os port show p1 -f json | jq -c .security_group_ids)"
SG=$(os security group create web --description "web servers" -f json |
     jq -r .id)
if [[ "$SG" =~ ^[0-9a-f-]{36}$ ]]; then pass sg-create; else
    fail sg-create "$SG"; fi
# A new group lets everything out (Neutron): two egress rules.
check sg-create-fields "web|web servers|true|2" \
    "$(os security group show web -f json |
       jq -r '"\(.name)|\(.description)|\(.stateful)|\(.rules | length)"')"
check sg-list "default,web" \
    "$(os security group list -f json | jq -r 'map(.Name) | sort | join(",")')"
if os security group create default >/dev/null; then
    fail sg-create-default-rejected
else
    pass sg-create-default-rejected
fi
R1=$(os security group rule create --protocol tcp --dst-port 22 \
     --remote-ip 10.0.0.0/24 web -f json)
check sg-rule-create "ingress IPv4 tcp 22 22 10.0.0.0/24 $SG" \
    "$(jq -r '"\(.direction) \(.ether_type) \(.protocol) \(.port_range_min)
        \(.port_range_max) \(.remote_ip_prefix) \(.security_group_id)"' \
        <<<"$R1" | tr '\n' ' ' | tr -s ' ' | sed 's/ $//')"
R1=$(jq -r .id <<<"$R1")
R2=$(os security group rule create --protocol icmp --remote-group default \
     web -f json)
check sg-rule-remote-group "icmp $DEF null" \
    "$(jq -r '"\(.protocol) \(.remote_group_id) \(.remote_ip_prefix)"' \
        <<<"$R2")"
R2=$(jq -r .id <<<"$R2")
if os security group rule create --protocol tcp --dst-port 22 \
       --remote-ip 10.0.0.0/24 web >/dev/null; then
    fail sg-rule-duplicate-rejected
else
    pass sg-rule-duplicate-rejected
fi
if os security group rule create --protocol tcp --dst-port 80:22 web \
       >/dev/null; then
    fail sg-rule-bad-range-rejected
else
    pass sg-rule-bad-range-rejected
fi
check sg-rule-list "$(printf '%s\n' "$R1" "$R2" | sort | tr '\n' ' ')" \
    "$(os security group rule list web --ingress -f json | jq -r '.[].ID' |
       sort | tr '\n' ' ')"
check sg-show-rules 4 "$(os security group show web -f json |
    jq '.rules | length')"
os security group rule delete "$R2" && pass sg-rule-delete \
    || fail sg-rule-delete
check sg-rule-list-after-delete "$R1" \
    "$(os security group rule list web --ingress -f json | jq -r '.[].ID')"
os port set --security-group web p1 && pass port-set-security-group \
    || fail port-set-security-group
check port-security-groups "$(printf '%s\n' "$DEF" "$SG" | sort |
    tr '\n' ' ')" \
    "$(os port show p1 -f json | jq -r '.security_group_ids[]' | sort |
       tr '\n' ' ')"
if os security group delete web; then fail sg-delete-in-use-rejected; else
    pass sg-delete-in-use-rejected; fi
if os security group delete default; then
    fail sg-delete-default-rejected
else
    pass sg-delete-default-rejected
fi
os port set --no-security-group --disable-port-security p1 \
    && pass port-set-no-security-group || fail port-set-no-security-group
check port-no-security "[] false" \
    "$(os port show p1 -f json |
       jq -c '.security_group_ids, .port_security_enabled' | tr '\n' ' ' |
       sed 's/ $//')"
if os port set --security-group web p1; then
    fail port-set-security-group-without-port-security-rejected
else
    pass port-set-security-group-without-port-security-rejected
fi
os security group delete web && pass sg-delete || fail sg-delete
check sg-delete-took-rules 4 \
    "$(os security group rule list -f json | jq length)"

# Agents: one registers through Weft's report endpoint (as weft-agent
# does); the client lists it, alive, by its host.
if /usr/bin/python3 - "$PORT" <<'EOF' 2>>"$TMP/osc.err"
import json, sys, urllib.request
body = json.dumps({"agent": {"host": "hv1", "tunnel_ip": "198.18.0.11"}})
req = urllib.request.Request(
    "http://127.0.0.1:%s/v2.0/weft/agents/report" % sys.argv[1],
    data=body.encode(), method="POST",
    headers={"Content-Type": "application/json"})
urllib.request.urlopen(req, timeout=5)
EOF
then pass agent-report; else fail agent-report; fi
check agent-list-host hv1 "$(os network agent list -f value -c Host)"
check agent-list-alive True "$(os network agent list -f value -c Alive)"
AGENT=$(os network agent list -f value -c ID)

# Restart on the same store: everything is still there.
if stop_controller; then pass controller-sigterm-exit; else
    fail controller-sigterm-exit; fi
if start_controller; then pass controller-restart; else
    fail controller-restart; fi
check restart-network "$NET" "$(os network show net1b -f value -c id)"
check restart-subnet "$SUB" "$(os subnet show sub1b -f value -c id)"
check restart-port "[{'subnet_id': '$SUB', 'ip_address': '10.10.0.60'}]" \
    "$(os port show p2b -f value -c fixed_ips)"
check restart-port-count 3 "$(os port list -f value -c ID | wc -l)"
check restart-network-count 2 "$(os network list -f value -c ID | wc -l)"
check restart-agent "$AGENT" \
    "$(os network agent list --host hv1 -f value -c ID)"
check restart-router "$RTR" "$(os router show r1 -f value -c id)"
check restart-security-group "$DEF" \
    "$(os security group show default -f value -c id)"

# Deletes.
os router delete r1 && pass router-delete || fail router-delete
check router-list-empty 0 "$(os router list -f value -c ID | wc -l)"
os port delete p1 p2b p3 && pass port-delete || fail port-delete
os network agent delete "$AGENT" && pass agent-delete || fail agent-delete
check agent-list-empty 0 "$(os network agent list -f value -c ID | wc -l)"
check port-list-empty 0 "$(os port list -f value -c ID | wc -l)"
os subnet delete sub6 && pass subnet-delete || fail subnet-delete
os network delete net1b net2 && pass network-delete || fail network-delete
check network-list-empty 0 "$(os network list -f value -c ID | wc -l)"
check subnet-list-empty 0 "$(os subnet list -f value -c ID | wc -l)"

if [ "$failed" -ne 0 ]; then
    echo "--- openstack stderr:"
    tail -20 "$TMP/osc.err"
    echo "--- controller log:"
    tail -20 "$TMP/controller.log"
fi
echo "openstackclient: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
