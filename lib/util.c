/* util.c -- assertions, allocation and clocks (see util.h). */
#include "lib/util.h"

#include <ctype.h>

#include <stdarg.h>
#include <string.h>
#include <time.h>

void
weft_assert_fail(const char *expr, const char *file, int line,
                 const char *func)
{
    fprintf(stderr, "%s:%d: %s: assertion %s failed\n", file, line, func,
            expr);
    fflush(stderr);
    abort();
}

static void NORETURN
out_of_memory(void)
{
    fputs("weft: out of memory\n", stderr);
    abort();
}

void *
xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
xzalloc(size_t size)
{
    return xcalloc(1, size);
}

void *
xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

void *
xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p) {
        out_of_memory();
    }
    return p;
}

char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

char *
xasprintf(const char *fmt, ...)
{
    va_list args;
    char *s;

    va_start(args, fmt);
    if (vasprintf(&s, fmt, args) < 0) {
        out_of_memory();
    }
    va_end(args);
    return s;
}

long long
time_msec(void)
{
    return time_nsec() / 1000000;
}

long long
time_nsec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long long
time_wall_sec(void)
{
    return (long long) time(NULL);
}

void
str_copy(char *dst, const char *src, size_t size)
{
    size_t n = strlen(src);
    if (n >= size) {
        n = size - 1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

bool
str_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36) {
        return false;
    }
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;

        if (dash ? s[i] != '-' : !isxdigit((unsigned char) s[i])) {
            return false;
        }
    }
    return true;
}
