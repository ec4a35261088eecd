# netns.sh -- sourced bash library for Weft system tests, the demo and the
# netns benchmarks.  It builds the test hosts of DESIGN.md ("Test hosts"):
#
#   fabric namespace   Linux bridge br0, 198.18.0.1/15 (the underlay; the
#                      controller listens here on 198.18.0.1:9696)
#   host namespaces    one per hypervisor, eth0 = veth to the fabric bridge,
#                      underlay address 198.18.0.x/15, runs weft-agent
#   VM namespaces      eth0 = veth whose other end (the tap name of the
#                      binding convention) lives in the host namespace
#
# Every name this library creates starts with $W_PREFIX ("weft-<pid>-"), so
# concurrent runs never collide.  Interface names are created directly inside
# our own namespaces (never in the root namespace), so they only need to be
# unique per namespace and stay far below the 15-character limit.
#
# A cleanup trap runs on every exit path (normal exit, failure, Ctrl-C,
# SIGTERM from timeout(1)): it kills the processes this run started -- only
# those, by recorded PID -- deletes every namespace it created and removes
# its temporary directory (kept, with its logs, if WEFT_KEEP=1).
#
# Usage:
#   . "$(dirname "$0")/../lib/netns.sh"
#   netns_init              # root + ip netns checks (exit 77), trap, run dir
#   topo_fabric; topo_host hv1 198.18.0.11; start_controller; start_agent hv1
#   ...
#   check "VMs ping" vm_exec a1 ping -c 3 -W 1 10.0.0.12
#   finish                  # prints the summary, exits 0 or 1
#
# Exit codes follow automake: 0 pass, 1 fail, 77 skip.

W_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WEFT_BIN=${WEFT_BIN:-$W_ROOT/build/bin}
W_PREFIX="weft-$$-"
W_FABRIC="${W_PREFIX}fab"
W_CTRL_IP=198.18.0.1
W_CTRL_PORT=9696
W_URL="http://$W_CTRL_IP:$W_CTRL_PORT"
W_ENCAP=${W_ENCAP:-geneve}
W_RUNDIR=""
W_PIDS=()
W_NS=()
W_CTRL_PID=""
W_PASSED=0
W_FAILED=0
W_NAME=$(basename "$0" .sh)
declare -A W_HOST_IP=()
declare -A W_AGENT_PID=()

# ---------------------------------------------------------------- reporting

w_log() { echo "[$W_NAME] $*"; }

pass() { W_PASSED=$((W_PASSED + 1)); echo "PASS: $W_NAME: $*"; }
fail() { W_FAILED=$((W_FAILED + 1)); echo "FAIL: $W_NAME: $*"; }

# skip REASON: prints a loud SKIP line and exits 77 (cleanup still runs).
skip() {
    echo "SKIP: $W_NAME: $*"
    exit 77
}

# die MSG: a setup step failed; counts as a failure and exits 1.
die() {
    fail "$*"
    exit 1
}

# check DESC CMD...: runs CMD; PASS or FAIL line.  Returns CMD's status.
check() {
    local desc=$1; shift
    if "$@"; then pass "$desc"; return 0; fi
    fail "$desc"; return 1
}

# check_not DESC CMD...: PASS if CMD fails.
check_not() {
    local desc=$1; shift
    if "$@"; then fail "$desc"; return 1; fi
    pass "$desc"; return 0
}

# finish: summary line, exit 0 if nothing failed (and something passed).
finish() {
    echo "$W_NAME: $W_PASSED passed, $W_FAILED failed"
    if [ "$W_FAILED" -ne 0 ] || [ "$W_PASSED" -eq 0 ]; then
        exit 1
    fi
    exit 0
}

# ---------------------------------------------------------------- lifecycle

w_cleanup() {
    local rc=$? pid i ns
    trap - EXIT INT TERM HUP
    set +e
    # Kill our processes, newest first: TERM, short grace, then KILL.
    for ((i = ${#W_PIDS[@]} - 1; i >= 0; i--)); do
        pid=${W_PIDS[i]}
        kill -TERM "$pid" 2>/dev/null
    done
    for ((i = 0; i < 30; i++)); do
        local alive=0
        for pid in "${W_PIDS[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        [ $alive = 0 ] && break
        sleep 0.1
    done
    for pid in "${W_PIDS[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    for pid in "${W_PIDS[@]}"; do
        wait "$pid" 2>/dev/null
    done
    # Daemons built with SAN=1 report at exit: a report fails the test.
    if [ -n "$W_RUNDIR" ] && [ -d "$W_RUNDIR" ]; then
        local bad
        bad=$(grep -l -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
            "$W_RUNDIR"/*.log 2>/dev/null)
        if [ -n "$bad" ]; then
            echo "FAIL: $W_NAME: sanitizer report in $bad"
            grep -h -A12 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
                $bad | head -40
            [ "$rc" -eq 0 ] && rc=1
        fi
    fi
    for ((i = ${#W_NS[@]} - 1; i >= 0; i--)); do
        ns=${W_NS[i]}
        ip netns del "$ns" 2>/dev/null
    done
    if [ -n "$W_RUNDIR" ] && [ -d "$W_RUNDIR" ]; then
        if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
            local f
            for f in "$W_RUNDIR"/*.log; do
                [ -s "$f" ] || continue
                echo "----- last lines of $(basename "$f") -----"
                tail -n 25 "$f"
            done
        fi
        if [ "${WEFT_KEEP:-0}" = 1 ]; then
            echo "[$W_NAME] kept run directory $W_RUNDIR"
        else
            rm -rf "$W_RUNDIR"
        fi
    fi
    exit "$rc"
}

w_on_signal() {
    echo "[$W_NAME] interrupted by signal $1"
    exit 130
}

# netns_init: checks root and `ip netns` support (else SKIP, exit 77),
# creates the run directory and installs the cleanup trap.
netns_init() {
    trap w_cleanup EXIT
    trap 'w_on_signal INT' INT
    trap 'w_on_signal TERM' TERM
    trap 'w_on_signal HUP' HUP
    if [ "$(id -u)" -ne 0 ]; then
        skip "needs root (network namespaces); run as root"
    fi
    local tool
    for tool in ip curl jq timeout; do
        command -v "$tool" >/dev/null 2>&1 ||
            skip "$tool not installed (make deps)"
    done
    if ! ip netns add "${W_PREFIX}probe" 2>/dev/null; then
        skip "'ip netns add' does not work here (no netns support)"
    fi
    ip netns del "${W_PREFIX}probe"
    W_RUNDIR=$(mktemp -d "/tmp/${W_PREFIX}XXXX")
    chmod 755 "$W_RUNDIR"
}

# need_bins NAME...: SKIP unless every build/bin/NAME exists.
need_bins() {
    local b
    for b in "$@"; do
        [ -x "$WEFT_BIN/$b" ] || skip "$WEFT_BIN/$b not built (run make)"
    done
}

# bg NS LOGNAME CMD...: starts CMD in namespace NS in the background, output
# appended to $W_RUNDIR/LOGNAME.log, records its PID for cleanup; sets
# W_LAST_PID.
bg() {
    local ns=$1 logname=$2; shift 2
    ip netns exec "$ns" "$@" >>"$W_RUNDIR/$logname.log" 2>&1 &
    W_LAST_PID=$!
    W_PIDS+=("$W_LAST_PID")
}

# stop_pid PID: TERM, wait up to 3 s, then KILL; reaps it.
stop_pid() {
    local pid=$1 i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 30; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# wait_for CMD TIMEOUT: polls the shell command string CMD every 0.2 s until
# it succeeds (returns 0) or TIMEOUT seconds passed (returns 1).
wait_for() {
    local cmd=$1 timeout=${2:-10} deadline
    deadline=$(($(date +%s%N) / 1000000 + timeout * 1000))
    while :; do
        if eval "$cmd" >/dev/null 2>&1; then return 0; fi
        if [ $(($(date +%s%N) / 1000000)) -ge $deadline ]; then return 1; fi
        sleep 0.2
    done
}

# ---------------------------------------------------------------- topology

w_ns_add() {
    local ns=$1
    ip netns add "$ns" || die "cannot create namespace $ns"
    W_NS+=("$ns")
    ip -n "$ns" link set lo up
    # No IPv6: keeps router solicitations, MLD and DAD out of the tests.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1 || true
}

# host_ns NAME / vm_ns NAME: namespace names.
host_ns() { echo "${W_PREFIX}$1"; }
vm_ns() { echo "${W_PREFIX}$1"; }

# topo_fabric: the underlay namespace with bridge br0 = 198.18.0.1/15.
topo_fabric() {
    w_ns_add "$W_FABRIC"
    ip -n "$W_FABRIC" link add br0 type bridge
    ip -n "$W_FABRIC" link set br0 type bridge stp_state 0 forward_delay 0 \
        2>/dev/null || true
    ip -n "$W_FABRIC" addr add "$W_CTRL_IP/15" dev br0
    ip -n "$W_FABRIC" link set br0 up
}

# topo_host NAME IP: hypervisor namespace NAME, eth0 = IP/15 on the fabric
# (its fabric-side end is "p-NAME" on br0), MTU 1500.
topo_host() {
    local name=$1 ip=$2 ns
    ns=$(host_ns "$name")
    w_ns_add "$ns"
    ip link add eth0 netns "$ns" mtu 1500 type veth \
        peer name "p-$name" netns "$W_FABRIC" mtu 1500 \
        || die "cannot create fabric veth for $name"
    ip -n "$W_FABRIC" link set "p-$name" master br0
    ip -n "$W_FABRIC" link set "p-$name" up
    ip -n "$ns" addr add "$ip/15" dev eth0
    ip -n "$ns" link set eth0 up
    W_HOST_IP[$name]=$ip
}

# topo_vm NAME HOST IFNAME IP/PREFIX MAC MTU: VM namespace NAME whose eth0
# has MAC, MTU and IP/PREFIX (no address if IP/PREFIX is ""); the other
# end, IFNAME, is up in HOST's namespace.  No default route (the tests
# are L2; vm_gw adds one).  Offloads are left at the kernel's defaults on
# purpose (see DESIGN.md "Traps").
topo_vm() {
    local name=$1 host=$2 ifname=$3 cidr=$4 mac=$5 mtu=${6:-1500} ns hns
    ns=$(vm_ns "$name")
    hns=$(host_ns "$host")
    w_ns_add "$ns"
    ip link add eth0 netns "$ns" type veth peer name "$ifname" netns "$hns" \
        || die "cannot create veth for VM $name"
    ip -n "$ns" link set eth0 address "$mac" mtu "$mtu"
    [ -z "$cidr" ] || ip -n "$ns" addr add "$cidr" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$hns" link set "$ifname" mtu "$mtu" up
}

# vm_exec NAME CMD...: runs CMD in VM NAME's namespace.
vm_exec() { local n=$1; shift; ip netns exec "$(vm_ns "$n")" "$@"; }
# host_exec NAME CMD...: runs CMD in host NAME's namespace.
host_exec() { local n=$1; shift; ip netns exec "$(host_ns "$n")" "$@"; }
# fab_exec CMD...: runs CMD in the fabric namespace.
fab_exec() { ip netns exec "$W_FABRIC" "$@"; }

# vm_mac NAME: the MAC of VM NAME's eth0.
vm_mac() { vm_exec "$1" cat /sys/class/net/eth0/address; }

# ---------------------------------------------------------------- daemons

# start_controller [ARGS...]: weft-controller in the fabric namespace on
# 198.18.0.1:9696, sqlite store in the run directory (WEFT_STORE overrides),
# encapsulation $W_ENCAP.  Waits until the API answers.
start_controller() {
    local store=${WEFT_STORE:-sqlite:$W_RUNDIR/weft.db}
    bg "$W_FABRIC" controller "$WEFT_BIN/weft-controller" \
        --listen "$W_CTRL_IP:$W_CTRL_PORT" --store "$store" \
        --encap "$W_ENCAP" --agent-down-time "${W_AGENT_DOWN:-6}" "$@"
    W_CTRL_PID=$W_LAST_PID
    if ! wait_for "api_up" 15; then
        die "controller did not answer on $W_URL within 15 s"
    fi
}

api_up() {
    fab_exec curl -s -o /dev/null -m 2 -w '%{http_code}' \
        "$W_URL/v2.0/networks" | grep -q '^200$'
}

# stop_controller: stops the controller started by start_controller.
stop_controller() {
    stop_pid "$W_CTRL_PID"
    W_CTRL_PID=""
}

# start_agent HOST [ARGS...]: weft-agent for HOST in its namespace, control
# socket $W_RUNDIR/HOST.ctl, log $W_RUNDIR/agent-HOST.log.  Waits until the
# control socket answers `status`.  $WEFT_AGENT_OPTS (word-split) adds
# options to every agent, e.g. WEFT_AGENT_OPTS="--poll-us 0".
start_agent() {
    local host=$1; shift
    local sock="$W_RUNDIR/$host.ctl"
    rm -f "$sock"
    bg "$(host_ns "$host")" "agent-$host" "$WEFT_BIN/weft-agent" \
        --controller "$W_URL" --host "$host" \
        --tunnel-ip "${W_HOST_IP[$host]}" --ctl "$sock" \
        --report-interval 1 ${WEFT_AGENT_OPTS:-} "$@"
    W_AGENT_PID[$host]=$W_LAST_PID
    if ! wait_for "ctl $host status" 15; then
        die "agent $host: control socket did not answer within 15 s"
    fi
}

# stop_agent HOST
stop_agent() {
    stop_pid "${W_AGENT_PID[$1]:-}"
    W_AGENT_PID[$1]=""
}

# ctl HOST COMMAND: one command on HOST's agent control socket; prints the
# JSON reply.  Fails if the socket does not answer within 5 s.
ctl() {
    local sock="$W_RUNDIR/$1.ctl"
    [ -S "$sock" ] || return 1
    timeout 5 /usr/bin/python3 - "$sock" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(4)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
sys.stdout.write(data.decode())
sys.exit(0 if data else 1)
PY
}

# bound_ports HOST: how many ports HOST's agent has attached (ctl status).
bound_ports() { ctl "$1" status | jq -er .bound_ports; }

# weftctl ARGS...: build/bin/weftctl against the controller (run from the
# fabric namespace).  For a host's socket: weftctl_host HOST ARGS...
weftctl() { fab_exec "$WEFT_BIN/weftctl" --url "$W_URL" "$@"; }
weftctl_host() {
    local h=$1; shift
    "$WEFT_BIN/weftctl" --socket "$W_RUNDIR/$h.ctl" "$@"
}

# ---------------------------------------------------------------- API

# api METHOD PATH [BODY]: Neutron API call from the fabric namespace.
# Prints the response body; the HTTP status goes to $W_RUNDIR/api.code
# (read it with api_code).  Returns 0 for 2xx, 1 otherwise.
api() {
    local method=$1 path=$2 body=${3-} code
    local args=(-s -m 10 -X "$method" -o "$W_RUNDIR/api.body"
                -w '%{http_code}' -H 'Content-Type: application/json')
    [ -n "$body" ] && args+=(--data-binary "$body")
    code=$(fab_exec curl "${args[@]}" "$W_URL$path" 2>/dev/null) || code=000
    echo "$code" >"$W_RUNDIR/api.code"
    cat "$W_RUNDIR/api.body" 2>/dev/null
    rm -f "$W_RUNDIR/api.body"
    [[ $code == 2?? ]]
}
api_code() { cat "$W_RUNDIR/api.code"; }

# create_network NAME PROJECT [EXTRA_JSON_FIELDS]: prints the network id.
create_network() {
    local extra=${3:+, $3}
    api POST /v2.0/networks \
        "{\"network\": {\"name\": \"$1\", \"project_id\": \"$2\"$extra}}" |
        jq -er .network.id
}

# create_subnet NETWORK_ID CIDR [PROJECT] [EXTRA_JSON_FIELDS]: prints the
# subnet id.  EXTRA e.g. '"enable_dhcp": false, "gateway_ip": null'.
create_subnet() {
    local proj=${3:+, \"project_id\": \"$3\"} extra=${4:+, $4}
    api POST /v2.0/subnets "{\"subnet\": {\"network_id\": \"$1\",
        \"cidr\": \"$2\", \"ip_version\": 4$proj$extra}}" |
        jq -er .subnet.id
}

# create_port NETWORK_ID HOST IP [PROJECT]: prints the port id.
create_port() {
    local proj=${4:+, \"project_id\": \"$4\"}
    api POST /v2.0/ports \
        "{\"port\": {\"network_id\": \"$1\", \"binding:host_id\": \"$2\", \"fixed_ips\": [{\"ip_address\": \"$3\"}]$proj}}" |
        jq -er .port.id
}

# port_field ID JQ_FIELD: one field of GET /v2.0/ports/ID.
port_field() { api GET "/v2.0/ports/$1" | jq -er ".port.$2"; }
net_field() { api GET "/v2.0/networks/$1" | jq -er ".network[\"$2\"]"; }

# port_ifname ID: the binding convention's interface name ("tap" + 11).
port_ifname() { echo "tap${1:0:11}"; }

# port_is STATUS ID
port_is() { [ "$(port_field "$2" status 2>/dev/null)" = "$1" ]; }

# agents_alive N: true if exactly N agents are alive in GET /v2.0/agents.
agents_alive() {
    api GET /v2.0/agents |
        jq -e "[.agents[] | select(.alive)] | length == $1" >/dev/null
}

# utc_now: the current time as the API's heartbeat_timestamp shows it.
utc_now() { date -u '+%Y-%m-%d %H:%M:%S'; }

# agents_reported_since N TIME: true if N agents are alive with a heartbeat
# later than TIME (from utc_now).  After a controller restart this shows
# that the agents really reported again, not just that a heartbeat from
# before the restart, reloaded from the store, is still recent enough.
agents_reported_since() {
    api GET /v2.0/agents |
        jq -e --arg t "$2" "[.agents[] | select(.alive
                             and .heartbeat_timestamp > \$t)]
                            | length == $1" >/dev/null
}

# agent_alive_is HOST true|false: HOST's agent is listed with that "alive".
agent_alive_is() {
    api GET /v2.0/agents |
        jq -e --arg h "$1" "[.agents[] | select(.host == \$h)]
                            | length == 1 and .[0].alive == $2" >/dev/null
}

# json_ok JSON FILTER: true if jq -e FILTER holds for JSON (prints nothing).
json_ok() { jq -e "$2" <<<"$1" >/dev/null 2>&1; }

# wait_port_active ID [TIMEOUT]
wait_port_active() { wait_for "port_is ACTIVE $1" "${2:-15}"; }

# vm_for_port VM HOST PORT_ID PREFIXLEN: creates VM namespace VM for PORT_ID
# with the API's MAC, first fixed IP and network MTU, on HOST.
vm_for_port() {
    local vm=$1 host=$2 port=$3 plen=${4:-24} json mac ip net mtu
    json=$(api GET "/v2.0/ports/$port") || die "GET port $port failed"
    mac=$(jq -er .port.mac_address <<<"$json") || die "port $port: no MAC"
    ip=$(jq -er '.port.fixed_ips[0].ip_address' <<<"$json") ||
        die "port $port: no IP"
    net=$(jq -er .port.network_id <<<"$json")
    mtu=$(net_field "$net" mtu 2>/dev/null) || mtu=1450
    [[ $mtu =~ ^[0-9]+$ ]] || mtu=1450
    topo_vm "$vm" "$host" "$(port_ifname "$port")" "$ip/$plen" "$mac" "$mtu"
}

# ---------------------------------------------------------------- traffic

# ping_ok VM IP [COUNT]: true if VM gets at least one reply (bounded).
ping_ok() {
    vm_exec "$1" timeout 20 ping -n -q -c "${3:-3}" -i 0.3 -W 1 "$2" \
        >/dev/null 2>&1
}

# ping_count VM IP COUNT: prints how many of COUNT pings were answered.
ping_count() {
    vm_exec "$1" timeout 30 ping -n -q -c "$3" -i 0.2 -W 1 "$2" 2>/dev/null |
        sed -n 's/.* \([0-9]*\) received.*/\1/p' | grep . || echo 0
}

# ping_all VM IP COUNT: true if all COUNT pings were answered.
ping_all() { [ "$(ping_count "$1" "$2" "$3")" = "$3" ]; }

# ping_wait VM IP [TIMEOUT]: retries single pings until one is answered.
ping_wait() {
    wait_for "vm_exec $1 ping -n -q -c 1 -W 1 $2" "${3:-15}"
}

# tcp_transfer SRC_VM DST_VM DST_IP [MB] [PORT]: sends MB megabytes of
# random data over one TCP connection with nc and compares sha256 sums.
tcp_transfer() {
    local src=$1 dst=$2 ip=$3 mb=${4:-4} port=${5:-5001}
    local in="$W_RUNDIR/tx-$src.bin" out="$W_RUNDIR/rx-$dst-$port.bin" pid
    head -c "$((mb * 1024 * 1024))" /dev/urandom >"$in"
    rm -f "$out"
    vm_exec "$dst" timeout 30 nc -l -p "$port" >"$out" 2>/dev/null </dev/null &
    pid=$!
    W_PIDS+=("$pid")
    wait_for "vm_exec $dst ss -Hltn 'sport = :$port' | grep -q LISTEN" 5
    vm_exec "$src" timeout 25 nc -N -w 5 "$ip" "$port" <"$in" \
        >/dev/null 2>&1
    wait "$pid" 2>/dev/null
    local a b
    a=$(sha256sum <"$in" | cut -d' ' -f1)
    b=$(sha256sum <"$out" 2>/dev/null | cut -d' ' -f1)
    rm -f "$in" "$out"
    [ -n "$b" ] && [ "$a" = "$b" ]
}

# iperf_server NS PORT: one-shot iperf3 server (-1) in namespace NS,
# bounded to 40 s; waits until it listens.
iperf_server() {
    bg "$1" "iperf3-s-$2" timeout 40 iperf3 -s -1 -p "$2"
    wait_for "ip netns exec $1 ss -Hltn 'sport = :$2' | grep -q LISTEN" 5
}

# ---------------------------------------------------------------- shortcuts

# topo_hosts N: fabric and hosts hv1..hvN (198.18.0.11..), no daemons.
topo_hosts() {
    local i
    topo_fabric
    for ((i = 1; i <= $1; i++)); do
        topo_host "hv$i" "198.18.0.$((10 + i))"
    done
}

# topo_std N: topo_hosts N, the controller and an agent on every host.
topo_std() {
    local i
    topo_hosts "$1"
    start_controller
    for ((i = 1; i <= $1; i++)); do
        start_agent "hv$i"
    done
}

# tenant_net NAME PROJECT CIDR: network + subnet; prints the network id.
tenant_net() {
    local net
    net=$(create_network "$1" "$2") || return 1
    create_subnet "$net" "$3" "$2" >/dev/null || return 1
    echo "$net"
}

# vm_port VM HOST NET IP PROJECT: creates the port (bound to HOST), the VM
# namespace for it, and waits until the port is ACTIVE.  Sets W_PORT[VM].
declare -A W_PORT=()
vm_port() { vm_port__ vm_for_port "$@"; }

# vm_port__ ATTACH VM HOST NET IP PROJECT: vm_port with ATTACH (vm_for_port
# or vm_for_port_bare) making the VM.
vm_port__() {
    local attach=$1 vm=$2 host=$3 net=$4 ip=$5 proj=$6 port
    port=$(create_port "$net" "$host" "$ip" "$proj") ||
        die "create port $ip on $host: $(cat "$W_RUNDIR/api.code")"
    W_PORT[$vm]=$port
    "$attach" "$vm" "$host" "$port"
    wait_port_active "$port" 20 || fail "port of $vm did not become ACTIVE"
}

# capture NS NAME FILTER...: tcpdump on NS's eth0 (or $CAP_IF) into
# $W_RUNDIR/NAME.pcap in the background, bounded to 60 s; waits until it
# listens.  Stop it with capture_stop NAME, which prints the pcap path.
declare -A W_CAP_PID=()
capture() {
    local ns=$1 name=$2; shift 2
    : >"$W_RUNDIR/tcpdump-$name.log"
    # --immediate-mode: without it libpcap hands packets over in ring
    # blocks, and those still in the ring when we stop it are lost.
    bg "$ns" "tcpdump-$name" timeout 60 tcpdump -i "${CAP_IF:-eth0}" -n -U \
        --immediate-mode -s 256 -w "$W_RUNDIR/$name.pcap" "$@"
    W_CAP_PID[$name]=$W_LAST_PID
    # A capture that never started would make every "saw 0 packets" pass.
    wait_for "grep -q 'listening on' '$W_RUNDIR/tcpdump-$name.log'" 5 ||
        die "tcpdump $name in $ns did not start"
}
capture_stop() {
    sleep 0.3
    stop_pid "${W_CAP_PID[$1]}"
    echo "$W_RUNDIR/$1.pcap"
}
# pcap_count PCAP [FILTER...]: number of packets in PCAP matching FILTER.
# Prints ERR (which no count comparison accepts) and fails if PCAP cannot
# be read, so a lost capture never reads as "0 packets".
pcap_count() {
    local f=$1; shift
    tcpdump -n -r "$f" --count "$@" 2>/dev/null |
        sed -n 's/^\([0-9]*\) packets\{0,1\}.*/\1/p' | grep . ||
        { echo ERR; return 1; }
}

# tx_csum_off NS IFNAME: turns transmit checksum offload off on IFNAME in
# namespace NS (ethtool -K IF tx off, via the SIOCETHTOOL ioctl, so ethtool
# is not needed).  A real NIC fills in checksums a kernel VXLAN device left
# partial; a veth does not, so a kernel VTEP on veths needs this to emit
# correct inner checksums.
tx_csum_off() {
    ip netns exec "$1" /usr/bin/python3 - "$2" <<'PY'
import ctypes, fcntl, socket, struct, sys
ETHTOOL_STXCSUM, SIOCETHTOOL = 0x17, 0x8946
val = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_STXCSUM, 0))
ifr = struct.pack("16sP", sys.argv[1].encode(), ctypes.addressof(val))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
PY
}

# ---------------------------------------------------------------- routers

# tenant_subnet NAME PROJECT CIDR [EXTRA_JSON_FIELDS]: network NAME with one
# subnet (EXTRA as for create_subnet); prints "NETWORK_ID SUBNET_ID".
# Usage: read -r net sub < <(tenant_subnet ...) -- or check with
# [ -n "$sub" ], since a failure prints nothing.
tenant_subnet() {
    local net sub
    net=$(create_network "$1" "$2") || return 1
    sub=$(create_subnet "$net" "$3" "$2" "${4-}") || return 1
    echo "$net $sub"
}

# create_router NAME PROJECT: prints the router id.
create_router() {
    api POST /v2.0/routers \
        "{\"router\": {\"name\": \"$1\", \"project_id\": \"$2\"}}" |
        jq -er .router.id
}

# router_add_subnet ROUTER SUBNET: add_router_interface by subnet (the
# router takes the subnet's gateway IP); prints the interface port's id.
router_add_subnet() {
    api PUT "/v2.0/routers/$1/add_router_interface" \
        "{\"subnet_id\": \"$2\"}" | jq -er .port_id
}

# router_remove_subnet ROUTER SUBNET: remove_router_interface by subnet.
router_remove_subnet() {
    api PUT "/v2.0/routers/$1/remove_router_interface" \
        "{\"subnet_id\": \"$2\"}" >/dev/null
}

# router_set_routes ROUTER ROUTES_JSON: replaces the router's static routes,
# e.g. '[{"destination": "192.168.50.0/24", "nexthop": "10.2.0.12"}]'.
router_set_routes() {
    api PUT "/v2.0/routers/$1" "{\"router\": {\"routes\": $2}}" >/dev/null
}

# scapy_send VM EXPR: VM sends 5 copies of the scapy frame EXPR (a Python
# expression over scapy's names) out of its eth0.
scapy_send() {
    vm_exec "$1" /usr/bin/python3 - "$2" <<'PY' >/dev/null 2>&1
import logging, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import *
sendp(eval(sys.argv[1]), iface="eth0", count=5, inter=0.01, verbose=False)
PY
}

# n_arrived FROM TO NAME EXPR FILTER...: TO captures FILTER (as NAME) while
# FROM sends EXPR with scapy_send; prints how many of the 5 arrived.
n_arrived() {
    local from=$1 to=$2 name=$3 expr=$4
    shift 4
    capture "$(vm_ns "$to")" "$name" "$@"
    scapy_send "$from" "$expr"
    pcap_count "$(capture_stop "$name")" "$@"
}

# port_unfiltered PORT: no security groups and no port security on PORT
# (for tests about the switch or router, not the firewall).
port_unfiltered() {
    api PUT "/v2.0/ports/$1" '{"port": {"security_groups": [],
        "port_security_enabled": false}}' >/dev/null
}

# sg_create NAME PROJECT: a security group (egress open, as every new
# group); prints its id.
sg_create() {
    api POST /v2.0/security-groups \
        "{\"security_group\": {\"name\": \"$1\", \"project_id\": \"$2\"}}" |
        jq -er .security_group.id
}

# sg_default PROJECT: prints the id of PROJECT's default security group.
sg_default() {
    api GET "/v2.0/security-groups?name=default&project_id=$1" |
        jq -er '.security_groups[0].id'
}

# sg_rule GROUP PROJECT FIELDS: adds to GROUP a rule with the JSON FIELDS,
# e.g. '"direction": "ingress", "protocol": "tcp"'; prints its id.
sg_rule() {
    api POST /v2.0/security-group-rules "{\"security_group_rule\":
        {\"security_group_id\": \"$1\", \"project_id\": \"$2\", $3}}" |
        jq -er .security_group_rule.id
}

# sg_default_allow PROJECT PREFIX: lets PREFIX start connections to the
# ports in PROJECT's default security group (an ingress IPv4 rule).
sg_default_allow() {
    local sg
    sg=$(sg_default "$1") || return 1
    sg_rule "$sg" "$1" "\"direction\": \"ingress\", \"ethertype\": \"IPv4\",
        \"remote_ip_prefix\": \"$2\"" >/dev/null
}

# vm_gw VM GW: VM's default route via GW (its router's interface address).
vm_gw() { vm_exec "$1" ip route replace default via "$2" dev eth0; }

# vm_routed VM HOST NET IP PROJECT GW: vm_port, then a default route via GW.
vm_routed() {
    vm_port "$1" "$2" "$3" "$4" "$5"
    vm_gw "$1" "$6" || fail "default route of $1 via $6"
}

# ping_log VM FILE PING_ARGS...: runs ping -n PING_ARGS in VM (bounded to
# 60 s), its output (stdout and stderr) in FILE.  Returns ping's status.
ping_log() {
    local vm=$1 file=$2; shift 2
    vm_exec "$vm" timeout 60 ping -n "$@" >"$file" 2>&1
}

# ping_seqs FILE: the icmp_seq numbers that got an echo reply in the ping
# output FILE, one per line, ascending.
ping_seqs() {
    sed -n 's/^[0-9]* bytes from .*icmp_seq=\([0-9]*\) .*/\1/p' "$1" |
        sort -n
}

# ---------------------------------------------------------------- DHCP

# vm_for_port_bare VM HOST PORT_ID: like vm_for_port, but the VM's eth0 has
# NO address and the kernel's default MTU (1500): a DHCP client is to
# configure it.  The host end has the network's MTU.
vm_for_port_bare() {
    local vm=$1 host=$2 port=$3 json mac net mtu
    json=$(api GET "/v2.0/ports/$port") || die "GET port $port failed"
    mac=$(jq -er .port.mac_address <<<"$json") || die "port $port: no MAC"
    net=$(jq -er .port.network_id <<<"$json")
    mtu=$(net_field "$net" mtu 2>/dev/null) || mtu=1450
    [[ $mtu =~ ^[0-9]+$ ]] || mtu=1450
    topo_vm "$vm" "$host" "$(port_ifname "$port")" "" "$mac" "$mtu"
    vm_exec "$vm" ip link set eth0 mtu 1500
}

# vm_port_bare VM HOST NET IP PROJECT: vm_port for a VM without an address
# (vm_for_port_bare).  Sets W_PORT[VM].
vm_port_bare() { vm_port__ vm_for_port_bare "$@"; }

# dhcp_script VM: writes the DHCP client script for VM and prints its path.
# One script serves ISC dhclient (-sf; $reason, new_* variables) and
# busybox udhcpc (-s; $1, udhcpc's variables).  It applies the lease with
# ip(8) only -- address, MTU (option 26), the classless static routes
# (option 121) or else a default route via the first router (option 3) --
# and never touches /etc/resolv.conf: the DNS servers, like everything
# else the client got, go to the state file $W_RUNDIR/dhcp-VM.state
# (key=value lines, read with dhcp_state), and every event to
# $W_RUNDIR/dhcp-VM.events ("MSEC EVENT ADDRESS" lines).
dhcp_script() {
    local vm=$1 f="$W_RUNDIR/dhcp-$1.sh"
    {
        echo '#!/bin/sh'
        echo "# DHCP client script for VM $vm (tests/lib/netns.sh)."
        echo "STATE='$W_RUNDIR/dhcp-$vm.state'"
        echo "EVENTS='$W_RUNDIR/dhcp-$vm.events'"
        cat <<'SH'
PATH=/usr/sbin:/usr/bin:/sbin:/bin
IF=${interface:-eth0}

mask2plen() {
    n=0
    for o in $(echo "$1" | tr . ' '); do
        case $o in
        255) n=$((n + 8)) ;; 254) n=$((n + 7)) ;; 252) n=$((n + 6)) ;;
        248) n=$((n + 5)) ;; 240) n=$((n + 4)) ;; 224) n=$((n + 3)) ;;
        192) n=$((n + 2)) ;; 128) n=$((n + 1)) ;;
        esac
    done
    echo $n
}

# RFC 3442 bytes ("24 192 168 50 10 1 0 9 0 10 1 0 1") -> "D/W GW ...".
rfc3442() {
    set -- $1
    out=""
    while [ $# -ge 5 ]; do
        w=$1; shift
        nb=$(((w + 7) / 8)); d=""; i=0
        while [ $i -lt 4 ]; do
            if [ $i -lt $nb ]; then o=$1; shift; else o=0; fi
            d="$d${d:+.}$o"; i=$((i + 1))
        done
        [ $# -ge 4 ] || break
        out="$out $d/$w $1.$2.$3.$4"; shift 4
    done
    echo $out
}

if [ -n "${reason:-}" ]; then
    EV=$reason
    ADDR=${new_ip_address:-}
    PLEN=$(mask2plen "${new_subnet_mask:-}")
    ROUTERS=${new_routers:-}
    DNS=${new_domain_name_servers:-}
    MTU=${new_interface_mtu:-}
    ROUTES=$(rfc3442 "${new_rfc3442_classless_static_routes:-}")
    SID=${new_dhcp_server_identifier:-}
    HOSTNAME_=${new_host_name:-}
    DOMAIN=${new_domain_name:-}
    LEASE=${new_dhcp_lease_time:-}
    case $EV in
    BOUND|RENEW|REBIND|REBOOT) ACTION=apply ;;
    EXPIRE|FAIL|RELEASE|STOP) ACTION=deconfig ;;
    PREINIT) ip link set dev "$IF" up; ACTION=none ;;
    *) ACTION=none ;;
    esac
else
    EV=$1
    ADDR=${ip:-}
    PLEN=${mask:-}
    ROUTERS=${router:-}
    DNS=${dns:-}
    MTU=${mtu:-}
    ROUTES=${staticroutes:-}
    SID=${serverid:-}
    HOSTNAME_=${hostname:-}
    DOMAIN=${domain:-}
    LEASE=${lease:-}
    case $EV in
    bound|renew) ACTION=apply ;;
    deconfig|nak|leasefail) ACTION=deconfig ;;
    *) ACTION=none ;;
    esac
fi
echo "$(date +%s%3N) $EV ${ADDR:--}" >>"$EVENTS"

case $ACTION in
apply)
    ip link set dev "$IF" up
    [ -z "$MTU" ] || ip link set dev "$IF" mtu "$MTU"
    cur=$(ip -4 -o addr show dev "$IF" | awk '{print $4}')
    if [ "$cur" != "$ADDR/$PLEN" ]; then
        ip -4 addr flush dev "$IF"
        ip addr add "$ADDR/$PLEN" dev "$IF"
    fi
    ip -4 route flush dev "$IF" proto boot 2>/dev/null
    if [ -n "$ROUTES" ]; then
        set -- $ROUTES
        while [ $# -ge 2 ]; do
            dst=$1; gw=$2; shift 2
            [ "$dst" != 0.0.0.0/0 ] || dst=default
            if [ "$gw" = 0.0.0.0 ]; then
                ip route replace "$dst" dev "$IF" scope link
            else
                ip route replace "$dst" via "$gw" dev "$IF"
            fi
        done
    elif [ -n "$ROUTERS" ]; then
        set -- $ROUTERS
        ip route replace default via "$1" dev "$IF"
    fi
    {
        echo "event=$EV"; echo "ip=$ADDR"; echo "plen=$PLEN"
        echo "routers=$ROUTERS"; echo "dns=$DNS"; echo "mtu=$MTU"
        echo "routes=$ROUTES"; echo "serverid=$SID"
        echo "hostname=$HOSTNAME_"; echo "domain=$DOMAIN"; echo "lease=$LEASE"
    } >"$STATE.tmp" && mv "$STATE.tmp" "$STATE"
    ;;
deconfig)
    ip -4 addr flush dev "$IF"
    printf 'event=%s\nip=\n' "$EV" >"$STATE.tmp" && mv "$STATE.tmp" "$STATE"
    ;;
esac
exit 0
SH
    } >"$f"
    chmod 755 "$f"
    echo "$f"
}

# dhcp_state VM KEY: one value from VM's DHCP state file (see dhcp_script);
# fails if there is no state yet.
dhcp_state() {
    local f="$W_RUNDIR/dhcp-$1.state"
    [ -f "$f" ] || return 1
    sed -n "s/^$2=//p" "$f"
}

# dhcp_events VM: VM's DHCP client events so far, one per line.
dhcp_events() { cat "$W_RUNDIR/dhcp-$1.events" 2>/dev/null; }

# dhclient_start VM: ISC dhclient on VM's eth0 in the foreground (-d, so its
# PID is ours to stop), one attempt (-1: it exits 2 if no lease comes
# within 20 s), lease and PID files in the run directory, dhcp_script as
# its script, our own config file (asks for option 121 and the MTU; first
# retransmission after 1 s).  Log: $W_RUNDIR/dhclient-VM.log.  Sets
# W_LAST_PID and W_DHCLIENT_PID[VM].
declare -A W_DHCLIENT_PID=()
dhclient_start() {
    local vm=$1 conf="$W_RUNDIR/dhclient-$1.conf" script
    script=$(dhcp_script "$vm")
    cat >"$conf" <<'CONF'
option rfc3442-classless-static-routes code 121 = array of unsigned integer 8;
request subnet-mask, broadcast-address, routers, domain-name,
        domain-name-servers, host-name, interface-mtu,
        rfc3442-classless-static-routes;
timeout 20;
initial-interval 1;
CONF
    rm -f "$W_RUNDIR/dhcp-$vm.state" "$W_RUNDIR/dhcp-$vm.events"
    bg "$(vm_ns "$vm")" "dhclient-$vm" timeout 200 dhclient -d -v -1 \
        -cf "$conf" -pf "$W_RUNDIR/dhclient-$vm.pid" \
        -lf "$W_RUNDIR/dhclient-$vm.leases" -sf "$script" eth0
    W_DHCLIENT_PID[$vm]=$W_LAST_PID
}

# udhcpc_run VM [UDHCPC_ARGS...]: busybox udhcpc on VM's eth0 in the
# foreground until it has a lease (-q) or gave up (-n; 4 DISCOVERs 1 s
# apart by default), dhcp_script as its script; bounded to 30 s.  Log:
# $W_RUNDIR/udhcpc-VM.log.  Returns udhcpc's status (0: got a lease).
udhcpc_run() {
    local vm=$1 script; shift
    script=$(dhcp_script "$vm")
    rm -f "$W_RUNDIR/dhcp-$vm.state" "$W_RUNDIR/dhcp-$vm.events"
    vm_exec "$vm" timeout 30 busybox udhcpc -f -i eth0 -n -q -t 4 -T 1 \
        -s "$script" "$@" >>"$W_RUNDIR/udhcpc-$vm.log" 2>&1
}

# vm_ipv4 VM: VM's IPv4 addresses on eth0 as ADDR/PLEN, one per line.
vm_ipv4() { vm_exec "$1" ip -4 -o addr show dev eth0 | awk '{print $4}'; }
