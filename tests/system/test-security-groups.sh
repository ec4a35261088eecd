#!/bin/bash
# test-security-groups.sh -- stateful security groups enforced at both
# ends, with real tools.  vm1 (hv1) and vm2 (hv2) are in their project's
# default group (all out; in only from the group's members); vm3 (hv2) is
# only in "web" (all out; in: TCP 8080 from anywhere, ICMP echo from
# 10.0.0.0/28).  Checked: members reach each other; only 8080 of vm3 is
# reachable (nc, and an nmap scan of 8070-8090); replies of allowed
# connections pass although no rule admits them (vm3's greetings reach
# vm1, which admits only its group); ICMP as the
# rule says; a rule added and removed takes effect on new connections;
# deleting a rule cuts the open connection it allowed, not another one;
# port security off opens everything; the drops are counted.
set -uo pipefail
. "$(dirname "$0")/../lib/netns.sh"
netns_init
need_bins weft-controller weft-agent
command -v nc >/dev/null || skip "nc not installed (make deps)"
topo_std 2
P=tenant1
api_q() { api "$@" >/dev/null; }

net=$(tenant_net net1 $P 10.0.0.0/24) || die "create network"
vm_port vm1 hv1 "$net" 10.0.0.11 $P
vm_port vm2 hv2 "$net" 10.0.0.12 $P
vm_port vm3 hv2 "$net" 10.0.0.20 $P

web=$(sg_create web $P) || die "create group web: $(api_code)"
rule() { sg_rule "$web" $P "$1"; }
r8080=$(rule '"direction": "ingress", "protocol": "tcp",
    "port_range_min": 8080, "port_range_max": 8080') || die "rule 8080"
ricmp=$(rule '"direction": "ingress", "protocol": "icmp",
    "port_range_min": 8, "remote_ip_prefix": "10.0.0.0/28"') ||
    die "rule icmp"
check "vm3's port is only in group web" \
    api_q PUT "/v2.0/ports/${W_PORT[vm3]}" \
    "{\"port\": {\"security_groups\": [\"$web\"]}}"
sleep 1

# listen VM PORT: a TCP server on PORT in VM answering "hello from VM",
# up to 20 connections, in the background.
listen() {
    bg "$(vm_ns "$1")" "nc-$1-$2" timeout 60 bash -c \
        "for i in \$(seq 20); do echo hello from $1 | nc -l -q 1 -p $2; done"
}
# tcp_ok SRC DST_IP PORT: a connection from SRC gets the greeting.
tcp_ok() {
    vm_exec "$1" timeout 5 nc -w 2 "$2" "$3" </dev/null 2>/dev/null |
        grep -q hello
}

check "vm1 pings vm2 (default group: from members)" ping_wait vm1 10.0.0.12 15
check "vm2 pings vm1" ping_all vm2 10.0.0.11 3

listen vm3 8080
listen vm3 8081
listen vm1 9000
sleep 0.5
check "vm1 reaches vm3:8080 (web allows it)" tcp_ok vm1 10.0.0.20 8080
check_not "vm1 cannot reach vm3:8081 (no rule)" tcp_ok vm1 10.0.0.20 8081
check "vm1 (10.0.0.11, in 10.0.0.0/28) pings vm3" ping_ok vm1 10.0.0.20 3
check_not "vm3 cannot open vm1:9000 (vm1 admits only its group)" \
    tcp_ok vm3 10.0.0.11 9000

if command -v nmap >/dev/null; then
    out=$(vm_exec vm1 timeout 60 nmap -n -Pn -sT -p 8070-8090 \
        --max-retries 1 --host-timeout 40s 10.0.0.20 2>&1)
    open=$(awk '/\/tcp/ && $2 == "open" {print $1}' <<<"$out" | tr '\n' ' ')
    w_log "nmap vm3 8070-8090 open: ${open:-none}"
    check "nmap from vm1: only 8080 of vm3 is open ($open)" \
        [ "$open" = "8080/tcp " ]
else
    fail "nmap not installed (make deps)"
fi

cnt=$(ctl hv2 counters)
check "hv2 counts the refused connections (sg_denied)" \
    json_ok "$cnt" '.drops.sg_denied > 0'

# A rule added opens 8081; removed, new connections are refused again.
r8081=$(rule '"direction": "ingress", "protocol": "tcp",
    "port_range_min": 8081, "port_range_max": 8081') || die "rule 8081"
check "after adding a rule for 8081, vm1 reaches vm3:8081" \
    wait_for "tcp_ok vm1 10.0.0.20 8081" 10
check "DELETE the 8081 rule" \
    api_q DELETE "/v2.0/security-group-rules/$r8081"
sleep 1
check_not "after deleting it, a new connection to vm3:8081 fails" \
    tcp_ok vm1 10.0.0.20 8081
check "the icmp rule can be deleted" \
    api_q DELETE "/v2.0/security-group-rules/$ricmp"
check_not "then vm1 no longer pings vm3" ping_ok vm1 10.0.0.20 2

# Deleting a rule ends the connections it allowed: two open TCP
# connections to vm3, on 8082 and 8083 (a rule each); the 8082 rule is
# deleted while both are open; then only the 8083 one still carries data.
r8082=$(rule '"direction": "ingress", "protocol": "tcp",
    "port_range_min": 8082, "port_range_max": 8082') || die "rule 8082"
rule '"direction": "ingress", "protocol": "tcp",
    "port_range_min": 8083, "port_range_max": 8083' >/dev/null ||
    die "rule 8083"
bg "$(vm_ns vm3)" echo-srv timeout 60 /usr/bin/python3 -c '
import socket, threading
def serve(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(4)
    while True:
        c, _ = s.accept()
        def echo(c=c):
            while True:
                d = c.recv(64)
                if not d:
                    break
                c.sendall(d)
        threading.Thread(target=echo, daemon=True).start()
for p in (8082, 8083):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
threading.Event().wait()
'
sleep 1
# long_conn PORT: connects to vm3:PORT, exchanges one line, waits 4 s,
# tries another; prints "first=ok|fail second=ok|fail".
long_conn() {
    bg "$(vm_ns vm1)" "conn-$1" timeout 20 /usr/bin/python3 -c '
import socket, sys, time
r = []
try:
    s = socket.create_connection(("10.0.0.20", int(sys.argv[1])), timeout=3)
    for i in range(2):
        if i:
            time.sleep(4)
        try:
            s.sendall(b"ping")
            r.append("ok" if s.recv(64) == b"ping" else "fail")
        except OSError:
            r.append("fail")
except OSError:
    r = ["fail", "fail"]
print("first=%s second=%s" % tuple(r))
' "$1"
}
long_conn 8082
pid82=$W_LAST_PID
long_conn 8083
pid83=$W_LAST_PID
sleep 1.5
check "DELETE the 8082 rule while both connections are open" \
    api_q DELETE "/v2.0/security-group-rules/$r8082"
wait "$pid82" "$pid83"
w_log "8082: $(cat "$W_RUNDIR/conn-8082.log"); 8083:" \
    "$(cat "$W_RUNDIR/conn-8083.log")"
check "the 8082 connection worked, then was cut by the deletion" \
    grep -qx "first=ok second=fail" "$W_RUNDIR/conn-8082.log"
check "the 8083 connection (its rule kept) carried on" \
    grep -qx "first=ok second=ok" "$W_RUNDIR/conn-8083.log"
# vm3's host (hv2) ended it, and its status says so.
st=$(ctl hv2 status)
check "hv2's status: a revalidation pass ended the 8082 connection" \
    json_ok "$st" '.sg_revalidation.connections_ended >= 1
                   and .sg_revalidation.active == false'

# Port security off: no filtering at all.
check "vm3: no groups, port security off" \
    api_q PUT "/v2.0/ports/${W_PORT[vm3]}" \
    '{"port": {"security_groups": [], "port_security_enabled": false}}'
sleep 1
check "port security off: vm1 reaches vm3:8081" tcp_ok vm1 10.0.0.20 8081
check "port security off: vm1 pings vm3" ping_ok vm1 10.0.0.20 3
: "$r8080"
finish
