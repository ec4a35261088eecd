/*
 * ratelimit.h -- a token bucket.
 *
 * A bucket holds at most 'burst' tokens and gains 'rate' tokens per
 * second; every allowed event takes one.  A full bucket therefore lets
 * 'burst' events through at once, and then 'rate' per second on average.
 *
 * Time is passed in (milliseconds, any monotonic origin), so that the
 * owner reads the clock once per batch and tests can drive the bucket
 * with made-up times.  A clock that goes backwards adds nothing.
 * Tokens are counted in thousandths so that rates below 1000/s still
 * refill a little every millisecond.
 *
 * A bucket is plain data owned by its caller: no allocation, no locks;
 * use it from one thread or lock around it.
 */
#ifndef WEFT_RATELIMIT_H
#define WEFT_RATELIMIT_H 1

#include "lib/util.h"

struct ratelimit {
    uint64_t milli_tokens;      /* Tokens * 1000. */
    uint64_t cap;               /* burst * 1000. */
    uint32_t rate;              /* Tokens per second = milli-tokens per
                                 * millisecond. */
    long long last_msec;        /* Time of the last refill. */
};

/* Initializes 'rl' full, with 'rate' tokens per second and room for
 * 'burst' tokens (both > 0; a zero is taken as 1), at time 'now_msec'. */
static inline void
ratelimit_init(struct ratelimit *rl, uint32_t rate, uint32_t burst,
               long long now_msec)
{
    rl->rate = rate ? rate : 1;
    rl->cap = (uint64_t) (burst ? burst : 1) * 1000;
    rl->milli_tokens = rl->cap;
    rl->last_msec = now_msec;
}

/* Takes one token from 'rl' at time 'now_msec' if there is one.  Returns
 * true if the event may happen, false if it must be suppressed. */
static inline bool
ratelimit_allow(struct ratelimit *rl, long long now_msec)
{
    if (now_msec > rl->last_msec) {
        uint64_t elapsed = (uint64_t) (now_msec - rl->last_msec);
        uint64_t room = rl->cap - rl->milli_tokens;

        /* elapsed * rate could overflow: compare by division first. */
        if (elapsed >= room / rl->rate + 1) {
            rl->milli_tokens = rl->cap;
        } else {
            rl->milli_tokens += elapsed * rl->rate;
        }
        rl->last_msec = now_msec;
    }
    if (rl->milli_tokens < 1000) {
        return false;
    }
    rl->milli_tokens -= 1000;
    return true;
}

#endif /* WEFT_RATELIMIT_H */
