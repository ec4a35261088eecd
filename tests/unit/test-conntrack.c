/*
 * test-conntrack.c -- unit tests for the connection tracker.
 *
 * Every packet is a real frame built here, parsed by flow_key_extract() and
 * handed to ct_execute() with an injected clock.  Covered: the TCP
 * handshake, data, FIN and RST sequences with exact states; window
 * checks (out of window -> INVALID, state unchanged) and scaling; a
 * randomized comparison of the TCP state machine against a reference model
 * written below from the contract in conntrack.h; ICMP errors related (or
 * not) to UDP and TCP connections, IPv4 and IPv6; UDP and ICMP echo;
 * per-state timeouts, lazy and swept; the full-table policy; flush and
 * zone isolation; dump formatting; and the memory bound for a million
 * connections.
 */
#include "datapath/conntrack.h"

#include <arpa/inet.h>
#include <string.h>

#include "lib/random.h"
#include "tests/lib/unit.h"

/* Endpoint addresses: 'v6' selects fd00::<a> instead of 10.x.y.z (a). */
struct ep {
    bool v6;
    uint32_t a;
};

struct pkt {
    uint8_t buf[512];
    size_t len;
};

#define A_CLIENT 0x0a000001u    /* 10.0.0.1 */
#define A_SERVER 0x0a000002u    /* 10.0.0.2 */
#define A_ROUTER 0x0a0000feu    /* 10.0.0.254 */

static void
put_addr(uint8_t *p, const struct ep *e)
{
    if (e->v6) {
        memset(p, 0, 16);
        p[0] = 0xfd;
        put32(p + 12, htonl(e->a));
    } else {
        put32(p, htonl(e->a));
    }
}

/* Builds Ethernet + IP(src -> dst, proto) + 'l4' of 'l4_len' bytes. */
static void
build_ip(struct pkt *p, struct ep src, struct ep dst, uint8_t proto,
         const uint8_t *l4, size_t l4_len)
{
    uint8_t *ip = p->buf + ETH_HDR_LEN;
    size_t hlen = src.v6 ? 40 : 20;

    memset(p->buf, 0, sizeof p->buf);
    p->buf[0] = 0x02;
    p->buf[6] = 0x02;
    p->buf[11] = 1;
    put16(p->buf + 12, htons(src.v6 ? ETH_TYPE_IPV6 : ETH_TYPE_IP));
    if (src.v6) {
        ip[0] = 0x60;
        put16(ip + 4, htons((uint16_t) l4_len));
        ip[6] = proto;
        ip[7] = 64;
        put_addr(ip + 8, &src);
        put_addr(ip + 24, &dst);
    } else {
        ip[0] = 0x45;
        put16(ip + 2, htons((uint16_t) (20 + l4_len)));
        ip[8] = 64;
        ip[9] = proto;
        put_addr(ip + 12, &src);
        put_addr(ip + 16, &dst);
    }
    memcpy(ip + hlen, l4, l4_len);
    p->len = ETH_HDR_LEN + hlen + l4_len;
}

static void
build_tcp(struct pkt *p, struct ep src, uint16_t sport, struct ep dst,
          uint16_t dport, uint8_t flags, uint32_t seq, uint32_t ack,
          uint16_t win, size_t payload, int wscale)
{
    uint8_t l4[20 + 4 + 200];
    size_t doff = wscale >= 0 ? 24 : 20;

    ASSERT(payload <= 200);
    memset(l4, 0, sizeof l4);
    put16(l4, htons(sport));
    put16(l4 + 2, htons(dport));
    put32(l4 + 4, htonl(seq));
    put32(l4 + 8, htonl(ack));
    l4[12] = (uint8_t) (doff / 4) << 4;
    l4[13] = flags;
    put16(l4 + 14, htons(win));
    if (wscale >= 0) {
        l4[20] = 1;             /* NOP, then window scale. */
        l4[21] = 3;
        l4[22] = 3;
        l4[23] = (uint8_t) wscale;
    }
    build_ip(p, src, dst, IPPROTO_TCP_, l4, doff + payload);
}

static void
build_udp(struct pkt *p, struct ep src, uint16_t sport, struct ep dst,
          uint16_t dport)
{
    uint8_t l4[8 + 4] = { 0 };

    put16(l4, htons(sport));
    put16(l4 + 2, htons(dport));
    put16(l4 + 4, htons(sizeof l4));
    build_ip(p, src, dst, IPPROTO_UDP_, l4, sizeof l4);
}

static void
build_echo(struct pkt *p, struct ep src, struct ep dst, bool request,
           uint16_t id)
{
    uint8_t l4[16] = { 0 };

    l4[0] = src.v6 ? (request ? 128 : 129) : (request ? 8 : 0);
    put16(l4 + 4, htons(id));
    put16(l4 + 6, htons(1));
    build_ip(p, src, dst, src.v6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_, l4,
             sizeof l4);
}

/* An ICMP error from 'src' to 'dst' quoting the IP packet of 'inner' (its
 * IP header and the first 8 bytes of L4, as RFC 792 requires at least). */
static void
build_icmp_err(struct pkt *p, struct ep src, struct ep dst, uint8_t type,
               uint8_t code, const struct pkt *inner)
{
    uint8_t l4[8 + 48] = { 0 };
    size_t q = (src.v6 ? 40 : 20) + 8;

    l4[0] = type;
    l4[1] = code;
    memcpy(l4 + 8, inner->buf + ETH_HDR_LEN, q);
    build_ip(p, src, dst, src.v6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_, l4,
             8 + q);
}

static uint8_t
run(struct conntrack *ct, uint16_t zone, bool commit, const struct pkt *p,
    long long now, struct ct_result *res)
{
    struct flow_key key;
    struct packet_layout lo;
    uint8_t *copy = xmalloc(p->len);
    uint8_t st;

    memcpy(copy, p->buf, p->len);   /* Exact size, for ASan. */
    flow_key_extract(copy, p->len, 2, &key, &lo);
    st = ct_execute(ct, zone, commit, copy, p->len, &key, &lo, now, res);
    free(copy);
    return st;
}

static const struct ep CLIENT = { false, A_CLIENT };
static const struct ep SERVER = { false, A_SERVER };
static const struct ep ROUTER = { false, A_ROUTER };

#define TRK CT_TRACKED
#define INV (CT_TRACKED | CT_INVALID)

/* A TCP helper bound to one connection: client:40000 <-> server:80. */
struct tcp_conv {
    struct conntrack *ct;
    uint16_t zone;
    long long now;
    struct ct_result res;
};

static uint8_t
tcp_pkt(struct tcp_conv *tc, bool from_client, uint8_t flags, uint32_t seq,
        uint32_t ack, uint16_t win, size_t payload, int wscale)
{
    struct pkt p;

    if (from_client) {
        build_tcp(&p, CLIENT, 40000, SERVER, 80, flags, seq, ack, win,
                  payload, wscale);
    } else {
        build_tcp(&p, SERVER, 80, CLIENT, 40000, flags, seq, ack, win,
                  payload, wscale);
    }
    return run(tc->ct, tc->zone, true, &p, tc->now, &tc->res);
}

static struct conntrack *
new_ct(uint32_t max)
{
    struct ct_config cfg;

    ct_config_default(&cfg);
    cfg.max_entries = max;
    return ct_create(&cfg);
}

/* Client ISN 1000, server ISN 5000, windows 65535, no scaling. */
static void
handshake(struct tcp_conv *tc)
{
    CHECK_EQ(tcp_pkt(tc, true, TCP_SYN, 1000, 0, 65535, 0, -1),
             TRK | CT_NEW);
    CHECK_EQ(tc->res.conn_state, CT_CS_TCP_SYN_SENT);
    CHECK_EQ(tcp_pkt(tc, false, TCP_SYN | TCP_ACK, 5000, 1001, 65535, 0,
                     -1), TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(tc->res.conn_state, CT_CS_TCP_SYN_RECV);
    CHECK_EQ(tcp_pkt(tc, true, TCP_ACK, 1001, 5001, 65535, 0, -1),
             TRK | CT_ESTABLISHED);
    CHECK_EQ(tc->res.conn_state, CT_CS_TCP_ESTABLISHED);
}

static void
test_tcp_handshake_fin(void)
{
    struct tcp_conv tc = { new_ct(16), 1, 1000, { 0 } };
    struct ct_stats st;

    struct pkt p;

    /* Without commit nothing is stored. */
    build_tcp(&p, CLIENT, 40000, SERVER, 80, TCP_SYN, 1000, 0, 65535, 0,
              -1);
    CHECK_EQ(run(tc.ct, 1, false, &p, 0, NULL), TRK | CT_NEW);
    ct_get_stats(tc.ct, &st);
    CHECK_EQ(st.n_entries, 0);

    handshake(&tc);
    /* Data both ways. */
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK | TCP_PSH, 1001, 5001, 65535, 100,
                     -1), TRK | CT_ESTABLISHED);
    CHECK_EQ(tcp_pkt(&tc, false, TCP_ACK | TCP_PSH, 5001, 1101, 65535, 200,
                     -1), TRK | CT_ESTABLISHED | CT_REPLY);
    /* A retransmission is fine. */
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK | TCP_PSH, 1001, 5001, 65535, 100,
                     -1), TRK | CT_ESTABLISHED);
    /* Client half-closes. */
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK | TCP_FIN, 1101, 5201, 65535, 0,
                     -1), TRK | CT_ESTABLISHED);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_FIN_WAIT);
    /* Data after its own FIN is invalid. */
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK, 1102, 5201, 65535, 10, -1), INV);
    CHECK_EQ(tc.res.reason, CT_INVALID_TCP_STATE);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_FIN_WAIT);
    /* Server acks the FIN and keeps sending (half-closed). */
    CHECK_EQ(tcp_pkt(&tc, false, TCP_ACK, 5201, 1102, 65535, 0, -1),
             TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_CLOSE_WAIT);
    CHECK_EQ(tcp_pkt(&tc, false, TCP_ACK, 5201, 1102, 65535, 50, -1),
             TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_CLOSE_WAIT);
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK, 1102, 5251, 65535, 0, -1),
             TRK | CT_ESTABLISHED);
    /* Server closes; the client's last ACK ends it. */
    CHECK_EQ(tcp_pkt(&tc, false, TCP_ACK | TCP_FIN, 5251, 1102, 65535, 0,
                     -1), TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_LAST_ACK);
    /* Processing the same packet twice changes nothing. */
    CHECK_EQ(tcp_pkt(&tc, false, TCP_ACK | TCP_FIN, 5251, 1102, 65535, 0,
                     -1), TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_LAST_ACK);
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK, 1102, 5252, 65535, 0, -1),
             TRK | CT_ESTABLISHED);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_TIME_WAIT);
    /* A SYN for the same ports reopens it. */
    CHECK_EQ(tcp_pkt(&tc, true, TCP_SYN, 90000, 0, 65535, 0, -1),
             TRK | CT_NEW);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_SYN_SENT);
    ct_get_stats(tc.ct, &st);
    CHECK_EQ(st.n_entries, 1);
    ct_destroy(tc.ct);
}

static void
test_tcp_rst(void)
{
    struct tcp_conv tc = { new_ct(16), 1, 1000, { 0 } };

    /* Port closed: RST+ACK acking the SYN. */
    tcp_pkt(&tc, true, TCP_SYN, 1000, 0, 65535, 0, -1);
    CHECK_EQ(tcp_pkt(&tc, false, TCP_RST | TCP_ACK, 0, 1002, 0, 0, -1),
             INV);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_SYN_SENT);
    CHECK_EQ(tcp_pkt(&tc, false, TCP_RST | TCP_ACK, 0, 1001, 0, 0, -1),
             TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_CLOSE);
    ct_flush(tc.ct, CT_ZONE_ALL);

    /* RST of an established connection, in window. */
    handshake(&tc);
    CHECK_EQ(tcp_pkt(&tc, false, TCP_RST, 9000000, 0, 0, 0, -1), INV);
    CHECK_EQ(tc.res.reason, CT_INVALID_TCP_WINDOW);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_ESTABLISHED);
    CHECK_EQ(tcp_pkt(&tc, false, TCP_RST, 5001, 0, 0, 0, -1),
             TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_CLOSE);
    /* A SYN+ACK after the RST is not a way back in. */
    CHECK_EQ(tcp_pkt(&tc, false, TCP_SYN | TCP_ACK, 5000, 1001, 65535, 0,
                     -1), INV);
    CHECK_EQ(tc.res.reason, CT_INVALID_TCP_STATE);
    ct_destroy(tc.ct);
}

static void
test_tcp_window(void)
{
    struct tcp_conv tc = { new_ct(16), 1, 1000, { 0 } };
    struct ct_stats st;

    handshake(&tc);
    /* Data far beyond what the server advertised. */
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK, 1001 + 200000, 5001, 65535, 10,
                     -1), INV);
    CHECK_EQ(tc.res.reason, CT_INVALID_TCP_WINDOW);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_ESTABLISHED);
    /* Acking data the server never sent. */
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK, 1001, 5001 + 10, 65535, 0, -1),
             INV);
    /* Old data, more than a window back. */
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK, 1001 - 100000, 5001, 65535, 10,
                     -1), INV);
    /* The state is unchanged: the same FIN sequence still works and the
     * invalid ones did not move the windows. */
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK | TCP_FIN, 1001, 5001, 65535, 0,
                     -1), TRK | CT_ESTABLISHED);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_FIN_WAIT);
    CHECK_EQ(tcp_pkt(&tc, false, TCP_ACK, 5001, 1002, 65535, 0, -1),
             TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_CLOSE_WAIT);
    /* Illegal flags and SYNs in an open connection. */
    CHECK_EQ(tcp_pkt(&tc, true, TCP_SYN | TCP_FIN, 1002, 0, 65535, 0, -1),
             INV);
    CHECK_EQ(tc.res.reason, CT_INVALID_TCP_FLAGS);
    CHECK_EQ(tcp_pkt(&tc, true, 0, 1002, 0, 65535, 0, -1), INV);
    CHECK_EQ(tcp_pkt(&tc, true, TCP_FIN, 1002, 0, 65535, 0, -1), INV);
    CHECK_EQ(tc.res.reason, CT_INVALID_TCP_FLAGS);
    CHECK_EQ(tcp_pkt(&tc, false, TCP_SYN | TCP_ACK, 5000, 1002, 65535, 0,
                     -1), INV);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_CLOSE_WAIT);
    ct_get_stats(tc.ct, &st);
    CHECK_EQ(st.invalid_by_reason[CT_INVALID_TCP_WINDOW], 3);
    CHECK_EQ(st.invalid_by_reason[CT_INVALID_TCP_FLAGS], 3);
    ct_destroy(tc.ct);

    /* No connection: only a pure SYN may start one. */
    tc.ct = new_ct(16);
    CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK, 1, 1, 100, 0, -1), INV);
    CHECK_EQ(tc.res.reason, CT_INVALID_NO_CONN);
    CHECK_EQ(tcp_pkt(&tc, false, TCP_SYN | TCP_ACK, 1, 1, 100, 0, -1), INV);
    /* Simultaneous open is not supported. */
    tcp_pkt(&tc, true, TCP_SYN, 1000, 0, 65535, 0, -1);
    CHECK_EQ(tcp_pkt(&tc, false, TCP_SYN, 5000, 0, 65535, 0, -1), INV);
    /* A SYN-ACK must ack the SYN. */
    CHECK_EQ(tcp_pkt(&tc, false, TCP_SYN | TCP_ACK, 5000, 77, 65535, 0, -1),
             INV);
    CHECK_EQ(tc.res.conn_state, CT_CS_TCP_SYN_SENT);
    ct_destroy(tc.ct);
}

/* The classify-then-commit pattern: every packet of a conversation run
 * twice, first without commit, then with, gets the same verdict both times
 * and the same states as a single pass would. */
static void
test_tcp_double_call(void)
{
    static const struct {
        bool c;
        uint8_t flags;
        uint32_t seq, ack;
        size_t len;
        uint8_t want, state;
    } seq[] = {
        { true, TCP_SYN, 1000, 0, 0, TRK | CT_NEW, CT_CS_TCP_SYN_SENT },
        { false, TCP_SYN | TCP_ACK, 5000, 1001, 0,
          TRK | CT_ESTABLISHED | CT_REPLY, CT_CS_TCP_SYN_RECV },
        { true, TCP_ACK, 1001, 5001, 0, TRK | CT_ESTABLISHED,
          CT_CS_TCP_ESTABLISHED },
        { true, TCP_ACK | TCP_PSH, 1001, 5001, 100, TRK | CT_ESTABLISHED,
          CT_CS_TCP_ESTABLISHED },
        { false, TCP_ACK | TCP_FIN, 5001, 1101, 0,
          TRK | CT_ESTABLISHED | CT_REPLY, CT_CS_TCP_FIN_WAIT },
        { true, TCP_ACK, 1101, 5002, 0, TRK | CT_ESTABLISHED,
          CT_CS_TCP_CLOSE_WAIT },
        { true, TCP_RST | TCP_ACK, 1101, 5002, 0, TRK | CT_ESTABLISHED,
          CT_CS_TCP_CLOSE },
    };
    struct conntrack *ct = new_ct(16);

    for (size_t i = 0; i < ARRAY_SIZE(seq); i++) {
        for (int commit = 0; commit < 2; commit++) {
            struct ct_result res;
            struct pkt p;

            if (seq[i].c) {
                build_tcp(&p, CLIENT, 40000, SERVER, 80, seq[i].flags,
                          seq[i].seq, seq[i].ack, 65535, seq[i].len, -1);
            } else {
                build_tcp(&p, SERVER, 80, CLIENT, 40000, seq[i].flags,
                          seq[i].seq, seq[i].ack, 65535, seq[i].len, -1);
            }
            CHECK_EQ(run(ct, 1, commit, &p, 0, &res), seq[i].want);
            if (i || commit) {
                CHECK_EQ(res.conn_state, seq[i].state);
            }
        }
    }
    ct_destroy(ct);
}

/* With window scale 7 on both sides, a 512 window means 64 KiB: data 60000
 * bytes ahead is in window.  If the server does not offer scaling, windows
 * are unscaled and the same segment is out of window. */
static void
test_tcp_wscale(void)
{
    for (int both = 0; both < 2; both++) {
        struct tcp_conv tc = { new_ct(16), 1, 1000, { 0 } };

        tcp_pkt(&tc, true, TCP_SYN, 1000, 0, 65535, 0, 7);
        CHECK_EQ(tcp_pkt(&tc, false, TCP_SYN | TCP_ACK, 5000, 1001, 512,
                         0, both ? 7 : -1),
                 TRK | CT_ESTABLISHED | CT_REPLY);
        CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK, 1001, 5001, 512, 0, -1),
                 TRK | CT_ESTABLISHED);
        /* Server advertises 512 (<< 7 = 65536 if scaled). */
        CHECK_EQ(tcp_pkt(&tc, false, TCP_ACK, 5001, 1001, 512, 0, -1),
                 TRK | CT_ESTABLISHED | CT_REPLY);
        /* Client sends at 1001 + 60000: in window only if scaled. */
        CHECK_EQ(tcp_pkt(&tc, true, TCP_ACK, 1001 + 60000, 5001, 512, 100,
                         -1), both ? TRK | CT_ESTABLISHED : INV);
        ct_destroy(tc.ct);
    }
}

/* The reference model: the contract of conntrack.h, written as plainly as
 * possible with 64-bit sequence numbers relative to a base (the generator
 * never moves more than 2^31 from it). */
enum m_state {
    M_NONE, M_SYN_SENT, M_SYN_RECV, M_EST, M_FIN_WAIT, M_CLOSE_WAIT,
    M_LAST_ACK, M_TIME_WAIT, M_CLOSE
};

static const uint8_t m_to_ct[] = {
    CT_CS_NONE, CT_CS_TCP_SYN_SENT, CT_CS_TCP_SYN_RECV,
    CT_CS_TCP_ESTABLISHED, CT_CS_TCP_FIN_WAIT, CT_CS_TCP_CLOSE_WAIT,
    CT_CS_TCP_LAST_ACK, CT_CS_TCP_TIME_WAIT, CT_CS_TCP_CLOSE
};

struct m_side {
    int64_t end, maxend, maxwin;
    int ws;                     /* -1: not offered. */
    bool fin, finacked;
};

struct model {
    enum m_state st;
    bool replied;
    int64_t isn0;
    bool scaling;
    struct m_side s[2];
};

struct m_seg {
    int dir;
    uint8_t flags;
    int64_t seq, ack;           /* Relative to the base, unwrapped. */
    uint32_t win, len;          /* len without SYN/FIN. */
    int ws;
};

static bool
m_bad_flags(uint8_t f)
{
    bool syn = f & TCP_SYN, ack = f & TCP_ACK, rst = f & TCP_RST;
    bool fin = f & TCP_FIN;

    if (syn && (rst || fin)) {
        return true;
    }
    if (!syn && !ack && !rst) {
        return true;
    }
    return !ack && (fin || (f & (TCP_PSH | TCP_URG)));
}

static void
m_new(struct model *m, const struct m_seg *g)
{
    memset(m, 0, sizeof *m);
    m->st = M_SYN_SENT;
    m->isn0 = g->seq;
    m->s[0].end = m->s[0].maxend = g->seq + 1;
    m->s[0].maxwin = g->win ? g->win : 1;
    m->s[0].ws = g->ws;
    m->s[1].ws = -1;
}

/* Returns the expected state bits and updates the model. */
static uint8_t
m_step(struct model *m, const struct m_seg *g)
{
    bool syn = g->flags & TCP_SYN, ack = g->flags & TCP_ACK;
    bool rst = g->flags & TCP_RST, fin = g->flags & TCP_FIN;
    bool pure_syn = syn && !ack && !rst && !fin;
    struct m_side *s = &m->s[g->dir], *r = &m->s[!g->dir];
    int64_t end = g->seq + g->len + syn + fin;
    int64_t a, w;

    if (m_bad_flags(g->flags)) {
        return INV;
    }
    if (m->st == M_NONE
        || (pure_syn && g->dir == 0
            && (m->st == M_TIME_WAIT || m->st == M_CLOSE
                || (m->st == M_SYN_SENT && g->seq != m->isn0)))) {
        if (!pure_syn || g->dir != 0) {
            return INV;
        }
        m_new(m, g);
        return TRK | CT_NEW;
    }

    if (m->st == M_SYN_SENT) {
        if (g->dir == 1 && syn && ack) {
            if (g->ack != r->end) {
                return INV;
            }
            s->end = s->maxend = end;
            s->maxwin = g->win ? g->win : 1;
            s->ws = g->ws;
            m->scaling = m->s[0].ws >= 0 && m->s[1].ws >= 0;
            m->st = M_SYN_RECV;
        } else if (g->dir == 0 && pure_syn) {
            /* Retransmitted SYN: falls through to the window check. */
        } else if (rst && !syn && g->dir == 1 && ack
                   && g->ack == m->s[0].end) {
            m->st = M_CLOSE;
            m->replied = true;
            return TRK | CT_ESTABLISHED | CT_REPLY;
        } else if (rst && !syn && g->dir == 0 && g->seq == m->s[0].end) {
            m->st = M_CLOSE;
            return TRK | CT_NEW;
        } else {
            return INV;
        }
    } else if (syn) {
        if (m->st != M_SYN_RECV || (g->dir == 0 ? !pure_syn : !ack)) {
            return INV;
        }
    }

    if (m->s[1].maxwin == 0 && m->st != M_SYN_SENT) {
        return INV;             /* Closed before the server answered. */
    }
    w = g->win;
    if (!syn && m->scaling) {
        w <<= m->s[g->dir].ws;
    }
    a = ack ? g->ack : r->end;
    if (g->seq > s->maxend || end < s->end - r->maxwin || a > r->end
        || a < r->end - (s->maxwin > 66000 ? s->maxwin : 66000)) {
        return INV;
    }
    if (s->fin && end > s->end) {
        return INV;
    }
    if (w > s->maxwin) {
        s->maxwin = w;
    }
    if (end > s->end) {
        s->end = end;
    }
    if (ack && a + (w ? w : 1) > r->maxend) {
        r->maxend = a + (w ? w : 1);
    }
    if (g->dir == 1) {
        m->replied = true;
    }
    if (rst) {
        m->st = M_CLOSE;
    } else {
        int nfin, nack;

        if (m->st == M_SYN_RECV && g->dir == 0 && ack && !syn) {
            m->st = M_EST;
        }
        if (fin) {
            s->fin = true;
        }
        if (ack && r->fin && a == r->end) {
            r->finacked = true;
        }
        nfin = m->s[0].fin + m->s[1].fin;
        nack = m->s[0].finacked + m->s[1].finacked;
        if (m->st == M_CLOSE) {
            /* Stays closed. */
        } else if (nfin == 1) {
            m->st = nack ? M_CLOSE_WAIT : M_FIN_WAIT;
        } else if (nfin == 2) {
            m->st = nack == 2 ? M_TIME_WAIT : M_LAST_ACK;
        }
    }
    return TRK | (m->replied ? CT_ESTABLISHED : CT_NEW)
           | (g->dir ? CT_REPLY : 0);
}

/* Two simple TCP endpoints that mostly behave. */
struct gen {
    uint64_t rng;
    int64_t nxt[2];             /* Next sequence to send. */
    int64_t rcv[2];             /* What each side has received. */
    uint32_t win[2];
    int ws[2];
    int phase;                  /* 0 SYN, 1 SYN-ACK, 2 ACK, 3 open. */
};

static void
gen_start(struct gen *gn, int64_t isn0, int64_t isn1)
{
    gn->nxt[0] = isn0;
    gn->nxt[1] = isn1;
    gn->rcv[0] = gn->rcv[1] = 0;
    for (int d = 0; d < 2; d++) {
        gn->ws[d] = random_range(&gn->rng, 3) ? (int) random_range(
            &gn->rng, 9) : -1;
        gn->win[d] = 1000 + random_range(&gn->rng, 64536);
    }
    gn->phase = 0;
}

static void
gen_next(struct gen *gn, struct m_seg *g)
{
    uint32_t r = random_range(&gn->rng, 100);
    int d = (int) random_range(&gn->rng, 2);
    int sc = gn->ws[d] >= 0 && gn->ws[!d] >= 0 ? gn->ws[d] : 0;

    memset(g, 0, sizeof *g);
    g->ws = -1;
    if (gn->phase == 0 || r < 2) {
        g->dir = 0;
        g->flags = TCP_SYN;
        if (r < 1) {
            gen_start(gn, random_range(&gn->rng, 1u << 30), 1u << 30);
        }
        g->seq = gn->nxt[0];
        g->win = gn->win[0];
        g->ws = gn->ws[0];
        gn->phase = 1;
        return;
    }
    if (gn->phase == 1 && r < 60) {
        g->dir = 1;
        g->flags = TCP_SYN | TCP_ACK;
        g->seq = gn->nxt[1];
        g->ack = gn->nxt[0] + 1;
        g->win = gn->win[1];
        g->ws = gn->ws[1];
        gn->rcv[1] = gn->nxt[0] + 1;
        gn->phase = 2;
        return;
    }
    if (gn->phase == 2 && r < 60) {
        gn->nxt[0]++;
        gn->nxt[1]++;
        gn->rcv[0] = gn->nxt[1];
        g->dir = 0;
        g->flags = TCP_ACK;
        g->seq = gn->nxt[0];
        g->ack = gn->rcv[0];
        g->win = gn->win[0] >> sc;
        gn->phase = 3;
        return;
    }
    g->dir = d;
    g->seq = gn->nxt[d];
    g->ack = gn->rcv[d];
    g->win = gn->win[d] >> (gn->ws[d] >= 0 && gn->ws[!d] >= 0
                            ? gn->ws[d] : 0);
    g->flags = TCP_ACK;
    if (r < 55) {
        g->len = random_range(&gn->rng, 201);
        g->flags |= g->len ? TCP_PSH : 0;
    } else if (r < 65) {
        g->seq -= random_range(&gn->rng, 3000);     /* Retransmission. */
        g->len = random_range(&gn->rng, 201);
    } else if (r < 72) {
        g->flags |= TCP_FIN;
    } else if (r < 75) {
        g->flags = random_range(&gn->rng, 2) ? TCP_RST : TCP_RST | TCP_ACK;
    } else if (r < 80) {
        g->seq += 70000 + random_range(&gn->rng, 1u << 20);
    } else if (r < 85) {
        g->ack += 1 + random_range(&gn->rng, 100000);
    } else if (r < 90) {
        g->flags = (uint8_t) random_range(&gn->rng, 256);
        g->len = random_range(&gn->rng, 100);
    } else if (r < 93) {
        g->ack -= 70000 + random_range(&gn->rng, 100000);
    } else if (r < 97) {
        g->ack -= random_range(&gn->rng, 3);          /* Old ack. */
        g->flags |= random_range(&gn->rng, 2) ? TCP_FIN : 0;
    } else {
        g->ack -= random_range(&gn->rng, 80000);
    }
    /* The segment is "sent": the peer receives it (even if a tracker would
     * call it invalid: the endpoints do not know). */
    if (g->seq == gn->nxt[d] && !(g->flags & (TCP_RST | TCP_SYN))) {
        gn->nxt[d] += g->len + !!(g->flags & TCP_FIN);
        gn->rcv[!d] = gn->nxt[d];
    }
}

static void
test_tcp_random_model(void)
{
    struct conntrack *ct = new_ct(16);
    int mismatches = 0, n_valid = 0, n_invalid = 0;
    int seen[CT_N_CONN_STATES] = { 0 };

    for (int conv = 0; conv < 300; conv++) {
        struct gen gn = { .rng = 0x1234567ULL + (uint64_t) conv * 7919 };
        struct model m;
        uint32_t base = (uint32_t) random_next(&gn.rng);

        memset(&m, 0, sizeof m);
        ct_flush(ct, CT_ZONE_ALL);
        gen_start(&gn, 1000, 1u << 30);
        for (int i = 0; i < 60; i++) {
            struct m_seg g;
            struct tcp_conv tc = { ct, 1, 1000, { 0 } };
            uint8_t want, got;
            int ws;

            gen_next(&gn, &g);
            want = m_step(&m, &g);
            ws = g.flags & TCP_SYN ? g.ws : -1;
            got = tcp_pkt(&tc, g.dir == 0, g.flags,
                          base + (uint32_t) g.seq, base + (uint32_t) g.ack,
                          (uint16_t) g.win, g.len, ws);
            if (want != got
                || (!(got & CT_INVALID) && tc.res.conn_state
                    != m_to_ct[m.st])) {
                if (mismatches++ < 5) {
                    fprintf(stderr, "  conv %d pkt %d dir %d flags %#x "
                            "seq %lld ack %lld len %u: want %#x/%d got "
                            "%#x/%d\n", conv, i, g.dir, g.flags,
                            (long long) g.seq, (long long) g.ack, g.len,
                            want, m_to_ct[m.st], got, tc.res.conn_state);
                }
            }
            if (got & CT_INVALID) {
                n_invalid++;
            } else {
                n_valid++;
                seen[tc.res.conn_state]++;
            }
        }
    }
    CHECK_EQ(mismatches, 0);
    /* The generator reached every state and both verdicts. */
    CHECK(n_valid > 1000 && n_invalid > 1000);
    for (int s = CT_CS_TCP_SYN_SENT; s <= CT_CS_TCP_CLOSE; s++) {
        if (!seen[s]) {
            fprintf(stderr, "  state %s never reached\n",
                    ct_conn_state_name(s));
        }
        CHECK(seen[s] > 0);
    }
    ct_destroy(ct);
}

static void
test_udp_and_echo(void)
{
    struct conntrack *ct = new_ct(16);
    struct ct_result res;
    struct pkt p;

    build_udp(&p, CLIENT, 5353, SERVER, 53);
    CHECK_EQ(run(ct, 1, true, &p, 0, &res), TRK | CT_NEW);
    CHECK_EQ(res.conn_state, CT_CS_UDP_FIRST);
    CHECK_EQ(run(ct, 1, true, &p, 0, &res), TRK | CT_NEW);
    build_udp(&p, SERVER, 53, CLIENT, 5353);
    CHECK_EQ(run(ct, 1, false, &p, 0, &res),
             TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(res.conn_state, CT_CS_UDP_MULTIPLE);
    build_udp(&p, CLIENT, 5353, SERVER, 53);
    CHECK_EQ(run(ct, 1, false, &p, 0, &res), TRK | CT_ESTABLISHED);
    /* A different source port is another connection. */
    build_udp(&p, SERVER, 53, CLIENT, 5354);
    CHECK_EQ(run(ct, 1, false, &p, 0, &res), TRK | CT_NEW);

    /* Echo, IPv4 and IPv6. */
    for (int v6 = 0; v6 < 2; v6++) {
        struct ep c = { v6, A_CLIENT }, s = { v6, A_SERVER };

        build_echo(&p, s, c, false, 77);
        CHECK_EQ(run(ct, 1, true, &p, 0, &res), INV);
        CHECK_EQ(res.reason, CT_INVALID_NO_CONN);
        build_echo(&p, c, s, true, 77);
        CHECK_EQ(run(ct, 1, true, &p, 0, &res), TRK | CT_NEW);
        CHECK_EQ(res.conn_state, CT_CS_ICMP_FIRST);
        build_echo(&p, s, c, false, 78);
        CHECK_EQ(run(ct, 1, true, &p, 0, &res), INV);
        build_echo(&p, s, c, false, 77);
        CHECK_EQ(run(ct, 1, true, &p, 0, &res),
                 TRK | CT_ESTABLISHED | CT_REPLY);
        CHECK_EQ(res.conn_state, CT_CS_ICMP_REPLY);
        /* A request from the responder with the same id is not valid. */
        build_echo(&p, s, c, true, 77);
        CHECK_EQ(run(ct, 1, true, &p, 0, &res), INV);
    }
    ct_destroy(ct);
}

static void
test_icmp_related(void)
{
    struct conntrack *ct = new_ct(16);
    struct ct_result res;
    struct pkt p, q, err;
    struct ct_stats st;

    /* Port unreachable from the server, quoting the client's UDP. */
    build_udp(&q, CLIENT, 5000, SERVER, 9);
    CHECK_EQ(run(ct, 1, true, &q, 0, &res), TRK | CT_NEW);
    build_icmp_err(&err, SERVER, CLIENT, 3, 3, &q);
    CHECK_EQ(run(ct, 1, false, &err, 0, &res),
             TRK | CT_RELATED | CT_REPLY);
    /* Related does not update the connection (still unreplied). */
    CHECK_EQ(res.conn_state, CT_CS_UDP_FIRST);
    /* Same error in another zone: unrelated. */
    CHECK_EQ(run(ct, 2, false, &err, 0, &res), INV);
    CHECK_EQ(res.reason, CT_INVALID_ICMP_UNRELATED);
    /* Quoting a packet the error's destination did not send. */
    build_icmp_err(&err, SERVER, ROUTER, 3, 3, &q);
    CHECK_EQ(run(ct, 1, false, &err, 0, &res), INV);
    /* Quoting a port we do not track. */
    build_udp(&p, CLIENT, 5001, SERVER, 9);
    build_icmp_err(&err, SERVER, CLIENT, 3, 3, &p);
    CHECK_EQ(run(ct, 1, false, &err, 0, &res), INV);
    CHECK_EQ(res.reason, CT_INVALID_ICMP_UNRELATED);

    /* Frag needed from a router, quoting TCP; and time exceeded sent
     * towards the server quoting its reply. */
    for (int v6 = 0; v6 < 2; v6++) {
        struct ep c = { v6, A_CLIENT }, s = { v6, A_SERVER };
        struct ep rt = { v6, A_ROUTER };

        build_tcp(&q, c, 41000, s, 443, TCP_SYN, 1, 0, 1000, 0, -1);
        CHECK_EQ(run(ct, 1, true, &q, 0, &res), TRK | CT_NEW);
        build_icmp_err(&err, rt, c, v6 ? 2 : 3, v6 ? 0 : 4, &q);
        CHECK_EQ(run(ct, 1, false, &err, 0, &res),
                 TRK | CT_RELATED | CT_REPLY);
        build_tcp(&p, s, 443, c, 41000, TCP_SYN | TCP_ACK, 9, 2, 1000, 0,
                  -1);
        CHECK_EQ(run(ct, 1, false, &p, 0, &res),
                 TRK | CT_ESTABLISHED | CT_REPLY);
        build_icmp_err(&err, rt, s, v6 ? 3 : 11, 0, &p);
        CHECK_EQ(run(ct, 1, false, &err, 0, &res), TRK | CT_RELATED);
        /* An ICMP type that is neither echo nor error. */
        build_icmp_err(&err, rt, s, v6 ? 135 : 13, 0, &p);
        CHECK_EQ(run(ct, 1, true, &err, 0, &res), INV);
        CHECK_EQ(res.reason, CT_INVALID_NOT_TRACKABLE);
    }
    /* An error quoting an echo request. */
    build_echo(&q, CLIENT, SERVER, true, 5);
    run(ct, 1, true, &q, 0, &res);
    build_icmp_err(&err, ROUTER, CLIENT, 11, 0, &q);
    CHECK_EQ(run(ct, 1, false, &err, 0, &res),
             TRK | CT_RELATED | CT_REPLY);
    ct_get_stats(ct, &st);
    CHECK_EQ(st.related, 6);
    ct_destroy(ct);
}

static void
test_timeouts(void)
{
    struct ct_config cfg;
    struct conntrack *ct;
    struct ct_result res;
    struct pkt p;
    struct ct_stats st;

    ct_config_default(&cfg);
    CHECK_EQ(cfg.timeout_msec[CT_CS_TCP_ESTABLISHED], 24 * 3600 * 1000);
    CHECK_EQ(cfg.timeout_msec[CT_CS_UDP_FIRST], 30000);
    cfg.max_entries = 64;
    cfg.timeout_msec[CT_CS_UDP_FIRST] = 1000;
    cfg.timeout_msec[CT_CS_UDP_MULTIPLE] = 5000;
    cfg.timeout_msec[CT_CS_TCP_SYN_SENT] = 2000;
    cfg.timeout_msec[CT_CS_TCP_TIME_WAIT] = 3000;
    ct = ct_create(&cfg);

    /* UDP: unreplied expires after 1 s (lazily, on lookup). */
    build_udp(&p, CLIENT, 1, SERVER, 2);
    run(ct, 1, true, &p, 10000, &res);
    CHECK_EQ(run(ct, 1, false, &p, 10999, &res), TRK | CT_NEW);
    CHECK_EQ(res.conn_state, CT_CS_UDP_FIRST);
    CHECK_EQ(run(ct, 1, false, &p, 11998, &res), TRK | CT_NEW);
    CHECK_EQ(res.conn_state, CT_CS_UDP_FIRST);   /* Timer was rearmed. */
    CHECK_EQ(run(ct, 1, false, &p, 13000, &res), TRK | CT_NEW);
    CHECK_EQ(res.conn_state, CT_CS_NONE);        /* Gone. */
    /* Replied: 5 s. */
    run(ct, 1, true, &p, 20000, &res);
    build_udp(&p, SERVER, 2, CLIENT, 1);
    run(ct, 1, false, &p, 20000, &res);
    CHECK_EQ(run(ct, 1, false, &p, 24999, &res),
             TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(run(ct, 1, false, &p, 29998, &res),
             TRK | CT_ESTABLISHED | CT_REPLY);
    CHECK_EQ(run(ct, 1, false, &p, 35000, &res), TRK | CT_NEW);
    CHECK_EQ(res.conn_state, CT_CS_NONE);
    ct_flush(ct, CT_ZONE_ALL);

    /* TCP: SYN_SENT 2 s, then TIME_WAIT 3 s, swept by ct_run. */
    {
        struct tcp_conv tc = { ct, 1, 50000, { 0 } };

        tcp_pkt(&tc, true, TCP_SYN, 1000, 0, 65535, 0, -1);
        CHECK_EQ(ct_run(ct, 51999, 1000), 0);
        CHECK_EQ(ct_run(ct, 52000, 1000), 1);
        handshake(&tc);
        tcp_pkt(&tc, true, TCP_ACK | TCP_FIN, 1001, 5001, 65535, 0, -1);
        tcp_pkt(&tc, false, TCP_ACK | TCP_FIN, 5001, 1002, 65535, 0, -1);
        tcp_pkt(&tc, true, TCP_ACK, 1002, 5002, 65535, 0, -1);
        CHECK_EQ(tc.res.conn_state, CT_CS_TCP_TIME_WAIT);
        CHECK_EQ(ct_run(ct, 50000 + 2999, 1000), 0);
        CHECK_EQ(ct_run(ct, 50000 + 3000, 1000), 1);
    }
    /* ct_run's work bound: 100 expired entries, 10 slots per call. */
    for (int i = 0; i < 40; i++) {
        build_udp(&p, CLIENT, (uint16_t) (100 + i), SERVER, 2);
        run(ct, 1, true, &p, 60000, &res);
    }
    {
        size_t total = 0, calls = 0, n;

        do {
            n = ct_run(ct, 70000, 10);
            CHECK(n <= 10);
            total += n;
        } while (++calls < 100 && (n || total < 40));
        CHECK_EQ(total, 40);
    }
    ct_get_stats(ct, &st);
    CHECK_EQ(st.n_entries, 0);
    CHECK_EQ(st.expired, 1 + 1 + 1 + 1 + 40);
    ct_destroy(ct);
}

static void
test_table_full(void)
{
    struct conntrack *ct = new_ct(8);
    struct ct_result res;
    struct ct_stats st;
    struct pkt p;

    /* 8 unreplied UDP flows; a 9th commit evicts one. */
    for (int i = 0; i < 8; i++) {
        build_udp(&p, CLIENT, (uint16_t) (1000 + i), SERVER, 53);
        CHECK_EQ(run(ct, 1, true, &p, 0, &res), TRK | CT_NEW);
    }
    build_udp(&p, CLIENT, 2000, SERVER, 53);
    CHECK_EQ(run(ct, 1, true, &p, 0, &res), TRK | CT_NEW);
    ct_get_stats(ct, &st);
    CHECK_EQ(st.n_entries, 8);
    CHECK_EQ(st.early_evictions, 1);
    CHECK_EQ(st.full_drops, 0);

    /* Make all 8 replied: nothing is evictable, commits fail. */
    ct_flush(ct, CT_ZONE_ALL);
    for (int i = 0; i < 8; i++) {
        build_udp(&p, CLIENT, (uint16_t) (1000 + i), SERVER, 53);
        run(ct, 1, true, &p, 0, &res);
        build_udp(&p, SERVER, 53, CLIENT, (uint16_t) (1000 + i));
        CHECK_EQ(run(ct, 1, true, &p, 0, &res),
                 TRK | CT_ESTABLISHED | CT_REPLY);
    }
    build_udp(&p, CLIENT, 3000, SERVER, 53);
    CHECK_EQ(run(ct, 1, false, &p, 0, &res), TRK | CT_NEW);
    CHECK_EQ(run(ct, 1, true, &p, 0, &res), INV);
    CHECK_EQ(res.reason, CT_INVALID_TABLE_FULL);
    CHECK_EQ(run(ct, 1, true, &p, 1000, &res), INV);
    ct_get_stats(ct, &st);
    CHECK_EQ(st.full_drops, 2);
    CHECK_EQ(st.n_entries, 8);
    CHECK_EQ(st.invalid_by_reason[CT_INVALID_TABLE_FULL], 2);

    /* Once they have expired, a commit reuses an expired slot. */
    CHECK_EQ(run(ct, 1, true, &p, 121000, &res), TRK | CT_NEW);
    ct_get_stats(ct, &st);
    CHECK_EQ(st.expired, 1);
    CHECK_EQ(st.n_entries, 8);
    CHECK_EQ(st.early_evictions, 1);
    ct_destroy(ct);
}

static void
test_zones_and_flush(void)
{
    struct conntrack *ct = new_ct(64);
    struct ct_result res;
    struct ct_stats st;
    struct pkt p;

    build_udp(&p, CLIENT, 1, SERVER, 2);
    for (uint16_t z = 1; z <= 3; z++) {
        for (int i = 0; i < 2; i++) {
            CHECK_EQ(run(ct, z, true, &p, 0, &res), TRK | CT_NEW);
        }
    }
    ct_get_stats(ct, &st);
    CHECK_EQ(st.n_entries, 3);
    /* A reply in zone 2 establishes only zone 2's entry. */
    build_udp(&p, SERVER, 2, CLIENT, 1);
    CHECK_EQ(run(ct, 2, false, &p, 0, &res),
             TRK | CT_ESTABLISHED | CT_REPLY);
    build_udp(&p, CLIENT, 1, SERVER, 2);
    CHECK_EQ(run(ct, 1, false, &p, 0, &res), TRK | CT_NEW);
    CHECK_EQ(run(ct, 3, false, &p, 0, &res), TRK | CT_NEW);
    CHECK_EQ(run(ct, 2, false, &p, 0, &res), TRK | CT_ESTABLISHED);

    CHECK_EQ(ct_flush(ct, 2), 1);
    build_udp(&p, SERVER, 2, CLIENT, 1);
    CHECK_EQ(run(ct, 2, false, &p, 0, &res), TRK | CT_NEW);
    build_udp(&p, CLIENT, 1, SERVER, 2);
    CHECK_EQ(run(ct, 1, false, &p, 0, &res), TRK | CT_NEW);
    ct_get_stats(ct, &st);
    CHECK_EQ(st.n_entries, 2);
    CHECK_EQ(ct_flush(ct, 7), 0);
    CHECK_EQ(ct_flush(ct, CT_ZONE_ALL), 2);
    ct_get_stats(ct, &st);
    CHECK_EQ(st.n_entries, 0);
    ct_destroy(ct);
}

struct dump_ctx {
    int n;
    char line[256];
};

static bool
dump_cb(const struct ct_conn_info *info, void *aux)
{
    struct dump_ctx *d = aux;

    d->n++;
    ct_conn_format(info, 1000, d->line, sizeof d->line);
    return true;
}

static bool
pred_port(const struct ct_conn_info *info, void *aux)
{
    return ntohs(info->dport) == *(int *) aux;
}

static void
test_dump(void)
{
    struct conntrack *ct = new_ct(64);
    struct tcp_conv tc = { ct, 4, 1000, { 0 } };
    struct dump_ctx d = { 0, "" };
    struct pkt p;
    char buf[64];
    int port = 80;

    handshake(&tc);
    ct_dump(ct, 4, dump_cb, &d);
    CHECK_EQ(d.n, 1);
    CHECK_STREQ(d.line, "zone=4 tcp 10.0.0.1:40000->10.0.0.2:80 "
                "ESTABLISHED replied expires=86400000");
    d.n = 0;
    ct_dump(ct, 5, dump_cb, &d);
    CHECK_EQ(d.n, 0);
    CHECK_STREQ(ct_state_format(CT_TRACKED | CT_ESTABLISHED | CT_REPLY,
                                buf, sizeof buf), "+est+rpl+trk");
    CHECK_STREQ(ct_state_format(0, buf, sizeof buf), "-trk");
    CHECK_STREQ(ct_invalid_reason_name(CT_INVALID_TABLE_FULL),
                "table_full");

    build_udp(&p, CLIENT, 1, SERVER, 53);
    run(ct, 4, true, &p, 1000, NULL);
    CHECK_EQ(ct_flush_if(ct, CT_ZONE_ALL, pred_port, &port), 1);
    d.n = 0;
    ct_dump(ct, CT_ZONE_ALL, dump_cb, &d);
    CHECK_EQ(d.n, 1);
    CHECK(strstr(d.line, "udp") != NULL);
    ct_destroy(ct);
}

/* ct_flush_if_step() in small steps removes what one ct_flush_if() pass
 * would, says when the pass is done, and never examines more than it was
 * given. */
static void
test_flush_if_step(void)
{
    struct conntrack *ct = new_ct(256);
    uint32_t cursor = 0, steps = 0;
    size_t removed = 0;
    bool done = false;
    struct ct_stats st;
    struct pkt p;
    int port = 80;

    for (uint16_t i = 0; i < 200; i++) {
        build_udp(&p, CLIENT, (uint16_t) (1000 + i), SERVER,
                  i % 2 ? 80 : 53);
        run(ct, (uint16_t) (1 + i % 3), true, &p, 1000, NULL);
    }
    while (!done && steps < 1000) {
        uint32_t before = cursor;

        removed += ct_flush_if_step(ct, &cursor, 7, pred_port, &port, &done);
        CHECK(cursor - before <= 7);
        steps++;
    }
    CHECK(done);
    CHECK_EQ(removed, 100);
    CHECK(steps > 1);
    ct_get_stats(ct, &st);
    CHECK_EQ(st.n_entries, 100);
    /* A finished cursor stays done; a new pass finds nothing more. */
    CHECK_EQ(ct_flush_if_step(ct, &cursor, 7, pred_port, &port, &done), 0);
    CHECK(done);
    cursor = 0;
    done = false;
    while (!done) {
        CHECK_EQ(ct_flush_if_step(ct, &cursor, 1000, pred_port, &port,
                                  &done), 0);
    }
    ct_destroy(ct);
}

/* A million UDP connections (a frame each, parsed, committed) stay within
 * 256 MiB by the table's own accounting. */
static void
test_memory_1m(void)
{
    struct conntrack *ct = new_ct(1000000);
    struct ct_stats st;
    struct pkt p;
    struct flow_key key;
    struct packet_layout lo;

    build_udp(&p, CLIENT, 1, SERVER, 2);
    flow_key_extract(p.buf, p.len, 2, &key, &lo);
    for (uint32_t i = 0; i < 1000000; i++) {
        key.nw_src.ip4 = htonl(0x0a000000 | (i >> 8));
        key.tp_src = htons((uint16_t) (1024 + (i & 0xff)));
        ct_execute(ct, 1, true, p.buf, p.len, &key, &lo, 0, NULL);
    }
    ct_get_stats(ct, &st);
    CHECK_EQ(st.n_entries, 1000000);
    CHECK_EQ(st.commits, 1000000);
    CHECK(st.bytes_used <= 256ull << 20);
    CHECK(st.bytes_used / st.n_entries <= 128);
    printf("  1M entries: %llu bytes (%.1f bytes/entry)\n",
           (unsigned long long) st.bytes_used,
           (double) st.bytes_used / (double) st.n_entries);
    /* And they are all found again. */
    {
        int missing = 0;

        for (uint32_t i = 0; i < 1000000; i += 997) {
            key.nw_src.ip4 = htonl(0x0a000000 | (i >> 8));
            key.tp_src = htons((uint16_t) (1024 + (i & 0xff)));
            struct ct_result res;

            ct_execute(ct, 1, false, p.buf, p.len, &key, &lo, 0, &res);
            missing += res.conn_state != CT_CS_UDP_FIRST;
        }
        CHECK_EQ(missing, 0);
    }
    ct_destroy(ct);
}

int
main(void)
{
    RUN(test_tcp_handshake_fin);
    RUN(test_tcp_rst);
    RUN(test_tcp_window);
    RUN(test_tcp_double_call);
    RUN(test_tcp_wscale);
    RUN(test_tcp_random_model);
    RUN(test_udp_and_echo);
    RUN(test_icmp_related);
    RUN(test_timeouts);
    RUN(test_table_full);
    RUN(test_zones_and_flush);
    RUN(test_dump);
    RUN(test_flush_if_step);
    RUN(test_memory_1m);
    return unit_finish();
}
