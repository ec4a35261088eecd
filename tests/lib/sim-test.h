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
