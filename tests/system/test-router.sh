#!/bin/bash
# test-router.sh -- a distributed router between subnets, with real clients.
#
# Tenant1 has router r1 with interfaces on A 10.1.0.0/24, B 10.2.0.0/24 and
# C 10.3.0.0/24 (network MTU 1300); D 10.4.0.0/24 joins later.  VMs (static
# addresses, default route via their gateway .1): a1 (hv1) 10.1.0.11, b1
# (hv1) 10.2.0.11, b2 (hv2) 10.2.0.12, c2 (hv2) 10.3.0.12, d2 (hv2)
# 10.4.0.12.  Checked:
#   - the gateways answer pings; a1 reaches b2 (other host) and b1 (same
#     host) with ICMP (TTL decremented once) and 8 MB TCP transfers;
#   - traceroute -n a1 -> b2 shows exactly the gateway 10.1.0.1, then b2;
#   - no route -> "Destination Net Unreachable" from 10.1.0.1; no such host
#     on a connected subnet -> "Destination Host Unreachable"; a1's
#     security group lets these errors in as related (ct_related);
#   - a static route 192.168.50.0/24 via b2 (ip_forward=1, 192.168.50.1 on
#     a dummy interface, or a veth where there is no dummy module) makes
#     192.168.50.1 reachable from a1; removing it while a ping runs makes
#     the ping fail from then on;
#   - adding D's interface while a1 pings d2 makes the ping start
#     succeeding; removing it makes it fail again;
#   - ping -M do -s 1400 to c2 (MTU 1300) gets "Frag needed and DF set
#     (mtu = 1300)", a 1300-byte packet passes;
#   - hv1's cached routed flow rewrites Ethernet and decrements the TTL;
#     the agent's route table (ctl routes) lists the connected subnets and
#     the static route;
#   - ICMP errors are rate limited: with --icmp-error-rate 10, 200 TTL=1
#     probes in about half a second get at most burst + rate * elapsed
#     (+ slack) "time exceeded" answers (counted by tcpdump in a1).
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
command -v traceroute >/dev/null || skip "traceroute not installed (make deps)"

RATE=10
WEFT_AGENT_OPTS="${WEFT_AGENT_OPTS:-} --icmp-error-rate $RATE"
topo_std 2
T=tenant1

read -r neta suba < <(tenant_subnet net-a $T 10.1.0.0/24)
read -r netb subb < <(tenant_subnet net-b $T 10.2.0.0/24)
netc=$(create_network net-c $T '"mtu": 1300') && subc=$(create_subnet \
    "$netc" 10.3.0.0/24 $T) || die "create net-c (mtu 1300): $(api_code)"
read -r netd subd < <(tenant_subnet net-d $T 10.4.0.0/24)
[ -n "${suba:-}" ] && [ -n "${subb:-}" ] && [ -n "${subd:-}" ] ||
    die "create networks: $(api_code)"
r1=$(create_router r1 $T) || die "create router: $(api_code)"
for s in "$suba" "$subb" "$subc"; do
    router_add_subnet "$r1" "$s" >/dev/null ||
        die "add_router_interface $s: $(api_code) $(api GET /v2.0/routers)"
done
w_log "router r1 = $r1"

vm_routed a1 hv1 "$neta" 10.1.0.11 $T 10.1.0.1
vm_routed b1 hv1 "$netb" 10.2.0.11 $T 10.2.0.1
vm_routed b2 hv2 "$netb" 10.2.0.12 $T 10.2.0.1
vm_routed c2 hv2 "$netc" 10.3.0.12 $T 10.3.0.1
vm_routed d2 hv2 "$netd" 10.4.0.12 $T 10.4.0.1
check "c2's eth0 has the network MTU 1300" \
    [ "$(vm_exec c2 cat /sys/class/net/eth0/mtu)" = 1300 ]

# ------------------------------------------------------------ forwarding
check "a1 pings its gateway 10.1.0.1" ping_wait a1 10.1.0.1 15
check "a1 gets 5 of 5 replies from 10.1.0.1" ping_all a1 10.1.0.1 5
check "b2 (hv2) pings its gateway 10.2.0.1" ping_wait b2 10.2.0.1 15
check "a1 (hv1) pings b2 (hv2) across the router" ping_wait a1 10.2.0.12 15
check "a1 -> b2: 10 of 10 replies" ping_all a1 10.2.0.12 10
check "b2 -> a1: 10 of 10 replies" ping_all b2 10.1.0.11 10
check "a1 pings b1 (same host) across the router" ping_wait a1 10.2.0.11 15
check "a1 -> b1: 10 of 10 replies" ping_all a1 10.2.0.11 10
f="$W_RUNDIR/ping-ttl.txt"
ping_log a1 "$f" -c 1 -W 2 10.2.0.12
check "b2's reply reaches a1 with TTL 63 (one router hop)" \
    grep -q 'ttl=63 ' "$f"

flows=$(ctl hv1 flows)
n=$(jq '[.flows[] | select((.actions | test("set_eth"))
                          and (.actions | test("dec_ttl")))] | length' \
    <<<"$flows" 2>/dev/null)
w_log "hv1: ${n:-?} flows with set_eth and dec_ttl, e.g.:" \
    "$(jq -r '[.flows[] | select(.actions | test("dec_ttl"))][0]
              | .match + " => " + .actions' <<<"$flows" 2>/dev/null)"
check "hv1 has a routed flow whose actions contain set_eth and dec_ttl" \
    [ "${n:-0}" -gt 0 ]

check "8 MB over TCP a1 -> b2 (routed, across hosts) arrives intact" \
    tcp_transfer a1 b2 10.2.0.12 8 5001
check "8 MB over TCP b2 -> a1 (routed, across hosts) arrives intact" \
    tcp_transfer b2 a1 10.1.0.11 8 5002
check "8 MB over TCP a1 -> b1 (routed, same host) arrives intact" \
    tcp_transfer a1 b1 10.2.0.11 8 5003

# ------------------------------------------------------------ traceroute
# trace_hops VM DST: traceroute -n from VM to DST (shown indented on
# stderr); prints the hop addresses, each followed by a space.
trace_hops() {
    local tr
    tr=$(vm_exec "$1" timeout 30 traceroute -n -q 1 -w 2 -m 6 "$2" 2>&1)
    sed 's/^/    /' <<<"$tr" >&2
    awk 'NR > 1 {print $2}' <<<"$tr" | tr '\n' ' '
}
hops=$(trace_hops a1 10.2.0.12)
check "traceroute a1 -> b2: exactly the gateway, then b2 ($hops)" \
    [ "$hops" = "10.1.0.1 10.2.0.12 " ]

# ------------------------------------------------------------ unreachables
f="$W_RUNDIR/ping-net.txt"
ping_log a1 "$f" -c 3 -i 0.4 -W 1 203.0.113.5
sed 's/^/    /' "$f" | head -4
check "ping 203.0.113.5 (no route): Net Unreachable from 10.1.0.1" \
    grep -q 'From 10.1.0.1 .*Destination Net Unreachable' "$f"
f="$W_RUNDIR/ping-host.txt"
ping_log a1 "$f" -c 3 -i 0.4 -W 2 10.2.0.99
sed 's/^/    /' "$f" | head -4
check "ping 10.2.0.99 (no such port on B): Destination Host Unreachable" \
    grep -q 'Destination Host Unreachable' "$f"
check_not "ping 10.2.0.99 got no echo reply" grep -q 'bytes from' "$f"
# a1's port is in its default group, which admits nothing from the
# router: its ICMP errors (here and in the traceroute) got in as related
# to a1's own connections.
check "hv1 admitted ICMP errors to a1 as related (ct_related)" \
    json_ok "$(ctl hv1 counters)" '.datapath.ct_related > 0'

# ------------------------------------------------------------ static route
# A dummy interface; where the dummy module is missing, a veth pair with
# both ends in b2 does the same.
{ vm_exec b2 ip link add lan0 type dummy 2>/dev/null ||
  vm_exec b2 ip link add lan0 type veth peer name lan1; } &&
    vm_exec b2 ip addr add 192.168.50.1/24 dev lan0 &&
    vm_exec b2 ip link set lan0 up &&
    { vm_exec b2 ip link set lan1 up 2>/dev/null || true; } &&
    vm_exec b2 sysctl -qw net.ipv4.ip_forward=1 ||
    die "b2: lan0 192.168.50.1 / ip_forward"
# b2 answers from 192.168.50.1: Neutron wants that in allowed_address_pairs.
api PUT "/v2.0/ports/${W_PORT[b2]}" '{"port": {"allowed_address_pairs":
    [{"ip_address": "192.168.50.0/24"}]}}' >/dev/null ||
    w_log "NOTE: allowed_address_pairs on b2: $(api_code)"
check_not "before the route, a1 cannot reach 192.168.50.1" \
    ping_ok a1 192.168.50.1 2
check "PUT router r1 routes 192.168.50.0/24 via 10.2.0.12" router_set_routes \
    "$r1" '[{"destination": "192.168.50.0/24", "nexthop": "10.2.0.12"}]'
check "a1 pings 192.168.50.1 through the static route" \
    ping_wait a1 192.168.50.1 15
check "a1 -> 192.168.50.1: 5 of 5 replies" ping_all a1 192.168.50.1 5

routes_has() {
    ctl "$1" "routes $r1" | jq -e --arg d "$2" --arg n "${3:-}" \
        '[.routes[] | select(.destination == $d
                             and ($n == "" or .nexthop == $n))]
         | length > 0' >/dev/null
}
rt=$(ctl hv1 "routes $r1")
w_log "hv1 routes of r1: $(jq -c '[.routes[] | [.destination, .type,
    (.nexthop // .interface_ip)]]' <<<"$rt" 2>/dev/null)"
check "hv1's agent routes 10.1.0.0/24 (connected)" \
    routes_has hv1 10.1.0.0/24
check "hv1's agent routes 10.2.0.0/24 (connected)" \
    routes_has hv1 10.2.0.0/24
check "hv2's agent has the static route 192.168.50.0/24 via 10.2.0.12" \
    routes_has hv2 192.168.50.0/24 10.2.0.12
check "weftctl router-routes shows the static route" \
    eval 'weftctl_host hv1 router-routes "$r1" | grep -q 192.168.50.0/24'

# bg_ping VM NAME DST COUNT: ping DST COUNT times, 0.2 s apart, in the
# background; output in $W_RUNDIR/NAME.log.  Sets W_LAST_PID.
bg_ping() {
    rm -f "$W_RUNDIR/$2.log"
    bg "$(vm_ns "$1")" "$2" timeout 60 ping -n -c "$4" -i 0.2 -W 1 "$3"
}
# seqs_summary NAME: "N replies, seq FIRST..LAST" of the ping log NAME.
seqs_summary() {
    local s
    s=$(ping_seqs "$W_RUNDIR/$1.log")
    echo "$(grep -c . <<<"$s") replies, seq $(head -1 <<<"$s")..$(tail -1 \
        <<<"$s")"
}
# replies_in NAME LO HI: how many seqs LO..HI got a reply in ping log NAME.
replies_in() {
    ping_seqs "$W_RUNDIR/$1.log" |
        awk -v lo="$2" -v hi="$3" '$1 >= lo && $1 <= hi {n++} END {print n+0}'
}

# Removing the route while a ping runs (60 pings, 12 s; removed at ~3 s).
bg_ping a1 ping-rt 192.168.50.1 60
sleep 3
check "PUT router r1 routes [] (removed while pinging)" \
    router_set_routes "$r1" '[]'
wait "$W_LAST_PID"
w_log "ping during the route removal: $(seqs_summary ping-rt)"
check "pings before the route removal were answered" \
    [ "$(replies_in ping-rt 1 12)" -ge 8 ]
check "no ping 3 s after the route removal was answered" \
    [ "$(replies_in ping-rt 31 60)" = 0 ]

# ------------------------------------------------------------ interfaces
check_not "before D's interface exists, a1 cannot reach d2 10.4.0.12" \
    ping_ok a1 10.4.0.12 2
bg_ping a1 ping-add 10.4.0.12 60
sleep 2
ifd=$(router_add_subnet "$r1" "$subd")
check "add_router_interface D while a1 pings d2" [ -n "$ifd" ]
wait "$W_LAST_PID"
first=$(ping_seqs "$W_RUNDIR/ping-add.log" | head -1)
w_log "ping during the interface add: $(seqs_summary ping-add)"
check "the pings before the add went unanswered (first: ${first:-none})" \
    [ "${first:-0}" -gt 5 ]
check "the pings after the add were answered" \
    [ "$(replies_in ping-add 31 60)" -ge 25 ]

bg_ping a1 ping-rm 10.4.0.12 60
sleep 3
check "remove_router_interface D while a1 pings d2" \
    router_remove_subnet "$r1" "$subd"
wait "$W_LAST_PID"
w_log "ping during the interface removal: $(seqs_summary ping-rm)"
check "pings before the interface removal were answered" \
    [ "$(replies_in ping-rm 1 12)" -ge 8 ]
check "no ping 3 s after the interface removal was answered" \
    [ "$(replies_in ping-rm 31 60)" = 0 ]
check "the interface port of D is gone" \
    eval '! api GET "/v2.0/ports/$ifd" >/dev/null && [ "$(api_code)" = 404 ]'

# ------------------------------------------------------------ router chain
# Tenant router r2 behind r1: r1 -- transit 10.99.0.0/24 -- r2 -- E.  r1
# takes the transit gateway 10.99.0.1 (by subnet), r2 a port created with
# 10.99.0.2 (by port_id).  One simulation crosses both routers.
read -r nett subt < <(tenant_subnet transit $T 10.99.0.0/24)
read -r nete sube < <(tenant_subnet net-e $T 10.5.0.0/24)
[ -n "${subt:-}" ] && [ -n "${sube:-}" ] || die "create transit/E: $(api_code)"
r2=$(create_router r2 $T) || die "create router r2: $(api_code)"
router_add_subnet "$r1" "$subt" >/dev/null || die "r1 + transit: $(api_code)"
p2=$(api POST /v2.0/ports "{\"port\": {\"network_id\": \"$nett\",
    \"project_id\": \"$T\", \"fixed_ips\": [{\"ip_address\": \"10.99.0.2\"}]}}" |
    jq -er .port.id) || die "transit port for r2: $(api_code)"
check "add_router_interface r2 by port_id (10.99.0.2)" eval \
    'api PUT "/v2.0/routers/$r2/add_router_interface" \
        "{\"port_id\": \"$p2\"}" >/dev/null'
router_add_subnet "$r2" "$sube" >/dev/null || die "r2 + E: $(api_code)"
check "r1 routes 10.5.0.0/24 via r2 (10.99.0.2)" router_set_routes "$r1" \
    '[{"destination": "10.5.0.0/24", "nexthop": "10.99.0.2"}]'
check "r2 routes 0.0.0.0/0 via r1 (10.99.0.1)" router_set_routes "$r2" \
    '[{"destination": "0.0.0.0/0", "nexthop": "10.99.0.1"}]'
vm_routed e2 hv2 "$nete" 10.5.0.12 $T 10.5.0.1
check "a1 (hv1) pings e2 (hv2) through two routers" ping_wait a1 10.5.0.12 15
f="$W_RUNDIR/ping-chain.txt"
ping_log a1 "$f" -c 1 -W 2 10.5.0.12
check "e2's reply reaches a1 with TTL 62 (two router hops)" \
    grep -q 'ttl=62 ' "$f"
check "8 MB over TCP a1 -> e2 through two routers arrives intact" \
    tcp_transfer a1 e2 10.5.0.12 8 5004
hops=$(trace_hops a1 10.5.0.12)
check "traceroute a1 -> e2: 10.1.0.1, 10.99.0.2, e2 ($hops)" \
    [ "$hops" = "10.1.0.1 10.99.0.2 10.5.0.12 " ]
check "hv1 has one flow to e2 that crossed both routers (dec_ttl(2))" \
    json_ok "$(ctl hv1 flows)" \
    '[.flows[] | select(.actions | test("dec_ttl\\(2\\)"))] | length > 0'

# ------------------------------------------------------------ MTU
check "a1 pings c2 (network MTU 1300)" ping_wait a1 10.3.0.12 15
f="$W_RUNDIR/ping-df.txt"
ping_log a1 "$f" -M "do" -s 1400 -c 2 -i 0.5 -W 1 10.3.0.12
sed 's/^/    /' "$f" | head -4
check "ping -M do -s 1400 to c2: Frag needed and DF set (mtu = 1300)" \
    grep -q 'From 10.1.0.1 .*Frag needed and DF set (mtu = 1300)' "$f"
f="$W_RUNDIR/ping-1300.txt"
ping_log a1 "$f" -M "do" -s 1272 -c 3 -i 0.3 -W 1 10.3.0.12
check "ping -M do -s 1272 (1300-byte packets) to c2: 3 of 3" \
    grep -q ' 3 received' "$f"

# ------------------------------------------------------------ ICMP rate
sleep 1.5       # A full bucket (burst = rate) for a1's port.
capture "$(vm_ns a1)" rate icmp
s0=$(date +%s%3N)
vm_exec a1 timeout 30 ping -n -q -t 1 -i 0.002 -c 200 -W 1 10.2.0.12 \
    >/dev/null 2>&1
s1=$(date +%s%3N)
pcap=$(capture_stop rate)
n_req=$(pcap_count "$pcap" 'icmp[icmptype] == icmp-echo')
n_err=$(pcap_count "$pcap" 'icmp[icmptype] == icmp-timxceed')
# Errors can only be sent while the probes flow: elapsed from the
# first probe to the last, at most the ping's run time.
bound=$(awk -v r=$RATE -v ms=$((s1 - s0)) \
    'BEGIN{printf "%d", r + r * ms / 1000 + 5}')
w_log "200 TTL=1 probes in $((s1 - s0)) ms: $n_req sent, $n_err time" \
    "exceeded answers (bound $bound with rate = burst = $RATE)"
check "the 200 TTL=1 probes left a1 ($n_req)" [ "$n_req" = 200 ]
check "some time exceeded answers arrived ($n_err)" [ "$n_err" -ge 1 ]
check "time exceeded answers are rate limited ($n_err <= $bound)" \
    [ "$n_err" -le "$bound" ]
check "hv1 counts rate-limited ICMP errors" \
    json_ok "$(ctl hv1 counters)" '.datapath.icmp_errors_rate_limited > 0'
finish
