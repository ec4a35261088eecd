/*
 * ipam.h -- IP address management arithmetic for the controller.
 *
 * Pure functions, no store access, safe from any thread: parsing and
 * formatting IPv4/IPv6 addresses, CIDR prefixes and MAC addresses, default
 * allocation pools, and "the lowest free address of these pools given this
 * sorted set of used ones".  The API layer (controller/neutron.c) keeps the
 * used set in the store under "idx/ip/<subnet-id>/<address>" and feeds it
 * here, so uniqueness is decided inside the request's store transaction.
 *
 * Addresses are kept as 16 bytes in network order whatever the family; an
 * IPv4 address uses bytes 0..3 and 'family' says which (4 or 6).  Every
 * function that takes two addresses requires the same family.
 */
#ifndef WEFT_CONTROLLER_IPAM_H
#define WEFT_CONTROLLER_IPAM_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPAM_ADDR_STRLEN 46             /* INET6_ADDRSTRLEN. */
#define IPAM_PREFIX_STRLEN (IPAM_ADDR_STRLEN + 4)
#define IPAM_MAC_STRLEN 18

struct ipam_addr {
    uint8_t family;                     /* 4 or 6. */
    uint8_t b[16];                      /* Network order; v4 in b[0..3]. */
};

struct ipam_prefix {
    struct ipam_addr addr;              /* Host bits always zero. */
    unsigned int plen;
};

/* An inclusive range of addresses, start <= end. */
struct ipam_range {
    struct ipam_addr start;
    struct ipam_addr end;
};

/* Parses a dotted-quad IPv4 or an RFC 4291 IPv6 address (no prefix, no
 * zone).  Returns false for anything else.  's' may be NULL (false). */
bool ipam_addr_parse(const char *s, struct ipam_addr *);
/* Formats canonically (inet_ntop) into 'buf'; returns 'buf'. */
char *ipam_addr_format(const struct ipam_addr *, char buf[IPAM_ADDR_STRLEN]);
/* Compares two addresses of the same family numerically: <0, 0, >0. */
int ipam_addr_cmp(const struct ipam_addr *, const struct ipam_addr *);
/* Adds one; returns false (and leaves the address unchanged) on wrap. */
bool ipam_addr_inc(struct ipam_addr *);
/* Subtracts one; returns false (unchanged) on wrap. */
bool ipam_addr_dec(struct ipam_addr *);
/* Sorts 'n' addresses numerically. */
void ipam_addr_sort(struct ipam_addr *, size_t n);

/* Parses "ADDR/PLEN".  Host bits are cleared (so "10.0.0.5/24" becomes
 * "10.0.0.0/24").  Returns false on any syntax error or out-of-range
 * prefix length. */
bool ipam_prefix_parse(const char *s, struct ipam_prefix *);
char *ipam_prefix_format(const struct ipam_prefix *,
                         char buf[IPAM_PREFIX_STRLEN]);
/* True if 'a' (any family) lies inside 'p'. */
bool ipam_prefix_contains(const struct ipam_prefix *p,
                          const struct ipam_addr *a);
/* True if the two prefixes share at least one address. */
bool ipam_prefix_overlaps(const struct ipam_prefix *,
                          const struct ipam_prefix *);
/* The first (network) and last (IPv4 broadcast) address of 'p'. */
struct ipam_addr ipam_prefix_first(const struct ipam_prefix *p);
struct ipam_addr ipam_prefix_last(const struct ipam_prefix *p);
/* The conventional default gateway: the first host address (network + 1);
 * for a /32 or /128, the only address. */
struct ipam_addr ipam_prefix_default_gateway(const struct ipam_prefix *p);
/* True if 'a' is the network address of an IPv4 prefix shorter than /31,
 * or its broadcast address; such addresses are never allocated. */
bool ipam_prefix_is_reserved(const struct ipam_prefix *p,
                             const struct ipam_addr *a);

/* Stores Neutron's default allocation pools for 'p' in 'out': every host
 * address (IPv4: without network and broadcast below /31; IPv6: without
 * the subnet-router anycast address), minus 'gateway' if nonnull.  Returns
 * the number of ranges written (0, 1 or 2). */
size_t ipam_default_pools(const struct ipam_prefix *p,
                          const struct ipam_addr *gateway,
                          struct ipam_range out[2]);
/* True if the two ranges share an address. */
bool ipam_range_overlaps(const struct ipam_range *, const struct ipam_range *);
bool ipam_range_contains(const struct ipam_range *, const struct ipam_addr *);

/* Finds the lowest address in 'pools' (in the order given) that is not in
 * 'used' ('n_used' addresses sorted by ipam_addr_sort()).  Returns true and
 * stores it in '*out', or false if the pools are exhausted. */
bool ipam_next_free(const struct ipam_range *pools, size_t n_pools,
                    const struct ipam_addr *used, size_t n_used,
                    struct ipam_addr *out);

/* Parses "aa:bb:cc:dd:ee:ff" (either case, also '-' separators).  Returns
 * false for anything else or for a multicast or all-zero address. */
bool ipam_mac_parse(const char *s, uint8_t mac[6]);
/* Formats in lower case with ':'. */
char *ipam_mac_format(const uint8_t mac[6], char buf[IPAM_MAC_STRLEN]);
/* A random MAC with OpenStack's base fa:16:3e. */
void ipam_mac_random(uint8_t mac[6]);

/* Fills 'buf' with 'n' random bytes from the kernel (getrandom/urandom).
 * Aborts if the kernel cannot provide randomness. */
void ipam_random_bytes(void *buf, size_t n);

#endif /* WEFT_CONTROLLER_IPAM_H */
