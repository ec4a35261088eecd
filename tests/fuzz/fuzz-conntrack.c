/* FUZZ_SOURCES: lib/flow-key.c lib/packet.c lib/util.c lib/ip-proto.c datapath/conntrack.c */
/*
 * fuzz-conntrack.c -- libFuzzer target for the connection tracker.
 *
 * The input is a sequence of records, each fed through flow_key_extract()
 * and ct_execute() on one small tracker (16 entries, so eviction and
 * full-table refusals happen), with a clock that only moves forward:
 *
 *   ctl byte: bit 0 commit, bits 1-2 zone, bits 3-6 clock step (x 7 s),
 *             bit 7 raw frame
 *   raw:      a length byte n, then n bytes of frame (fewer if the input
 *             ends);
 *   template: 16 bytes filling a TCP, UDP, ICMP echo or ICMP error packet
 *             between two fixed hosts (IPv4 or IPv6), so that connections
 *             are actually created, answered and torn down: kind, direction
 *             and port bit, TCP flags, seq, ack, window, payload length,
 *             window-scale option.
 *
 * Every frame is an exact-size heap copy so ASan catches reads past the
 * end.  Checked after every packet: the verdict is self-consistent
 * (INVALID excludes NEW/EST/REL and names a reason; TRACKED iff IP), and
 * the entry count equals what ct_dump() sees and never exceeds the limit.
 * At the end, ct_run() far in the future empties the table.
 *
 * Build (from the repository root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=gnu11 \
 *     -D_GNU_SOURCE -I. -Iinclude tests/fuzz/fuzz-conntrack.c \
 *     <the FUZZ_SOURCES above> -o /tmp/fuzz-conntrack
 *   /tmp/fuzz-conntrack -max_total_time=60
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "datapath/conntrack.h"
#include "tests/fuzz/fuzz-util.h"

BUILD_ASSERT_DECL(FLOW_KEY_SEQ == 2);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ENTRIES 16
#define TEMPLATE_LEN 16

static bool
count_cb(const struct ct_conn_info *info, void *aux)
{
    (void) info;
    ++*(size_t *) aux;
    return true;
}

/* Writes an IPv4/IPv6 header for 'l4_len' bytes of 'proto' at 'f' after an
 * Ethernet header; returns the offset of L4. */
static size_t
put_ip(uint8_t *f, bool v6, bool rev, uint8_t proto, size_t l4_len)
{
    uint8_t *ip = f + ETH_HDR_LEN;
    uint8_t a = rev ? 2 : 1, b = rev ? 1 : 2;

    put16(f + 12, htons(v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP));
    if (v6) {
        ip[0] = 0x60;
        put16(ip + 4, htons((uint16_t) l4_len));
        ip[6] = proto;
        ip[7] = 64;
        ip[8] = ip[24] = 0xfd;
        ip[23] = a;
        ip[39] = b;
        return ETH_HDR_LEN + 40;
    }
    ip[0] = 0x45;
    put16(ip + 2, htons((uint16_t) (20 + l4_len)));
    ip[8] = 64;
    ip[9] = proto;
    put32(ip + 12, htonl(0x0a000000u | a));
    put32(ip + 16, htonl(0x0a000000u | b));
    return ETH_HDR_LEN + 20;
}

/* Builds a templated frame into 'f' (zeroed, 256 bytes) from 't'. */
static size_t
build_template(uint8_t *f, const uint8_t *t)
{
    uint8_t kind = (t[0] & 0x7f) % 6;
    bool v6 = t[0] & 0x80;
    bool rev = t[1] & 1;
    uint16_t sport = 40000 + (t[1] >> 1 & 1), dport = 80;
    size_t l4, plen = t[13] % 64;
    uint8_t *p;

    if (kind == 0 || kind == 1) {               /* TCP. */
        bool ws = t[14] & 0x80;
        size_t doff = ws ? 24 : 20;

        l4 = put_ip(f, v6, rev, IPPROTO_TCP_, doff + plen);
        p = f + l4;
        put16(p, htons(rev ? dport : sport));
        put16(p + 2, htons(rev ? sport : dport));
        memcpy(p + 4, t + 3, 8);                /* seq, ack */
        p[12] = (uint8_t) (doff / 4) << 4;
        p[13] = t[2];
        memcpy(p + 14, t + 11, 2);
        if (ws) {
            p[20] = 1;
            p[21] = 3;
            p[22] = 3;
            p[23] = t[14] & 0x1f;
        }
        return l4 + doff + plen;
    } else if (kind == 2) {                     /* UDP. */
        l4 = put_ip(f, v6, rev, IPPROTO_UDP_, 8 + plen);
        p = f + l4;
        put16(p, htons(rev ? dport : sport));
        put16(p + 2, htons(rev ? sport : dport));
        return l4 + 8 + plen;
    } else if (kind == 3) {                     /* Echo. */
        l4 = put_ip(f, v6, rev, v6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_, 8);
        p = f + l4;
        p[0] = t[2] & 1 ? (v6 ? 128 : 8) : (v6 ? 129 : 0);
        memcpy(p + 4, t + 3, 2);
        return l4 + 8;
    } else {                                    /* Error quoting TCP/UDP. */
        uint8_t inner[128];
        size_t in_len, q;

        memset(inner, 0, sizeof inner);
        in_len = build_template(inner, (const uint8_t[TEMPLATE_LEN]) {
            (uint8_t) ((kind == 4 ? 0 : 2) | (t[0] & 0x80)),
            (uint8_t) (t[1] ^ 1), t[2], t[3], t[4], t[5], t[6], t[7],
            t[8], t[9], t[10], t[11], t[12], 0, 0, 0 });
        q = MIN(in_len - ETH_HDR_LEN, (size_t) (v6 ? 48 : 28) + plen);
        l4 = put_ip(f, v6, rev, v6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_,
                    8 + q);
        p = f + l4;
        p[0] = t[15] & 1 ? (v6 ? 1 : 3) : (v6 ? 2 : 11);
        p[1] = t[15] >> 1;
        memcpy(p + 8, inner + ETH_HDR_LEN, q);
        return l4 + 8 + q;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ct_config cfg;
    struct conntrack *ct;
    long long now = 1000;
    size_t i = 0;

    ct_config_default(&cfg);
    cfg.max_entries = FUZZ_MAX_ENTRIES;
    ct = ct_create(&cfg);
    fuzz_check(ct != NULL);

    while (i < size) {
        uint8_t ctl = data[i++];
        uint8_t tmp[256];
        size_t len;
        uint8_t *frame;
        struct flow_key key;
        struct packet_layout lo;
        struct ct_result res;
        struct ct_stats st;
        size_t n = 0;
        uint8_t s;

        memset(tmp, 0, sizeof tmp);
        if (ctl & 0x80) {
            if (i >= size) {
                break;
            }
            len = MIN((size_t) data[i], size - i - 1);
            memcpy(tmp, data + i + 1, len);
            i += 1 + len;
        } else {
            uint8_t t[TEMPLATE_LEN] = { 0 };

            memcpy(t, data + i, MIN(sizeof t, size - i));
            i += MIN(sizeof t, size - i);
            len = build_template(tmp, t);
        }
        now += (long long) ((ctl >> 3) & 0xf) * 7000;

        frame = malloc(len ? len : 1);
        fuzz_check(frame != NULL);
        memcpy(frame, tmp, len);
        flow_key_extract(frame, len, 2, &key, &lo);
        s = ct_execute(ct, (ctl >> 1) & 3, ctl & 1, frame, len, &key, &lo,
                       now, &res);
        free(frame);

        fuzz_check(s == res.state);
        if (key.eth_type != htons(ETH_TYPE_IP)
            && key.eth_type != htons(ETH_TYPE_IPV6)) {
            fuzz_check(s == 0);
        } else {
            fuzz_check(s & CT_TRACKED);
        }
        if (s & CT_INVALID) {
            fuzz_check(!(s & (CT_NEW | CT_ESTABLISHED | CT_RELATED)));
            fuzz_check(res.reason != CT_INVALID_NONE
                  && res.reason < CT_N_INVALID_REASONS);
        } else {
            fuzz_check(res.reason == CT_INVALID_NONE);
            fuzz_check(!s || !!(s & CT_NEW) + !!(s & CT_ESTABLISHED)
                        + !!(s & CT_RELATED) == 1);
        }
        fuzz_check(res.conn_state < CT_N_CONN_STATES);

        ct_get_stats(ct, &st);
        ct_dump(ct, CT_ZONE_ALL, count_cb, &n);
        fuzz_check(n == st.n_entries);
        fuzz_check(st.n_entries <= FUZZ_MAX_ENTRIES);
        /* Every removal is counted except TCP port reuse (TIME_WAIT or
         * CLOSE replaced by a new SYN). */
        fuzz_check(st.commits >= st.n_entries);
        fuzz_check(st.commits - st.n_entries >= st.expired + st.early_evictions);
        if (i % 7 == 0) {
            ct_run(ct, now, 5);
        }
    }

    /* Far in the future everything has expired. */
    {
        struct ct_stats st;

        ct_run(ct, now + 100LL * 24 * 3600 * 1000, FUZZ_MAX_ENTRIES);
        ct_get_stats(ct, &st);
        fuzz_check(st.n_entries == 0);
    }
    ct_destroy(ct);
    return 0;
}
