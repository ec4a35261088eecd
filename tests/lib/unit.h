/*
 * unit.h -- the smallest test framework that reports honestly.
 *
 *     static void test_foo(void) { CHECK(1 + 1 == 2); CHECK_EQ(a, b); }
 *     int main(void) { RUN(test_foo); return unit_finish(); }
 *
 * A CHECK failure prints file:line and the expression, marks the current
 * test failed and carries on.  unit_finish() prints "unit: N passed,
 * N failed" (tests, not checks) and returns the process exit status.
 * UNIT_SKIP(why) marks the current test skipped, loudly.
 */
#ifndef WEFT_TESTS_UNIT_H
#define WEFT_TESTS_UNIT_H 1

#include <stdbool.h>
#include <stdio.h>

extern int unit_cur_failed;
extern int unit_cur_skipped;

void unit_run(const char *name, void (*fn)(void));
int unit_finish(void);
void unit_fail(const char *file, int line, const char *expr);

#define RUN(fn) unit_run(#fn, fn)
#define CHECK(expr) \
    ((expr) ? (void) 0 : unit_fail(__FILE__, __LINE__, #expr))
#define CHECK_EQ(a, b) \
    (((a) == (b)) ? (void) 0 \
     : (fprintf(stderr, "  %s != %s: %lld vs %lld\n", #a, #b, \
                (long long) (a), (long long) (b)), \
        unit_fail(__FILE__, __LINE__, #a " == " #b)))
#define CHECK_STREQ(a, b) \
    ((strcmp((a), (b)) == 0) ? (void) 0 \
     : (fprintf(stderr, "  \"%s\" != \"%s\"\n", (a), (b)), \
        unit_fail(__FILE__, __LINE__, #a " eq " #b)))
#define UNIT_SKIP(why) \
    do { fprintf(stderr, "  SKIP: %s\n", why); unit_cur_skipped = 1; \
         return; } while (0)

#endif
