#!/bin/bash
# path-weft.sh ENCAP [switched|routed] -- Weft on the same 2-host topology
# as path-kvxlan.sh: fabric bridge, hv1/hv2 with weft-agent, the controller
# in the fabric namespace.  ENCAP is geneve (default) or vxlan.
#
#   switched (default)  one network 10.0.0.0/24, vm1 (hv1) 10.0.0.11 ->
#                       vm2 (hv2) 10.0.0.12; path "weft-ENCAP"
#   open                as switched, the ports without security groups
#                       or port security; path "weft-open" (the baseline
#                       of the security-group cases), "weft-vxlan-open"
#                       with VXLAN: every cached flow runs in the kernel
#                       fast path (datapath/kpath.h); with WEFT_AGENT_OPTS
#                       containing "--fastpath off", the path name gets
#                       "-agent" (the same traffic, all in the agents)
#   sg1000              as switched, the ports also in a group of 1,000
#                       rules that match none of the traffic (evaluated
#                       before the default group's remote-group rule
#                       that admits it); path "weft-sg1000"
#   sg-ab               the security-group cost measured A/B on one
#                       topology: the UDP and connection-rate tests run
#                       $B_AB_ROUNDS (4) times alternately with the ports
#                       open (as "open") and in the 1,000-rule group (as
#                       "sg1000"), switched through the API between
#                       measurements; reports each arm's median and the
#                       ratios sg/open (path "weft-sg-ab").  Separate
#                       topologies differ by more than the effect.
#   routed              networks 10.1.0.0/24 and 10.2.0.0/24 joined by a
#                       distributed router, vm1 (hv1) 10.1.0.11 -> vm2
#                       (hv2) 10.2.0.12, default routes via the gateways;
#                       path "weft-routed" (Geneve) or "weft-routed-vxlan"
#
# switched and routed VMs are in their project's default group (all out;
# in from the group's members: a remote_group_id rule).  VM MTU is the
# network's (API).  Also reports the agents' CPU per packet
# during the UDP test and their CPU when idle.
set -uo pipefail
W_ENCAP=${1:-geneve}
MODE=${2:-switched}
. "$(dirname "$0")/../../tests/lib/netns.sh"
. "$(dirname "$0")/measure.sh"
case $MODE in
switched) path="weft-$W_ENCAP" ;;
open) path="weft-open"
      [ "$W_ENCAP" = geneve ] || path="weft-$W_ENCAP-open"
      case ${WEFT_AGENT_OPTS:-} in *"--fastpath off"*) path+="-agent" ;; esac
      ;;
sg1000|sg-ab) path="weft-$MODE" ;;
routed) path="weft-routed"; [ "$W_ENCAP" = geneve ] || path+="-$W_ENCAP" ;;
*) echo "usage: path-weft.sh [geneve|vxlan]" \
        "[switched|open|sg1000|sg-ab|routed]" >&2
   exit 2 ;;
esac
W_NAME="path-$path"
netns_init
need_bins weft-controller weft-agent

topo_std 2
if [ "$MODE" != routed ]; then
    net=$(tenant_net bench bench 10.0.0.0/24) || die "network create failed"
    vm_port vm1 hv1 "$net" 10.0.0.11 bench
    vm_port vm2 hv2 "$net" 10.0.0.12 bench
    dst=10.0.0.12
    if [ "$MODE" = open ]; then
        port_unfiltered "${W_PORT[vm1]}" && port_unfiltered "${W_PORT[vm2]}" ||
            die "unfilter ports"
    elif [ "$MODE" = sg1000 ] || [ "$MODE" = sg-ab ]; then
        big=$(sg_create big bench) || die "create group"
        def=$(sg_default bench) || die "default group"
        for ((p = 10000; p < 11000; p++)); do
            sg_rule "$big" bench "\"direction\": \"ingress\",
                \"protocol\": \"tcp\", \"port_range_min\": $p,
                \"port_range_max\": $p, \"remote_ip_prefix\": \"10.0.0.0/24\"" \
                >/dev/null || die "rule $p: $(api_code)"
        done
        for vm in vm1 vm2; do
            api PUT "/v2.0/ports/${W_PORT[$vm]}" "{\"port\":
                {\"security_groups\": [\"$big\", \"$def\"]}}" >/dev/null ||
                die "groups of $vm"
        done
    fi
    sleep 1
else
    read -r neta suba < <(tenant_subnet bench-a bench 10.1.0.0/24)
    read -r netb subb < <(tenant_subnet bench-b bench 10.2.0.0/24)
    [ -n "${suba:-}" ] && [ -n "${subb:-}" ] || die "network create failed"
    router=$(create_router bench bench) || die "router create failed"
    router_add_subnet "$router" "$suba" >/dev/null &&
        router_add_subnet "$router" "$subb" >/dev/null ||
        die "add_router_interface failed"
    vm_routed vm1 hv1 "$neta" 10.1.0.11 bench 10.1.0.1
    vm_routed vm2 hv2 "$netb" 10.2.0.12 bench 10.2.0.1
    dst=10.2.0.12
fi

B_CPU_PIDS="${W_AGENT_PID[hv1]} ${W_AGENT_PID[hv2]}"
sleep 1
if [ "$MODE" != sg-ab ]; then
    measure_idle_cpu "$path" 5
    measure_all "$path" "$(vm_ns vm1)" "$(vm_ns vm2)" "$dst"
    exit 0
fi

# sg-ab: alternate the arms; "RESULT arm metric value" lines go to $ab.
ab=$W_RUNDIR/ab.txt
: >"$ab"
arm() {
    local name=$1 body
    if [ "$name" = open ]; then
        body='{"port": {"security_groups": [], "port_security_enabled": false}}'
    else
        body="{\"port\": {\"port_security_enabled\": true,
            \"security_groups\": [\"$big\", \"$def\"]}}"
    fi
    for vm in vm1 vm2; do
        api PUT "/v2.0/ports/${W_PORT[$vm]}" "$body" >/dev/null ||
            die "switch $vm to $name: $(api_code)"
    done
    sleep 1
    wait_for "ip netns exec $(vm_ns vm1) ping -n -c 1 -W 1 $dst" 10 ||
        die "$name: $dst not reachable"
    measure_udp "$name" "$(vm_ns vm1)" "$(vm_ns vm2)" "$dst" >>"$ab"
    measure_cps "$name" "$(vm_ns vm1)" "$(vm_ns vm2)" "$dst" >>"$ab"
}
for ((round = 0; round < ${B_AB_ROUNDS:-4}; round++)); do
    arm open
    arm sg1000
done
w_log "A/B rounds: $(tr '\n' ';' <"$ab")"
# Each arm's median per metric, and the ratio of the medians.
awk -v path="$path" '
function median(arm, m,   a, n, i, j, t) {
    n = split(vals[arm, m], a, " ");
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
            t = a[j]; a[j] = a[j - 1]; a[j - 1] = t;
        }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2;
}
$1 == "RESULT" && $4 ~ /^[0-9.]+$/ {
    vals[$2, $3] = vals[$2, $3] ? vals[$2, $3] " " $4 : $4;
}
END {
    split("udp64_kpps agent_ns_pkt cps", ms, " ");
    for (k = 1; k <= 3; k++) {
        m = ms[k];
        if (!(("open", m) in vals) || !(("sg1000", m) in vals)) continue;
        o = median("open", m); g = median("sg1000", m);
        printf "RESULT %s ab_open_%s %s\n", path, m, o;
        printf "RESULT %s ab_sg1000_%s %s\n", path, m, g;
        if (o > 0) printf "RESULT %s ab_ratio_%s %.2f\n", path, m, g / o;
    }
}' "$ab"
