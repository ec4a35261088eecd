/*
 * bench-util.h -- what the micro-benchmarks share: a cheap index generator
 * (cheaper than the thing measured) and the one-line report format that
 * scripts/bench.sh collects.
 */
#ifndef WEFT_BENCH_UTIL_H
#define WEFT_BENCH_UTIL_H 1

#include <stdint.h>
#include <stdio.h>

/* A value in [0, n) from the LCG state '*state'. */
static inline uint32_t
next_index(uint32_t *state, uint32_t n)
{
    *state = *state * 1664525 + 1013904223;
    return (uint32_t) (((uint64_t) *state * n) >> 32);
}

/* "BENCH: NAME X ns/pkt (Y Mpps)" for 'n' packets in 'nsec'. */
static inline void
bench_report(const char *bench, const char *name, long long nsec, uint64_t n)
{
    printf("%s: %s %.1f ns/pkt (%.2f Mpps)\n", bench, name,
           (double) nsec / n, n * 1e3 / nsec);
}

#endif /* bench-util.h */
