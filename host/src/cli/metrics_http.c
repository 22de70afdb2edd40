/*
 * metrics_http.c — `ringhost run --metrics-listen [ADDR:]PORT`: a serving
 * host answers `GET /metrics` over HTTP with the text `ringhost stat --prom`
 * prints (stat_prom.c rh__cli_stat_prom), for a Prometheus server to scrape
 * (issue 13, item 11).
 *
 * Why not a library: Debian has libmicrohttpd (0.9.75), and it was
 * considered.  It would add a shared-library dependency to the host (and to
 * libringhost's users' installs) and its own thread model for one endpoint
 * that answers a scrape every few seconds.  What is needed is small enough
 * to read in one sitting and to keep bounded:
 *   - one thread, one connection at a time (a scrape is rare and short; a
 *     second scraper waits in the listen backlog);
 *   - the request head (request line and headers) is read up to
 *     REQUEST_MAX bytes within IO_TIMEOUT_MS in all; a longer head is
 *     answered 431, a slow or silent client is dropped at the deadline, so
 *     no client holds the listener longer than that;
 *   - HTTP/1.0 and 1.1; GET (and HEAD) of /metrics (a query string is
 *     ignored) is 200, another path 404, another method 405, a request line
 *     that does not parse 400; every answer has Content-Length and
 *     "Connection: close" (no keep-alive, no chunking, the body is never
 *     read: GET has none);
 *   - the answer is written within IO_TIMEOUT_MS (SO_SNDTIMEO), MSG_NOSIGNAL.
 * ADDR defaults to 127.0.0.1 (loopback): exposing the counters beyond the
 * machine is a choice made by writing 0.0.0.0 or an address.  IPv4 only.
 */
#define _GNU_SOURCE /* accept4, pipe2 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"

#define REQUEST_MAX 8192
#define IO_TIMEOUT_MS 2000

struct rh_metrics_http {
    int listen_fd;
    int wake[2]; /* written by rh__metrics_http_stop */
    pthread_t thread;
    char instance[64];
    uint64_t served, refused;
};

int rh__metrics_http_parse(const char *spec, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    const char *colon = strrchr(spec, ':');
    const char *port_text = colon ? colon + 1 : spec;
    char addr[64] = "127.0.0.1";
    if (colon) {
        size_t n = (size_t)(colon - spec);
        if (n == 0 || n >= sizeof addr)
            goto bad;
        memcpy(addr, spec, n);
        addr[n] = 0;
    }
    if (inet_pton(AF_INET, addr, &sa->sin_addr) != 1)
        goto bad;
    /* the port through the one number parser (args.c): "80x", "-1", "99999" refused */
    long port;
    if (rh__cli_long("run", "--metrics-listen", port_text, 0, 65535, &port))
        goto bad;
    sa->sin_port = htons((uint16_t)port);
    return 0;
bad:
    fprintf(stderr, "ringhost run: --metrics-listen: expected [ADDR:]PORT (an IPv4 address, "
                    "default 127.0.0.1, and a port 0-65535; 0 picks a free one), got \"%s\"\n",
            spec);
    return RH_EXIT_BADINPUT;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return; /* the client went, or SO_SNDTIMEO passed: drop it */
        p += w;
        n -= (size_t)w;
    }
}

static void answer(int fd, const char *status, const char *type, const char *extra,
                   const char *body, size_t body_len, int head_only)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     status, type, body_len, extra);
    send_all(fd, head, (size_t)n);
    if (!head_only)
        send_all(fd, body, body_len);
}

static void error_answer(struct rh_metrics_http *m, int fd, const char *status,
                         const char *extra, const char *text)
{
    m->refused++;
    answer(fd, status, "text/plain; charset=utf-8", extra, text, strlen(text), 0);
}

/* Read the request head (up to the blank line) within the deadline: its
 * length, 0 when the client closed or was too slow, -1 when longer than
 * REQUEST_MAX. */
static int read_head(int fd, char *buf)
{
    size_t len = 0;
    uint64_t deadline = rh_now_ns() + (uint64_t)IO_TIMEOUT_MS * RH_NS_PER_MS;
    for (;;) {
        uint64_t now = rh_now_ns();
        if (now >= deadline)
            return 0;
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int r = poll(&p, 1, (int)((deadline - now) / RH_NS_PER_MS) + 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return 0;
        ssize_t got = recv(fd, buf + len, REQUEST_MAX - len, 0);
        if (got <= 0)
            return 0;
        len += (size_t)got;
        buf[len] = 0;
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            return (int)len;
        if (len == REQUEST_MAX)
            return -1;
    }
}

static void serve_one(struct rh_metrics_http *m, int fd)
{
    struct timeval tv = {IO_TIMEOUT_MS / 1000, (IO_TIMEOUT_MS % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static char buf[REQUEST_MAX + 1];
    int len = read_head(fd, buf);
    if (len == 0)
        return;
    if (len < 0) {
        error_answer(m, fd, "431 Request Header Fields Too Large", "",
                     "request head over 8192 bytes\n");
        return;
    }
    /* METHOD SP TARGET SP HTTP/1.x */
    char method[16], target[1024], version[16];
    if (sscanf(buf, "%15[A-Z] %1023[^ \r\n] %15[^ \r\n]", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        error_answer(m, fd, "400 Bad Request", "", "expected GET /metrics HTTP/1.1\n");
        return;
    }
    int head_only = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "GET") != 0 && !head_only) {
        error_answer(m, fd, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
                     "only GET /metrics\n");
        return;
    }
    char *q = strchr(target, '?');
    if (q)
        *q = 0;
    if (strcmp(target, "/metrics") != 0) {
        error_answer(m, fd, "404 Not Found", "", "not found; the metrics are at /metrics\n");
        return;
    }
    char *body = NULL;
    size_t body_len = 0;
    FILE *out = open_memstream(&body, &body_len);
    if (!out) {
        error_answer(m, fd, "500 Internal Server Error", "", "out of memory\n");
        return;
    }
    rh__cli_stat_prom(out, m->instance);
    fclose(out);
    m->served++;
    answer(fd, "200 OK", "text/plain; version=0.0.4; charset=utf-8", "", body, body_len,
           head_only);
    free(body);
}

static void *metrics_main(void *arg)
{
    struct rh_metrics_http *m = arg;
    for (;;) {
        struct pollfd p[2] = {{.fd = m->listen_fd, .events = POLLIN},
                              {.fd = m->wake[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        if (!(p[0].revents & POLLIN))
            continue;
        int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve_one(m, fd);
        /* No lingering half-read request: shut down, then close. */
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

int rh__metrics_http_start(const struct sockaddr_in *sa, const char *instance,
                           struct rh_metrics_http **out)
{
    *out = NULL;
    struct rh_metrics_http *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    snprintf(m->instance, sizeof m->instance, "%s", instance);
    m->wake[0] = m->wake[1] = -1;
    char where[64];
    inet_ntop(AF_INET, &sa->sin_addr, where, sizeof where);
    m->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (m->listen_fd < 0 ||
        setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(m->listen_fd, (const struct sockaddr *)sa, sizeof *sa) != 0 ||
        listen(m->listen_fd, 16) != 0 || pipe2(m->wake, O_CLOEXEC) != 0) {
        fprintf(stderr, "ringhost: --metrics-listen %s:%u: cannot listen: %m; choose another "
                        "port (0 picks a free one)\n", where, ntohs(sa->sin_port));
        goto fail;
    }
    struct sockaddr_in bound;
    socklen_t blen = sizeof bound;
    getsockname(m->listen_fd, (struct sockaddr *)&bound, &blen);
    if (pthread_create(&m->thread, NULL, metrics_main, m) != 0) {
        fprintf(stderr, "ringhost: --metrics-listen: cannot start its thread\n");
        goto fail;
    }
    fprintf(stderr, "ringhost: metrics at http://%s:%u/metrics\n", where, ntohs(bound.sin_port));
    *out = m;
    return 0;
fail:
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    if (m->wake[0] >= 0) {
        close(m->wake[0]);
        close(m->wake[1]);
    }
    free(m);
    return -1;
}

void rh__metrics_http_stop(struct rh_metrics_http *m)
{
    if (!m)
        return;
    if (write(m->wake[1], "x", 1) != 1)
        pthread_cancel(m->thread);
    pthread_join(m->thread, NULL);
    close(m->listen_fd);
    close(m->wake[0]);
    close(m->wake[1]);
    free(m);
}
