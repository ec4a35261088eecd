/* poll-loop.c -- see poll-loop.h. */
#include "lib/poll-loop.h"

#include <errno.h>

struct poll_loop {
    struct pollfd *fds;
    size_t n, allocated;
    long long deadline;         /* time_msec(), or LLONG_MAX. */
};

static __thread struct poll_loop loop = { NULL, 0, 0, -1 };

static void
ensure_init(void)
{
    if (loop.deadline == -1) {
        loop.deadline = __LONG_LONG_MAX__;
    }
}

void
poll_fd_wait(int fd, short events)
{
    ensure_init();
    for (size_t i = 0; i < loop.n; i++) {
        if (loop.fds[i].fd == fd) {
            loop.fds[i].events |= events;
            return;
        }
    }
    if (loop.n == loop.allocated) {
        loop.allocated = loop.allocated ? loop.allocated * 2 : 16;
        loop.fds = xrealloc(loop.fds, loop.allocated * sizeof *loop.fds);
    }
    loop.fds[loop.n].fd = fd;
    loop.fds[loop.n].events = events;
    loop.fds[loop.n].revents = 0;
    loop.n++;
}

void
poll_timer_wait(long long msec)
{
    poll_timer_wait_until(time_msec() + (msec < 0 ? 0 : msec));
}

void
poll_timer_wait_until(long long when)
{
    ensure_init();
    if (when < loop.deadline) {
        loop.deadline = when;
    }
}

void
poll_immediate_wake(void)
{
    poll_timer_wait_until(0);
}

void
poll_block(void)
{
    int timeout;

    ensure_init();
    if (loop.deadline == __LONG_LONG_MAX__) {
        timeout = -1;
    } else {
        long long left = loop.deadline - time_msec();
        timeout = left <= 0 ? 0 : left > 1000000 ? 1000000 : (int) left;
    }
    if (poll(loop.fds, loop.n, timeout) < 0 && errno != EINTR) {
        /* Nothing useful to do: the callers re-check their state. */
    }
    loop.n = 0;
    loop.deadline = __LONG_LONG_MAX__;
}
