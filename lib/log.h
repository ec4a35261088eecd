/*
 * log.h -- leveled logging to stderr, one line per event.
 *
 * Format: "2026-11-21T01:02:03.456Z|agent|INFO|message".  The module name is
 * set once per process with log_init().  Thread-safe (one write(2) per line).
 * Levels below the configured one cost a compare.
 */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H 1

#include "lib/util.h"

enum log_level { LOG_DBG, LOG_INFO, LOG_WARN, LOG_ERR };

void log_init(const char *program, enum log_level min_level);
void log_set_level(enum log_level min_level);
/* Parses a level name for a --log-level option: "dbg"/"debug", "info",
 * "warn", "err"/"error" (any case).  Returns false for anything else. */
bool log_level_from_string(const char *s, enum log_level *levelp);
bool log_enabled(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) PRINTF_FMT(2, 3);

#define VLOG_DBG(...)  (log_enabled(LOG_DBG) ? log_msg(LOG_DBG, __VA_ARGS__) \
                                            : (void) 0)
#define VLOG_INFO(...) log_msg(LOG_INFO, __VA_ARGS__)
#define VLOG_WARN(...) log_msg(LOG_WARN, __VA_ARGS__)
#define VLOG_ERR(...)  log_msg(LOG_ERR, __VA_ARGS__)

#endif /* WEFT_LOG_H */
