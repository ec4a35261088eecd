/*
 * test-agent-linkmon.c -- the rtnetlink interface monitor, against real
 * interfaces in a private network namespace.
 *
 * The test moves itself into a new network namespace (unshare; needs
 * root, skipped otherwise), so the interfaces it creates with ip(8) are
 * invisible to the host and vanish with the process.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "agent/linkmon.h"
#include "lib/poll-loop.h"
#include "lib/util.h"
#include "tests/lib/unit.h"

/* Runs linkmon until it reports a change (bounded: 5 s of polling).
 * Returns true if it did. */
static bool
wait_change(struct linkmon *lm)
{
    for (int i = 0; i < 50; i++) {
        if (linkmon_run(lm)) {
            return true;
        }
        linkmon_wait(lm);
        poll_timer_wait(100);
        poll_block();
    }
    return false;
}

static bool
sh(const char *cmd)
{
    return system(cmd) == 0;
}

static void
test_linkmon(void)
{
    struct linkmon *lm;
    int error, ifindex = -1, ifindex2 = -1;

    if (unshare(CLONE_NEWNET)) {
        UNIT_SKIP("cannot create a network namespace (not root?)");
    }
    if (!sh("ip link add wgt0 type veth peer name wgp0 2>/dev/null")) {
        UNIT_SKIP("cannot create a veth pair");
    }
    lm = linkmon_create(&error);
    CHECK(lm != NULL);
    if (!lm) {
        return;
    }
    CHECK(!linkmon_is_ready(lm));
    CHECK(wait_change(lm));             /* The initial dump. */
    CHECK(linkmon_is_ready(lm));

    /* Exists but down. */
    CHECK(!linkmon_is_up(lm, "wgt0", &ifindex));
    CHECK(ifindex > 0);
    CHECK(!linkmon_is_up(lm, "nonexistent", NULL));

    CHECK(sh("ip link set wgt0 up"));
    CHECK(wait_change(lm));
    CHECK(linkmon_is_up(lm, "wgt0", &ifindex2));
    CHECK_EQ(ifindex2, ifindex);

    /* Joining and leaving a bridge (AF_BRIDGE RTM_NEWLINK/DELLINK, which
     * linkmon ignores) leaves the interface present and up. */
    CHECK(sh("ip link add wgbr type bridge && ip link set wgt0 master wgbr"
             " && ip link set wgt0 nomaster"));
    wait_change(lm);
    for (int i = 0; i < 5; i++) {
        linkmon_run(lm);                /* Drain whatever followed. */
    }
    CHECK(linkmon_is_up(lm, "wgt0", NULL));

    /* Rename: same index, new name. */
    CHECK(sh("ip link set wgt0 down && ip link set wgt0 name wgt1"
             " && ip link set wgt1 up"));
    CHECK(wait_change(lm));
    for (int i = 0; i < 5; i++) {
        linkmon_run(lm);
    }
    CHECK(!linkmon_is_up(lm, "wgt0", NULL));
    CHECK(linkmon_is_up(lm, "wgt1", &ifindex2));
    CHECK_EQ(ifindex2, ifindex);

    /* Deleted, then re-created under the same name: a new index. */
    CHECK(sh("ip link del wgt1"));
    CHECK(wait_change(lm));
    ifindex2 = -1;
    CHECK(!linkmon_is_up(lm, "wgt1", &ifindex2));
    CHECK_EQ(ifindex2, -1);
    CHECK(sh("ip link add wgt1 type veth peer name wgp1 "
             "&& ip link set wgt1 up"));
    CHECK(wait_change(lm));
    for (int i = 0; i < 5; i++) {
        linkmon_run(lm);
    }
    CHECK(linkmon_is_up(lm, "wgt1", &ifindex2));
    CHECK(ifindex2 != ifindex);

    linkmon_destroy(lm);
    linkmon_destroy(NULL);
}

int
main(void)
{
    RUN(test_linkmon);
    return unit_finish();
}
