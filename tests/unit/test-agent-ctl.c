/*
 * test-agent-ctl.c -- the agent's control socket server.
 *
 * Drives ctl_run()/ctl_wait()/poll_block() the way the agent does, with
 * clients in the same thread on non-blocking sockets, in a private
 * directory under /tmp.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/ctl.h"
#include "lib/poll-loop.h"
#include "lib/util.h"
#include "tests/lib/unit.h"

static int n_calls;
static char last_command[CTL_MAX_COMMAND + 1];

static char *
echo_handler(void *aux, const char *command)
{
    n_calls++;
    str_copy(last_command, command, sizeof last_command);
    if (!strcmp(command, "big")) {
        /* Larger than a socket buffer: needs several writes. */
        size_t n = 4 * 1024 * 1024;
        char *s = xmalloc(n + 1);
        memset(s, 'x', n);
        s[n] = '\0';
        return s;
    }
    return xasprintf("{\"cmd\": \"%s\", \"aux\": \"%s\"}\n", command,
                     (const char *) aux);
}

static int
client_connect(const char *path)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    memset(&sun, 0, sizeof sun);
    sun.sun_family = AF_UNIX;
    str_copy(sun.sun_path, path, sizeof sun.sun_path);
    if (connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, O_NONBLOCK);
    return fd;
}

/* Sends 'cmd' on a new connection and serves it until EOF.  Returns the
 * reply (malloc'd) or NULL. */
static char *
roundtrip(struct ctl_server *s, const char *path, const char *cmd,
          size_t *lenp)
{
    char *reply = NULL;
    size_t len = 0;
    int fd = client_connect(path);

    if (fd < 0 || write(fd, cmd, strlen(cmd)) != (ssize_t) strlen(cmd)) {
        return NULL;
    }
    for (int i = 0; i < 100000; i++) {
        char buf[65536];
        ssize_t n;

        ctl_run(s);
        n = read(fd, buf, sizeof buf);
        if (n == 0) {
            close(fd);
            reply = xrealloc(reply, len + 1);
            reply[len] = '\0';
            if (lenp) {
                *lenp = len;
            }
            return reply;
        } else if (n > 0) {
            reply = xrealloc(reply, len + n + 1);
            memcpy(reply + len, buf, n);
            len += n;
            continue;
        }
        ctl_wait(s);
        poll_fd_wait(fd, POLLIN);
        poll_timer_wait(1000);
        poll_block();
    }
    close(fd);
    free(reply);
    return NULL;
}

static void
test_commands(void)
{
    char dir[] = "/tmp/wG-ctl-XXXXXX";
    struct ctl_server *s;
    struct stat st;
    char *path, *reply;
    size_t len = 0;
    int error;

    CHECK(mkdtemp(dir) != NULL);
    path = xasprintf("%s/sub/dir/agent.ctl", dir);   /* Dirs created. */
    s = ctl_create(path, echo_handler, "A", &error);
    CHECK(s != NULL);
    CHECK_EQ(error, 0);
    if (!s) {
        free(path);
        return;
    }
    CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode)
          && (st.st_mode & 0777) == 0600);

    reply = roundtrip(s, path, "status\n", NULL);
    CHECK(reply && !strcmp(reply, "{\"cmd\": \"status\", \"aux\": \"A\"}\n"));
    free(reply);

    /* Line ending variants, surrounding blanks, EOF without newline. */
    reply = roundtrip(s, path, "  flows \r\nignored", NULL);
    CHECK_STREQ(last_command, "flows");
    free(reply);
    {
        int fd = client_connect(path);
        CHECK(write(fd, "counters", 8) == 8);
        shutdown(fd, SHUT_WR);
        for (int i = 0; i < 100 && strcmp(last_command, "counters"); i++) {
            ctl_run(s);
            ctl_wait(s);
            poll_timer_wait(10);
            poll_block();
        }
        CHECK_STREQ(last_command, "counters");
        close(fd);
    }

    /* A long reply arrives complete. */
    reply = roundtrip(s, path, "big\n", &len);
    CHECK_EQ(len, 4 * 1024 * 1024);
    free(reply);

    /* A client that connects and says nothing does not block others. */
    {
        int idle = client_connect(path);
        int calls = n_calls;

        reply = roundtrip(s, path, "status\n", NULL);
        CHECK(reply != NULL);
        CHECK_EQ(n_calls, calls + 1);
        free(reply);
        close(idle);
    }

    /* A second server on a live socket is refused; a stale file is
     * replaced. */
    CHECK(ctl_create(path, echo_handler, "B", &error) == NULL);
    CHECK_EQ(error, EADDRINUSE);
    ctl_destroy(s);
    CHECK(access(path, F_OK) != 0);     /* Removed on destroy. */

    {
        struct sockaddr_un sun;
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        str_copy(sun.sun_path, path, sizeof sun.sun_path);
        CHECK(bind(fd, (struct sockaddr *) &sun, sizeof sun) == 0);
        close(fd);                      /* Leaves a stale file. */
    }
    s = ctl_create(path, echo_handler, "C", &error);
    CHECK(s != NULL);
    reply = roundtrip(s, path, "x\n", NULL);
    CHECK(reply && strstr(reply, "\"C\""));
    free(reply);
    ctl_destroy(s);
    ctl_destroy(NULL);

    {
        char *d1 = xasprintf("%s/sub/dir", dir);
        char *d2 = xasprintf("%s/sub", dir);
        rmdir(d1);
        rmdir(d2);
        rmdir(dir);
        free(d1);
        free(d2);
    }
    free(path);
}

int
main(void)
{
    RUN(test_commands);
    return unit_finish();
}
