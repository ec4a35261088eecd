/*
 * evq.c -- mutex + eventfd FIFO, see evq.h.
 *
 * Invariant: the eventfd's counter is non-zero exactly when the list is
 * non-empty (both change under the mutex), so evq_wait() can simply wait
 * for the descriptor to become readable.
 */
#include "agent/evq.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "lib/poll-loop.h"
#include "lib/util.h"

struct evq_node {
    struct evq_node *next;
    void *item;
};

struct evq {
    pthread_mutex_t mutex;
    struct evq_node *head, *tail;
    size_t n;
    int fd;
    void (*item_free)(void *);
};

struct evq *
evq_create(void (*item_free)(void *))
{
    struct evq *q;
    int fd;

    fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    q = xzalloc(sizeof *q);
    pthread_mutex_init(&q->mutex, NULL);
    q->fd = fd;
    q->item_free = item_free;
    return q;
}

void
evq_destroy(struct evq *q)
{
    if (!q) {
        return;
    }
    for (struct evq_node *node = q->head, *next; node; node = next) {
        next = node->next;
        if (q->item_free) {
            q->item_free(node->item);
        }
        free(node);
    }
    close(q->fd);
    pthread_mutex_destroy(&q->mutex);
    free(q);
}

void
evq_push(struct evq *q, void *item)
{
    struct evq_node *node = xmalloc(sizeof *node);
    uint64_t one = 1;

    ASSERT(item);
    node->next = NULL;
    node->item = item;

    pthread_mutex_lock(&q->mutex);
    if (q->tail) {
        q->tail->next = node;
    } else {
        q->head = node;
    }
    q->tail = node;
    if (q->n++ == 0) {
        /* Cannot fail: the counter is 0 or 1, far from overflow. */
        ssize_t n = write(q->fd, &one, sizeof one);
        ASSERT(n == sizeof one);
    }
    pthread_mutex_unlock(&q->mutex);
}

void *
evq_pop(struct evq *q)
{
    struct evq_node *node;
    void *item = NULL;
    uint64_t count;

    pthread_mutex_lock(&q->mutex);
    node = q->head;
    if (node) {
        q->head = node->next;
        if (!q->head) {
            q->tail = NULL;
        }
        if (--q->n == 0) {
            ssize_t n = read(q->fd, &count, sizeof count);
            ASSERT(n == sizeof count);
        }
        item = node->item;
        free(node);
    }
    pthread_mutex_unlock(&q->mutex);
    return item;
}

size_t
evq_len(struct evq *q)
{
    size_t n;

    pthread_mutex_lock(&q->mutex);
    n = q->n;
    pthread_mutex_unlock(&q->mutex);
    return n;
}

void
evq_wait(struct evq *q)
{
    poll_fd_wait(q->fd, POLLIN);
}

int
evq_fd(const struct evq *q)
{
    return q->fd;
}
