/* unit.c -- see unit.h. */
#include "tests/lib/unit.h"

#include <stdlib.h>

int unit_cur_failed;
int unit_cur_skipped;
static int n_passed, n_failed, n_skipped;

void
unit_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", file, line, expr);
    unit_cur_failed = 1;
}

void
unit_run(const char *name, void (*fn)(void))
{
    unit_cur_failed = 0;
    unit_cur_skipped = 0;
    fn();
    if (unit_cur_failed) {
        n_failed++;
        fprintf(stderr, "FAIL %s\n", name);
    } else if (unit_cur_skipped) {
        n_skipped++;
        fprintf(stderr, "SKIP %s\n", name);
    } else {
        n_passed++;
        fprintf(stderr, "ok   %s\n", name);
    }
}

int
unit_finish(void)
{
    printf("unit: %d passed, %d failed, %d skipped\n", n_passed, n_failed,
           n_skipped);
    return n_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
