#!/bin/bash
# test-controller-down.sh -- agents keep forwarding, and keep simulating new
# flows from their cached topology, while no controller is reachable: with
# the controller stopped, existing traffic continues, a new TCP connection
# to a new port works, two VMs that never talked before reach each other
# (ARP answered from the cache), and after flushing every cached flow the
# first packets are simulated again.  Then the controller comes back.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
topo_std 2

net=$(tenant_net headless t1 10.0.0.0/24) || die "create network"
vm_port vm1 hv1 "$net" 10.0.0.11 t1
vm_port vm2 hv2 "$net" 10.0.0.12 t1
vm_port vm3 hv2 "$net" 10.0.0.13 t1
check "vm1 -> vm2 with the controller up" ping_wait vm1 10.0.0.12 15

# A long-running flow that crosses the outage.
bg "$(vm_ns vm1)" ping-long timeout 40 ping -n -i 0.2 -W 1 -c 60 10.0.0.12
long_pid=$W_LAST_PID
stop_controller
check_not "controller is down" api_up
sleep 2
check "existing traffic continues (10 of 10 pings)" \
    ping_all vm1 10.0.0.12 10
check "new TCP connection on a new port works" \
    tcp_transfer vm2 vm1 10.0.0.11 2 6123
vm_exec vm1 ip neigh flush dev eth0
vm_exec vm3 ip neigh flush dev eth0
check "first contact vm1 -> vm3 (never talked) works" \
    ping_wait vm1 10.0.0.13 10
check "flush hv1's cached flows (some were cached)" \
    json_ok "$(ctl hv1 flush)" '.flushed > 0'
check "flush hv2's cached flows (some were cached)" \
    json_ok "$(ctl hv2 flush)" '.flushed > 0'
check "traffic is re-simulated after the flush" ping_wait vm3 10.0.0.11 10
wait "$long_pid" 2>/dev/null
long=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$W_RUNDIR/ping-long.log")
check "ping running across the outage lost at most 2 of 60 (${long:-?})" \
    [ "${long:-0}" -ge 58 ]

start_controller
t=$(utc_now)
check "agents reconnect (alive, reported since the start)" \
    wait_for "agents_reported_since 2 '$t'" 20
vm_port vm4 hv1 "$net" 10.0.0.14 t1
check "a port created after the outage works (vm4 -> vm2)" \
    ping_wait vm4 10.0.0.12 15
finish
