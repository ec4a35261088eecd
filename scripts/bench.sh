#!/bin/bash
# bench.sh -- `make bench`: Weft's benchmarks with their baselines, in one
# run (DESIGN.md "Performance method").
#
#  1. micro-benchmarks: every build/bench/* (from bench/micro/*.c), each
#     bounded by timeout; their output lines are printed as they are.
#  2. netns benchmarks on the same 2-host topology, one path at a time:
#       veth          two namespaces joined by one veth (the I/O limit)
#       kvxlan        Linux bridge + kernel VXLAN per host (the free baseline)
#       weft-geneve   Weft agents, Geneve
#       weft-vxlan    Weft agents, VXLAN
#       weft-vxlan-open  VXLAN, ports without security groups: every
#                     cached flow in the kernel fast path (datapath/kpath.h)
#       weft-vxlan-open-agent  the same with --fastpath off: all in the
#                     agents (what the kernel fast path gains)
#       weft-open     weft-geneve without security groups (opt-in path)
#       weft-sg1000   weft-geneve with a 1,000-rule group on both ports
#                     (opt-in path)
#       weft-sg-ab    the cost of a 1,000-rule group measured A/B on one
#                     topology, ports switched between open and filtered
#                     through the API (opt-in path; ab_ratio_* rows)
#       weft-routed   Weft agents, Geneve, through a distributed router:
#                     VM on subnet A (hv1) -> VM on subnet B (hv2)
#     each measured by bench/netns/measure.sh (TCP Gbps, 64-byte UDP kpps at
#     the receiver, CPU per packet, ping p50/p99, new connections/s).
#  3. a table with each metric and its ratio to kvxlan, plus the ratio
#     weft-routed / weft-geneve (what the router costs), also written to
#     build/bench-results.txt.
#
# Benchmarks, not tests: nothing here fails on a number.  It fails only if
# it cannot run (not root, no namespaces).  Runtime about 2-3 minutes.
# WEFT_BENCH_PATHS="veth kvxlan" restricts the netns paths.

set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=$ROOT/build/bench-results.txt
RAW=$(mktemp /tmp/weft-bench-XXXXXX)
trap 'rm -f "$RAW"' EXIT

if [ "$(id -u)" -ne 0 ]; then
    echo "SKIP: bench: the netns benchmarks need root" >&2
    exit 77
fi

echo "== building"
make -j2 all >/dev/null 2>&1 || echo "bench: WARNING: 'make all' failed;" \
    "running whatever is built"
mkdir -p build/bench-netns
gcc -O2 -Wall -Wextra -Werror bench/netns/connrate.c \
    -o build/bench-netns/connrate || exit 1

{
    echo "# Weft benchmark results, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "# host: $(uname -r), $(nproc) CPUs, $(awk -F': ' \
        '/model name/{print $2; exit}' /proc/cpuinfo)"
    echo "# load before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$OUT"

echo "== micro-benchmarks (build/bench/*)"
echo "## micro-benchmarks" >>"$OUT"
found=0
for b in build/bench/*; do
    [ -x "$b" ] && [ -f "$b" ] || continue
    found=1
    echo "-- $(basename "$b")"
    timeout 60 "$b" 2>&1 | tee -a "$OUT"
    rc=${PIPESTATUS[0]}
    [ "$rc" -eq 0 ] || echo "bench: $(basename "$b") exited $rc" | tee -a "$OUT"
done
[ $found = 1 ] || echo "(no micro-benchmarks built)" | tee -a "$OUT"

PATHS=${WEFT_BENCH_PATHS:-veth kvxlan weft-geneve weft-vxlan weft-vxlan-open weft-vxlan-open-agent weft-routed}
echo "== netns benchmarks: $PATHS"
for p in $PATHS; do
    echo "-- $p"
    case $p in
    veth) cmd=(bench/netns/path-veth.sh) ;;
    kvxlan) cmd=(bench/netns/path-kvxlan.sh) ;;
    weft-geneve) cmd=(bench/netns/path-weft.sh geneve) ;;
    weft-vxlan) cmd=(bench/netns/path-weft.sh vxlan) ;;
    weft-routed) cmd=(bench/netns/path-weft.sh geneve routed) ;;
    weft-open) cmd=(bench/netns/path-weft.sh geneve open) ;;
    weft-vxlan-open) cmd=(bench/netns/path-weft.sh vxlan open) ;;
    weft-vxlan-open-agent)
        cmd=(env WEFT_AGENT_OPTS="--fastpath off"
             bench/netns/path-weft.sh vxlan open) ;;
    weft-sg1000) cmd=(bench/netns/path-weft.sh geneve sg1000) ;;
    weft-sg-ab) cmd=(bench/netns/path-weft.sh geneve sg-ab) ;;
    *) echo "bench: unknown path $p"; continue ;;
    esac
    limit=120
    [ "$p" = weft-sg-ab ] && limit=400
    timeout "$limit" "${cmd[@]}" 2>&1 | tee -a "$RAW" |
        grep -E '^(RESULT|SKIP|FAIL)'
done

# The table: one row per metric, one column per path, ratios to kvxlan.
{
    echo "## netns benchmarks (ratio = path / kvxlan; routed/sw ="
    echo "## weft-routed / weft-geneve; for latency and ns/packet lower"
    echo "## is better, for the others higher is better)"
    awk -v paths="$PATHS" '
    $1 == "RESULT" { v[$2, $3] = $4; if (!($3 in seen)) { seen[$3] = 1;
                     order[++n] = $3 } }
    END {
        np = split(paths, p, " ");
        printf "%-14s", "metric";
        for (i = 1; i <= np; i++) printf " %12s", p[i];
        for (i = 1; i <= np; i++) if (p[i] != "kvxlan")
            printf " %13s", p[i] "/kvx";
        for (i = 1; i <= np; i++) if (p[i] == "weft-routed") rt = 1;
        for (i = 1; i <= np; i++) if (p[i] == "weft-geneve") sw = 1;
        if (rt && sw) printf " %11s", "routed/sw";
        printf "\n";
        for (m = 1; m <= n; m++) {
            k = order[m];
            printf "%-14s", k;
            for (i = 1; i <= np; i++) {
                x = ((p[i], k) in v) ? v[p[i], k] : "-";
                printf " %12s", x;
            }
            base = ((("kvxlan", k) in v)) ? v["kvxlan", k] : "";
            for (i = 1; i <= np; i++) {
                if (p[i] == "kvxlan") continue;
                x = ((p[i], k) in v) ? v[p[i], k] : "";
                if (x ~ /^[0-9.]+$/ && base ~ /^[0-9.]+$/ && base + 0 > 0)
                    printf " %13.2f", x / base;
                else
                    printf " %13s", "-";
            }
            if (rt && sw) {
                x = (("weft-routed", k) in v) ? v["weft-routed", k] : "";
                y = (("weft-geneve", k) in v) ? v["weft-geneve", k] : "";
                if (x ~ /^[0-9.]+$/ && y ~ /^[0-9.]+$/ && y + 0 > 0)
                    printf " %11.2f", x / y;
                else
                    printf " %11s", "-";
            }
            printf "\n";
        }
    }' "$RAW"
    echo "## units: tcp_gbps Gbit/s (1 stream, receiver); udp64_kpps"
    echo "## thousand 64-byte UDP packets/s received (median of 3);"
    echo "## cpu_ns_pkt whole-machine CPU ns per received UDP packet;"
    echo "## agent_ns_pkt Weft agents' CPU ns per packet; idle_cpu_pct"
    echo "## agents' CPU when idle (% of one core); lat_* ping RTT in us;"
    echo "## cps new TCP connections/s (one sequential client)."
    echo "## VM MTU: veth 1500, kvxlan 1450, weft the network's mtu (API)."
    echo "## idle_cpu_pct resolution: 1 tick per 5 s = 0.2%."
} >>"$OUT.table"
cat "$OUT.table" >>"$OUT"
echo
cat "$OUT.table"
rm -f "$OUT.table"
echo
echo "results written to $OUT"
exit 0
