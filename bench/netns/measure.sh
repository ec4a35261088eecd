# measure.sh -- sourced by the bench/netns/path-*.sh scripts: the same four
# measurements for every datapath, so the results compare directly.
#
#   tcp_gbps      single-stream TCP throughput, iperf3 -t $B_SECS (receiver)
#   udp64_kpps    64-byte UDP payloads, iperf3 -u -l 64 -b 0: packets the
#                 *receiver* got per second, in thousands (median of 3)
#   cpu_ns_pkt    whole-machine busy CPU time (all cores, /proc/stat) during
#                 the UDP test divided by received packets, in ns
#   agent_ns_pkt  the same for the processes in $B_CPU_PIDS only (agents)
#   idle_cpu_pct  CPU of $B_CPU_PIDS over a few idle seconds (% of a core)
#   lat_p50_us    ping RTT percentiles over 200 pings at 10 ms intervals
#   lat_p99_us
#   cps           new TCP connections per second (bench/netns/connrate.c:
#                 one client, sequential connect/close, each a new flow)
#
# Every result is printed as "RESULT <path> <metric> <value>"; scripts/bench.sh
# collects them.  Requires tests/lib/netns.sh (bg, wait_for, iperf_server).

B_SECS=${B_SECS:-5}
B_CONNRATE=${B_CONNRATE:-$W_ROOT/build/bench-netns/connrate}

result() { echo "RESULT $1 $2 $3"; }

# busy_jiffies: sum of non-idle CPU time (all cores) from /proc/stat.
busy_jiffies() {
    awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat
}

# pids_jiffies: utime + stime of the processes in $B_CPU_PIDS (e.g. the
# Weft agents), in clock ticks.
pids_jiffies() {
    local pid t=0 f
    for pid in ${B_CPU_PIDS:-}; do
        # Fields after "(comm) ": utime and stime are the 12th and 13th.
        f=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f12,13)
        [ -n "$f" ] || continue
        t=$((t + ${f% *} + ${f#* }))
    done
    echo "$t"
}

# measure_idle_cpu PATH SECONDS: CPU use of $B_CPU_PIDS while idle, in
# percent of one core.
measure_idle_cpu() {
    local p0 p1 hz
    hz=$(getconf CLK_TCK)
    p0=$(pids_jiffies)
    sleep "$2"
    p1=$(pids_jiffies)
    result "$1" idle_cpu_pct "$(awk -v j=$((p1 - p0)) -v hz="$hz" -v s="$2" \
        'BEGIN{printf "%.2f", j / hz / s * 100}')"
}

# measure_tcp PATH SRC_NS DST_NS DST_IP
measure_tcp() {
    local path=$1 src=$2 dst=$3 ip=$4 json v
    iperf_server "$dst" 5201
    json=$(ip netns exec "$src" timeout $((B_SECS + 15)) \
        iperf3 -c "$ip" -p 5201 -t "$B_SECS" -J 2>/dev/null)
    v=$(jq -r '.end.sum_received.bits_per_second / 1e9 * 100 | round / 100' \
        <<<"$json" 2>/dev/null)
    result "$path" tcp_gbps "${v:-ERR}"
}

# measure_udp PATH SRC_NS DST_NS DST_IP: $B_UDP_RUNS runs of $B_UDP_SECS s
# (sender pinned to CPU 0, receiver to CPU 1); reports the median rate.
# This machine is shared and small, so single UDP flood runs are noisy.
measure_udp() {
    local path=$1 src=$2 dst=$3 ip=$4 json rx secs j0 j1 p0 p1 hz ns i
    local rates=() total_rx=0
    hz=$(getconf CLK_TCK)
    j0=$(busy_jiffies)
    p0=$(pids_jiffies)
    for ((i = 0; i < ${B_UDP_RUNS:-3}; i++)); do
        bg "$dst" "iperf3-u-$i" timeout 30 taskset -c 1 iperf3 -s -1 -p 5202
        wait_for "ip netns exec $dst ss -Hlun 'sport = :5202' | grep -q 5202" 5
        json=$(ip netns exec "$src" timeout 20 taskset -c 0 \
            iperf3 -c "$ip" -p 5202 -u -l 64 -b 0 -t "${B_UDP_SECS:-2}" -J \
            2>/dev/null)
        # The receiver's view: packets it got (sent minus lost).
        rx=$(jq -r '(.end.sum_received // .end.sum)
                    | (.packets - .lost_packets)' <<<"$json" 2>/dev/null)
        secs=$(jq -r '(.end.sum_received // .end.sum).seconds' \
            <<<"$json" 2>/dev/null)
        wait "$W_LAST_PID" 2>/dev/null
        [[ $rx =~ ^[0-9]+$ ]] && [ "$rx" -gt 0 ] || continue
        total_rx=$((total_rx + rx))
        rates+=("$(awk -v p="$rx" -v s="$secs" \
            'BEGIN{printf "%.1f", p / s / 1000}')")
    done
    j1=$(busy_jiffies)
    p1=$(pids_jiffies)
    if [ "${#rates[@]}" -eq 0 ]; then
        result "$path" udp64_kpps ERR
        result "$path" cpu_ns_pkt ERR
        return
    fi
    result "$path" udp64_kpps "$(printf '%s\n' "${rates[@]}" | sort -n |
        awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')"
    ns=$(awk -v j=$((j1 - j0)) -v hz="$hz" -v p="$total_rx" \
        'BEGIN{printf "%.0f", j / hz * 1e9 / p}')
    result "$path" cpu_ns_pkt "$ns"
    if [ -n "${B_CPU_PIDS:-}" ]; then
        result "$path" agent_ns_pkt "$(awk -v j=$((p1 - p0)) -v hz="$hz" \
            -v p="$total_rx" 'BEGIN{printf "%.0f", j / hz * 1e9 / p}')"
    fi
}

# measure_latency PATH SRC_NS DST_IP
measure_latency() {
    local path=$1 src=$2 ip=$3 out
    out=$(ip netns exec "$src" timeout 30 ping -n -c 200 -i 0.01 -W 1 "$ip" \
        2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -n)
    if [ -z "$out" ]; then
        result "$path" lat_p50_us ERR
        result "$path" lat_p99_us ERR
        return
    fi
    awk '{v[NR] = $1} END {
            p50 = v[int((NR - 1) * 0.50) + 1];
            p99 = v[int((NR - 1) * 0.99) + 1];
            printf "%.0f %.0f\n", p50 * 1000, p99 * 1000 }' <<<"$out" |
        { read -r a b; result "$path" lat_p50_us "$a"
          result "$path" lat_p99_us "$b"; }
}

# measure_cps PATH SRC_NS DST_NS DST_IP
measure_cps() {
    local path=$1 src=$2 dst=$3 ip=$4 out v
    if [ ! -x "$B_CONNRATE" ]; then
        result "$path" cps ERR
        return
    fi
    ip netns exec "$src" sysctl -qw net.ipv4.ip_local_port_range="10000 65000" \
        net.ipv4.tcp_tw_reuse=1 >/dev/null 2>&1
    bg "$dst" connrate-s timeout 20 "$B_CONNRATE" server 5203 8
    wait_for "ip netns exec $dst ss -Hltn 'sport = :5203' | grep -q LISTEN" 5
    out=$(ip netns exec "$src" timeout 15 "$B_CONNRATE" client "$ip" 5203 3)
    v=$(sed -n 's/.* cps \([0-9]*\) .*/\1/p' <<<"$out")
    result "$path" cps "${v:-ERR}"
}

# measure_all PATH SRC_NS DST_NS DST_IP: all of the above.
measure_all() {
    local path=$1 src=$2 dst=$3 ip=$4
    if ! wait_for "ip netns exec $src ping -n -c 1 -W 1 $ip" 15; then
        echo "bench: $path: $ip not reachable from $src, skipping" >&2
        for m in tcp_gbps udp64_kpps cpu_ns_pkt lat_p50_us lat_p99_us cps; do
            result "$path" "$m" ERR
        done
        return 1
    fi
    measure_tcp "$path" "$src" "$dst" "$ip"
    measure_udp "$path" "$src" "$dst" "$ip"
    measure_latency "$path" "$src" "$ip"
    measure_cps "$path" "$src" "$dst" "$ip"
}
