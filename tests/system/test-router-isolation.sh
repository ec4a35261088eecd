#!/bin/bash
# test-router-isolation.sh -- two tenants with identical routed topologies.
#
# Tenants t1 and t2 each have networks A 10.1.0.0/24 and B 10.2.0.0/24, a
# router of their own with an interface on both (the same gateway IPs,
# 10.1.0.1 and 10.2.0.1), and VMs with the same addresses on the same two
# hosts: tXa (hv1) 10.1.0.11, tXb (hv2) 10.2.0.12; t2 also has t2c (hv2)
# 10.2.0.13.  Checked, for each tenant: its VM's gateway resolves to its
# own router's MAC; a cross-subnet ping from tXa reaches its own tXb, whose
# frames come from its own router's MAC on B, while the other tenant's VM
# at the same address sees no frame at all; a TCP service in each tXb
# answers with its tenant's name, and each tenant's client hears its own;
# the reverse direction works; and an address only t2 uses is
# unreachable from t1.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
topo_std 2

declare -A RMAC=()
for t in t1 t2; do
    read -r na sa < <(tenant_subnet "$t-a" "$t" 10.1.0.0/24)
    read -r nb sb < <(tenant_subnet "$t-b" "$t" 10.2.0.0/24)
    [ -n "${sa:-}" ] && [ -n "${sb:-}" ] || die "networks of $t: $(api_code)"
    r=$(create_router "$t-router" "$t") || die "router of $t: $(api_code)"
    pa=$(router_add_subnet "$r" "$sa") || die "$t: interface A: $(api_code)"
    pb=$(router_add_subnet "$r" "$sb") || die "$t: interface B: $(api_code)"
    RMAC[$t-a]=$(port_field "$pa" mac_address)
    RMAC[$t-b]=$(port_field "$pb" mac_address)
    check "$t's router interface on A has the gateway IP 10.1.0.1" \
        [ "$(port_field "$pa" 'fixed_ips[0].ip_address')" = 10.1.0.1 ]
    vm_routed "${t}a" hv1 "$na" 10.1.0.11 "$t" 10.1.0.1
    vm_routed "${t}b" hv2 "$nb" 10.2.0.12 "$t" 10.2.0.1
    [ "$t" = t2 ] && vm_routed t2c hv2 "$nb" 10.2.0.13 "$t" 10.2.0.1
done
w_log "router MACs: t1 A ${RMAC[t1-a]} B ${RMAC[t1-b]};" \
    "t2 A ${RMAC[t2-a]} B ${RMAC[t2-b]}"
check "the two tenants' routers have different MACs on A" \
    [ "${RMAC[t1-a]}" != "${RMAC[t2-a]}" ]

# routed_isolated SRC DST_IP OWN OTHER RMAC: SRC pings DST_IP, which is OWN
# in SRC's tenant and OTHER in the other one.  OWN must see the pings, sent
# by its router (source MAC RMAC); OTHER must see no frame at all.
routed_isolated() {
    local src=$1 ip=$2 own=$3 other=$4 rmac=$5 n_own n_rtr n_other pcap
    capture "$(vm_ns "$own")" "$own" icmp
    capture "$(vm_ns "$other")" "$other"
    check "$src pings $ip across its router" ping_wait "$src" "$ip" 15
    check "$src gets 10 of 10 replies from $ip" ping_all "$src" "$ip" 10
    pcap=$(capture_stop "$own")
    n_own=$(pcap_count "$pcap" 'icmp[icmptype] == icmp-echo')
    n_rtr=$(pcap_count "$pcap" \
        "icmp[icmptype] == icmp-echo and ether src $rmac")
    n_other=$(pcap_count "$(capture_stop "$other")")
    w_log "$src -> $ip: $own saw $n_own echo requests ($n_rtr from" \
        "$rmac), $other saw $n_other frames"
    check "$own saw $src's echo requests ($n_own)" [ "$n_own" -ge 10 ]
    check "all of them came from its own router's MAC $rmac ($n_rtr)" \
        [ "$n_rtr" = "$n_own" ]
    check "the other tenant's $ip ($other) saw no frame ($n_other)" \
        [ "$n_other" = 0 ]
}

for t in t1 t2; do
    o=$([ $t = t1 ] && echo t2 || echo t1)
    check "${t}a resolves its gateway 10.1.0.1" ping_wait "${t}a" 10.1.0.1 15
    neigh=$(vm_exec "${t}a" ip neigh show 10.1.0.1 dev eth0)
    w_log "${t}a's neighbour 10.1.0.1: $neigh"
    check "${t}a's gateway is its own router (${RMAC[$t-a]})" \
        grep -qi "${RMAC[$t-a]}" <<<"$neigh"
    routed_isolated "${t}a" 10.2.0.12 "${t}b" "${o}b" "${RMAC[$t-b]}"
    routed_isolated "${t}b" 10.1.0.11 "${t}a" "${o}a" "${RMAC[$t-a]}"
done

# A TCP service in each tenant's 10.2.0.12 says whose it is.
for t in t1 t2; do
    bg "$(vm_ns "${t}b")" "nc-$t" timeout 30 \
        bash -c "echo $t | nc -l -p 7000 -N"
done
for t in t1 t2; do
    wait_for "vm_exec ${t}b ss -Hltn 'sport = :7000' | grep -q LISTEN" 5 ||
        fail "nc in ${t}b did not listen"
done
for t in t1 t2; do
    got=$(vm_exec "${t}a" timeout 10 nc -N -w 5 10.2.0.12 7000 </dev/null \
        2>/dev/null)
    check "${t}a's TCP to 10.2.0.12:7000 reaches $t's VM (got '$got')" \
        [ "$got" = "$t" ]
done

check_not "t1a cannot reach 10.2.0.13 (only t2 has it)" \
    ping_ok t1a 10.2.0.13 3
check "t2a reaches 10.2.0.13" ping_wait t2a 10.2.0.13 15
finish
