/* log.c -- see log.h. */
#include "lib/log.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_program = "weft";
static enum log_level log_min = LOG_INFO;

void
log_init(const char *program, enum log_level min_level)
{
    log_program = program;
    log_min = min_level;
}

void
log_set_level(enum log_level min_level)
{
    log_min = min_level;
}

bool
log_level_from_string(const char *s, enum log_level *levelp)
{
    static const struct {
        const char *name;
        enum log_level level;
    } map[] = {
        { "dbg", LOG_DBG }, { "debug", LOG_DBG }, { "info", LOG_INFO },
        { "warn", LOG_WARN }, { "err", LOG_ERR }, { "error", LOG_ERR },
    };

    for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
        if (!strcasecmp(s, map[i].name)) {
            *levelp = map[i].level;
            return true;
        }
    }
    return false;
}

bool
log_enabled(enum log_level level)
{
    return level >= log_min;
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
    static const char *names[] = { "DBG", "INFO", "WARN", "ERR" };
    char line[1024];
    struct timeval tv;
    struct tm tm;
    va_list args;
    int n;

    if (level < log_min) {
        return;
    }
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = snprintf(line, sizeof line,
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ|%s|%s|",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, (int) (tv.tv_usec / 1000),
                 log_program, names[level]);
    va_start(args, fmt);
    n += vsnprintf(line + n, sizeof line - n - 1, fmt, args);
    va_end(args);
    if (n > (int) sizeof line - 2) {
        n = sizeof line - 2;
    }
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, n) < 0) {
        /* Nothing sensible to do. */
    }
}
