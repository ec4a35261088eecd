/*
 * hash.h -- fast non-cryptographic hashing (murmur3-style finalizers).
 *
 * hash_words64() hashes an array of 64-bit words; used for flow keys and
 * masked keys where the length is a compile-time multiple of 8.  Results
 * are stable within a process run only; never store them.
 */
#ifndef WEFT_HASH_H
#define WEFT_HASH_H 1

#include "lib/util.h"
#include <string.h>

static inline uint32_t
hash_rot32(uint32_t x, int k)
{
    return (x << k) | (x >> (32 - k));
}

static inline uint32_t
hash_add32(uint32_t hash, uint32_t data)
{
    data *= 0xcc9e2d51;
    data = hash_rot32(data, 15);
    data *= 0x1b873593;
    hash ^= data;
    hash = hash_rot32(hash, 13);
    return hash * 5 + 0xe6546b64;
}

static inline uint32_t
hash_add64(uint32_t hash, uint64_t data)
{
    return hash_add32(hash_add32(hash, (uint32_t) data),
                      (uint32_t) (data >> 32));
}

static inline uint32_t
hash_finish(uint32_t hash, uint32_t final)
{
    hash ^= final;
    hash ^= hash >> 16;
    hash *= 0x85ebca6b;
    hash ^= hash >> 13;
    hash *= 0xc2b2ae35;
    hash ^= hash >> 16;
    return hash;
}

static inline uint32_t
hash_words64(const uint64_t *p, size_t n, uint32_t basis)
{
    uint32_t hash = basis;
    for (size_t i = 0; i < n; i++) {
        hash = hash_add64(hash, p[i]);
    }
    return hash_finish(hash, (uint32_t) n * 8);
}

static inline uint32_t
hash_bytes(const void *p_, size_t n, uint32_t basis)
{
    const uint8_t *p = p_;
    uint32_t hash = basis;
    size_t i;

    for (i = 0; i + 4 <= n; i += 4) {
        uint32_t w;
        memcpy(&w, p + i, 4);
        hash = hash_add32(hash, w);
    }
    if (i < n) {
        uint32_t w = 0;
        memcpy(&w, p + i, n - i);
        hash = hash_add32(hash, w);
    }
    return hash_finish(hash, (uint32_t) n);
}

static inline uint32_t
hash_string(const char *s, uint32_t basis)
{
    return hash_bytes(s, strlen(s), basis);
}

/* 64-bit FNV-1a of a string, used for object tags (stable, well spread). */
static inline uint64_t
hash_string64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (uint8_t) *s;
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

#endif /* WEFT_HASH_H */
