/*
 * linkmon.h -- which network interfaces exist on this host, and are up.
 *
 * A NETLINK_ROUTE socket subscribed to RTNLGRP_LINK, primed with an
 * RTM_GETLINK dump, mirrors the host's interfaces (index, name, IFF_UP)
 * in memory.  The agent attaches a logical port when its interface (by
 * the binding convention) exists and is up, so linkmon is what makes "the
 * interface appeared before the port was created" and the reverse both
 * work, and what notices a VM going away.
 *
 * If the kernel drops notifications (ENOBUFS), linkmon re-dumps and keeps
 * serving the old view until the new dump is complete, so a burst of link
 * events can never make every port look absent.
 *
 * Single-threaded: owned by the agent's main thread.
 */
#ifndef WEFT_AGENT_LINKMON_H
#define WEFT_AGENT_LINKMON_H 1

#include <stdbool.h>

struct linkmon;

/* Opens the netlink socket and requests the initial dump.  Returns NULL
 * and sets '*errorp' on failure. */
struct linkmon *linkmon_create(int *errorp);
void linkmon_destroy(struct linkmon *);         /* Accepts NULL. */

/* Processes pending netlink messages (bounded work).  Returns true if the
 * set of interfaces or their up/down state may have changed since the
 * last call that returned true, and the view is consistent (no dump in
 * progress). */
bool linkmon_run(struct linkmon *);
void linkmon_wait(struct linkmon *);

/* True once the initial dump has completed. */
bool linkmon_is_ready(const struct linkmon *);

/* If interface 'name' exists, stores its ifindex in '*ifindexp' (may be
 * NULL) and returns true if it is administratively up; returns false if
 * it does not exist or is down. */
bool linkmon_is_up(const struct linkmon *, const char *name, int *ifindexp);

#endif /* WEFT_AGENT_LINKMON_H */
