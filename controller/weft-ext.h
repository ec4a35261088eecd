/*
 * weft-ext.h -- the Weft extension under /v2.0/weft/: what agents use
 * (docs/agent-protocol.md).
 *
 *   POST /v2.0/weft/agents/report     registration + heartbeat
 *   GET  /v2.0/weft/snapshot          every network/subnet/port/router/
 *                                     agent/security group/security group
 *                                     rule
 *   GET  /v2.0/weft/watch?since=R&timeout=S
 *                                     changes after R, long-polled up to S
 *                                     seconds (default 25, max 60); 410
 *                                     RevisionCompacted if R is too old
 *   PUT  /v2.0/weft/ports/ID/status   {"status": "ACTIVE"|"DOWN"}
 *
 * The controller's private index keys ("idx/...") are never sent: the
 * snapshot and the watch carry only the seven collections (a watch reply's
 * revision still advances past index-only changes).  A watch holds no
 * store transaction while it waits, so it never blocks writers.
 */
#ifndef WEFT_CONTROLLER_WEFT_EXT_H
#define WEFT_CONTROLLER_WEFT_EXT_H 1

#include <jansson.h>
#include <stddef.h>

#include "controller/resource.h"

struct api;

/* Largest number of events in one watch reply. */
#define WEFT_EXT_WATCH_MAX 1000

/* Handles a request whose path is /v2.0/weft/<parts...>.  'body' is the
 * parsed request body (NULL if none).  'ctx' has no transaction; this
 * function opens and closes its own.  Returns the HTTP status; on success
 * '*replyp' is the reply document, on error it is NULL and the error is
 * recorded in 'ctx'. */
int weft_ext_handle(struct api *, struct res_ctx *ctx, const char *method,
                    char **parts, size_t n_parts, const struct res_query *q,
                    json_t *body, json_t **replyp);

#endif /* WEFT_CONTROLLER_WEFT_EXT_H */
