/* connrate -- new TCP connections per second, for the netns benchmarks.
 *
 *   connrate server PORT SECONDS     accept and close for at most SECONDS
 *   connrate client IP PORT SECONDS  connect, wait for the server's close,
 *                                    close; repeat sequentially for SECONDS
 *
 * The client prints one line: "connections N seconds S cps R errors E".
 * Every connection is a new 4-tuple (a new source port), so on an overlay
 * each one is a new flow: this measures the cost of flow setup, not of
 * established traffic.  The server closes first, so TIME_WAIT sockets
 * accumulate on the server side and do not exhaust the client's ephemeral
 * ports.  Every wait is bounded (poll timeouts, a global deadline). */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double
now_sec(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
run_server(int port, double seconds)
{
    struct sockaddr_in sin;
    double deadline = now_sec() + seconds;
    long accepted = 0;
    int one = 1;
    int fd;

    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        perror("socket");
        return 1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, (struct sockaddr *) &sin, sizeof sin) < 0
        || listen(fd, 1024) < 0) {
        perror("bind/listen");
        close(fd);
        return 1;
    }
    while (now_sec() < deadline) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int c;

        if (poll(&pfd, 1, 200) <= 0) {
            continue;
        }
        c = accept(fd, NULL, NULL);
        if (c >= 0) {
            close(c);
            accepted++;
        }
    }
    close(fd);
    printf("accepted %ld\n", accepted);
    return 0;
}

/* One connection: connect (bounded by 1 s), wait for EOF (bounded by 1 s),
 * close.  Returns 0 on success. */
static int
one_conn(const struct sockaddr_in *sin)
{
    struct pollfd pfd;
    char buf[64];
    int fd, err = 0;
    socklen_t len = sizeof err;

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, (const struct sockaddr *) sin, sizeof *sin) < 0
        && errno != EINPROGRESS) {
        goto error;
    }
    pfd.fd = fd;
    pfd.events = POLLOUT;
    if (poll(&pfd, 1, 1000) <= 0
        || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
        goto error;
    }
    pfd.events = POLLIN;
    if (poll(&pfd, 1, 1000) <= 0 || read(fd, buf, sizeof buf) < 0) {
        goto error;
    }
    close(fd);
    return 0;

error:
    close(fd);
    return -1;
}

static int
run_client(const char *ip, int port, double seconds)
{
    struct sockaddr_in sin;
    double start, end;
    long ok = 0, errors = 0;

    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1) {
        fprintf(stderr, "bad address %s\n", ip);
        return 1;
    }
    start = now_sec();
    end = start + seconds;
    while (now_sec() < end) {
        if (one_conn(&sin) == 0) {
            ok++;
        } else if (++errors > 1000) {
            break;
        }
    }
    end = now_sec();
    printf("connections %ld seconds %.3f cps %.0f errors %ld\n",
           ok, end - start, ok / (end - start), errors);
    return ok > 0 ? 0 : 1;
}

int
main(int argc, char *argv[])
{
    if (argc == 4 && !strcmp(argv[1], "server")) {
        return run_server(atoi(argv[2]), atof(argv[3]));
    } else if (argc == 5 && !strcmp(argv[1], "client")) {
        return run_client(argv[2], atoi(argv[3]), atof(argv[4]));
    }
    fprintf(stderr, "usage: connrate server PORT SECONDS\n"
                    "       connrate client IP PORT SECONDS\n");
    return 2;
}
