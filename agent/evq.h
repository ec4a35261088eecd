/*
 * evq.h -- a FIFO that hands work from a helper thread to a poll loop.
 *
 * Any thread may evq_push(); one consumer thread (the agent's main thread)
 * calls evq_wait() before poll_block() and evq_pop() after it.  The queue
 * is a mutex-protected linked list plus an eventfd that is readable while
 * the queue is non-empty, so the consumer never polls busily and never
 * misses a push that races with its poll_block().
 *
 * Items are opaque pointers owned by the queue while queued; evq_destroy()
 * releases leftovers with the destructor given at creation.
 */
#ifndef WEFT_AGENT_EVQ_H
#define WEFT_AGENT_EVQ_H 1

#include <stdbool.h>
#include <stddef.h>

struct evq;

/* Creates an empty queue whose leftover items evq_destroy() releases with
 * 'item_free' (may be NULL).  Returns NULL if no eventfd is available. */
struct evq *evq_create(void (*item_free)(void *));
void evq_destroy(struct evq *);                 /* Accepts NULL. */

/* Appends 'item' (nonnull); the queue owns it until popped. */
void evq_push(struct evq *, void *item);

/* Removes and returns the oldest item, or NULL if the queue is empty.
 * The caller owns the item. */
void *evq_pop(struct evq *);

size_t evq_len(struct evq *);

/* Makes the next poll_block() return when the queue is non-empty. */
void evq_wait(struct evq *);

/* The descriptor evq_wait() polls: readable exactly while the queue is
 * non-empty (for tests and for callers with their own poll). */
int evq_fd(const struct evq *);

#endif /* WEFT_AGENT_EVQ_H */
