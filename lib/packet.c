/*
 * packet.c -- text forms of wire addresses (see packet.h).
 *
 * The wire structs themselves need no code; parsing lives in flow-key.c,
 * checksums in csum.c and frame rewriting/building in packet-edit.c.
 */
#include "lib/packet.h"

#include <string.h>

static int
hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    } else if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

bool
eth_addr_from_string(const char *s, struct eth_addr *out)
{
    struct eth_addr a;

    if (!s) {
        return false;
    }
    for (int i = 0; i < ETH_ADDR_LEN; i++) {
        int hi = hex_value(s[0]);
        int lo = hi < 0 ? -1 : hex_value(s[1]);

        if (lo < 0) {
            return false;
        }
        a.ea[i] = (uint8_t) (hi << 4 | lo);
        s += 2;
        if (i < ETH_ADDR_LEN - 1) {
            if (*s != ':') {
                return false;
            }
            s++;
        }
    }
    if (*s != '\0') {
        return false;
    }
    *out = a;
    return true;
}

void
eth_addr_to_string(const struct eth_addr *a, char *buf)
{
    static const char digits[] = "0123456789abcdef";
    char *p = buf;

    for (int i = 0; i < ETH_ADDR_LEN; i++) {
        if (i) {
            *p++ = ':';
        }
        *p++ = digits[a->ea[i] >> 4];
        *p++ = digits[a->ea[i] & 15];
    }
    *p = '\0';
}
