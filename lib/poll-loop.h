/*
 * poll-loop.h -- the one place a daemon thread blocks.
 *
 * The main loop of each daemon reads like this:
 *
 *     for (;;) {
 *         x_run(x);  y_run(y);      // do bounded work, never block
 *         x_wait(x); y_wait(y);     // say what would make run useful
 *         poll_block();             // sleep until one of those happens
 *     }
 *
 * x_wait() calls poll_fd_wait() for file descriptors and poll_timer_wait()
 * for deadlines; poll_block() sleeps in poll(2) on all of them and forgets
 * them.  State is per thread.  poll_immediate_wake() makes the next
 * poll_block() return at once (used when a run function stopped because
 * its work bound was reached).
 */
#ifndef WEFT_POLL_LOOP_H
#define WEFT_POLL_LOOP_H 1

#include <poll.h>
#include "lib/util.h"

void poll_fd_wait(int fd, short events);
void poll_timer_wait(long long msec);           /* Relative, >= 0. */
void poll_timer_wait_until(long long when_msec);  /* time_msec() based. */
void poll_immediate_wake(void);
void poll_block(void);

/* Whether the last poll_block() reported 'fd' readable, writable or in
 * error -- or did not watch 'fd' at all (then the answer is true, so that
 * a run function that skips work on a quiet fd can never miss any).  Lets
 * run functions avoid a system call per wake-up on every idle socket. */
bool poll_fd_ready(int fd);

#endif /* WEFT_POLL_LOOP_H */
