/* ip-proto.c -- IP protocol numbers and their names (see ip-proto.h). */
#include "lib/ip-proto.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/util.h"

/* Neutron's sg_supported_protocols.  Where several names share a number,
 * the first is the one ip_proto_name() gives. */
static const struct {
    const char *name;
    int number;
} protocols[] = {
    { "ip", 0 }, { "hopopt", 0 }, { "icmp", 1 }, { "igmp", 2 },
    { "ipip", 4 }, { "tcp", 6 }, { "egp", 8 }, { "udp", 17 },
    { "dccp", 33 }, { "ipv6-encap", 41 }, { "ipv6-route", 43 },
    { "ipv6-frag", 44 }, { "rsvp", 46 }, { "gre", 47 }, { "esp", 50 },
    { "ah", 51 }, { "icmpv6", 58 }, { "ipv6-icmp", 58 },
    { "ipv6-nonxt", 59 }, { "ipv6-opts", 60 }, { "ospf", 89 },
    { "vrrp", 112 }, { "pgm", 113 }, { "sctp", 132 }, { "udplite", 136 },
};

int
ip_proto_from_name(const char *name)
{
    const char *c = ip_proto_canonical(name);

    for (size_t i = 0; c && i < ARRAY_SIZE(protocols); i++) {
        if (protocols[i].name == c) {
            return protocols[i].number;
        }
    }
    return -1;
}

const char *
ip_proto_canonical(const char *name)
{
    for (size_t i = 0; name && i < ARRAY_SIZE(protocols); i++) {
        if (!strcasecmp(name, protocols[i].name)) {
            return protocols[i].name;
        }
    }
    return NULL;
}

int
ip_proto_parse(const char *s)
{
    char *end;
    long n;

    if (!s || !*s) {
        return -1;
    }
    n = strtol(s, &end, 10);
    if (!*end && s[0] >= '0' && s[0] <= '9') {
        return n <= 255 ? (int) n : -1;
    }
    return ip_proto_from_name(s);
}

const char *
ip_proto_name(int proto)
{
    for (size_t i = 0; i < ARRAY_SIZE(protocols); i++) {
        if (protocols[i].number == proto && proto) {
            return protocols[i].name;
        }
    }
    return NULL;
}

bool
ip_proto_has_ports(int proto)
{
    return proto == 6 || proto == 17 || proto == 33 || proto == 132
           || proto == 136;
}
