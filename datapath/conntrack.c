/*
 * conntrack.c -- the connection table and its protocol state machines.
 *
 * Map:
 *   public API        ct_config_default .. ct_conn_format
 *   table             canonical keys, hashing, chained buckets of 32-bit
 *                     indices, a chunked entry pool with a free list,
 *                     lazy expiry, eviction
 *   TCP               segment parsing (seq/ack/window/options from the
 *                     frame), flag sanity, window tracking, state updates
 *   UDP/other, ICMP   echo by id; errors matched through the quoted header
 *
 * Indices: bucket heads and 'next' hold slot + 1 so that 0 means "none".
 * A slot is free iff its state is CT_CS_NONE; free slots are chained
 * through 'next' from free_head.  n_slots only grows (chunks are kept until
 * ct_destroy()), never beyond max_entries.
 */
#include "datapath/conntrack.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/mman.h>

#include "lib/hash.h"
#include "lib/ip-proto.h"

/* The canonical key: endpoint 0 sorts before endpoint 1 (address, then
 * port), whichever of them sent the packet.  No padding. */
struct ct_key {
    union flow_addr addr[2];
    be16 port[2];
    uint16_t zone;
    uint8_t proto;
    uint8_t ipv6;
};
BUILD_ASSERT_DECL(sizeof(struct ct_key) == 40);

/* TCP window state of one direction (the sender's view, see conntrack.h). */
struct ct_tcp_dir {
    uint32_t end;
    uint32_t maxend;
    uint32_t maxwin;
};

/* Connection flags. */
#define CF_ORIG_HI   0x01       /* Originator is key endpoint 1. */
#define CF_REPLIED   0x02       /* Seen a valid reply-direction packet. */
#define CF_FIN0      0x04       /* FIN seen from direction 0 (orig)... */
#define CF_FIN1      0x08       /* ... and from direction 1 (reply). */
#define CF_FINACK0   0x10       /* Direction 0's FIN acked by the peer. */
#define CF_FINACK1   0x20

#define CT_WS_OFFERED 0x80      /* In scale[]: window scale option seen. */
#define CT_WS_MASK    0x0f

struct ct_conn {
    struct ct_key key;
    long long expiration;
    uint32_t next;              /* Bucket chain or free list (slot + 1). */
    uint32_t hash;
    uint8_t state;              /* enum ct_conn_state; NONE = free slot. */
    uint8_t flags;              /* CF_*. */
    uint8_t scale[2];           /* Per direction: shift | CT_WS_OFFERED. */
    struct ct_tcp_dir tcp[2];   /* Per direction: 0 = orig, 1 = reply. */
};
BUILD_ASSERT_DECL(sizeof(struct ct_conn) <= 88);

struct conntrack {
    struct ct_config cfg;
    uint32_t *buckets;
    uint32_t mask;              /* n_buckets - 1. */
    struct ct_conn **chunks;
    uint32_t n_chunks;
    uint32_t n_slots;
    uint32_t free_head;
    uint32_t n_entries;
    uint32_t run_cursor;        /* ct_run()'s position. */
    uint32_t evict_cursor;
    uint32_t basis;
    uint64_t bytes_used;
    struct ct_stats stats;
};

/* A parsed TCP segment. */
struct ct_tcp_seg {
    uint32_t seq, ack, win, len;    /* len: payload + SYN + FIN. */
    uint8_t flags;
    int wscale;                     /* -1 if no window scale option
                                     * or not a SYN. */
};

enum ct_tcp_verdict { TCP_OK, TCP_INVALID, TCP_REOPEN };

/* Pool chunks are one 2 MiB huge page each where the kernel allows it:
 * at a million entries, TLB misses otherwise double the lookup cost. */
#define CT_HUGE_PAGE (2u << 20)
#define CT_CHUNK_ENTRIES (CT_HUGE_PAGE / sizeof(struct ct_conn))

static const char *const state_names[] = {
#define CT_S(NAME, STR, TMO) STR,
    CT_CONN_STATES
#undef CT_S
};

static const char *const reason_names[] = {
#define CT_R(NAME, STR) STR,
    CT_INVALID_REASONS
#undef CT_R
};

static struct ct_conn *slot(const struct conntrack *, uint32_t idx);
static void *zalloc_huge(size_t size);
static struct ct_conn *conn_find(struct conntrack *, const struct ct_key *,
                                 uint32_t hash, long long now);
static void conn_remove(struct conntrack *, struct ct_conn *);
static struct ct_conn *conn_alloc(struct conntrack *, long long now,
                                  uint32_t *idx);
static bool make_key(uint16_t zone, uint8_t proto, bool ipv6,
                     const union flow_addr *src, be16 sport,
                     const union flow_addr *dst, be16 dport,
                     struct ct_key *key);
static uint32_t key_hash(const struct conntrack *, const struct ct_key *);
static void conn_info(const struct ct_conn *, struct ct_conn_info *);
static uint8_t finish(struct conntrack *, struct ct_result *, uint8_t state,
                      enum ct_invalid_reason, const struct ct_conn *);

/* Public API. */

void
ct_config_default(struct ct_config *cfg)
{
    static const uint32_t tmo[] = {
#define CT_S(NAME, STR, TMO) TMO,
        CT_CONN_STATES
#undef CT_S
    };
    BUILD_ASSERT(ARRAY_SIZE(tmo) == CT_N_CONN_STATES);

    memset(cfg, 0, sizeof *cfg);
    cfg->max_entries = 256 * 1024;
    memcpy(cfg->timeout_msec, tmo, sizeof tmo);
}

struct conntrack *
ct_create(const struct ct_config *cfg)
{
    struct ct_config def;
    struct conntrack *ct;
    uint32_t n = 1;

    if (!cfg) {
        ct_config_default(&def);
        cfg = &def;
    }
    if (!cfg->max_entries || cfg->max_entries > CT_MAX_ENTRIES_LIMIT) {
        return NULL;
    }
    while (n < cfg->max_entries) {
        n <<= 1;
    }

    ct = xzalloc(sizeof *ct);
    ct->cfg = *cfg;
    ct->buckets = zalloc_huge((size_t) n * sizeof *ct->buckets);
    ct->mask = n - 1;
    ct->chunks = xcalloc((cfg->max_entries + CT_CHUNK_ENTRIES - 1)
                         / CT_CHUNK_ENTRIES, sizeof *ct->chunks);
    ct->basis = (uint32_t) time_nsec() * 2654435761u;
    ct->bytes_used = sizeof *ct + (uint64_t) n * sizeof *ct->buckets
        + (uint64_t) (cfg->max_entries + CT_CHUNK_ENTRIES - 1)
          / CT_CHUNK_ENTRIES * sizeof *ct->chunks;
    return ct;
}

void
ct_destroy(struct conntrack *ct)
{
    if (!ct) {
        return;
    }
    for (uint32_t i = 0; i < ct->n_chunks; i++) {
        free(ct->chunks[i]);
    }
    free(ct->chunks);
    free(ct->buckets);
    free(ct);
}

static bool
layout_l4(const struct packet_layout *lo, size_t len,
          const uint8_t *frame, const uint8_t **l4, size_t *l4_len)
{
    if (!lo || lo->l4_ofs == UINT16_MAX
        || (size_t) lo->l4_ofs + lo->l4_len > len) {
        return false;
    }
    *l4 = frame + lo->l4_ofs;
    *l4_len = lo->l4_len;
    return true;
}

static bool
parse_tcp(const uint8_t *l4, size_t l4_len, struct ct_tcp_seg *seg)
{
    size_t doff;

    if (l4_len < sizeof(struct tcp_header)) {
        return false;
    }
    doff = (size_t) (l4[12] >> 4) * 4;
    if (doff < sizeof(struct tcp_header) || doff > l4_len) {
        return false;
    }
    seg->seq = ntohl(get32(l4 + 4));
    seg->ack = ntohl(get32(l4 + 8));
    seg->flags = l4[13];
    seg->win = ntohs(get16(l4 + 14));
    seg->len = (uint32_t) (l4_len - doff)
               + !!(seg->flags & TCP_SYN) + !!(seg->flags & TCP_FIN);
    seg->wscale = -1;
    if (!(seg->flags & TCP_SYN)) {
        return true;
    }

    /* Options: only window scale (kind 3, length 3) matters here, and
     * only in a SYN (RFC 7323 2.2), the one place the tracker reads it;
     * every other segment, most carrying timestamps, skips the walk. */
    for (size_t i = sizeof(struct tcp_header); i < doff; ) {
        uint8_t kind = l4[i];

        if (kind == 0) {
            break;
        } else if (kind == 1) {
            i++;
            continue;
        }
        if (i + 1 >= doff || l4[i + 1] < 2 || i + l4[i + 1] > doff) {
            break;
        }
        if (kind == 3 && l4[i + 1] == 3) {
            seg->wscale = MIN(l4[i + 2], 14);
        }
        i += l4[i + 1];
    }
    return true;
}

static bool
seq_before(uint32_t a, uint32_t b)
{
    return (int32_t) (a - b) < 0;
}

static bool
seq_after(uint32_t a, uint32_t b)
{
    return seq_before(b, a);
}

/* Flag combinations no TCP may send (as OVS conntrack-tcp rejects). */
static bool
tcp_flags_invalid(uint8_t flags)
{
    if (flags & TCP_SYN) {
        if (flags & (TCP_RST | TCP_FIN)) {
            return true;
        }
    } else if (!(flags & (TCP_ACK | TCP_RST))) {
        return true;
    }
    if (!(flags & TCP_ACK) && (flags & (TCP_FIN | TCP_PSH | TCP_URG))) {
        return true;
    }
    return false;
}

static bool
tcp_pure_syn(uint8_t flags)
{
    return (flags & (TCP_SYN | TCP_ACK | TCP_RST | TCP_FIN)) == TCP_SYN;
}

static void
tcp_init_orig(struct ct_conn *c, const struct ct_tcp_seg *seg)
{
    uint32_t end = seg->seq + seg->len;

    c->tcp[0].end = c->tcp[0].maxend = end;
    c->tcp[0].maxwin = MAX(seg->win, 1);
    c->scale[0] = seg->wscale >= 0 ? CT_WS_OFFERED | seg->wscale : 0;
    c->state = CT_CS_TCP_SYN_SENT;
}

/* The state a connection is in after its FIN/ACK flags changed. */
static uint8_t
tcp_fin_state(const struct ct_conn *c)
{
    int n_fin = !!(c->flags & CF_FIN0) + !!(c->flags & CF_FIN1);
    int n_acked = !!(c->flags & CF_FINACK0) + !!(c->flags & CF_FINACK1);

    if (c->state == CT_CS_TCP_CLOSE || n_fin == 0) {
        return c->state;
    } else if (n_fin == 1) {
        return n_acked ? CT_CS_TCP_CLOSE_WAIT : CT_CS_TCP_FIN_WAIT;
    } else {
        return n_acked == 2 ? CT_CS_TCP_TIME_WAIT : CT_CS_TCP_LAST_ACK;
    }
}

/* Checks segment 'seg' travelling in direction 'dir' of connection 'c'
 * and, if it is acceptable, updates the connection.  Returns TCP_INVALID
 * with '*reason' set (and 'c' untouched), TCP_OK, or TCP_REOPEN for a new
 * SYN that replaces a finished connection. */
static enum ct_tcp_verdict
tcp_process(struct ct_conn *c, int dir, const struct ct_tcp_seg *seg,
            enum ct_invalid_reason *reason)
{
    uint8_t flags = seg->flags;
    struct ct_tcp_dir *s = &c->tcp[dir];
    struct ct_tcp_dir *r = &c->tcp[!dir];
    uint32_t end = seg->seq + seg->len;
    uint32_t win, ack, maxackwin;
    bool init_reply = false;

    if (tcp_flags_invalid(flags)) {
        *reason = CT_INVALID_TCP_FLAGS;
        return TCP_INVALID;
    }

    if (flags & TCP_SYN) {
        if (dir == 0 && !(flags & TCP_ACK)
            && (c->state == CT_CS_TCP_TIME_WAIT
                || c->state == CT_CS_TCP_CLOSE
                || (c->state == CT_CS_TCP_SYN_SENT
                    && seg->seq + 1 != c->tcp[0].end))) {
            return TCP_REOPEN;
        }
        if (c->state == CT_CS_TCP_SYN_SENT) {
            if (dir == 1 && (flags & TCP_ACK)) {
                if (seg->ack != c->tcp[0].end) {
                    *reason = CT_INVALID_TCP_WINDOW;
                    return TCP_INVALID;
                }
                init_reply = true;
            } else if (dir == 1 || (flags & TCP_ACK)) {
                *reason = CT_INVALID_TCP_STATE;     /* E.g. simultaneous
                                                     * open. */
                return TCP_INVALID;
            }
        } else if (c->state == CT_CS_TCP_SYN_RECV) {
            if ((dir == 0) != !(flags & TCP_ACK)) {
                *reason = CT_INVALID_TCP_STATE;
                return TCP_INVALID;
            }
        } else {
            *reason = CT_INVALID_TCP_STATE;
            return TCP_INVALID;
        }
    } else if (c->state == CT_CS_TCP_SYN_SENT) {
        /* Only the refusal of the SYN (RST+ACK acking it exactly) or the
         * originator aborting (RST at its next sequence number). */
        if ((flags & TCP_RST)
            && (dir == 1 ? (flags & TCP_ACK) && seg->ack == c->tcp[0].end
                         : seg->seq == c->tcp[0].end)) {
            c->state = CT_CS_TCP_CLOSE;
            c->flags |= dir ? CF_REPLIED : 0;
            return TCP_OK;
        }
        *reason = CT_INVALID_TCP_STATE;
        return TCP_INVALID;
    }

    if (!c->tcp[1].maxwin && !init_reply
        && c->state != CT_CS_TCP_SYN_SENT) {
        *reason = CT_INVALID_TCP_STATE;     /* Closed before any reply. */
        return TCP_INVALID;
    }
    if (init_reply) {
        /* Validated above; state changes only if the window check passes,
         * which it does for a fresh direction, so commit it now. */
        s->end = s->maxend = end;
        s->maxwin = MAX(seg->win, 1);
        c->scale[1] = seg->wscale >= 0 ? CT_WS_OFFERED | seg->wscale : 0;
        if ((c->scale[0] & c->scale[1]) & CT_WS_OFFERED) {
            c->scale[0] &= CT_WS_MASK;
            c->scale[1] &= CT_WS_MASK;
        } else {
            c->scale[0] = c->scale[1] = 0;
        }
        c->state = CT_CS_TCP_SYN_RECV;
    }

    win = seg->win;
    if (!(flags & TCP_SYN)) {
        win <<= c->scale[dir] & CT_WS_MASK;
    }
    ack = flags & TCP_ACK ? seg->ack : r->end;
    maxackwin = MAX(s->maxwin, 66000);
    if (seq_after(seg->seq, s->maxend)
        || seq_before(end, s->end - r->maxwin)
        || seq_after(ack, r->end)
        || seq_before(ack, r->end - maxackwin)) {
        *reason = CT_INVALID_TCP_WINDOW;
        return TCP_INVALID;
    }
    if ((c->flags & (dir ? CF_FIN1 : CF_FIN0)) && seq_after(end, s->end)) {
        *reason = CT_INVALID_TCP_STATE;         /* Data after FIN. */
        return TCP_INVALID;
    }

    /* Accepted: update the windows. */
    if (s->maxwin < win) {
        s->maxwin = win;
    }
    if (seq_after(end, s->end)) {
        s->end = end;
    }
    if (flags & TCP_ACK) {
        uint32_t lim = ack + MAX(win, 1);
        if (seq_after(lim, r->maxend)) {
            r->maxend = lim;
        }
    }
    if (dir == 1) {
        c->flags |= CF_REPLIED;
    }

    /* And the state. */
    if (flags & TCP_RST) {
        c->state = CT_CS_TCP_CLOSE;
        return TCP_OK;
    }
    if (c->state == CT_CS_TCP_SYN_RECV && dir == 0 && (flags & TCP_ACK)
        && !(flags & TCP_SYN)) {
        c->state = CT_CS_TCP_ESTABLISHED;
    }
    if (flags & TCP_FIN) {
        c->flags |= dir ? CF_FIN1 : CF_FIN0;
    }
    if ((flags & TCP_ACK) && (c->flags & (dir ? CF_FIN0 : CF_FIN1))
        && ack == r->end) {
        c->flags |= dir ? CF_FINACK0 : CF_FINACK1;
    }
    c->state = tcp_fin_state(c);
    return TCP_OK;
}

static bool
icmp_is_error(bool ipv6, uint8_t type)
{
    return ipv6 ? type >= ICMPV6_DEST_UNREACH && type <= ICMPV6_PARAM_PROBLEM
                : (type == ICMP4_DEST_UNREACH || type == ICMP4_TIME_EXCEEDED
                   || type == ICMP4_PARAM_PROBLEM);
}

static bool
icmp_is_echo(bool ipv6, uint8_t type, bool *request)
{
    *request = type == (ipv6 ? ICMPV6_ECHO_REQUEST : ICMP4_ECHO_REQUEST);
    return *request || type == (ipv6 ? ICMPV6_ECHO_REPLY : ICMP4_ECHO_REPLY);
}

/* ICMP error at 'l4' (l4_len bytes): finds the connection of the quoted
 * packet.  Returns it or NULL; '*inner_dir' is the quoted packet's
 * direction. */
static struct ct_conn *
icmp_related(struct conntrack *ct, uint16_t zone, bool ipv6,
             const struct flow_key *key, const uint8_t *l4, size_t l4_len,
             long long now, int *inner_dir)
{
    const uint8_t *in = l4 + 8, *il4;
    union flow_addr src, dst;
    size_t ilen, hlen;
    uint8_t proto;
    be16 sport = 0, dport = 0;
    struct ct_key k;
    struct ct_conn *c;
    bool src_hi;

    if (l4_len < 8) {
        return NULL;
    }
    ilen = l4_len - 8;
    memset(&src, 0, sizeof src);
    memset(&dst, 0, sizeof dst);
    if (!ipv6) {
        if (ilen < sizeof(struct ip_header) || (in[0] >> 4) != 4) {
            return NULL;
        }
        hlen = (size_t) (in[0] & 0xf) * 4;
        if (hlen < sizeof(struct ip_header) || hlen > ilen
            || ntohs(get16(in + 6)) & IP_FRAG_OFF_MASK) {
            return NULL;
        }
        proto = in[9];
        src.ip4 = get32(in + 12);
        dst.ip4 = get32(in + 16);
    } else {
        if (ilen < sizeof(struct ipv6_header) || (in[0] >> 4) != 6) {
            return NULL;
        }
        hlen = sizeof(struct ipv6_header);
        proto = in[6];
        memcpy(src.ip6, in + 8, 16);
        memcpy(dst.ip6, in + 24, 16);
    }
    il4 = in + hlen;
    ilen -= hlen;

    /* The quoted packet was sent by whoever receives the error. */
    if (memcmp(&src, &key->nw_dst, sizeof src)) {
        return NULL;
    }
    if (proto == IPPROTO_TCP_ || proto == IPPROTO_UDP_) {
        if (ilen < 4) {
            return NULL;
        }
        sport = get16(il4);
        dport = get16(il4 + 2);
    } else if (proto == (ipv6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_)) {
        bool request;

        if (ilen < 8 || !icmp_is_echo(ipv6, il4[0], &request)) {
            return NULL;
        }
        sport = dport = get16(il4 + 4);
    }
    src_hi = make_key(zone, proto, ipv6, &src, sport, &dst, dport, &k);
    c = conn_find(ct, &k, key_hash(ct, &k), now);
    if (c) {
        *inner_dir = src_hi != !!(c->flags & CF_ORIG_HI);
    }
    return c;
}

uint8_t
ct_execute(struct conntrack *ct, uint16_t zone, bool commit,
           const void *frame_, size_t len, const struct flow_key *key,
           const struct packet_layout *layout, long long now_msec,
           struct ct_result *res_)
{
    const uint8_t *frame = frame_;
    struct ct_result res_local;
    struct ct_result *res = res_ ? res_ : &res_local;
    const uint8_t *l4 = NULL;
    size_t l4_len = 0;
    struct ct_tcp_seg seg;
    struct ct_key k;
    struct ct_conn *c;
    be16 sport = key->tp_src, dport = key->tp_dst;
    uint8_t proto = key->nw_proto;
    bool ipv6, src_hi, echo_request = false;
    uint32_t hash, idx;
    int dir;

    memset(res, 0, sizeof *res);
    memset(&seg, 0, sizeof seg);
    if (key->eth_type == htons(ETH_TYPE_IP)) {
        ipv6 = false;
    } else if (key->eth_type == htons(ETH_TYPE_IPV6)) {
        ipv6 = true;
    } else {
        return 0;
    }
    ct->stats.n_packets++;
    if (!layout || layout->l3_ofs == UINT16_MAX) {
        return finish(ct, res, 0, CT_INVALID_TRUNCATED, NULL);
    }
    if (key->nw_frag) {
        return finish(ct, res, 0, CT_INVALID_FRAGMENT, NULL);
    }

    if (proto == IPPROTO_TCP_) {
        if (!layout_l4(layout, len, frame, &l4, &l4_len)
            || !parse_tcp(l4, l4_len, &seg)) {
            return finish(ct, res, 0, CT_INVALID_TRUNCATED, NULL);
        }
    } else if (proto == IPPROTO_UDP_) {
        if (!layout_l4(layout, len, frame, &l4, &l4_len)
            || l4_len < sizeof(struct udp_header)) {
            return finish(ct, res, 0, CT_INVALID_TRUNCATED, NULL);
        }
    } else if (proto == (ipv6 ? IPPROTO_ICMPV6_ : IPPROTO_ICMP_)) {
        if (!layout_l4(layout, len, frame, &l4, &l4_len) || l4_len < 4) {
            return finish(ct, res, 0, CT_INVALID_TRUNCATED, NULL);
        }
        if (icmp_is_error(ipv6, l4[0])) {
            int inner_dir = 0;

            c = icmp_related(ct, zone, ipv6, key, l4, l4_len, now_msec,
                             &inner_dir);
            if (!c) {
                return finish(ct, res, 0, CT_INVALID_ICMP_UNRELATED, NULL);
            }
            ct->stats.related++;
            return finish(ct, res, CT_RELATED | (inner_dir ? 0 : CT_REPLY),
                          CT_INVALID_NONE, c);
        }
        if (!icmp_is_echo(ipv6, l4[0], &echo_request)) {
            return finish(ct, res, 0, CT_INVALID_NOT_TRACKABLE, NULL);
        }
        if (l4_len < 8) {
            return finish(ct, res, 0, CT_INVALID_TRUNCATED, NULL);
        }
        sport = dport = get16(l4 + 4);
    } else {
        sport = dport = 0;
    }

    src_hi = make_key(zone, proto, ipv6, &key->nw_src, sport, &key->nw_dst,
                      dport, &k);
    hash = key_hash(ct, &k);
    c = conn_find(ct, &k, hash, now_msec);
    if (c) {
        enum ct_invalid_reason reason = CT_INVALID_NONE;

        dir = src_hi != !!(c->flags & CF_ORIG_HI);
        if (proto == IPPROTO_TCP_) {
            switch (tcp_process(c, dir, &seg, &reason)) {
            case TCP_OK:
                break;
            case TCP_INVALID:
                return finish(ct, res, 0, reason, c);
            case TCP_REOPEN:
                conn_remove(ct, c);
                c = NULL;
                break;
            }
        } else if (l4 && proto != IPPROTO_UDP_) {
            /* ICMP echo: requests go forward, replies back. */
            if (echo_request != !dir) {
                return finish(ct, res, 0, CT_INVALID_NO_CONN, c);
            }
            if (dir) {
                c->flags |= CF_REPLIED;
                c->state = CT_CS_ICMP_REPLY;
            }
        } else if (dir) {
            c->flags |= CF_REPLIED;
            c->state = proto == IPPROTO_UDP_ ? CT_CS_UDP_MULTIPLE
                                             : CT_CS_OTHER_MULTIPLE;
        }
        if (c) {
            c->expiration = now_msec + ct->cfg.timeout_msec[c->state];
            return finish(ct, res,
                          (c->flags & CF_REPLIED ? CT_ESTABLISHED : CT_NEW)
                          | (dir ? CT_REPLY : 0), CT_INVALID_NONE, c);
        }
    }

    /* No connection: may this packet start one? */
    if (proto == IPPROTO_TCP_ && !tcp_pure_syn(seg.flags)) {
        return finish(ct, res, 0,
                      tcp_flags_invalid(seg.flags) ? CT_INVALID_TCP_FLAGS
                                                   : CT_INVALID_NO_CONN,
                      NULL);
    }
    if (l4 && proto != IPPROTO_TCP_ && proto != IPPROTO_UDP_
        && !echo_request) {
        return finish(ct, res, 0, CT_INVALID_NO_CONN, NULL);
    }
    if (!commit) {
        return finish(ct, res, CT_NEW, CT_INVALID_NONE, NULL);
    }

    c = conn_alloc(ct, now_msec, &idx);
    if (!c) {
        ct->stats.full_drops++;
        return finish(ct, res, 0, CT_INVALID_TABLE_FULL, NULL);
    }
    c->key = k;
    c->hash = hash;
    c->flags = src_hi ? CF_ORIG_HI : 0;
    if (proto == IPPROTO_TCP_) {
        tcp_init_orig(c, &seg);
    } else if (proto == IPPROTO_UDP_) {
        c->state = CT_CS_UDP_FIRST;
    } else if (l4) {
        c->state = CT_CS_ICMP_FIRST;
    } else {
        c->state = CT_CS_OTHER_FIRST;
    }
    c->expiration = now_msec + ct->cfg.timeout_msec[c->state];
    c->next = ct->buckets[hash & ct->mask];
    ct->buckets[hash & ct->mask] = idx + 1;
    ct->n_entries++;
    ct->stats.commits++;
    return finish(ct, res, CT_NEW, CT_INVALID_NONE, c);
}

size_t
ct_run(struct conntrack *ct, long long now_msec, size_t max_work)
{
    size_t n = 0;

    for (size_t i = 0; i < max_work && ct->n_slots; i++) {
        struct ct_conn *c;

        if (ct->run_cursor >= ct->n_slots) {
            ct->run_cursor = 0;
        }
        c = slot(ct, ct->run_cursor++);
        if (c->state != CT_CS_NONE && now_msec >= c->expiration) {
            conn_remove(ct, c);
            ct->stats.expired++;
            n++;
        }
    }
    return n;
}

void
ct_dump(const struct conntrack *ct, int zone,
        bool (*cb)(const struct ct_conn_info *, void *aux), void *aux)
{
    for (uint32_t i = 0; i < ct->n_slots; i++) {
        const struct ct_conn *c = slot(ct, i);
        struct ct_conn_info info;

        if (c->state == CT_CS_NONE
            || (zone != CT_ZONE_ALL && c->key.zone != zone)) {
            continue;
        }
        conn_info(c, &info);
        if (!cb(&info, aux)) {
            return;
        }
    }
}

size_t
ct_flush(struct conntrack *ct, int zone)
{
    return ct_flush_if(ct, zone, NULL, NULL);
}

/* ct_flush_if() over slots [start, end). */
static size_t
flush_range(struct conntrack *ct, int zone, uint32_t start, uint32_t end,
            bool (*pred)(const struct ct_conn_info *, void *aux), void *aux)
{
    size_t n = 0;

    for (uint32_t i = start; i < end; i++) {
        struct ct_conn *c = slot(ct, i);

        if (c->state == CT_CS_NONE
            || (zone != CT_ZONE_ALL && c->key.zone != zone)) {
            continue;
        }
        if (pred) {
            struct ct_conn_info info;

            conn_info(c, &info);
            if (!pred(&info, aux)) {
                continue;
            }
        }
        conn_remove(ct, c);
        n++;
    }
    return n;
}

size_t
ct_flush_if(struct conntrack *ct, int zone,
            bool (*pred)(const struct ct_conn_info *, void *aux), void *aux)
{
    return flush_range(ct, zone, 0, ct->n_slots, pred, aux);
}

size_t
ct_flush_if_step(struct conntrack *ct, uint32_t *cursor, uint32_t max_slots,
                 bool (*pred)(const struct ct_conn_info *, void *aux),
                 void *aux, bool *done)
{
    uint32_t start = MIN(*cursor, ct->n_slots);
    uint32_t end = start + MIN(max_slots, ct->n_slots - start);
    size_t n = flush_range(ct, CT_ZONE_ALL, start, end, pred, aux);

    *cursor = end;
    *done = end >= ct->n_slots;
    return n;
}

void
ct_get_stats(const struct conntrack *ct, struct ct_stats *stats)
{
    *stats = ct->stats;
    stats->n_entries = ct->n_entries;
    stats->max_entries = ct->cfg.max_entries;
    stats->bytes_used = ct->bytes_used;
}

const char *
ct_conn_state_name(enum ct_conn_state state)
{
    return (unsigned) state < CT_N_CONN_STATES ? state_names[state] : "?";
}

const char *
ct_invalid_reason_name(enum ct_invalid_reason reason)
{
    return (unsigned) reason < CT_N_INVALID_REASONS ? reason_names[reason]
                                                     : "?";
}

char *
ct_state_format(uint8_t state, char *buf, size_t size)
{
    size_t n = 0;

    if (!size) {
        return buf;
    }
    buf[0] = '\0';
    if (!state) {
        str_copy(buf, "-trk", size);
        return buf;
    }
#define CT_BIT(NAME, BIT, STR)                                            \
    if (state & CT_##NAME && n < size) {                                 \
        int w = snprintf(buf + n, size - n, "+%s", STR);                 \
        n += w > 0 ? (size_t) w : 0;                                     \
    }
    CT_STATE_BITS
#undef CT_BIT
    return buf;
}

char *
ct_conn_format(const struct ct_conn_info *info, long long now_msec,
               char *buf, size_t size)
{
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
    const char *proto;
    int af = info->ipv6 ? AF_INET6 : AF_INET;

    inet_ntop(af, &info->src, src, sizeof src);
    inet_ntop(af, &info->dst, dst, sizeof dst);
    proto = ip_proto_name(info->proto);
    if (proto && (info->proto == IPPROTO_TCP_ || info->proto == IPPROTO_UDP_
                  || info->proto == IPPROTO_ICMP_
                  || info->proto == IPPROTO_ICMPV6_)) {
        snprintf(buf, size, "zone=%u %s %s%s%s:%u->%s%s%s:%u %s%s "
                 "expires=%lld", info->zone, proto,
                 info->ipv6 ? "[" : "", src, info->ipv6 ? "]" : "",
                 ntohs(info->sport), info->ipv6 ? "[" : "", dst,
                 info->ipv6 ? "]" : "", ntohs(info->dport),
                 ct_conn_state_name(info->state),
                 info->replied ? " replied" : "",
                 info->expiration_msec - now_msec);
    } else {
        snprintf(buf, size, "zone=%u proto=%u %s->%s %s%s expires=%lld",
                 info->zone, info->proto, src, dst,
                 ct_conn_state_name(info->state),
                 info->replied ? " replied" : "",
                 info->expiration_msec - now_msec);
    }
    return buf;
}

/* Table internals. */

/* Zeroed memory, aligned and advised for transparent huge pages if 'size'
 * is at least half a huge page (a full pool chunk is a few bytes short of
 * one).  Freed with free(). */
static void *
zalloc_huge(size_t size)
{
    size_t full = ROUND_UP(size, CT_HUGE_PAGE);
    void *p;

    if (size < CT_HUGE_PAGE / 2 || posix_memalign(&p, CT_HUGE_PAGE, full)) {
        return xzalloc(size);
    }
    (void) madvise(p, full, MADV_HUGEPAGE);
    memset(p, 0, full);
    return p;
}

static struct ct_conn *
slot(const struct conntrack *ct, uint32_t idx)
{
    return &ct->chunks[idx / CT_CHUNK_ENTRIES][idx % CT_CHUNK_ENTRIES];
}

/* Fills 'key' canonically; returns true if the packet's source is key
 * endpoint 1. */
static bool
make_key(uint16_t zone, uint8_t proto, bool ipv6,
         const union flow_addr *src, be16 sport,
         const union flow_addr *dst, be16 dport, struct ct_key *key)
{
    int cmp = memcmp(src, dst, sizeof *src);
    bool src_hi = cmp > 0 || (cmp == 0 && ntohs(sport) > ntohs(dport));

    key->addr[src_hi] = *src;
    key->addr[!src_hi] = *dst;
    key->port[src_hi] = sport;
    key->port[!src_hi] = dport;
    key->zone = zone;
    key->proto = proto;
    key->ipv6 = ipv6;
    return src_hi;
}

static uint32_t
key_hash(const struct conntrack *ct, const struct ct_key *key)
{
    uint64_t w[5];

    memcpy(w, key, sizeof w);
    return hash_words64(w, 5, ct->basis);
}

/* Returns the live connection with 'key', removing it instead if it has
 * expired by 'now'. */
static struct ct_conn *
conn_find(struct conntrack *ct, const struct ct_key *key, uint32_t hash,
          long long now)
{
    for (uint32_t i = ct->buckets[hash & ct->mask]; i; ) {
        struct ct_conn *c = slot(ct, i - 1);

        if (c->hash == hash && !memcmp(&c->key, key, sizeof *key)) {
            if (now >= c->expiration) {
                conn_remove(ct, c);
                ct->stats.expired++;
                return NULL;
            }
            return c;
        }
        i = c->next;
    }
    return NULL;
}

static void
conn_remove(struct conntrack *ct, struct ct_conn *c)
{
    uint32_t *p = &ct->buckets[c->hash & ct->mask];
    uint32_t idx;

    for (;;) {
        ASSERT(*p);
        if (slot(ct, *p - 1) == c) {
            break;
        }
        p = &slot(ct, *p - 1)->next;
    }
    idx = *p;
    *p = c->next;
    c->state = CT_CS_NONE;
    c->next = ct->free_head;
    ct->free_head = idx;
    ct->n_entries--;
}

/* True if 'c' may be evicted for a new connection. */
static bool
conn_unassured(const struct ct_conn *c)
{
    return !(c->flags & CF_REPLIED)
           || c->state == CT_CS_TCP_SYN_SENT
           || c->state == CT_CS_TCP_SYN_RECV
           || c->state == CT_CS_TCP_TIME_WAIT
           || c->state == CT_CS_TCP_CLOSE;
}

/* Makes room by the policy in conntrack.h.  Returns true if it did. */
static bool
conn_evict(struct conntrack *ct, long long now)
{
    struct ct_conn *victim = NULL;

    for (int i = 0; i < CT_EVICT_SCAN; i++) {
        struct ct_conn *c;

        if (ct->evict_cursor >= ct->n_slots) {
            ct->evict_cursor = 0;
        }
        c = slot(ct, ct->evict_cursor++);
        if (c->state == CT_CS_NONE) {
            continue;
        }
        if (now >= c->expiration) {
            conn_remove(ct, c);
            ct->stats.expired++;
            return true;
        }
        if (!victim && conn_unassured(c)) {
            victim = c;
        }
    }
    if (victim) {
        conn_remove(ct, victim);
        ct->stats.early_evictions++;
        return true;
    }
    return false;
}

/* Returns a zeroed free slot (its index in '*idx'), not yet linked, or
 * NULL if the table is full and nothing could be evicted. */
static struct ct_conn *
conn_alloc(struct conntrack *ct, long long now, uint32_t *idx)
{
    struct ct_conn *c;

    if (ct->n_entries >= ct->cfg.max_entries && !conn_evict(ct, now)) {
        return NULL;
    }
    if (!ct->free_head) {
        uint32_t n = MIN(CT_CHUNK_ENTRIES,
                         ct->cfg.max_entries - ct->n_slots);
        struct ct_conn *chunk;

        ASSERT(n > 0);
        chunk = zalloc_huge(n * sizeof *chunk);
        ct->chunks[ct->n_chunks++] = chunk;
        ct->bytes_used += (uint64_t) n * sizeof *chunk;
        for (uint32_t i = n; i-- > 0; ) {
            chunk[i].next = ct->free_head;
            ct->free_head = ct->n_slots + i + 1;
        }
        ct->n_slots += n;
    }
    *idx = ct->free_head - 1;
    c = slot(ct, *idx);
    ct->free_head = c->next;
    memset(c, 0, sizeof *c);
    return c;
}

static void
conn_info(const struct ct_conn *c, struct ct_conn_info *info)
{
    int o = !!(c->flags & CF_ORIG_HI);

    memset(info, 0, sizeof *info);
    info->zone = c->key.zone;
    info->proto = c->key.proto;
    info->ipv6 = c->key.ipv6;
    info->src = c->key.addr[o];
    info->dst = c->key.addr[!o];
    info->sport = c->key.port[o];
    info->dport = c->key.port[!o];
    info->state = c->state;
    info->replied = c->flags & CF_REPLIED;
    info->expiration_msec = c->expiration;
}

static uint8_t
finish(struct conntrack *ct, struct ct_result *res, uint8_t state,
       enum ct_invalid_reason reason, const struct ct_conn *c)
{
    if (reason != CT_INVALID_NONE) {
        state = CT_INVALID;
        ct->stats.invalid++;
        ct->stats.invalid_by_reason[reason]++;
    }
    res->state = state | CT_TRACKED;
    res->reason = reason;
    res->conn_state = c ? c->state : CT_CS_NONE;
    return res->state;
}
