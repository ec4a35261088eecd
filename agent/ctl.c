/*
 * ctl.c -- non-blocking Unix socket command server, see ctl.h.
 *
 * Each client is a tiny state machine: READING (until a newline, EOF or
 * CTL_MAX_COMMAND bytes) -> WRITING (the handler's reply) -> closed.
 */
#include "agent/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/poll-loop.h"
#include "lib/util.h"

struct ctl_client {
    int fd;                     /* -1 if the slot is free. */
    bool writing;
    char cmd[CTL_MAX_COMMAND + 1];
    size_t cmd_len;
    char *reply;
    size_t reply_len, reply_ofs;
    long long deadline;
};

struct ctl_server {
    int fd;
    char *path;
    ctl_handler_fn *handler;
    void *aux;
    struct ctl_client clients[CTL_MAX_CLIENTS];
};

static int ctl_make_dirs(const char *path);
static void ctl_client_close(struct ctl_client *);
static void ctl_client_run(struct ctl_server *, struct ctl_client *);

struct ctl_server *
ctl_create(const char *path, ctl_handler_fn *handler, void *aux,
           int *errorp)
{
    struct sockaddr_un sun;
    struct ctl_server *s;
    int fd, error;

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof sun.sun_path) {
        *errorp = ENAMETOOLONG;
        return NULL;
    }
    strcpy(sun.sun_path, path);

    error = ctl_make_dirs(path);
    if (error) {
        *errorp = error;
        return NULL;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *errorp = errno;
        return NULL;
    }
    /* A live agent answers on the socket; a stale file does not. */
    if (connect(fd, (struct sockaddr *) &sun, sizeof sun) == 0
        || errno == EAGAIN) {
        close(fd);
        *errorp = EADDRINUSE;
        return NULL;
    }
    close(fd);
    unlink(path);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *errorp = errno;
        return NULL;
    }
    if (bind(fd, (struct sockaddr *) &sun, sizeof sun)) {
        error = errno;
        goto err_close;
    }
    if (chmod(path, 0600) || listen(fd, 16)) {
        error = errno;
        goto err_unlink;
    }

    s = xzalloc(sizeof *s);
    s->fd = fd;
    s->path = xstrdup(path);
    s->handler = handler;
    s->aux = aux;
    for (size_t i = 0; i < CTL_MAX_CLIENTS; i++) {
        s->clients[i].fd = -1;
    }
    *errorp = 0;
    return s;

err_unlink:
    unlink(path);
err_close:
    close(fd);
    *errorp = error;
    return NULL;
}

void
ctl_destroy(struct ctl_server *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < CTL_MAX_CLIENTS; i++) {
        ctl_client_close(&s->clients[i]);
    }
    close(s->fd);
    unlink(s->path);
    free(s->path);
    free(s);
}

void
ctl_run(struct ctl_server *s)
{
    long long now = time_msec();
    bool listening = poll_fd_ready(s->fd);

    for (size_t i = 0; i < CTL_MAX_CLIENTS; i++) {
        struct ctl_client *c = &s->clients[i];

        if (c->fd < 0) {
            int fd = listening ? accept4(s->fd, NULL, NULL,
                                         SOCK_NONBLOCK | SOCK_CLOEXEC)
                               : -1;
            if (fd < 0) {
                listening = false;
                continue;
            }
            memset(c, 0, sizeof *c);
            c->fd = fd;
            c->deadline = now + CTL_CLIENT_TIMEOUT_MS;
        }
        ctl_client_run(s, c);
        if (c->fd >= 0 && now >= c->deadline) {
            VLOG_DBG("control client timed out");
            ctl_client_close(c);
        }
    }
}

void
ctl_wait(struct ctl_server *s)
{
    bool full = true;

    for (size_t i = 0; i < CTL_MAX_CLIENTS; i++) {
        struct ctl_client *c = &s->clients[i];

        if (c->fd < 0) {
            full = false;
            continue;
        }
        poll_fd_wait(c->fd, c->writing ? POLLOUT : POLLIN);
        poll_timer_wait_until(c->deadline);
    }
    if (!full) {
        poll_fd_wait(s->fd, POLLIN);
    }
}

/* Creates the directories leading to 'path' (mode 0755). */
static int
ctl_make_dirs(const char *path)
{
    char *dir = xstrdup(path);
    int error = 0;

    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        if (mkdir(dir, 0755) && errno != EEXIST) {
            error = errno;
            break;
        }
        *p = '/';
    }
    free(dir);
    return error;
}

static void
ctl_client_close(struct ctl_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    free(c->reply);
    c->reply = NULL;
}

static void
ctl_client_reply(struct ctl_server *s, struct ctl_client *c)
{
    char *cmd = c->cmd;
    size_t len;

    c->cmd[c->cmd_len] = '\0';
    cmd[strcspn(cmd, "\r\n")] = '\0';
    while (*cmd == ' ' || *cmd == '\t') {
        cmd++;
    }
    len = strlen(cmd);
    while (len && (cmd[len - 1] == ' ' || cmd[len - 1] == '\t')) {
        cmd[--len] = '\0';
    }
    c->reply = s->handler(s->aux, cmd);
    c->reply_len = strlen(c->reply);
    c->reply_ofs = 0;
    c->writing = true;
}

static void
ctl_client_run(struct ctl_server *s, struct ctl_client *c)
{
    if (c->fd < 0) {
        return;
    }
    if (!c->writing) {
        for (;;) {
            ssize_t n = recv(c->fd, c->cmd + c->cmd_len,
                             CTL_MAX_COMMAND - c->cmd_len, MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EINTR) {
                    return;
                }
                ctl_client_close(c);
                return;
            }
            if (n == 0 && c->cmd_len == 0) {
                ctl_client_close(c);
                return;
            }
            c->cmd_len += n;
            if (n == 0 || memchr(c->cmd, '\n', c->cmd_len)
                || c->cmd_len == CTL_MAX_COMMAND) {
                break;
            }
        }
        ctl_client_reply(s, c);
    }
    while (c->reply_ofs < c->reply_len) {
        ssize_t n = send(c->fd, c->reply + c->reply_ofs,
                         c->reply_len - c->reply_ofs,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }
            break;
        }
        c->reply_ofs += n;
    }
    ctl_client_close(c);
}
