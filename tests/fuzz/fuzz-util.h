/*
 * fuzz-util.h -- what the libFuzzer targets share.  Header-only, so that a
 * target still builds from its own FUZZ_SOURCES list alone.
 */
#ifndef WEFT_TESTS_FUZZ_UTIL_H
#define WEFT_TESTS_FUZZ_UTIL_H 1

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A broken invariant is a finding: abort, so libFuzzer saves the input. */
static inline void
fuzz_check(bool ok)
{
    if (!ok) {
        abort();
    }
}

/* An exact-size heap copy of 'size' bytes (at least one byte allocated),
 * so that ASan catches any read past the end.  Free it with free(). */
static inline uint8_t *
fuzz_copy(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size ? size : 1);

    fuzz_check(p != NULL);
    if (size) {
        memcpy(p, data, size);
    }
    return p;
}

#endif /* WEFT_TESTS_FUZZ_UTIL_H */
