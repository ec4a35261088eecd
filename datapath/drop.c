/* drop.c -- names of drop reasons, generated from DROP_REASONS. */
#include "datapath/drop.h"

#include <string.h>

static const char *const names[] = {
#define DR(ENUM, NAME, DESC) NAME,
    DROP_REASONS
#undef DR
};

static const char *const descs[] = {
#define DR(ENUM, NAME, DESC) DESC,
    DROP_REASONS
#undef DR
};

const char *
drop_reason_name(enum drop_reason r)
{
    return (unsigned) r < N_DROP_REASONS ? names[r] : "?";
}

const char *
drop_reason_desc(enum drop_reason r)
{
    return (unsigned) r < N_DROP_REASONS ? descs[r] : "?";
}

enum drop_reason
drop_reason_from_name(const char *name)
{
    for (int r = 0; r < N_DROP_REASONS; r++) {
        if (!strcmp(names[r], name)) {
            return (enum drop_reason) r;
        }
    }
    return DROP_NONE;
}
