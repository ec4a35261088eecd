#!/bin/bash
# test-sg-ipv6.sh -- security groups and port security for IPv6, with real
# stacks.  The network has an IPv4 and an IPv6 subnet; each VM gets an
# address from both.  vm1 (hv1) and vm2 (hv2) are in their project's
# default group (all out; in only from members, IPv4 and IPv6); vm3 (hv2)
# is only in "web6" (all out; in: TCP 8080 over IPv6 from anywhere,
# "icmp" -- ICMPv6 for an IPv6 rule -- from vm1's address only).
# Checked: members ping each other over IPv6 (neighbor discovery passes);
# a non-member is refused; only 8080 of vm3 answers; the /128 rule admits
# vm1 and not vm2; a member leaving the group is refused at once; scapy
# frames from vm1 with a spoofed IPv6 source, a neighbor advertisement for
# vm2's address and a router advertisement do not arrive, and each is
# counted under its drop reason.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
command -v nc >/dev/null || skip "nc not installed (make deps)"
/usr/bin/python3 -c 'import scapy' 2>/dev/null ||
    skip "python3-scapy not installed (make deps)"
topo_std 2
P=tenant1

net=$(tenant_net net1 $P 10.0.0.0/24) || die "create network"
sub6=$(api POST /v2.0/subnets "{\"subnet\": {\"network_id\": \"$net\",
    \"cidr\": \"fd00:1::/64\", \"ip_version\": 6, \"project_id\": \"$P\"}}" |
    jq -er .subnet.id) || die "create IPv6 subnet: $(api_code)"

# vm6 VM HOST IP4: a VM with an IPv4 and an IPv6 fixed IP; sets IP6[VM].
declare -A IP6=()
vm6() {
    local ip6
    vm_port "$1" "$2" "$net" "$3" $P
    ip6=$(api PUT "/v2.0/ports/${W_PORT[$1]}" "{\"port\": {\"fixed_ips\":
        [{\"ip_address\": \"$3\"}, {\"subnet_id\": \"$sub6\"}]}}" |
        jq -er '.port.fixed_ips[] | select(.ip_address | contains(":"))
                | .ip_address') || die "IPv6 address for $1: $(api_code)"
    IP6[$1]=$ip6
    # netns.sh turns IPv6 off in every namespace; this VM needs it.
    vm_exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 \
        net.ipv6.conf.eth0.disable_ipv6=0 >/dev/null ||
        die "enable IPv6 in $1"
    vm_exec "$1" ip -6 addr add "$ip6/64" dev eth0 nodad ||
        die "configure $ip6 in $1"
    w_log "$1: $3 $ip6"
}
vm6 vm1 hv1 10.0.0.11
vm6 vm2 hv2 10.0.0.12
vm6 vm3 hv2 10.0.0.20

web=$(sg_create web6 $P) || die "create group web6: $(api_code)"
rule() { sg_rule "$web" $P "\"ethertype\": \"IPv6\", $1"; }
rule '"direction": "ingress", "protocol": "tcp", "port_range_min": 8080,
    "port_range_max": 8080' >/dev/null || die "rule 8080: $(api_code)"
rule "\"direction\": \"ingress\", \"protocol\": \"icmp\",
    \"remote_ip_prefix\": \"${IP6[vm1]}/128\"" >/dev/null ||
    die "rule icmp: $(api_code)"
api PUT "/v2.0/ports/${W_PORT[vm3]}" \
    "{\"port\": {\"security_groups\": [\"$web\"]}}" >/dev/null ||
    die "vm3 into web6: $(api_code)"
sleep 1

check "vm1 pings vm2 over IPv6 (default group: from members)" \
    ping_wait vm1 "${IP6[vm2]}" 15
check "vm2 pings vm1 over IPv6" ping_all vm2 "${IP6[vm1]}" 3
check_not "vm3 (not a member) cannot ping vm1 over IPv6" \
    ping_ok vm3 "${IP6[vm1]}" 2

listen() {
    bg "$(vm_ns "$1")" "nc-$1-$2" timeout 60 bash -c \
        "for i in \$(seq 20); do echo hello from $1 | nc -6 -l -q 1 -p $2; done"
}
tcp_ok() {
    vm_exec "$1" timeout 5 nc -6 -w 2 "$2" "$3" </dev/null 2>/dev/null |
        grep -q hello
}
listen vm3 8080
listen vm3 8081
sleep 0.5
check "vm1 reaches vm3:8080 over IPv6 (web6 allows it)" \
    tcp_ok vm1 "${IP6[vm3]}" 8080
check_not "vm1 cannot reach vm3:8081 over IPv6 (no rule)" \
    tcp_ok vm1 "${IP6[vm3]}" 8081
check "vm1 pings vm3 over IPv6 (its /128 and \"icmp\" as ICMPv6)" \
    ping_wait vm1 "${IP6[vm3]}" 10
check_not "vm2 cannot ping vm3 over IPv6 (not in the prefix)" \
    ping_ok vm2 "${IP6[vm3]}" 2

# Membership: vm2 leaves the default group; vm1 refuses it at once.
check "vm2 leaves the default group" \
    api PUT "/v2.0/ports/${W_PORT[vm2]}" \
    "{\"port\": {\"security_groups\": [\"$web\"]}}" >/dev/null
sleep 1
check_not "vm2 (no longer a member) cannot ping vm1 over IPv6" \
    ping_ok vm2 "${IP6[vm1]}" 2
api PUT "/v2.0/ports/${W_PORT[vm2]}" \
    '{"port": {"security_groups": []}}' >/dev/null
port_unfiltered "${W_PORT[vm2]}" || die "unfilter vm2: $(api_code)"
sleep 1

# Port security, with scapy frames from vm1 to vm2 (now unfiltered, so
# that only vm1's anti-spoofing decides).
mac1=$(vm_mac vm1)
mac2=$(vm_mac vm2)
ll1=$(vm_exec vm1 ip -6 -o addr show dev eth0 scope link |
    awk '{print $4}' | cut -d/ -f1)
[ -n "$ll1" ] || die "vm1 has no link-local address"
n_seen() { n_arrived vm1 vm2 "$@"; }
E="Ether(src='$mac1', dst='$mac2')"
check "IPv6 from vm1's own address: 5 of 5 arrive" \
    [ "$(n_seen ok6 "$E/IPv6(src='${IP6[vm1]}', dst='${IP6[vm2]}')/UDP(sport=4000, dport=9)" \
        udp port 9)" = 5 ]
check "IPv6 from a spoofed source: none arrives" \
    [ "$(n_seen ip6 "$E/IPv6(src='fd00:1::99', dst='${IP6[vm2]}')/UDP(sport=4000, dport=9)" \
        udp port 9)" = 0 ]
check "a neighbor advertisement for vm2's address: none arrives" \
    [ "$(n_seen na "$E/IPv6(src='${IP6[vm1]}', dst='${IP6[vm2]}')/ICMPv6ND_NA(tgt='${IP6[vm2]}', R=0, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr='$mac1')" \
        icmp6 and 'ip6[40] == 136')" = 0 ]
check "a neighbor advertisement for its own address: 5 of 5 arrive" \
    [ "$(n_seen na_ok "$E/IPv6(src='${IP6[vm1]}', dst='${IP6[vm2]}')/ICMPv6ND_NA(tgt='${IP6[vm1]}', R=0, S=0, O=1)/ICMPv6NDOptDstLLAddr(lladdr='$mac1')" \
        icmp6 and 'ip6[40] == 136')" = 5 ]
check "a router advertisement from vm1: none arrives" \
    [ "$(n_seen ra "Ether(src='$mac1', dst='33:33:00:00:00:01')/IPv6(src='$ll1', dst='ff02::1')/ICMPv6ND_RA()" \
        icmp6 and 'ip6[40] == 134')" = 0 ]
cnt=$(ctl hv1 counters)
for r in spoofed_ip spoofed_nd router_advert_vm; do
    check "hv1 counts drops as $r" json_ok "$cnt" ".drops.$r >= 5"
done
finish
