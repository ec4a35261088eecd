/* ipam.c -- address arithmetic, pools and MACs (see ipam.h). */
#include "controller/ipam.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "lib/util.h"

static size_t
addr_len(const struct ipam_addr *a)
{
    return a->family == 4 ? 4 : 16;
}

bool
ipam_addr_parse(const char *s, struct ipam_addr *a)
{
    memset(a, 0, sizeof *a);
    if (!s) {
        return false;
    }
    if (strchr(s, ':')) {
        a->family = 6;
        return inet_pton(AF_INET6, s, a->b) == 1;
    }
    a->family = 4;
    return inet_pton(AF_INET, s, a->b) == 1;
}

char *
ipam_addr_format(const struct ipam_addr *a, char buf[IPAM_ADDR_STRLEN])
{
    if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->b, buf,
                   IPAM_ADDR_STRLEN)) {
        str_copy(buf, "?", IPAM_ADDR_STRLEN);
    }
    return buf;
}

int
ipam_addr_cmp(const struct ipam_addr *a, const struct ipam_addr *b)
{
    if (a->family != b->family) {
        return a->family < b->family ? -1 : 1;
    }
    return memcmp(a->b, b->b, addr_len(a));
}

bool
ipam_addr_inc(struct ipam_addr *a)
{
    struct ipam_addr old = *a;

    for (size_t i = addr_len(a); i-- > 0;) {
        if (++a->b[i] != 0) {
            return true;
        }
    }
    *a = old;
    return false;
}

bool
ipam_addr_dec(struct ipam_addr *a)
{
    struct ipam_addr old = *a;

    for (size_t i = addr_len(a); i-- > 0;) {
        if (a->b[i]-- != 0) {
            return true;
        }
    }
    *a = old;
    return false;
}

static int
addr_cmp_qsort(const void *a_, const void *b_)
{
    return ipam_addr_cmp(a_, b_);
}

void
ipam_addr_sort(struct ipam_addr *addrs, size_t n)
{
    if (n > 1) {
        qsort(addrs, n, sizeof *addrs, addr_cmp_qsort);
    }
}

/* Clears every bit of 'a' after the first 'plen'. */
static void
addr_mask(struct ipam_addr *a, unsigned int plen)
{
    for (size_t i = 0; i < addr_len(a); i++) {
        unsigned int bit = i * 8;
        if (bit >= plen) {
            a->b[i] = 0;
        } else if (plen - bit < 8) {
            a->b[i] &= (uint8_t) (0xff << (8 - (plen - bit)));
        }
    }
}

/* Sets every bit of 'a' after the first 'plen'. */
static void
addr_fill(struct ipam_addr *a, unsigned int plen)
{
    for (size_t i = 0; i < addr_len(a); i++) {
        unsigned int bit = i * 8;
        if (bit >= plen) {
            a->b[i] = 0xff;
        } else if (plen - bit < 8) {
            a->b[i] |= (uint8_t) (0xff >> (plen - bit));
        }
    }
}

bool
ipam_prefix_parse(const char *s, struct ipam_prefix *p)
{
    char buf[IPAM_PREFIX_STRLEN];
    const char *slash;
    unsigned int plen = 0;
    size_t n;

    memset(p, 0, sizeof *p);
    if (!s) {
        return false;
    }
    slash = strchr(s, '/');
    if (!slash || (size_t) (slash - s) >= sizeof buf) {
        return false;
    }
    n = slash - s;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (!ipam_addr_parse(buf, &p->addr)) {
        return false;
    }
    /* Prefix length: 1-3 decimal digits, no sign, no leading zeros. */
    const char *d = slash + 1;
    size_t nd = strlen(d);
    if (nd < 1 || nd > 3 || (nd > 1 && d[0] == '0')) {
        return false;
    }
    for (size_t i = 0; i < nd; i++) {
        if (!isdigit((unsigned char) d[i])) {
            return false;
        }
        plen = plen * 10 + (d[i] - '0');
    }
    if (plen > (p->addr.family == 4 ? 32u : 128u)) {
        return false;
    }
    p->plen = plen;
    addr_mask(&p->addr, plen);
    return true;
}

char *
ipam_prefix_format(const struct ipam_prefix *p, char buf[IPAM_PREFIX_STRLEN])
{
    char a[IPAM_ADDR_STRLEN];

    snprintf(buf, IPAM_PREFIX_STRLEN, "%s/%u",
             ipam_addr_format(&p->addr, a), p->plen);
    return buf;
}

bool
ipam_prefix_contains(const struct ipam_prefix *p, const struct ipam_addr *a)
{
    struct ipam_addr m;

    if (a->family != p->addr.family) {
        return false;
    }
    m = *a;
    addr_mask(&m, p->plen);
    return !memcmp(m.b, p->addr.b, addr_len(a));
}

bool
ipam_prefix_overlaps(const struct ipam_prefix *p, const struct ipam_prefix *q)
{
    if (p->addr.family != q->addr.family) {
        return false;
    }
    return (p->plen <= q->plen ? ipam_prefix_contains(p, &q->addr)
                               : ipam_prefix_contains(q, &p->addr));
}

struct ipam_addr
ipam_prefix_first(const struct ipam_prefix *p)
{
    return p->addr;
}

struct ipam_addr
ipam_prefix_last(const struct ipam_prefix *p)
{
    struct ipam_addr a = p->addr;

    addr_fill(&a, p->plen);
    return a;
}

struct ipam_addr
ipam_prefix_default_gateway(const struct ipam_prefix *p)
{
    struct ipam_addr a = p->addr;
    unsigned int max = p->addr.family == 4 ? 32 : 128;

    if (p->plen < max) {
        ipam_addr_inc(&a);
    }
    return a;
}

bool
ipam_prefix_is_reserved(const struct ipam_prefix *p,
                        const struct ipam_addr *a)
{
    struct ipam_addr first = ipam_prefix_first(p);
    struct ipam_addr last = ipam_prefix_last(p);

    if (p->addr.family == 4) {
        return p->plen < 31 && (!ipam_addr_cmp(a, &first)
                                || !ipam_addr_cmp(a, &last));
    }
    /* IPv6: the subnet-router anycast address. */
    return p->plen < 127 && !ipam_addr_cmp(a, &first);
}

size_t
ipam_default_pools(const struct ipam_prefix *p,
                   const struct ipam_addr *gateway, struct ipam_range out[2])
{
    struct ipam_range r;
    size_t n = 0;

    r.start = ipam_prefix_first(p);
    r.end = ipam_prefix_last(p);
    if (ipam_prefix_is_reserved(p, &r.start)) {
        ipam_addr_inc(&r.start);
    }
    if (ipam_prefix_is_reserved(p, &r.end)) {
        ipam_addr_dec(&r.end);
    }
    if (ipam_addr_cmp(&r.start, &r.end) > 0) {
        return 0;
    }
    if (!gateway || !ipam_range_contains(&r, gateway)) {
        out[0] = r;
        return 1;
    }
    if (ipam_addr_cmp(gateway, &r.start) > 0) {
        out[n].start = r.start;
        out[n].end = *gateway;
        ipam_addr_dec(&out[n].end);
        n++;
    }
    if (ipam_addr_cmp(gateway, &r.end) < 0) {
        out[n].start = *gateway;
        ipam_addr_inc(&out[n].start);
        out[n].end = r.end;
        n++;
    }
    return n;
}

bool
ipam_range_overlaps(const struct ipam_range *a, const struct ipam_range *b)
{
    return (a->start.family == b->start.family
            && ipam_addr_cmp(&a->start, &b->end) <= 0
            && ipam_addr_cmp(&b->start, &a->end) <= 0);
}

bool
ipam_range_contains(const struct ipam_range *r, const struct ipam_addr *a)
{
    return (a->family == r->start.family
            && ipam_addr_cmp(&r->start, a) <= 0
            && ipam_addr_cmp(a, &r->end) <= 0);
}

bool
ipam_next_free(const struct ipam_range *pools, size_t n_pools,
               const struct ipam_addr *used, size_t n_used,
               struct ipam_addr *out)
{
    for (size_t i = 0; i < n_pools; i++) {
        const struct ipam_range *r = &pools[i];
        struct ipam_addr cand = r->start;
        size_t j = 0;

        /* Skip used addresses below the pool. */
        while (j < n_used && ipam_addr_cmp(&used[j], &cand) < 0) {
            j++;
        }
        for (;;) {
            if (j >= n_used || ipam_addr_cmp(&used[j], &cand) > 0) {
                *out = cand;
                return true;
            }
            /* used[j] == cand: try the next address. */
            if (!ipam_addr_cmp(&cand, &r->end) || !ipam_addr_inc(&cand)) {
                break;
            }
            while (j < n_used && ipam_addr_cmp(&used[j], &cand) < 0) {
                j++;
            }
        }
    }
    return false;
}

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

bool
ipam_mac_parse(const char *s, uint8_t mac[6])
{
    if (!s || strlen(s) != 17) {
        return false;
    }
    for (int i = 0; i < 6; i++) {
        int hi = hexval((unsigned char) s[i * 3]);
        int lo = hexval((unsigned char) s[i * 3 + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        if (i < 5 && s[i * 3 + 2] != ':' && s[i * 3 + 2] != '-') {
            return false;
        }
        mac[i] = (uint8_t) (hi << 4 | lo);
    }
    if (mac[0] & 1) {
        return false;
    }
    return (mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]) != 0;
}

char *
ipam_mac_format(const uint8_t mac[6], char buf[IPAM_MAC_STRLEN])
{
    snprintf(buf, IPAM_MAC_STRLEN, "%02x:%02x:%02x:%02x:%02x:%02x",
             mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return buf;
}

void
ipam_mac_random(uint8_t mac[6])
{
    mac[0] = 0xfa;
    mac[1] = 0x16;
    mac[2] = 0x3e;
    ipam_random_bytes(&mac[3], 3);
}

void
ipam_random_bytes(void *buf_, size_t n)
{
    uint8_t *buf = buf_;

    while (n > 0) {
        ssize_t r = getrandom(buf, n, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            weft_assert_fail("getrandom", __FILE__, __LINE__, __func__);
        }
        buf += r;
        n -= r;
    }
}
