/*
 * binding.c -- reconcile logical ports with interfaces, see binding.h.
 */
#include "agent/binding.h"

#include <inttypes.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

struct binding_entry {
    char *port_id;
    char *ifname;
    int ifindex;
    uint32_t port_no;
    const char *reported;       /* Last status queued: "ACTIVE"/"DOWN". */
};

struct binding {
    char *local_host;
    const struct binding_ops *ops;
    void *aux;
    struct binding_entry *entries;
    size_t n, allocated;
};

/* A local port, copied out of the topology before we mutate it. */
struct binding_candidate {
    char *port_id;
    char *ifname;
    bool admin_up;
};

struct binding_candidates {
    struct binding_candidate *c;
    size_t n, allocated;
};

static void binding_collect_cb(const struct topo_port_info *, void *);
static struct binding_entry *binding_find(struct binding *,
                                          const char *port_id);
static bool binding_ifname_in_use(const struct binding *, const char *);

struct binding *
binding_create(const char *local_host, const struct binding_ops *ops,
               void *aux)
{
    struct binding *b = xzalloc(sizeof *b);

    b->local_host = xstrdup(local_host);
    b->ops = ops;
    b->aux = aux;
    return b;
}

void
binding_destroy(struct binding *b)
{
    if (!b) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        free(b->entries[i].port_id);
        free(b->entries[i].ifname);
    }
    free(b->entries);
    free(b->local_host);
    free(b);
}

/* Why attached entry 'e' must be detached, or NULL if it stays.  Sets
 * '*still_local' if the port still exists and is bound to this host. */
static const char *
binding_detach_reason(struct binding *b, const struct binding_entry *e,
                      const struct topo_port_info *info, bool have,
                      bool *still_local)
{
    int ifindex = -1;

    *still_local = have && !strcmp(info->host, b->local_host);
    if (!have) {
        return "port deleted";
    } else if (!*still_local) {
        return "port bound to another host";
    } else if (strcmp(info->ifname, e->ifname)) {
        return "port's interface name changed";
    } else if (!b->ops->link_up(b->aux, e->ifname, &ifindex)) {
        return "interface gone or down";
    } else if (ifindex != e->ifindex) {
        return "interface replaced";
    }
    return NULL;
}

size_t
binding_reconcile(struct binding *b, struct tag_set *changed)
{
    struct binding_candidates cands = { NULL, 0, 0 };
    size_t n_changes = 0;

    /* Detach what no longer belongs, refresh the status of the rest. */
    for (size_t i = 0; i < b->n;) {
        struct binding_entry *e = &b->entries[i];
        struct topo_port_info info;
        const char *reason;
        bool have, still_local;

        have = b->ops->get_port(b->aux, e->port_id, &info);
        reason = binding_detach_reason(b, e, &info, have, &still_local);
        if (!reason) {
            const char *status = info.admin_up ? "ACTIVE" : "DOWN";
            if (strcmp(status, e->reported)) {
                e->reported = status;
                b->ops->port_status(b->aux, e->port_id, status);
            }
            i++;
            continue;
        }

        VLOG_INFO("detaching port %s from interface %s (datapath port "
                  "%"PRIu32"): %s", e->port_id, e->ifname, e->port_no,
                  reason);
        b->ops->port_del(b->aux, e->port_no);
        b->ops->unbind(b->aux, e->port_id, changed);
        if (still_local) {
            b->ops->port_status(b->aux, e->port_id, "DOWN");
        }
        free(e->port_id);
        free(e->ifname);
        b->entries[i] = b->entries[--b->n];
        n_changes++;
    }

    /* Attach local ports whose interface is there. */
    b->ops->for_each_local_port(b->aux, binding_collect_cb, &cands);
    for (size_t i = 0; i < cands.n; i++) {
        struct binding_candidate *c = &cands.c[i];
        struct binding_entry *e;
        uint32_t port_no;
        int ifindex = -1;
        int error;

        if (binding_find(b, c->port_id)
            || !b->ops->link_up(b->aux, c->ifname, &ifindex)) {
            continue;
        }
        if (binding_ifname_in_use(b, c->ifname)) {
            VLOG_WARN("port %s: interface %s is already attached for "
                      "another port", c->port_id, c->ifname);
            continue;
        }
        error = b->ops->port_add(b->aux, c->ifname, &port_no);
        if (error) {
            VLOG_WARN("port %s: cannot attach interface %s: %s",
                      c->port_id, c->ifname, strerror(error));
            continue;
        }
        if (b->n == b->allocated) {
            b->allocated = b->allocated ? 2 * b->allocated : 8;
            b->entries = xrealloc(b->entries,
                                  b->allocated * sizeof *b->entries);
        }
        e = &b->entries[b->n++];
        e->port_id = xstrdup(c->port_id);
        e->ifname = xstrdup(c->ifname);
        e->ifindex = ifindex;
        e->port_no = port_no;
        e->reported = c->admin_up ? "ACTIVE" : "DOWN";
        b->ops->bind(b->aux, e->port_id, port_no, changed);
        b->ops->port_status(b->aux, e->port_id, e->reported);
        VLOG_INFO("attached port %s on interface %s as datapath port "
                  "%"PRIu32, e->port_id, e->ifname, port_no);
        n_changes++;
    }

    for (size_t i = 0; i < cands.n; i++) {
        free(cands.c[i].port_id);
        free(cands.c[i].ifname);
    }
    free(cands.c);
    return n_changes;
}

size_t
binding_count(const struct binding *b)
{
    return b->n;
}

const char *
binding_port_id(const struct binding *b, uint32_t port_no)
{
    for (size_t i = 0; i < b->n; i++) {
        if (b->entries[i].port_no == port_no) {
            return b->entries[i].port_id;
        }
    }
    return NULL;
}

static void
binding_collect_cb(const struct topo_port_info *info, void *aux)
{
    struct binding_candidates *cands = aux;
    struct binding_candidate *c;

    if (!info->ifname || !info->ifname[0]) {
        return;
    }
    if (cands->n == cands->allocated) {
        cands->allocated = cands->allocated ? 2 * cands->allocated : 8;
        cands->c = xrealloc(cands->c, cands->allocated * sizeof *cands->c);
    }
    c = &cands->c[cands->n++];
    c->port_id = xstrdup(info->id);
    c->ifname = xstrdup(info->ifname);
    c->admin_up = info->admin_up;
}

static struct binding_entry *
binding_find(struct binding *b, const char *port_id)
{
    for (size_t i = 0; i < b->n; i++) {
        if (!strcmp(b->entries[i].port_id, port_id)) {
            return &b->entries[i];
        }
    }
    return NULL;
}

static bool
binding_ifname_in_use(const struct binding *b, const char *ifname)
{
    for (size_t i = 0; i < b->n; i++) {
        if (!strcmp(b->entries[i].ifname, ifname)) {
            return true;
        }
    }
    return false;
}
