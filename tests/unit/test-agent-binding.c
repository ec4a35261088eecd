/*
 * test-agent-binding.c -- binding_reconcile() against a fake host.
 *
 * The fake has a port table (what the topology says), an interface table
 * (what linkmon says), a datapath that hands out port numbers, and a log
 * of the status reports, so each test can check exactly which ports were
 * attached, detached and reported.
 */
#include <string.h>

#include "agent/binding.h"
#include "tests/lib/unit.h"

#define MAX_FAKE 8

struct fake_port {
    char id[40];
    char host[16];
    char ifname[16];
    bool admin_up;
    bool exists;
    uint32_t bound;             /* Port number from bind(), 0 if none. */
};

struct fake_if {
    char name[16];
    int ifindex;
    bool up;
    bool exists;
};

struct fake {
    struct fake_port ports[MAX_FAKE];
    struct fake_if ifs[MAX_FAKE];
    bool attached[64];          /* By datapath port number. */
    uint32_t next_port_no;
    int add_error;              /* Next port_add() fails with this. */
    char status_log[512];       /* "id=STATUS;" ... */
    int n_add, n_del;
};

static struct fake_port *
fake_port(struct fake *f, const char *id)
{
    for (int i = 0; i < MAX_FAKE; i++) {
        if (f->ports[i].exists && !strcmp(f->ports[i].id, id)) {
            return &f->ports[i];
        }
    }
    return NULL;
}

static void
fake_info(const struct fake_port *p, struct topo_port_info *out)
{
    memset(out, 0, sizeof *out);
    out->id = p->id;
    out->network_id = "net";
    out->host = p->host;
    out->ifname = p->ifname;
    out->admin_up = p->admin_up;
}

static void
fake_for_each_local_port(void *aux,
                         void (*cb)(const struct topo_port_info *, void *),
                         void *cb_aux)
{
    struct fake *f = aux;

    for (int i = 0; i < MAX_FAKE; i++) {
        if (f->ports[i].exists && !strcmp(f->ports[i].host, "hv1")) {
            struct topo_port_info info;
            fake_info(&f->ports[i], &info);
            cb(&info, cb_aux);
        }
    }
}

static bool
fake_get_port(void *aux, const char *id, struct topo_port_info *out)
{
    struct fake_port *p = fake_port(aux, id);

    if (p) {
        fake_info(p, out);
    }
    return p != NULL;
}

static void
fake_bind(void *aux, const char *id, uint32_t port_no,
          struct tag_set *changed)
{
    struct fake_port *p = fake_port(aux, id);

    CHECK(p != NULL);
    if (p) {
        p->bound = port_no;
    }
    tag_set_add(changed, topo_tag_port(id));
}

static void
fake_unbind(void *aux, const char *id, struct tag_set *changed)
{
    struct fake_port *p = fake_port(aux, id);

    if (p) {
        p->bound = 0;
    }
    tag_set_add(changed, topo_tag_port(id));
}

static bool
fake_link_up(void *aux, const char *name, int *ifindexp)
{
    struct fake *f = aux;

    for (int i = 0; i < MAX_FAKE; i++) {
        if (f->ifs[i].exists && !strcmp(f->ifs[i].name, name)) {
            *ifindexp = f->ifs[i].ifindex;
            return f->ifs[i].up;
        }
    }
    return false;
}

static int
fake_port_add(void *aux, const char *ifname, uint32_t *port_nop)
{
    struct fake *f = aux;
    int error = f->add_error;

    if (error) {
        f->add_error = 0;
        return error;
    }
    *port_nop = f->next_port_no++;
    f->attached[*port_nop] = true;
    f->n_add++;
    return 0;
}

static void
fake_port_del(void *aux, uint32_t port_no)
{
    struct fake *f = aux;

    CHECK(f->attached[port_no]);
    f->attached[port_no] = false;
    f->n_del++;
}

static void
fake_port_status(void *aux, const char *id, const char *status)
{
    struct fake *f = aux;
    size_t len = strlen(f->status_log);

    snprintf(f->status_log + len, sizeof f->status_log - len, "%s=%s;",
             id, status);
}

static const struct binding_ops fake_ops = {
    .for_each_local_port = fake_for_each_local_port,
    .get_port = fake_get_port,
    .bind = fake_bind,
    .unbind = fake_unbind,
    .link_up = fake_link_up,
    .port_add = fake_port_add,
    .port_del = fake_port_del,
    .port_status = fake_port_status,
};

static struct fake_port *
add_port(struct fake *f, const char *id, const char *host,
         const char *ifname)
{
    for (int i = 0; i < MAX_FAKE; i++) {
        struct fake_port *p = &f->ports[i];
        if (!p->exists) {
            memset(p, 0, sizeof *p);
            strcpy(p->id, id);
            strcpy(p->host, host);
            strcpy(p->ifname, ifname);
            p->admin_up = true;
            p->exists = true;
            return p;
        }
    }
    return NULL;
}

static struct fake_if *
add_if(struct fake *f, const char *name, int ifindex)
{
    for (int i = 0; i < MAX_FAKE; i++) {
        struct fake_if *lif = &f->ifs[i];
        if (!lif->exists) {
            strcpy(lif->name, name);
            lif->ifindex = ifindex;
            lif->up = true;
            lif->exists = true;
            return lif;
        }
    }
    return NULL;
}

static void
fake_init(struct fake *f)
{
    memset(f, 0, sizeof *f);
    f->next_port_no = 2;
}

/* Runs one reconciliation; returns the number of changes and checks that
 * a change always comes with tags. */
static size_t
reconcile(struct binding *b)
{
    struct tag_set changed;
    size_t n;

    tag_set_init(&changed);
    n = binding_reconcile(b, &changed);
    CHECK(!n || changed.n > 0);
    tag_set_destroy(&changed);
    return n;
}

static void
test_port_then_interface(void)
{
    struct fake f;
    struct binding *b;
    struct fake_port *p;

    fake_init(&f);
    b = binding_create("hv1", &fake_ops, &f);
    p = add_port(&f, "p1", "hv1", "tapp1");

    CHECK_EQ(reconcile(b), 0);          /* No interface yet. */
    CHECK_EQ(binding_count(b), 0);
    CHECK_STREQ(f.status_log, "");

    add_if(&f, "tapp1", 7);
    CHECK_EQ(reconcile(b), 1);
    CHECK_EQ(binding_count(b), 1);
    CHECK_EQ(p->bound, 2);
    CHECK(f.attached[2]);
    CHECK_STREQ(f.status_log, "p1=ACTIVE;");
    CHECK_STREQ(binding_port_id(b, 2), "p1");
    CHECK(binding_port_id(b, 3) == NULL);

    CHECK_EQ(reconcile(b), 0);          /* Idempotent. */
    CHECK_EQ(f.n_add, 1);
    CHECK_STREQ(f.status_log, "p1=ACTIVE;");
    binding_destroy(b);
}

static void
test_interface_then_port(void)
{
    struct fake f;
    struct binding *b;

    fake_init(&f);
    b = binding_create("hv1", &fake_ops, &f);
    add_if(&f, "tapp1", 7);
    add_if(&f, "eth0", 2);
    CHECK_EQ(reconcile(b), 0);

    add_port(&f, "p1", "hv1", "tapp1");
    add_port(&f, "p2", "hv2", "tapp2");    /* Another host's. */
    CHECK_EQ(reconcile(b), 1);
    CHECK_EQ(binding_count(b), 1);
    CHECK_STREQ(f.status_log, "p1=ACTIVE;");
    binding_destroy(b);
}

static void
test_interface_goes_and_returns(void)
{
    struct fake f;
    struct binding *b;
    struct fake_port *p;
    struct fake_if *lif;

    fake_init(&f);
    b = binding_create("hv1", &fake_ops, &f);
    p = add_port(&f, "p1", "hv1", "tapp1");
    lif = add_if(&f, "tapp1", 7);
    CHECK_EQ(reconcile(b), 1);

    lif->up = false;                    /* Down counts as gone. */
    CHECK_EQ(reconcile(b), 1);
    CHECK_EQ(binding_count(b), 0);
    CHECK_EQ(p->bound, 0);
    CHECK(!f.attached[2]);
    CHECK_STREQ(f.status_log, "p1=ACTIVE;p1=DOWN;");

    lif->up = true;
    CHECK_EQ(reconcile(b), 1);
    CHECK_EQ(p->bound, 3);
    CHECK_STREQ(f.status_log, "p1=ACTIVE;p1=DOWN;p1=ACTIVE;");

    /* Deleted and re-created under the same name between two
     * reconciliations: the old attachment is stale. */
    lif->ifindex = 9;
    CHECK_EQ(reconcile(b), 2);
    CHECK_EQ(p->bound, 4);
    CHECK(!f.attached[3]);
    CHECK(f.attached[4]);
    CHECK_EQ(binding_count(b), 1);
    binding_destroy(b);
}

static void
test_port_deleted_or_moved(void)
{
    struct fake f;
    struct binding *b;
    struct fake_port *p1, *p2;

    fake_init(&f);
    b = binding_create("hv1", &fake_ops, &f);
    p1 = add_port(&f, "p1", "hv1", "tapp1");
    p2 = add_port(&f, "p2", "hv1", "tapp2");
    add_if(&f, "tapp1", 7);
    add_if(&f, "tapp2", 8);
    CHECK_EQ(reconcile(b), 2);
    CHECK_EQ(binding_count(b), 2);
    f.status_log[0] = '\0';

    /* Deleted: detached, no status (the port is gone). */
    p1->exists = false;
    /* Moved to another host: detached, and no DOWN that could overwrite
     * the new host's ACTIVE. */
    strcpy(p2->host, "hv2");
    CHECK_EQ(reconcile(b), 2);
    CHECK_EQ(binding_count(b), 0);
    CHECK_EQ(f.n_del, 2);
    CHECK_STREQ(f.status_log, "");
    CHECK(!f.attached[2] && !f.attached[3]);
    binding_destroy(b);
}

static void
test_ifname_change_and_admin_state(void)
{
    struct fake f;
    struct binding *b;
    struct fake_port *p;

    fake_init(&f);
    b = binding_create("hv1", &fake_ops, &f);
    p = add_port(&f, "p1", "hv1", "tapp1");
    add_if(&f, "tapp1", 7);
    add_if(&f, "vm-eth", 8);
    CHECK_EQ(reconcile(b), 1);

    /* binding:profile.interface_name set later: move to that
     * interface. */
    strcpy(p->ifname, "vm-eth");
    CHECK_EQ(reconcile(b), 2);
    CHECK_EQ(p->bound, 3);
    CHECK_STREQ(f.status_log, "p1=ACTIVE;p1=DOWN;p1=ACTIVE;");
    f.status_log[0] = '\0';

    /* Admin down: stays attached, reported DOWN once; back up: ACTIVE. */
    p->admin_up = false;
    CHECK_EQ(reconcile(b), 0);
    CHECK_EQ(reconcile(b), 0);
    CHECK_STREQ(f.status_log, "p1=DOWN;");
    p->admin_up = true;
    CHECK_EQ(reconcile(b), 0);
    CHECK_STREQ(f.status_log, "p1=DOWN;p1=ACTIVE;");
    CHECK_EQ(binding_count(b), 1);
    binding_destroy(b);
}

static void
test_attach_failure_and_shared_ifname(void)
{
    struct fake f;
    struct binding *b;

    fake_init(&f);
    b = binding_create("hv1", &fake_ops, &f);
    add_port(&f, "p1", "hv1", "tapp1");
    add_if(&f, "tapp1", 7);
    f.add_error = 19;                   /* ENODEV: raced with removal. */
    CHECK_EQ(reconcile(b), 0);
    CHECK_EQ(binding_count(b), 0);
    CHECK_STREQ(f.status_log, "");
    CHECK_EQ(reconcile(b), 1);          /* Retried on the next event. */

    /* A second port claiming the same interface is refused. */
    add_port(&f, "p2", "hv1", "tapp1");
    CHECK_EQ(reconcile(b), 0);
    CHECK_EQ(binding_count(b), 1);
    CHECK_STREQ(binding_port_id(b, 2), "p1");
    binding_destroy(b);
}

int
main(void)
{
    RUN(test_port_then_interface);
    RUN(test_interface_then_port);
    RUN(test_interface_goes_and_returns);
    RUN(test_port_deleted_or_moved);
    RUN(test_ifname_change_and_admin_state);
    RUN(test_attach_failure_and_shared_ifname);
    binding_destroy(NULL);
    return unit_finish();
}
