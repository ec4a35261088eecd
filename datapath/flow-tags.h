/*
 * flow-tags.h -- what a cached flow depended on.
 *
 * A tag is a 64-bit hash naming one topology object or fact ("port:<uuid>",
 * "netmembers:<uuid>", "host:<name>").  The simulation adds a tag for every
 * object it consulted; when the agent learns that an object changed it
 * invalidates exactly the flows carrying that object's tag.  A flow with
 * more than FLOW_TAGS_MAX tags is marked 'overflow' and is invalidated by
 * any change (correct, merely slower).
 */
#ifndef WEFT_FLOW_TAGS_H
#define WEFT_FLOW_TAGS_H 1

#include "lib/hash.h"
#include "lib/util.h"

#define FLOW_TAGS_MAX 24

struct flow_tags {
    uint64_t tags[FLOW_TAGS_MAX];
    uint8_t n;
    bool overflow;
};

static inline void
flow_tags_init(struct flow_tags *t)
{
    t->n = 0;
    t->overflow = false;
}

/* Adds 'tag' unless already present. */
static inline void
flow_tags_add(struct flow_tags *t, uint64_t tag)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->tags[i] == tag) {
            return;
        }
    }
    if (t->n < FLOW_TAGS_MAX) {
        t->tags[t->n++] = tag;
    } else {
        t->overflow = true;
    }
}

static inline bool
flow_tags_contains(const struct flow_tags *t, uint64_t tag)
{
    if (t->overflow) {
        return true;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (t->tags[i] == tag) {
            return true;
        }
    }
    return false;
}

/* Tag for "<kind>:<id>", e.g. flow_tag_make("port", uuid). */
static inline uint64_t
flow_tag_make(const char *kind, const char *id)
{
    uint64_t h = hash_string64(kind);
    uint64_t g = hash_string64(id);
    return h * 31 + g;
}

/* A set of changed tags collected while applying topology updates. */
struct tag_set {
    uint64_t *tags;
    size_t n, allocated;
    bool all;                   /* Everything changed (snapshot reload). */
};

static inline void
tag_set_init(struct tag_set *s)
{
    s->tags = NULL;
    s->n = s->allocated = 0;
    s->all = false;
}

static inline void
tag_set_destroy(struct tag_set *s)
{
    if (s) {
        free(s->tags);
        tag_set_init(s);
    }
}

static inline bool
tag_set_contains(const struct tag_set *s, uint64_t tag)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->tags[i] == tag) {
            return true;
        }
    }
    return false;
}

static inline void
tag_set_add(struct tag_set *s, uint64_t tag)
{
    if (tag_set_contains(s, tag)) {
        return;
    }
    if (s->n == s->allocated) {
        s->allocated = s->allocated ? 2 * s->allocated : 8;
        s->tags = xrealloc(s->tags, s->allocated * sizeof *s->tags);
    }
    s->tags[s->n++] = tag;
}

#endif /* WEFT_FLOW_TAGS_H */
