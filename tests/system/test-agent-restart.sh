#!/bin/bash
# test-agent-restart.sh -- an agent restart resumes traffic: stop hv2's
# agent (traffic to its VM stops), start it again (it reloads the topology
# from the controller, re-attaches its port) and pings work again; a port
# created on hv2 while its agent was down is attached after the restart.
# GET /v2.0/agents shows the stopped agent not alive, then alive again.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
W_AGENT_DOWN=3         # the controller's --agent-down-time, in seconds
topo_std 2

net=$(tenant_net restart t1 10.0.0.0/24) || die "create network"
vm_port vm1 hv1 "$net" 10.0.0.11 t1
vm_port vm2 hv2 "$net" 10.0.0.12 t1
check "vm1 -> vm2 before" ping_wait vm1 10.0.0.12 15
check "both agents alive" agents_alive 2

stop_agent hv2
check_not "no traffic to hv2's VM while its agent is down" \
    ping_ok vm1 10.0.0.12 2
check "hv2's agent is shown not alive once it stopped reporting" \
    wait_for "agent_alive_is hv2 false" 15
check "hv1's agent is still alive" agent_alive_is hv1 true
p3=$(create_port "$net" hv2 10.0.0.13 t1) || die "create port 3"
vm_for_port vm3 hv2 "$p3"
check "port created while hv2's agent is down is DOWN" port_is DOWN "$p3"
start_agent hv2
check "hv2's agent alive again after the restart" \
    wait_for "agent_alive_is hv2 true" 15
check "vm2's port ACTIVE after the restart" \
    wait_port_active "${W_PORT[vm2]}" 20
check "vm1 -> vm2 resumes after the restart" ping_wait vm1 10.0.0.12 20
check "10 of 10" ping_all vm1 10.0.0.12 10
check "port created while the agent was down becomes ACTIVE" \
    wait_port_active "$p3" 20
check "the restarted agent attached both its ports" \
    wait_for "[ \"\$(bound_ports hv2)\" = 2 ]" 10
check "vm1 -> vm3 (port created while down)" ping_wait vm1 10.0.0.13 15
check "TCP vm2 -> vm1 intact" tcp_transfer vm2 vm1 10.0.0.11 2 5001

stop_agent hv1
start_agent hv1
check "traffic resumes after restarting hv1's agent too" \
    ping_wait vm1 10.0.0.12 20
finish
