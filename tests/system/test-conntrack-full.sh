#!/bin/bash
# test-conntrack-full.sh -- many concurrent connections against a small
# connection table.  The agents track at most 32 connections
# (--ct-max-entries 32).  vm2 runs a UDP echo service; vm1 opens 200 UDP
# "connections" (one per source port), each of which vm2 answers, so every
# tracked one is replied and may not be evicted.  Checked: the agent
# survives and still answers its control socket, the table holds exactly
# its maximum, the refused ones are counted (ct_full_drops), connections
# tracked before the table filled keep working, and after a flush of the
# zones at both ends new connections are tracked again.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
WEFT_AGENT_OPTS="${WEFT_AGENT_OPTS:-} --ct-max-entries 32"
topo_std 2

net=$(tenant_net net1 t1 10.0.0.0/24) || die "create network"
vm_port vm1 hv1 "$net" 10.0.0.11 t1
vm_port vm2 hv2 "$net" 10.0.0.12 t1
check "vm1 pings vm2" ping_wait vm1 10.0.0.12 15

# A UDP echo service in vm2, bounded to 60 s.
bg "$(vm_ns vm2)" echo timeout 60 /usr/bin/python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7007))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data, peer)
'
sleep 0.5

# udp_clients FIRST N: from source ports FIRST..FIRST+N-1, one datagram
# each to vm2's echo service; prints how many got their echo back.
udp_clients() {
    vm_exec vm1 timeout 60 /usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys
first, n = int(sys.argv[1]), int(sys.argv[2])
ok = 0
for port in range(first, first + n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("10.0.0.11", port))
    s.settimeout(0.3)
    s.sendto(b"hello", ("10.0.0.12", 7007))
    try:
        if s.recv(64) == b"hello":
            ok += 1
    except OSError:
        pass
    s.close()
print(ok)
PY
}

n=$(udp_clients 20000 200)
w_log "200 UDP connections through a 32-entry table: $n answered"
check "the first connections were answered ($n)" [ "${n:-0}" -ge 20 ]
check "not all 200 fit in the table ($n)" [ "${n:-200}" -lt 200 ]
cnt=$(ctl hv1 counters)
w_log "hv1: $(jq -c '.datapath | {ct_entries, ct_max_entries,
    ct_full_drops, ct_early_evictions}' <<<"$cnt")"
check "hv1's agent still answers and its table is full (32)" \
    json_ok "$cnt" '.datapath.ct_entries == 32'
check "the refused connections are counted (ct_full_drops)" \
    json_ok "$cnt" '.datapath.ct_full_drops > 0'
check "the refusals are drops with a reason (ct_invalid)" \
    json_ok "$cnt" '.drops.ct_invalid > 0'
check "a connection tracked before the table filled still works" \
    [ "$(udp_clients 20000 1)" = 1 ]
check "the agent's conntrack view lists 32 connections" \
    json_ok "$(ctl hv1 conntrack)" '.total == 32'

# Both ends track the connections (vm1's egress zone on hv1, vm2's
# ingress zone on hv2), so both tables are full: flush both zones.
zone_of() {
    ctl "$1" counters | jq -r --arg p "$2" \
        '.ports[] | select(.port_id == $p) | .port_no'
}
z1=$(zone_of hv1 "${W_PORT[vm1]}")
z2=$(zone_of hv2 "${W_PORT[vm2]}")
check "hv2's table is full too (vm2's ingress zone)" \
    json_ok "$(ctl hv2 counters)" '.datapath.ct_entries == 32'
check "conntrack-flush of vm1's zone ($z1) on hv1" \
    json_ok "$(ctl hv1 "conntrack-flush $z1")" '.flushed == 32'
check "conntrack-flush of vm2's zone ($z2) on hv2" \
    json_ok "$(ctl hv2 "conntrack-flush $z2")" '.flushed == 32'
check "after the flush, new connections are tracked again" \
    [ "$(udp_clients 30000 10)" = 10 ]
check "vm1 still pings vm2" ping_all vm1 10.0.0.12 3
finish
