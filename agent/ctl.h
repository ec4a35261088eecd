/*
 * ctl.h -- the agent's control socket (docs/agent-protocol.md).
 *
 * A Unix stream socket (mode 0600; its directory is created if missing).
 * A client writes one command line ("flows", "counters", "status",
 * "flush") and reads one JSON document until EOF.  The server never blocks
 * the main loop: accept, read and write are non-blocking and driven by
 * ctl_run()/ctl_wait(); a client that has not finished within
 * CTL_CLIENT_TIMEOUT_MS is dropped; at most CTL_MAX_CLIENTS are served at
 * once (others wait in the listen backlog).
 *
 * The reply is produced by the handler given to ctl_create(), called from
 * ctl_run() on the main thread, so it may read the datapath and topology.
 */
#ifndef WEFT_AGENT_CTL_H
#define WEFT_AGENT_CTL_H 1

#define CTL_MAX_CLIENTS 8
#define CTL_CLIENT_TIMEOUT_MS 5000
#define CTL_MAX_COMMAND 256

/* Returns the reply (malloc'd, NUL-terminated; the server frees it) for
 * 'command' (the first line, without its line ending). */
typedef char *ctl_handler_fn(void *aux, const char *command);

struct ctl_server;

/* Listens on 'path' (a stale socket file there is replaced; a live one is
 * an error, EADDRINUSE).  Returns NULL and sets '*errorp' on failure. */
struct ctl_server *ctl_create(const char *path, ctl_handler_fn *,
                              void *aux, int *errorp);
/* Closes every connection and removes the socket file.  Accepts NULL. */
void ctl_destroy(struct ctl_server *);

void ctl_run(struct ctl_server *);
void ctl_wait(struct ctl_server *);

#endif /* WEFT_AGENT_CTL_H */
