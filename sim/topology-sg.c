/*
 * topology-sg.c -- security groups and their rules in the agent's
 * topology (see topology-private.h for the representation).
 *
 * A group exists while its object is present, or while a port or a rule
 * refers to it (objects arrive in any order).  Ports link themselves into
 * the member list of each of their groups, so that a rule with
 * remote_group_id can ask "is this address a member's?" in time
 * proportional to the group's members.
 *
 * Tags: sg:<id> changes with the group's rules (or its existence), which
 * every flow that evaluated the group's rules carries; sgmembers:<id>
 * changes with the set of member addresses, which flows that evaluated a
 * rule naming the group as remote_group_id carry.
 */
#include "sim/topology-private.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ip-proto.h"

static struct topo_sg *sg_find(const struct topology *, const char *id);
static struct topo_sg *sg_get(struct topology *, const char *id);
static void sg_maybe_free(struct topology *, struct topo_sg *);
static struct topo_sg_rule *rule_find(const struct topology *,
                                      const char *id);
static void rule_remove(struct topology *, struct topo_sg_rule *,
                        struct tag_set *changed);

uint64_t
topo_tag_sg(const char *sg_id)
{
    return flow_tag_make("sg", sg_id);
}

uint64_t
topo_tag_sgmembers(const char *sg_id)
{
    return flow_tag_make("sgmembers", sg_id);
}

/* Groups. */

int
topo_update_sg(struct topology *topo, const char *id, const json_t *json,
               struct tag_set *changed)
{
    struct topo_sg *sg = sg_find(topo, id);

    if (!json) {
        if (sg && sg->present) {
            tag_set_add(changed, sg->tag);
            sg->present = false;
            sg_maybe_free(topo, sg);
        }
        return 0;
    }
    sg = sg_get(topo, id);
    if (!sg->present) {
        tag_set_add(changed, sg->tag);
        sg->present = true;
    }
    return 0;
}

static struct topo_sg *
sg_find(const struct topology *topo, const char *id)
{
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->sgs_by_id,
                                          hash_string(id, 0));
         node; node = topo_hmap_next_with_hash(node)) {
        struct topo_sg *sg = CONTAINER_OF(node, struct topo_sg, id_node);

        if (!strcmp(sg->id, id)) {
            return sg;
        }
    }
    return NULL;
}

static struct topo_sg *
sg_get(struct topology *topo, const char *id)
{
    struct topo_sg *sg = sg_find(topo, id);

    if (!sg) {
        sg = xzalloc(sizeof *sg);
        sg->id = xstrdup(id);
        sg->tag = topo_tag_sg(id);
        sg->members_tag = topo_tag_sgmembers(id);
        topo_hmap_insert(&topo->sgs_by_id, &sg->id_node, hash_string(id, 0));
    }
    return sg;
}

static void
sg_maybe_free(struct topology *topo, struct topo_sg *sg)
{
    if (sg->present || sg->n_rules || sg->n_refs || sg->members) {
        return;
    }
    topo_hmap_remove(&topo->sgs_by_id, &sg->id_node);
    free(sg->id);
    free(sg);
}

/* Rules. */

/* A parsed rule: what it matches (in 'm'; its id and links unset) and
 * the ids of the groups it names. */
struct rule_spec {
    struct topo_sg_rule m;
    char *sg_id;
    char *remote_group_id;      /* NULL if none. */
};

static void
rule_spec_destroy(struct rule_spec *spec)
{
    free(spec->sg_id);
    free(spec->remote_group_id);
}

/* The protocol of a rule: null (any), or a name of lib/ip-proto.h's table
 * or a decimal string, as the controller stores it ("any", "" and 0 also
 * mean any).  Returns -1 for any, -2 if not a protocol. */
static int
rule_protocol(const json_t *v)
{
    const char *s;
    int n;

    if (!v || json_is_null(v)) {
        return -1;
    } else if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        return i < 0 || i > 255 ? -2 : i ? (int) i : -1;
    } else if (!json_is_string(v)) {
        return -2;
    }
    s = json_string_value(v);
    if (!*s || !strcmp(s, "any")) {
        return -1;
    }
    n = ip_proto_parse(s);
    return n < 0 ? -2 : n ? n : -1;
}

static bool
rule_port(const json_t *v, int *out)
{
    if (!v || json_is_null(v)) {
        *out = -1;
        return true;
    } else if (json_is_integer(v) && json_integer_value(v) >= 0
               && json_integer_value(v) <= 65535) {
        *out = (int) json_integer_value(v);
        return true;
    }
    return false;
}

static int
rule_spec_parse(const json_t *obj, struct rule_spec *spec)
{
    struct topo_sg_rule *m = &spec->m;
    char *dir = NULL, *eth = NULL, *prefix = NULL;
    int error = EINVAL;

    memset(spec, 0, sizeof *spec);
    if (!topo_json_string(obj, "security_group_id", "", &spec->sg_id)
        || !spec->sg_id[0]
        || !topo_json_string(obj, "direction", "", &dir)
        || !topo_json_string(obj, "ethertype", "IPv4", &eth)
        || !topo_json_string(obj, "remote_ip_prefix", "", &prefix)
        || !topo_json_string(obj, "remote_group_id", "",
                             &spec->remote_group_id)
        || !rule_port(json_object_get(obj, "port_range_min"), &m->pmin)
        || !rule_port(json_object_get(obj, "port_range_max"), &m->pmax)) {
        goto out;
    }
    m->proto = rule_protocol(json_object_get(obj, "protocol"));
    if (m->proto == -2
        || (strcmp(dir, "ingress") && strcmp(dir, "egress"))
        || (strcmp(eth, "IPv4") && strcmp(eth, "IPv6"))) {
        goto out;
    }
    m->ingress = !strcmp(dir, "ingress");
    m->ipv6 = !strcmp(eth, "IPv6");
    if (m->ipv6 && m->proto == IPPROTO_ICMP_) {
        m->proto = IPPROTO_ICMPV6_;     /* "icmp" means ICMPv6 for IPv6, as
                                         * Neutron's agents read it. */
    }
    if (!spec->remote_group_id[0]) {
        free(spec->remote_group_id);
        spec->remote_group_id = NULL;
    }
    if (prefix[0]) {
        if (!topo_prefix_parse(prefix, true, &m->prefix)) {
            goto out;
        }
        /* A /0 is "anywhere".  (A prefix of the other family than the
         * ethertype, which the API refuses, matches nothing.) */
        m->has_prefix = m->prefix.plen > 0;
    }
    error = 0;

out:
    free(dir);
    free(eth);
    free(prefix);
    if (error) {
        rule_spec_destroy(spec);
        memset(spec, 0, sizeof *spec);
    }
    return error;
}

int
topo_update_sg_rule(struct topology *topo, const char *id,
                    const json_t *json, struct tag_set *changed)
{
    struct topo_sg_rule *rule = rule_find(topo, id);
    struct rule_spec spec;
    int error;

    if (!json) {
        if (rule) {
            rule_remove(topo, rule, changed);
        }
        return 0;
    }
    error = rule_spec_parse(json, &spec);
    if (error) {
        return error;
    }
    if (rule) {
        rule_remove(topo, rule, changed);
    }
    rule = xmalloc(sizeof *rule);
    *rule = spec.m;
    rule->id = xstrdup(id);
    rule->sg = sg_get(topo, spec.sg_id);
    rule->next = rule->sg->rules;
    rule->sg->rules = rule;
    rule->sg->n_rules++;
    if (spec.remote_group_id) {
        rule->remote_sg = sg_get(topo, spec.remote_group_id);
        rule->remote_sg->n_refs++;
    }
    rule_spec_destroy(&spec);
    topo_hmap_insert(&topo->sg_rules_by_id, &rule->id_node,
                     hash_string(id, 0));
    tag_set_add(changed, rule->sg->tag);
    return 0;
}

static struct topo_sg_rule *
rule_find(const struct topology *topo, const char *id)
{
    const struct topo_hmap_node *node;

    for (node = topo_hmap_first_with_hash(&topo->sg_rules_by_id,
                                          hash_string(id, 0));
         node; node = topo_hmap_next_with_hash(node)) {
        struct topo_sg_rule *r = CONTAINER_OF(node, struct topo_sg_rule,
                                              id_node);
        if (!strcmp(r->id, id)) {
            return r;
        }
    }
    return NULL;
}

static void
rule_remove(struct topology *topo, struct topo_sg_rule *rule,
            struct tag_set *changed)
{
    struct topo_sg *sg = rule->sg;
    struct topo_sg_rule **p;

    tag_set_add(changed, sg->tag);
    for (p = &sg->rules; *p != rule; p = &(*p)->next) {
        ASSERT(*p);
    }
    *p = rule->next;
    sg->n_rules--;
    topo_hmap_remove(&topo->sg_rules_by_id, &rule->id_node);
    if (rule->remote_sg) {
        struct topo_sg *remote = rule->remote_sg;

        ASSERT(remote->n_refs);
        remote->n_refs--;
        if (remote != sg) {     /* A group may name itself. */
            sg_maybe_free(topo, remote);
        }
    }
    sg_maybe_free(topo, sg);
    free(rule->id);
    free(rule);
}

/* Membership. */

void
topo_sg_port_attach(struct topology *topo, struct topo_port *port,
                    struct tag_set *changed)
{
    if (!port->n_sgs) {
        return;
    }
    port->sg_links = xcalloc(port->n_sgs, sizeof *port->sg_links);
    for (size_t i = 0; i < port->n_sgs; i++) {
        struct topo_sg_link *l = &port->sg_links[i];

        l->sg = sg_get(topo, port->sg_ids[i]);
        l->port = port;
        l->prev = NULL;
        l->next = l->sg->members;
        if (l->next) {
            l->next->prev = l;
        }
        l->sg->members = l;
        tag_set_add(changed, l->sg->members_tag);
    }
}

void
topo_sg_port_detach(struct topology *topo, struct topo_port *port,
                    struct tag_set *changed)
{
    for (size_t i = 0; i < port->n_sgs && port->sg_links; i++) {
        struct topo_sg_link *l = &port->sg_links[i];

        if (l->prev) {
            l->prev->next = l->next;
        } else {
            l->sg->members = l->next;
        }
        if (l->next) {
            l->next->prev = l->prev;
        }
        tag_set_add(changed, l->sg->members_tag);
        sg_maybe_free(topo, l->sg);
    }
    free(port->sg_links);
    port->sg_links = NULL;
}

void
topo_sg_clear(struct topology *topo)
{
    struct topo_hmap_node *node;
    struct tag_set scratch;
    size_t i;

    /* Ports are gone first (topology_clear()). */
    tag_set_init(&scratch);
    while ((i = 0, node = topo_hmap_next(&topo->sg_rules_by_id, &i,
                                         NULL))) {
        rule_remove(topo, CONTAINER_OF(node, struct topo_sg_rule, id_node),
                    &scratch);
    }
    while ((i = 0, node = topo_hmap_next(&topo->sgs_by_id, &i, NULL))) {
        struct topo_sg *sg = CONTAINER_OF(node, struct topo_sg, id_node);

        ASSERT(!sg->members && !sg->n_rules && !sg->n_refs);
        sg->present = false;
        sg_maybe_free(topo, sg);
    }
    tag_set_destroy(&scratch);
}
