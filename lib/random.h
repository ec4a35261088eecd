/*
 * random.h -- a small, fast, deterministic pseudo-random generator
 * (xorshift64*, Vigna 2016) for tests, benchmarks and sampling.
 *
 * Not cryptographic.  The caller owns the 64-bit state (any nonzero seed;
 * zero is replaced by a fixed constant), so runs are reproducible and
 * threads need no locks.
 */
#ifndef WEFT_RANDOM_H
#define WEFT_RANDOM_H 1

#include "lib/util.h"

/* Returns the next 64 pseudo-random bits and advances '*state'. */
static inline uint64_t
random_next(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ULL;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Returns a value in [0, n) (n > 0); the modulo bias is negligible for
 * the small ranges tests use. */
static inline uint32_t
random_range(uint64_t *state, uint32_t n)
{
    return (uint32_t) ((random_next(state) >> 32) % n);
}

#endif /* WEFT_RANDOM_H */
