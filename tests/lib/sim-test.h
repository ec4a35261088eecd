/*
 * sim-test.h -- what the simulation's unit tests share: applying Neutron
 * JSON to a topology, simulating a flow key into printable actions with
 * its wildcards and tags, and small lookups.  Failures are reported
 * through unit.h.
 */
#ifndef WEFT_TESTS_SIM_TEST_H
#define WEFT_TESTS_SIM_TEST_H 1

#include "datapath/flow-tags.h"
#include "lib/flow-key.h"

struct topology;

/* Applies 'json' (freed; NULL deletes) under store key 'key', with the
 * tags going to 'changed' (NULL: discarded).  Returns topology_update()'s
 * result. */
int simt_put(struct topology *, const char *key, char *json,
             struct tag_set *changed);

/* The same, and the update must succeed (a failed CHECK otherwise). */
void simt_apply(struct topology *, const char *key, char *json,
                struct tag_set *changed);

/* Parses MAC 's' into 'mac'; a bad literal is a bug in the test. */
void simt_mac(struct eth_addr *mac, const char *s);

/* An IPv4 packet from local or tunnel port 'in_port' with TTL 64: 'proto'
 * from 'src_mac'/'src_ip':'sport' to 'dst_mac'/'dst_ip':'dport' (for
 * ICMP, 'sport' is the type and 'dport' the code, as in a flow key).
 * Bad literals are bugs in the test. */
struct flow_key simt_ip4_key(uint32_t in_port, const char *src_mac,
                             const char *src_ip, const char *dst_mac,
                             const char *dst_ip, uint8_t proto,
                             uint16_t sport, uint16_t dport);

/* A broadcast ARP request from 'src_mac' on 'in_port': sender 'sha' and
 * 'spa' asks who has 'tpa'. */
struct flow_key simt_arp_key(uint32_t in_port, const char *src_mac,
                             const char *sha, const char *spa,
                             const char *tpa);

/* One simulation: the formatted actions, the wildcards and the tags. */
struct simt_result {
    char acts[512];
    struct flow_wc wc;
    struct flow_tags tags;
};

struct simt_result simt_run(const struct topology *, const struct flow_key *);

/* Just the formatted actions (a static buffer, valid until the next
 * call). */
const char *simt_acts(const struct topology *, struct flow_key);

/* True if 'set' holds 'tag' (or says that everything changed). */
bool simt_has_tag(const struct tag_set *set, uint64_t tag);

#endif /* WEFT_TESTS_SIM_TEST_H */
