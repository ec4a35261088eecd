/* poll-loop.c -- see poll-loop.h. */
#include "lib/poll-loop.h"

#include <errno.h>
#include <string.h>

struct poll_loop {
    struct pollfd *fds;
    size_t n, allocated;
    long long deadline;         /* time_msec(), or LLONG_MAX. */

    /* The set passed to the last poll(2), with its revents. */
    struct pollfd *last;
    size_t n_last, last_allocated;
    bool last_valid;
};

static __thread struct poll_loop loop = { NULL, 0, 0, -1, NULL, 0, 0,
                                          false };

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
    if (poll(loop.fds, loop.n, timeout) < 0) {
        /* EINTR or worse: let every run function look. */
        loop.last_valid = false;
    } else {
        if (loop.n > loop.last_allocated) {
            loop.last_allocated = loop.allocated;
            loop.last = xrealloc(loop.last,
                                 loop.last_allocated * sizeof *loop.last);
        }
        if (loop.n) {
            memcpy(loop.last, loop.fds, loop.n * sizeof *loop.fds);
        }
        loop.n_last = loop.n;
        loop.last_valid = true;
    }
    loop.n = 0;
    loop.deadline = __LONG_LONG_MAX__;
}

bool
poll_fd_ready(int fd)
{
    if (!loop.last_valid) {
        return true;
    }
    for (size_t i = 0; i < loop.n_last; i++) {
        if (loop.last[i].fd == fd) {
            return loop.last[i].revents != 0;
        }
    }
    return true;
}
