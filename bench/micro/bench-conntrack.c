/*
 * bench-conntrack.c -- micro-benchmark of the connection tracker.
 *
 * Measures, single-threaded:
 *   tcp_est      ct_execute() of an in-window ACK of a random established
 *                TCP connection (window tracking included), in tables of
 *                1k and 1M connections;
 *   udp_est      the same for replied UDP flows (1M);
 *   udp_commit   committing new UDP connections into an empty table with
 *                room for 1M (commits per second);
 *   tcp_setup    a whole three-way handshake (3 packets, the SYN
 *                committed), per connection.
 *
 * The flow key is generated on the fly from an index; every connection uses
 * the same initial sequence numbers so one frame (seq/ack/window are read
 * from it) serves all of them.  Each lookup measurement runs for about
 * 150 ms.  Also prints bytes per entry at 1M.  Asserts nothing.
 *
 * Output: one line per measurement, "bench-conntrack: <name> <N> ns/pkt".
 */
#include "datapath/conntrack.h"

#include <arpa/inet.h>
#include <string.h>

#include "bench/micro/bench-util.h"

#define RUN_NSEC (150 * 1000 * 1000LL)
#define BATCH 4096

static volatile uint64_t sink;

struct frames {
    uint8_t syn[54], synack[54], ack[54], udp[42];
    struct packet_layout lo_tcp, lo_udp;
};

static void
build(uint8_t *f, uint8_t proto, uint8_t flags, uint32_t seq, uint32_t ack,
      struct packet_layout *lo)
{
    uint8_t *ip = f + ETH_HDR_LEN, *l4 = ip + 20;
    size_t l4_len = proto == IPPROTO_TCP_ ? 20 : 8;
    struct flow_key key;

    memset(f, 0, ETH_HDR_LEN + 20 + l4_len);
    f[0] = f[6] = 2;
    put16(f + 12, htons(ETH_TYPE_IP));
    ip[0] = 0x45;
    put16(ip + 2, htons((uint16_t) (20 + l4_len)));
    ip[8] = 64;
    ip[9] = proto;
    put16(l4, htons(1));
    put16(l4 + 2, htons(2));
    if (proto == IPPROTO_TCP_) {
        put32(l4 + 4, htonl(seq));
        put32(l4 + 8, htonl(ack));
        l4[12] = 5 << 4;
        l4[13] = flags;
        put16(l4 + 14, htons(65535));
    } else {
        put16(l4 + 4, htons(8));
    }
    flow_key_extract(f, ETH_HDR_LEN + 20 + l4_len, 2, &key, lo);
}

/* Key of connection 'i' in direction 'reply'. */
static inline void
make_key(struct flow_key *k, uint8_t proto, uint32_t i, bool reply)
{
    be32 c = htonl(0x0a000000u | (i >> 10));
    be32 s = htonl(0x0a800000u | (i & 0x3ff));
    be16 cp = htons((uint16_t) (1024 + (i & 0x3ff)));
    be16 sp = htons(80);

    memset(k, 0, sizeof *k);
    k->in_port = 2;
    k->eth_type = htons(ETH_TYPE_IP);
    k->nw_proto = proto;
    k->nw_ttl = 64;
    k->nw_src.ip4 = reply ? s : c;
    k->nw_dst.ip4 = reply ? c : s;
    k->tp_src = reply ? sp : cp;
    k->tp_dst = reply ? cp : sp;
}

static void
report(const char *name, long long nsec, uint64_t n)
{
    bench_report("bench-conntrack", name, nsec, n);
}

static struct conntrack *
new_ct(uint32_t max)
{
    struct ct_config cfg;

    ct_config_default(&cfg);
    cfg.max_entries = max;
    return ct_create(&cfg);
}

static void
handshake(struct conntrack *ct, const struct frames *fr, uint32_t i)
{
    struct flow_key k;

    make_key(&k, IPPROTO_TCP_, i, false);
    k.tcp_flags = TCP_SYN;
    ct_execute(ct, 1, true, fr->syn, sizeof fr->syn, &k, &fr->lo_tcp, 0,
               NULL);
    make_key(&k, IPPROTO_TCP_, i, true);
    k.tcp_flags = TCP_SYN | TCP_ACK;
    ct_execute(ct, 1, false, fr->synack, sizeof fr->synack, &k, &fr->lo_tcp,
               0, NULL);
    make_key(&k, IPPROTO_TCP_, i, false);
    k.tcp_flags = TCP_ACK;
    ct_execute(ct, 1, false, fr->ack, sizeof fr->ack, &k, &fr->lo_tcp, 0,
               NULL);
}

static void
bench_tcp_est(const struct frames *fr, uint32_t n_conns, const char *name)
{
    struct conntrack *ct = new_ct(n_conns);
    uint32_t rng = 1, acc = 0;
    long long start, end;
    struct ct_stats st;
    uint64_t n = 0;

    for (uint32_t i = 0; i < n_conns; i++) {
        handshake(ct, fr, i);
    }
    ct_get_stats(ct, &st);
    start = time_nsec();
    do {
        for (int b = 0; b < BATCH; b++) {
            struct flow_key k;

            make_key(&k, IPPROTO_TCP_, next_index(&rng, n_conns), false);
            k.tcp_flags = TCP_ACK;
            acc += ct_execute(ct, 1, false, fr->ack, sizeof fr->ack, &k,
                              &fr->lo_tcp, 1, NULL);
        }
        n += BATCH;
        end = time_nsec();
    } while (end - start < RUN_NSEC);
    sink += acc;
    report(name, end - start, n);
    if (acc != (uint32_t) n * (CT_TRACKED | CT_ESTABLISHED)) {
        printf("bench-conntrack: %s: unexpected verdicts\n", name);
    }
    printf("bench-conntrack: %s table: %llu entries, %.1f bytes/entry\n",
           name, (unsigned long long) st.n_entries,
           (double) st.bytes_used / (double) st.n_entries);
    ct_destroy(ct);
}

static void
bench_udp(const struct frames *fr)
{
    const uint32_t n_conns = 1000000;
    struct conntrack *ct = new_ct(n_conns);
    uint32_t rng = 1, acc = 0;
    long long start, end;
    uint64_t n = 0;
    struct flow_key k;

    start = time_nsec();
    for (uint32_t i = 0; i < n_conns; i++) {
        make_key(&k, IPPROTO_UDP_, i, false);
        acc += ct_execute(ct, 1, true, fr->udp, sizeof fr->udp, &k,
                          &fr->lo_udp, 0, NULL);
    }
    end = time_nsec();
    report("udp_commit_1M", end - start, n_conns);
    for (uint32_t i = 0; i < n_conns; i++) {
        make_key(&k, IPPROTO_UDP_, i, true);
        acc += ct_execute(ct, 1, false, fr->udp, sizeof fr->udp, &k,
                          &fr->lo_udp, 0, NULL);
    }

    start = time_nsec();
    do {
        for (int b = 0; b < BATCH; b++) {
            make_key(&k, IPPROTO_UDP_, next_index(&rng, n_conns),
                     b & 1);
            acc += ct_execute(ct, 1, false, fr->udp, sizeof fr->udp, &k,
                              &fr->lo_udp, 1, NULL);
        }
        n += BATCH;
        end = time_nsec();
    } while (end - start < RUN_NSEC);
    sink += acc;
    report("udp_est_1M", end - start, n);
    ct_destroy(ct);
}

static void
bench_tcp_setup(const struct frames *fr)
{
    const uint32_t n_conns = 200000;
    struct conntrack *ct = new_ct(n_conns);
    long long start, end;

    start = time_nsec();
    for (uint32_t i = 0; i < n_conns; i++) {
        handshake(ct, fr, i);
    }
    end = time_nsec();
    report("tcp_setup_200k (per handshake)", end - start, n_conns);
    ct_destroy(ct);
}

int
main(void)
{
    struct frames fr;

    build(fr.syn, IPPROTO_TCP_, TCP_SYN, 1000, 0, &fr.lo_tcp);
    build(fr.synack, IPPROTO_TCP_, TCP_SYN | TCP_ACK, 5000, 1001,
          &fr.lo_tcp);
    build(fr.ack, IPPROTO_TCP_, TCP_ACK, 1001, 5001, &fr.lo_tcp);
    build(fr.udp, IPPROTO_UDP_, 0, 0, 0, &fr.lo_udp);

    bench_tcp_est(&fr, 1000, "tcp_est_1k");
    bench_tcp_est(&fr, 1000000, "tcp_est_1M");
    bench_udp(&fr);
    bench_tcp_setup(&fr);
    return 0;
}
