/*
 * report.h -- the agent's messages to the controller: liveness and port
 * status.
 *
 * A reporter thread, with its own HTTP client, registers the agent and
 * sends a heartbeat every 'interval' (POST /v2.0/weft/agents/report), and
 * sends port status changes (PUT /v2.0/weft/ports/<id>/status) as soon as
 * the main thread queues them with report_port_status().  Changes to the
 * same port coalesce (only the latest is sent); a change that cannot be
 * delivered because the controller is unreachable stays queued and is
 * retried with backoff; a 404 (the port was deleted) drops it.
 *
 * report_port_status() never blocks on the network: it takes a mutex and
 * signals a condition variable.
 */
#ifndef WEFT_AGENT_REPORT_H
#define WEFT_AGENT_REPORT_H 1

#include <stdbool.h>

struct reporter;

/* Starts a reporter for agent 'host' with underlay address 'tunnel_ip'
 * talking to the controller at 'url', heartbeating every 'interval_ms'.
 * Returns NULL on failure. */
struct reporter *reporter_create(const char *url, const char *host,
                                 const char *tunnel_ip,
                                 long long interval_ms);
/* Stops the thread (pending status changes are lost) and frees.  Accepts
 * NULL. */
void reporter_destroy(struct reporter *);

/* Queues "port 'port_id' is now 'status'" ("ACTIVE" or "DOWN"). */
void reporter_port_status(struct reporter *, const char *port_id,
                          const char *status);

/* True once a heartbeat has been accepted by the controller. */
bool reporter_is_registered(const struct reporter *);

#endif /* WEFT_AGENT_REPORT_H */
