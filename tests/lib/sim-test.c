/* sim-test.c -- helpers of the simulation's unit tests (sim-test.h). */
#include "tests/lib/sim-test.h"

#include <arpa/inet.h>
#include <string.h>

#include "sim/sim.h"
#include "sim/topology.h"
#include "tests/lib/unit.h"

/* noinline: GCC's -Wuse-after-free misreads inlined copies. */
int __attribute__((noinline))
simt_put(struct topology *topo, const char *key, char *json,
         struct tag_set *changed)
{
    struct tag_set scratch;
    int error;

    tag_set_init(&scratch);
    error = topology_update(topo, key, json, changed ? changed : &scratch);
    tag_set_destroy(&scratch);
    free(json);
    return error;
}

void
simt_apply(struct topology *topo, const char *key, char *json,
           struct tag_set *changed)
{
    CHECK_EQ(simt_put(topo, key, json, changed), 0);
}

void
simt_mac(struct eth_addr *mac, const char *s)
{
    ASSERT(eth_addr_from_string(s, mac));
}

struct flow_key
simt_ip4_key(uint32_t in_port, const char *src_mac, const char *src_ip,
             const char *dst_mac, const char *dst_ip, uint8_t proto,
             uint16_t sport, uint16_t dport)
{
    struct flow_key key;

    memset(&key, 0, sizeof key);
    key.in_port = in_port;
    simt_mac(&key.eth_dst, dst_mac);
    simt_mac(&key.eth_src, src_mac);
    key.eth_type = htons(ETH_TYPE_IP);
    key.nw_proto = proto;
    key.nw_ttl = 64;
    ASSERT(inet_pton(AF_INET, src_ip, &key.nw_src.ip4) == 1);
    ASSERT(inet_pton(AF_INET, dst_ip, &key.nw_dst.ip4) == 1);
    key.tp_src = htons(sport);
    key.tp_dst = htons(dport);
    return key;
}

struct flow_key
simt_arp_key(uint32_t in_port, const char *src_mac, const char *sha,
             const char *spa, const char *tpa)
{
    struct flow_key key;

    memset(&key, 0, sizeof key);
    key.in_port = in_port;
    simt_mac(&key.eth_dst, "ff:ff:ff:ff:ff:ff");
    simt_mac(&key.eth_src, src_mac);
    key.eth_type = htons(ETH_TYPE_ARP);
    key.nw_proto = ARP_OP_REQUEST;
    simt_mac(&key.arp_sha, sha);
    ASSERT(inet_pton(AF_INET, spa, &key.nw_src.ip4) == 1);
    ASSERT(inet_pton(AF_INET, tpa, &key.nw_dst.ip4) == 1);
    return key;
}

struct simt_result
simt_run(const struct topology *topo, const struct flow_key *key)
{
    struct dp_actions acts;
    struct simt_result r;

    flow_wc_init_catchall(&r.wc);
    flow_tags_init(&r.tags);
    dp_actions_init(&acts);
    CHECK_EQ(sim_run(topo, key, &r.wc, &acts, &r.tags, NULL), 0);
    CHECK(acts.n >= 1);
    dp_actions_format(&acts, r.acts, sizeof r.acts);
    dp_actions_destroy(&acts);
    return r;
}

const char *
simt_acts(const struct topology *topo, struct flow_key key)
{
    static char buf[sizeof ((struct simt_result *) 0)->acts];
    struct simt_result r = simt_run(topo, &key);

    memcpy(buf, r.acts, sizeof buf);
    return buf;
}

bool
simt_has_tag(const struct tag_set *set, uint64_t tag)
{
    for (size_t i = 0; i < set->n; i++) {
        if (set->tags[i] == tag) {
            return true;
        }
    }
    return set->all;
}
