/*
 * util.h -- the small vocabulary every Weft file speaks.
 *
 * Assertions that document invariants (ASSERT, BUILD_ASSERT, NOT_REACHED),
 * big-endian wire types that the compiler keeps apart from host integers
 * (be16/be32/be64 are distinct struct-free typedefs checked by sparse-style
 * naming: a be32 is never added to, only converted with ntohl/htonl), and
 * allocation helpers that abort on exhaustion.  Nothing here allocates hidden
 * state; every function is safe from any thread.
 *
 * Error convention (for all of lib/, datapath/, sim/): functions that can
 * fail return 0 or a positive errno value; predicates return bool;
 * constructors return NULL on failure; burst I/O returns a count;
 * destructors accept NULL.
 */
#ifndef WEFT_UTIL_H
#define WEFT_UTIL_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef uint16_t be16;          /* Big-endian (network order) 16 bits. */
typedef uint32_t be32;          /* Big-endian (network order) 32 bits. */
typedef uint64_t be64;          /* Big-endian (network order) 64 bits. */

#define ARRAY_SIZE(a) (sizeof (a) / sizeof (a)[0])
#define BUILD_ASSERT(expr) _Static_assert(expr, #expr)
#define BUILD_ASSERT_DECL(expr) _Static_assert(expr, #expr)
#define CACHE_LINE 64
#define CACHE_ALIGNED __attribute__((aligned(CACHE_LINE)))
#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define ROUND_UP(x, y) (((x) + (y) - 1) / (y) * (y))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define CONTAINER_OF(ptr, type, member) \
    ((type *) (void *) ((char *) (ptr) - offsetof(type, member)))
#define PRINTF_FMT(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))

void weft_assert_fail(const char *expr, const char *file, int line,
                      const char *func) NORETURN;

/* ASSERT is always compiled in: an invariant that breaks in production
 * must stop the daemon loudly rather than corrupt a tenant's traffic. */
#define ASSERT(expr)                                                     \
    ((expr) ? (void) 0                                                   \
            : weft_assert_fail(#expr, __FILE__, __LINE__, __func__))
#define NOT_REACHED() weft_assert_fail("not reached", __FILE__, __LINE__, \
                                       __func__)

/* Allocation that never returns NULL (aborts on exhaustion). */
void *xmalloc(size_t size);
void *xzalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) PRINTF_FMT(1, 2);

/* Monotonic clock in milliseconds and nanoseconds; wall clock in seconds. */
long long time_msec(void);
long long time_nsec(void);
long long time_wall_sec(void);

/* Copies at most 'size - 1' bytes and always terminates (size > 0). */
void str_copy(char *dst, const char *src, size_t size);

/* True if 's' (may be NULL) is a UUID in its 36-character text form
 * ("8-4-4-4-12" hex digits, either case). */
bool str_is_uuid(const char *s);

#endif /* WEFT_UTIL_H */
