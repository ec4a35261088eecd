/*
 * dhcp.c -- the DHCPv4 wire format (see dhcp.h).
 *
 * Every read is checked against the region's length before it happens;
 * every write against the writer's size.  A writer that failed once stays
 * failed, so a reply is either complete or reported as not fitting.
 */
#include "lib/dhcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

const char *
dhcp4_msg_type_name(unsigned int type)
{
    switch (type) {
#define DM(ENUM, VALUE, NAME) case VALUE: return NAME;
    DHCP4_MSG_TYPES
#undef DM
    default:
        return "unknown";
    }
}

const char *
dhcp4_opt_name(unsigned int code)
{
    switch (code) {
#define DO(ENUM, VALUE, NAME) case VALUE: return NAME;
    DHCP4_OPTIONS
#undef DO
    default:
        return "unknown";
    }
}

int
dhcp4_msg_parse(const void *msg, size_t len, const struct dhcp4_header **hdr,
                const uint8_t **opts, size_t *opts_len)
{
    const struct dhcp4_header *h = msg;

    if (len < sizeof *h || h->cookie != htonl(DHCP4_MAGIC_COOKIE)) {
        return EINVAL;
    }
    *hdr = h;
    *opts = (const uint8_t *) msg + sizeof *h;
    *opts_len = len - sizeof *h;
    return 0;
}

void
dhcp4_opt_iter_init(struct dhcp4_opt_iter *it, const void *opts, size_t len)
{
    it->p = opts;
    it->len = opts ? len : 0;
    it->ofs = 0;
    it->error = 0;
    it->end_seen = false;
}

bool
dhcp4_opt_next(struct dhcp4_opt_iter *it, struct dhcp4_opt *opt)
{
    size_t left;

    if (it->error || it->end_seen) {
        return false;
    }
    while (it->ofs < it->len && it->p[it->ofs] == DHCP4_OPT_PAD) {
        it->ofs++;
    }
    if (it->ofs >= it->len) {
        return false;
    }
    if (it->p[it->ofs] == DHCP4_OPT_END) {
        it->end_seen = true;
        return false;
    }
    left = it->len - it->ofs;
    if (left < 2 || (size_t) it->p[it->ofs + 1] > left - 2) {
        it->error = EINVAL;
        return false;
    }
    opt->code = it->p[it->ofs];
    opt->len = it->p[it->ofs + 1];
    opt->data = it->p + it->ofs + 2;
    it->ofs += 2 + (size_t) opt->len;
    return true;
}

int
dhcp4_opt_find(const void *opts, size_t len, uint8_t code,
               struct dhcp4_opt *opt)
{
    struct dhcp4_opt_iter it;
    struct dhcp4_opt o;

    dhcp4_opt_iter_init(&it, opts, len);
    while (dhcp4_opt_next(&it, &o)) {
        if (o.code == code) {
            *opt = o;
            return 0;
        }
    }
    return it.error ? it.error : ENOENT;
}

void
dhcp4_opt_writer_init(struct dhcp4_opt_writer *w, void *buf, size_t size)
{
    w->p = buf;
    w->size = buf ? size : 0;
    w->ofs = 0;
    w->error = 0;
}

/* Records 'error' as w's first error if it has none.  Returns w->error. */
static int
writer_fail(struct dhcp4_opt_writer *w, int error)
{
    if (!w->error) {
        w->error = error;
    }
    return w->error;
}

/* Reserves the header of an option 'code' of 'len' value bytes and returns
 * a pointer to where the value goes, or NULL (error recorded). */
static uint8_t *
writer_open(struct dhcp4_opt_writer *w, uint8_t code, size_t len)
{
    uint8_t *v;

    if (w->error) {
        return NULL;
    }
    if (code == DHCP4_OPT_PAD || code == DHCP4_OPT_END
        || len > DHCP4_OPT_MAX_LEN) {
        writer_fail(w, EINVAL);
        return NULL;
    }
    if (w->size - w->ofs < 2 + len) {
        writer_fail(w, ENOSPC);
        return NULL;
    }
    v = w->p + w->ofs;
    v[0] = code;
    v[1] = (uint8_t) len;
    w->ofs += 2 + len;
    return v + 2;
}

int
dhcp4_opt_put(struct dhcp4_opt_writer *w, uint8_t code, const void *data,
              size_t len)
{
    uint8_t *v = writer_open(w, code, len);

    if (!v) {
        return w->error;
    }
    if (len) {
        memcpy(v, data, len);
    }
    return 0;
}

int
dhcp4_opt_put_u8(struct dhcp4_opt_writer *w, uint8_t code, uint8_t v)
{
    return dhcp4_opt_put(w, code, &v, 1);
}

int
dhcp4_opt_put_u16(struct dhcp4_opt_writer *w, uint8_t code, uint16_t v)
{
    be16 x = htons(v);
    return dhcp4_opt_put(w, code, &x, 2);
}

int
dhcp4_opt_put_u32(struct dhcp4_opt_writer *w, uint8_t code, uint32_t v)
{
    return dhcp4_opt_put_be32(w, code, htonl(v));
}

int
dhcp4_opt_put_be32(struct dhcp4_opt_writer *w, uint8_t code, be32 v)
{
    return dhcp4_opt_put(w, code, &v, 4);
}

int
dhcp4_opt_put_str(struct dhcp4_opt_writer *w, uint8_t code, const char *s)
{
    size_t len = strnlen(s, DHCP4_OPT_MAX_LEN + 1);

    if (!len || len > DHCP4_OPT_MAX_LEN) {
        return writer_fail(w, EINVAL);
    }
    return dhcp4_opt_put(w, code, s, len);
}

int
dhcp4_opt_put_end(struct dhcp4_opt_writer *w)
{
    if (w->error) {
        return w->error;
    }
    if (w->ofs >= w->size) {
        return writer_fail(w, ENOSPC);
    }
    w->p[w->ofs++] = DHCP4_OPT_END;
    return 0;
}

int
dhcp4_routes_encode(const struct dhcp4_route *routes, size_t n, void *buf,
                    size_t size, size_t *len)
{
    uint8_t *p = buf;
    size_t ofs = 0;

    for (size_t i = 0; i < n; i++) {
        const struct dhcp4_route *r = &routes[i];
        be32 dst;
        size_t sig;

        if (r->plen > 32) {
            return EINVAL;
        }
        if (size - ofs < dhcp4_route_encoded_len(r->plen)) {
            return ENOSPC;
        }
        sig = (r->plen + 7u) / 8;
        dst = r->dst & ip4_prefix_mask(r->plen);
        p[ofs++] = r->plen;
        memcpy(p + ofs, &dst, sig);
        ofs += sig;
        memcpy(p + ofs, &r->nexthop, 4);
        ofs += 4;
    }
    *len = ofs;
    return 0;
}

int
dhcp4_routes_decode(const void *data, size_t len, struct dhcp4_route *routes,
                    size_t max, size_t *n)
{
    const uint8_t *p = data;
    size_t ofs = 0, count = 0;

    if (!len) {
        return EINVAL;
    }
    while (ofs < len) {
        uint8_t plen = p[ofs];
        size_t sig = (plen + 7u) / 8;
        be32 dst = 0;

        if (plen > 32 || len - ofs < dhcp4_route_encoded_len(plen)) {
            return EINVAL;
        }
        if (count == max) {
            *n = count;
            return ENOSPC;
        }
        memcpy(&dst, p + ofs + 1, sig);
        routes[count].dst = dst & ip4_prefix_mask(plen);
        routes[count].plen = plen;
        memcpy(&routes[count].nexthop, p + ofs + 1 + sig, 4);
        count++;
        ofs += dhcp4_route_encoded_len(plen);
    }
    *n = count;
    return 0;
}

int
dhcp4_opt_put_routes(struct dhcp4_opt_writer *w,
                     const struct dhcp4_route *routes, size_t n)
{
    uint8_t buf[DHCP4_OPT_MAX_LEN];
    size_t len;
    int error;

    if (w->error) {
        return w->error;
    }
    error = dhcp4_routes_encode(routes, n, buf, sizeof buf, &len);
    if (error || !n) {
        /* No routes, or too many for one option: a bad argument, not a
         * full buffer (RFC 3442 requires at least one route). */
        return writer_fail(w, EINVAL);
    }
    return dhcp4_opt_put(w, DHCP4_OPT_CLASSLESS_ROUTES, buf, len);
}
