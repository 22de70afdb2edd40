/*
 * metrics_http.c — `ringhost run --metrics-listen [ADDR:]PORT
 * [--metrics-token-file FILE]`: a serving host answers `GET /metrics` over
 * HTTP with the text `ringhost stat --prom` prints (stat_prom.c
 * rh__cli_stat_prom), for a Prometheus server to scrape.
 *
 * Why not a library: Debian has libmicrohttpd (0.9.75), and it was
 * considered.  It would add a shared-library dependency to the host (and to
 * libringhost's users' installs) and its own thread model for one endpoint
 * that answers a scrape every few seconds.  What is needed is small enough
 * to read in one sitting and to keep bounded:
 *   - one thread polls the listener and every connection, each with its
 *     own buffers and deadline, so no client (silent, half-open, sending a
 *     byte a second, or not reading its answer) delays another's scrape;
 *   - a connection has IO_TIMEOUT_MS from its accept to send its whole
 *     request head (up to REQUEST_MAX bytes; a longer head is answered 431),
 *     and IO_TIMEOUT_MS again to take the answer, or it is closed;
 *   - past CONNS_MAX connections, or when the process is out of file
 *     descriptors, the one nearest its deadline is closed to make room for
 *     the new one: an attacker's idle connections are what goes, never a
 *     scrape that has just arrived;
 *   - HTTP/1.0 and 1.1; GET (and HEAD) of /metrics (a query string is
 *     ignored) is 200, another path 404, another method 405, a request line
 *     that does not parse 400; every answer has Content-Length and
 *     "Connection: close" (no keep-alive, no chunking, the body is never
 *     read: GET has none);
 *   - with a token (--metrics-token-file), every request without
 *     "Authorization: Bearer <token>" is answered 401 before anything else
 *     is looked at (Prometheus: authorization.credentials_file).
 * ADDR defaults to 127.0.0.1 (loopback): exposing the counters beyond the
 * machine is a choice made by writing 0.0.0.0 or an address.  IPv4 only.
 * Loopback still lets every local user read them: the token is how to
 * restrict that (docs/OPERATIONS.md).
 */
#define _GNU_SOURCE /* accept4, pipe2, strcasestr */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"

#define REQUEST_MAX 8192
#define IO_TIMEOUT_MS 2000
#define CONNS_MAX 1024
#define TOKEN_MAX 4096

typedef struct conn {
    int fd;
    uint64_t deadline_ns;  /* head read by then, or the answer taken by then */
    char *in;              /* NULL until bytes arrive; REQUEST_MAX + 1 */
    size_t in_len;
    char *out;             /* the answer while it is written; NULL while reading */
    size_t out_len, out_off;
} conn;

struct rh_metrics_http {
    int listen_fd;
    int wake[2]; /* written by rh__metrics_http_stop */
    pthread_t thread;
    char instance[64];
    char *token;           /* NULL: no Authorization asked */
    conn *conns;           /* CONNS_MAX */
    unsigned n;
    uint64_t served, refused, unauthorized, timed_out, evicted;
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

/* ------------------------------------------------------------- token ---- */

int rh__metrics_token_read(const char *path, char **token)
{
    *token = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        fprintf(stderr, "ringhost run: --metrics-token-file %s: %m\n", path);
        if (fd >= 0)
            close(fd);
        return RH_EXIT_BADINPUT;
    }
    const char *why = NULL;
    if (!S_ISREG(st.st_mode))
        why = "is not a regular file";
    else if (st.st_uid != geteuid() && st.st_uid != 0)
        why = "belongs to another user; expected a file of this user's or root's";
    else if (st.st_mode & 0027)
        why = "may be read or written by other users; expected no access for others and no "
              "group write (chmod 600 or 640)";
    char buf[TOKEN_MAX + 2];
    ssize_t n = why ? 0 : read(fd, buf, sizeof buf - 1);
    close(fd);
    if (!why && n < 0)
        why = "cannot be read";
    size_t len = n > 0 ? (size_t)n : 0;
    buf[len] = 0;
    /* the first line, without its end of line and trailing blanks */
    len = strcspn(buf, "\r\n");
    if (!why && len > TOKEN_MAX)
        why = "holds a line longer than 4096 bytes; expected one line holding the token";
    while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
        len--;
    buf[len] = 0;
    for (size_t i = 0; !why && i < len; i++)
        if (buf[i] < 0x21 || buf[i] > 0x7e)
            why = "holds a character that is not visible ASCII; expected one line of "
                  "letters, digits and -._~+/= (an RFC 6750 bearer token)";
    if (!why && len == 0)
        why = "is empty; expected one line holding the token";
    if (why) {
        if (S_ISREG(st.st_mode) && (st.st_mode & 0027))
            fprintf(stderr, "ringhost run: --metrics-token-file %s %s (mode %03o)\n", path, why,
                    (unsigned)(st.st_mode & 0777));
        else
            fprintf(stderr, "ringhost run: --metrics-token-file %s %s\n", path, why);
        return RH_EXIT_BADINPUT;
    }
    *token = strdup(buf);
    return *token ? 0 : RH_EXIT_FAIL;
}

/* The request head carries "Authorization: Bearer <token>"; the token is
 * compared in time that does not depend on where it differs. */
static int authorized(const struct rh_metrics_http *m, const char *head)
{
    if (!m->token)
        return 1;
    for (const char *line = strstr(head, "\n"); line; line = strstr(line, "\n")) {
        line++;
        if (strncasecmp(line, "Authorization:", 14) != 0)
            continue;
        const char *v = line + 14;
        v += strspn(v, " \t");
        if (strncasecmp(v, "Bearer", 6) != 0 || (v[6] != ' ' && v[6] != '\t'))
            return 0;
        v += 6;
        v += strspn(v, " \t");
        size_t given = strcspn(v, " \t\r\n"), want = strlen(m->token);
        unsigned diff = given != want;
        for (size_t i = 0; i < want; i++)
            diff |= (unsigned char)m->token[i] ^ (unsigned char)(i < given ? v[i] : 0);
        return diff == 0;
    }
    return 0;
}

/* ----------------------------------------------------------- answers ---- */

/* Make the answer c->out (head and, unless head_only, body). */
static void answer(conn *c, const char *status, const char *type, const char *extra,
                   const char *body, size_t body_len, int head_only)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
                     "Connection: close\r\n\r\n",
                     status, type, body_len, extra);
    size_t total = (size_t)n + (head_only ? 0 : body_len);
    c->out = malloc(total ? total : 1);
    if (!c->out)
        return; /* closed at once: out of memory */
    memcpy(c->out, head, (size_t)n);
    if (!head_only && body_len)
        memcpy(c->out + n, body, body_len);
    c->out_len = total;
    c->out_off = 0;
}

static void error_answer(struct rh_metrics_http *m, conn *c, const char *status,
                         const char *extra, const char *text)
{
    m->refused++;
    answer(c, status, "text/plain; charset=utf-8", extra, text, strlen(text), 0);
}

/* The whole head is in c->in (len >= 0), or it was too long (len < 0):
 * make its answer. */
static void respond(struct rh_metrics_http *m, conn *c, int len)
{
    if (len < 0) {
        error_answer(m, c, "431 Request Header Fields Too Large", "",
                     "request head over 8192 bytes\n");
        return;
    }
    const char *buf = c->in;
    if (!authorized(m, buf)) {
        m->unauthorized++;
        error_answer(m, c, "401 Unauthorized",
                     "WWW-Authenticate: Bearer realm=\"ringhost\"\r\n",
                     "this host's metrics need Authorization: Bearer <token> "
                     "(its --metrics-token-file)\n");
        return;
    }
    /* METHOD SP TARGET SP HTTP/1.x */
    char method[16], target[1024], version[16];
    if (sscanf(buf, "%15[A-Z] %1023[^ \r\n] %15[^ \r\n]", method, target, version) != 3 ||
        strncmp(version, "HTTP/1.", 7) != 0) {
        error_answer(m, c, "400 Bad Request", "", "expected GET /metrics HTTP/1.1\n");
        return;
    }
    int head_only = strcmp(method, "HEAD") == 0;
    if (strcmp(method, "GET") != 0 && !head_only) {
        error_answer(m, c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
                     "only GET /metrics\n");
        return;
    }
    char *q = strchr(target, '?');
    if (q)
        *q = 0;
    if (strcmp(target, "/metrics") != 0) {
        error_answer(m, c, "404 Not Found", "", "not found; the metrics are at /metrics\n");
        return;
    }
    char *body = NULL;
    size_t body_len = 0;
    FILE *out = open_memstream(&body, &body_len);
    if (!out) {
        error_answer(m, c, "500 Internal Server Error", "", "out of memory\n");
        return;
    }
    rh__cli_stat_prom(out, m->instance);
    fclose(out);
    m->served++;
    answer(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", "", body, body_len,
           head_only);
    free(body);
}

/* ------------------------------------------------------- connections ---- */

static void drop(struct rh_metrics_http *m, unsigned i)
{
    conn *c = &m->conns[i];
    if (c->out)
        shutdown(c->fd, SHUT_WR); /* no lingering half-read request */
    close(c->fd);
    free(c->in);
    free(c->out);
    *c = m->conns[--m->n];
}

/* The connection nearest its deadline: the one that has had the most of
 * its time. */
static unsigned nearest_deadline(const struct rh_metrics_http *m)
{
    unsigned o = 0;
    for (unsigned i = 1; i < m->n; i++)
        if (m->conns[i].deadline_ns < m->conns[o].deadline_ns)
            o = i;
    return o;
}

/* Write what c->out still holds without blocking: 1 when all is written
 * (close it), 0 to wait for room, -1 when the client is gone. */
static int write_some(conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c->out_off += (size_t)w;
    }
    return 1;
}

/* c is readable: take what it sent; once its head is whole, answer.  0 to
 * keep it, -1 to close it. */
static int read_some(struct rh_metrics_http *m, conn *c)
{
    if (!c->in && !(c->in = malloc(REQUEST_MAX + 1)))
        return -1;
    ssize_t got = recv(c->fd, c->in + c->in_len, REQUEST_MAX - c->in_len, MSG_DONTWAIT);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return 0;
    if (got <= 0)
        return -1;
    /* where the blank line can end: from 3 bytes before what is new */
    size_t from = c->in_len > 3 ? c->in_len - 3 : 0;
    c->in_len += (size_t)got;
    c->in[c->in_len] = 0;
    char *end = strstr(c->in + from, "\r\n\r\n"), *lf = strstr(c->in + from, "\n\n");
    if (!end || (lf && lf < end))
        end = lf;
    int whole = end != NULL;
    if (!whole && c->in_len < REQUEST_MAX)
        return 0;
    if (whole)
        end[1] = 0; /* the head only: nothing after its blank line is looked at */
    respond(m, c, whole ? (int)c->in_len : -1);
    free(c->in);
    c->in = NULL;
    if (!c->out)
        return -1;
    c->deadline_ns = rh_now_ns() + (uint64_t)IO_TIMEOUT_MS * RH_NS_PER_MS;
    return write_some(c) == 0 ? 0 : -1;
}

/* Accept what waits, a bounded number per round.  0, or -1 when the
 * process is out of descriptors with no connection to give one back. */
static int accept_some(struct rh_metrics_http *m)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if ((errno == EMFILE || errno == ENFILE) && m->n) {
                drop(m, nearest_deadline(m));
                m->evicted++;
                continue;
            }
            return errno == EMFILE || errno == ENFILE ? -1 : 0;
        }
        if (m->n == CONNS_MAX) {
            drop(m, nearest_deadline(m));
            m->evicted++;
        }
        m->conns[m->n++] =
            (conn){.fd = fd, .deadline_ns = rh_now_ns() + (uint64_t)IO_TIMEOUT_MS * RH_NS_PER_MS};
    }
    return 0;
}

static void *metrics_main(void *arg)
{
    struct rh_metrics_http *m = arg;
    struct pollfd *pf = calloc(2 + CONNS_MAX, sizeof *pf);
    if (!pf)
        return NULL;
    uint64_t listen_again = 0;
    for (;;) {
        uint64_t now = rh_now_ns(), wake_at = UINT64_MAX;
        for (unsigned i = 0; i < m->n; i++)
            if (m->conns[i].deadline_ns < wake_at)
                wake_at = m->conns[i].deadline_ns;
        int listening = now >= listen_again;
        if (!listening && listen_again < wake_at)
            wake_at = listen_again;
        pf[0] = (struct pollfd){.fd = m->wake[0], .events = POLLIN};
        pf[1] = (struct pollfd){.fd = listening ? m->listen_fd : -1, .events = POLLIN};
        for (unsigned i = 0; i < m->n; i++)
            pf[2 + i] = (struct pollfd){.fd = m->conns[i].fd,
                                        .events = m->conns[i].out ? POLLOUT : POLLIN};
        unsigned polled = m->n;
        int wait_ms = wake_at == UINT64_MAX ? -1
                      : wake_at > now      ? (int)((wake_at - now) / RH_NS_PER_MS) + 1
                                           : 0;
        if (poll(pf, 2 + polled, wait_ms) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[0].revents)
            break;
        /* Connections first (a dropped one's slot takes the last one's).
         * Each is read or written before its deadline is looked at: a head
         * that arrived while a scrape was being made is answered. */
        for (unsigned i = polled; i-- > 0;) {
            conn *c = &m->conns[i];
            int rc = 0;
            if (pf[2 + i].revents)
                rc = c->out ? (write_some(c) == 0 ? 0 : -1) : read_some(m, c);
            if (rc != 0) {
                drop(m, i);
            } else if (c->deadline_ns <= rh_now_ns()) {
                drop(m, i);
                m->timed_out++;
            }
        }
        if ((pf[1].revents & POLLIN) && accept_some(m) != 0)
            listen_again = rh_now_ns() + 100 * RH_NS_PER_MS;
    }
    while (m->n)
        drop(m, 0);
    free(pf);
    return NULL;
}

int rh__metrics_http_start(const struct sockaddr_in *sa, const char *instance, char *token,
                           struct rh_metrics_http **out)
{
    *out = NULL;
    struct rh_metrics_http *m = calloc(1, sizeof *m);
    if (!m || !(m->conns = calloc(CONNS_MAX, sizeof *m->conns))) {
        free(m);
        free(token);
        fprintf(stderr, "ringhost: --metrics-listen: out of memory\n");
        return -1;
    }
    m->token = token;
    snprintf(m->instance, sizeof m->instance, "%s", instance);
    m->wake[0] = m->wake[1] = -1;
    char where[64];
    inet_ntop(AF_INET, &sa->sin_addr, where, sizeof where);
    m->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (m->listen_fd < 0 ||
        setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(m->listen_fd, (const struct sockaddr *)sa, sizeof *sa) != 0 ||
        listen(m->listen_fd, SOMAXCONN) != 0 || pipe2(m->wake, O_CLOEXEC) != 0) {
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
    fprintf(stderr, "ringhost: metrics at http://%s:%u/metrics%s\n", where,
            ntohs(bound.sin_port), m->token ? " (Authorization: Bearer, --metrics-token-file)" : "");
    *out = m;
    return 0;
fail:
    if (m->listen_fd >= 0)
        close(m->listen_fd);
    if (m->wake[0] >= 0) {
        close(m->wake[0]);
        close(m->wake[1]);
    }
    free(m->token);
    free(m->conns);
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
    free(m->token);
    free(m->conns);
    free(m);
}
