#!/bin/bash
# test-sg-flood.sh -- security groups filter floods on ingress, per
# receiving port.  vm1 (hv1, default group) sends UDP datagrams to the
# subnet broadcast 10.0.0.255:6000.  Receivers (each answers the datagrams
# that ask for it with a unicast to their sender):
#   vm2 (hv1) groups default + "bcast" (ingress UDP 6000 from anywhere)
#   vm3 (hv1) group "quiet" (no ingress rule)
#   vm4 (hv2) group "bcast"         vm5 (hv2) group "quiet"
#   vm6 (hv2) port security off
# Checked: the broadcast reaches vm2, vm4 and vm6, on the sender's host and
# on the other, and neither vm3 nor vm5; both hosts count the refused
# copies (sg_denied); the flows show the per-port guards.  An answer is a
# new connection of its own (conntrack never saw a packet to the
# answering address), so vm1 admits vm2's (a member of its group) and
# refuses vm4's and vm6's.  A tenant DHCP server's answers (vm6, UDP 67 to
# 68) reach vm3 and vm5 all the same.  A rule added to "quiet" lets vm3
# and vm5 in.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
topo_std 2
P=tenant1
api_q() { api "$@" >/dev/null; }

net=$(tenant_net net1 $P 10.0.0.0/24) || die "create network"
vm_port vm1 hv1 "$net" 10.0.0.11 $P
vm_port vm2 hv1 "$net" 10.0.0.12 $P
vm_port vm3 hv1 "$net" 10.0.0.13 $P
vm_port vm4 hv2 "$net" 10.0.0.14 $P
vm_port vm5 hv2 "$net" 10.0.0.15 $P
vm_port vm6 hv2 "$net" 10.0.0.16 $P

# udp_rule GROUP: GROUP admits UDP to port 6000 from anywhere.
udp_rule() {
    sg_rule "$1" $P '"direction": "ingress", "protocol": "udp",
        "port_range_min": 6000, "port_range_max": 6000'
}
# groups VM JSON_LIST: sets VM's port's security groups.
groups() {
    api_q PUT "/v2.0/ports/${W_PORT[$1]}" \
        "{\"port\": {\"security_groups\": $2}}"
}
def=$(sg_default $P) || die "default group"
bcast=$(sg_create bcast $P) || die "create group bcast: $(api_code)"
quiet=$(sg_create quiet $P) || die "create group quiet: $(api_code)"
udp_rule "$bcast" >/dev/null || die "rule of bcast: $(api_code)"
check "vm2: groups default + bcast" groups vm2 "[\"$def\", \"$bcast\"]"
check "vm3: group quiet" groups vm3 "[\"$quiet\"]"
check "vm4: group bcast" groups vm4 "[\"$bcast\"]"
check "vm5: group quiet" groups vm5 "[\"$quiet\"]"
check "vm6: port security off" port_unfiltered "${W_PORT[vm6]}"
sleep 1
check "unicast works first (vm1 -> vm2)" ping_wait vm1 10.0.0.12 15

# A UDP listener on 6000 in every receiver, bounded to 60 s: logs "got
# PAYLOAD from IP" and answers a datagram whose payload starts with "ask"
# to its sender.
for vm in vm2 vm3 vm4 vm5 vm6; do
    bg "$(vm_ns $vm)" "udp-$vm" timeout 60 /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 6000))
while True:
    data, src = s.recvfrom(256)
    print("got %s from %s" % (data.decode(), src[0]), flush=True)
    if data.startswith(b"ask"):
        s.sendto(("answer from " + sys.argv[1]).encode(), src)
' "$vm"
done
for vm in vm2 vm3 vm4 vm5 vm6; do
    wait_for "vm_exec $vm ss -Hlun 'sport = :6000' | grep -q 6000" 5 ||
        die "listener in $vm did not start"
done

# bcast_send TAG: vm1 sends TAG-0..TAG-4 to 10.0.0.255:6000 from port
# 5000, 0.2 s apart, then collects answers for 2 s; prints one "answer
# from VM" line per answer.
bcast_send() {
    vm_exec vm1 timeout 20 /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("0.0.0.0", 5000))
s.settimeout(0.1)
for i in range(5):
    s.sendto(("%s-%d" % (sys.argv[1], i)).encode(), ("10.0.0.255", 6000))
    time.sleep(0.2)
end = time.time() + 2
while time.time() < end:
    try:
        print(s.recv(256).decode(), flush=True)
    except socket.timeout:
        pass
' "$1"
}
# got VM TAG: how many of the datagrams TAG-* VM received.
got() { grep -c "^got $2-[0-9] from 10.0.0.11$" "$W_RUNDIR/udp-$1.log"; }
denied() { ctl "$1" counters | jq -er '.drops.sg_denied // 0'; }

d1=$(denied hv1) || die "counters of hv1"
d2=$(denied hv2) || die "counters of hv2"
bcast_send one >/dev/null
sleep 0.5
declare -A n
for vm in vm2 vm3 vm4 vm5 vm6; do
    n[$vm]=$(got $vm one)
done
w_log "received of 5: vm2 ${n[vm2]} vm3 ${n[vm3]} vm4 ${n[vm4]}" \
    "vm5 ${n[vm5]} vm6 ${n[vm6]}"
check "vm2 (hv1, admits UDP 6000) received every broadcast" \
    [ "${n[vm2]}" = 5 ]
check "vm4 (hv2, admits UDP 6000) received every broadcast" \
    [ "${n[vm4]}" = 5 ]
check "vm6 (hv2, port security off) received every broadcast" \
    [ "${n[vm6]}" = 5 ]
check "vm3 (hv1, admits nothing) received none" [ "${n[vm3]}" = 0 ]
check "vm5 (hv2, admits nothing) received none" [ "${n[vm5]}" = 0 ]
e1=$(denied hv1)
e2=$(denied hv2)
w_log "sg_denied hv1 $d1 -> $e1, hv2 $d2 -> $e2"
check "hv1 counts vm3's refused copies (sg_denied +5 at least)" \
    [ "$e1" -ge $((d1 + 5)) ]
check "hv2 counts vm5's refused copies (sg_denied +5 at least)" \
    [ "$e2" -ge $((d2 + 5)) ]
check "hv1's flood flow guards each receiver's output" \
    json_ok "$(ctl hv1 flows)" \
    '[.flows[].actions | select(test(",guard\\),output:"))] | length > 0'
check "hv2's delivery of the flood from the tunnel is guarded too" \
    json_ok "$(ctl hv2 flows)" \
    '[.flows[].actions | select(test(",guard\\),output:"))] | length > 0'

# The answers: new connections, judged by vm1's default group.
answers=$(bcast_send ask)
w_log "answers: $(tr '\n' ' ' <<<"$answers")"
check "vm2's answers (a member of vm1's group) reach vm1" \
    [ "$(grep -c '^answer from vm2$' <<<"$answers")" = 5 ]
check_not "vm4's answers (not a member) are refused by vm1's group" \
    grep -q '^answer from vm4$' <<<"$answers"
check_not "vm6's answers (not a member) are refused by vm1's group" \
    grep -q '^answer from vm6$' <<<"$answers"

# A tenant's own DHCP server (vm6, port security off) broadcasts from port
# 67: its answers to port 68 reach vm3 and vm5, whose groups admit
# nothing, as Neutron's firewalls let DHCP answers in; the same datagrams
# to port 69 do not.
for vm in vm3 vm5; do
    for port in 68 69; do
        bg "$(vm_ns $vm)" "dhcp-$vm-$port" timeout 30 /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
while True:
    print(s.recv(256).decode(), flush=True)
' "$port"
        wait_for "vm_exec $vm ss -Hlun 'sport = :$port' | grep -q $port" 5 ||
            die "listener $port in $vm did not start"
    done
done
vm_exec vm6 timeout 10 /usr/bin/python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind(("0.0.0.0", 67))
for i in range(5):
    for port in (68, 69):
        s.sendto(b"offer", ("10.0.0.255", port))
    time.sleep(0.1)
'
sleep 0.5
for vm in vm3 vm5; do
    check "$vm (admits nothing) gets the DHCP server's 5 answers to port 68" \
        [ "$(grep -c '^offer$' "$W_RUNDIR/dhcp-$vm-68.log")" = 5 ]
    check "$vm gets none of the same datagrams to port 69" \
        [ "$(grep -c '^offer$' "$W_RUNDIR/dhcp-$vm-69.log")" = 0 ]
done

# A rule for "quiet": its ports are flooded again (the flows depended on
# the group's rules).
udp_rule "$quiet" >/dev/null || die "rule of quiet: $(api_code)"
sleep 1
bcast_send two >/dev/null
sleep 0.5
check "after a rule admits it, vm3 (hv1) receives the broadcast" \
    [ "$(got vm3 two)" = 5 ]
check "after a rule admits it, vm5 (hv2) receives the broadcast" \
    [ "$(got vm5 two)" = 5 ]
check "vm2 still receives it" [ "$(got vm2 two)" = 5 ]
finish
