/*
 * test_cli_metrics.c — a serving host exposes /metrics over HTTP
 * (`ringhost run --metrics-listen [ADDR:]PORT`).
 *
 * The answer is what `ringhost stat --prom` prints, `promtool check metrics`
 * accepts it, a real `prometheus` server (the Debian package, installed by
 * .ci/deps.sh) scrapes it and gives a series back through /api/v1/query;
 * other paths are 404, other methods 405, an oversized request 431, a
 * silent client is dropped so the next scrape is answered, the listener
 * binds loopback unless told otherwise, and a bad ADDR:PORT is a usage
 * error.  With --metrics-token-file (a second host, H2), a request without
 * "Authorization: Bearer <token>" is answered 401 and one with it 200, a
 * token file others may read is refused, and prometheus scrapes it with
 * authorization.credentials_file.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"

static const char *echo_manifest_text =
    "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
    " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
    "            \"e.out\": {\"type\": \"echo.message\"}},\n"
    " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},\n"
    "               \"outputs\": {\"out\": \"e.out\"}}]}\n";

#define WITHIN_S 30.0

typedef struct host {
    proc host;
    const char *instance;
    int port;
} host;
static host H, H2; /* H2: with a token */

#define TOKEN "s3cr3t-t0ken_for.ringhost~tests+/="
static const char *token_file;

/* The port of "ringhost: metrics at http://127.0.0.1:PORT/metrics" in the
 * host's stderr, 0 until it is there. */
static int logged_port_of(proc *host, const char *addr)
{
    FILE *f = fopen(host->err_path, "r");
    if (!f)
        return 0;
    char line[512], want[96];
    snprintf(want, sizeof want, "ringhost: metrics at http://%s:", addr);
    int port = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, want, strlen(want)) == 0)
            port = atoi(line + strlen(want));
    fclose(f);
    return port;
}

static int start_host(const char *tag, const char *token, host *h)
{
    h->instance = cli_instance(tag);
    const char *m = cli_manifest(tag, echo_manifest_text);
    char *argv[] = {RH_TEST_BINARY, "run", (char *)m, "--metrics-listen", "0",
                    token ? "--metrics-token-file" : NULL, (char *)token, NULL};
    if (proc_start(&h->host, argv) != 0)
        return -1;
    if (cli_host_logged_within(&h->host, CLI_SERVING, 1, WITHIN_S) != 0)
        return -1;
    h->port = logged_port_of(&h->host, "127.0.0.1"); /* default: loopback */
    if (!h->port) {
        print_error("expected the host to say \"metrics at http://127.0.0.1:PORT/metrics\"\n");
        return -1;
    }
    return 0;
}

static int setup(void **state)
{
    (void)state;
    token_file = cli_write("metrics.token", TOKEN "\n");
    chmod(token_file, 0600);
    return start_host("metrics", NULL, &H) || start_host("metricstok", token_file, &H2) ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    host *hosts[] = {&H, &H2};
    for (int i = 0; i < 2; i++)
        if (hosts[i]->host.pid) {
            proc_signal(&hosts[i]->host, SIGTERM);
            proc_result r;
            proc_wait(&hosts[i]->host, 20, &r);
            proc_result_free(&r);
        }
    return cli_group_teardown(state);
}

/* Send request to 127.0.0.1:port and read the whole answer (until the
 * server closes) within WITHIN_S.  Malloc'ed, "" when it could not connect. */
static char *http(int port, const char *request, size_t request_len)
{
    cli_str b = {0};
    cli_str_addf(&b, "%s", "");
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return b.s;
    }
    size_t off = 0;
    while (off < request_len) {
        ssize_t w = send(fd, request + off, request_len - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    double until = proc_now() + WITHIN_S;
    char buf[4096];
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int left = (int)((until - proc_now()) * 1000);
        if (left <= 0 || poll(&p, 1, left) <= 0)
            break;
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0)
            break;
        buf[n] = 0;
        cli_str_addf(&b, "%s", buf);
    }
    close(fd);
    return b.s;
}

static char *get(int port, const char *path)
{
    char req[512];
    /* Connection: close: prometheus keeps a 1.1 connection open otherwise */
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    return http(port, req, (size_t)n);
}

/* The body after the blank line. */
static const char *body_of(const char *answer)
{
    const char *b = strstr(answer, "\r\n\r\n");
    return b ? b + 4 : "";
}

/* text without the series that move while the host is idle: a reactor
 * thread counts its idle polls as it spins before it parks
 * (ringhost_thread_polls_total), so two reads a moment apart differ there
 * and only there.  A copy; free it. */
static char *without_moving_series(const char *text)
{
    char *out = malloc(strlen(text) + 1), *w = out;
    for (const char *l = text; *l;) {
        const char *e = strchr(l, '\n');
        size_t n = e ? (size_t)(e - l) + 1 : strlen(l);
        if (strncmp(l, "ringhost_thread_polls_total{", 28) != 0) {
            memcpy(w, l, n);
            w += n;
        }
        l += n;
    }
    *w = '\0';
    return out;
}

static void test_get_metrics_is_what_stat_prom_prints(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", H.instance, "e.in", "{\"seq\": 1, \"text\": \"m\"}",
             NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    /* until the echo is in e.out, then both views are still */
    EXPECT_WITHIN(WITHIN_S, cli_queue_counter(H.instance, "e.out", "enqueued") == 1,
                  "expected the echo in e.out");
    char *a = get(H.port, "/metrics");
    EXPECT(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0, "expected 200, got:\n%s", a);
    EXPECT(strstr(a, "Content-Type: text/plain; version=0.0.4"), "expected the text format:\n%s",
           a);
    char want[256];
    snprintf(want, sizeof want, "ringhost_queue_enqueued_total{instance=\"%s\",queue=\"e.in\"} 1\n",
             H.instance);
    EXPECT(strstr(a, want), "expected %s in:\n%s", want, a);
    char clen[64];
    snprintf(clen, sizeof clen, "Content-Length: %zu\r\n", strlen(body_of(a)));
    EXPECT(strstr(a, clen), "expected %s for the body of:\n%s", clen, a);
    cli_exec(&o, NULL, "stat", "--instance", H.instance, "--prom", NULL);
    cli_expect_exit(&o, 0);
    char *x = without_moving_series(o.r.out), *y = without_moving_series(body_of(a));
    CLI_CHECK(&o, strcmp(x, y) == 0,
              "expected /metrics to be what stat --prom prints (but the idle polls); /metrics "
              "gave:\n%s", body_of(a));
    free(x);
    free(y);
    cli_free(&o);
    free(a);
}

/* The build that answers, as `ringhost --version` says it. */
static void test_metrics_carry_the_build_info_of_ringhost_version(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "--version", NULL);
    cli_expect_exit(&o, 0);
    char version[64] = "";
    CLI_CHECK(&o, sscanf(o.r.out, "ringhost %63s", version) == 1,
              "expected --version to print \"ringhost VERSION\"");
    cli_free(&o);
    char want[256];
    snprintf(want, sizeof want, "\nringhost_build_info{instance=\"%s\",version=\"%s\"} 1\n",
             H.instance, version);
    char *a = get(H.port, "/metrics");
    EXPECT(strstr(a, want), "expected %s in:\n%s", want + 1, a);
    EXPECT(strstr(a, "# TYPE ringhost_build_info gauge\n"), "expected its TYPE line in:\n%s", a);
    free(a);
}

/* path of prog on $PATH, or NULL */
static const char *on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char dir[1024];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s/%s", (int)n, p, prog);
        if (access(dir, X_OK) == 0)
            return cli_keep("%s", dir);
        p += n + (p[n] == ':');
    }
    return NULL;
}

static void test_promtool_accepts_the_metrics(void **state)
{
    (void)state;
    const char *promtool = on_path("promtool");
    EXPECT(promtool, "expected promtool on PATH: install the Debian package prometheus "
                     "(.ci/deps.sh does)");
    char *a = get(H.port, "/metrics");
    char *argv[] = {(char *)promtool, "check", "metrics", NULL};
    proc_result r;
    assert_int_equal(proc_run(argv, body_of(a), WITHIN_S, &r), 0);
    EXPECT(r.exit_code == 0, "promtool check metrics exited %d:\n%s%s", r.exit_code, r.out, r.err);
    proc_result_free(&r);
    free(a);
}

static void test_other_paths_methods_and_malformed_requests_are_refused(void **state)
{
    (void)state;
    char *a = get(H.port, "/");
    EXPECT(strncmp(a, "HTTP/1.1 404 Not Found\r\n", 24) == 0, "expected 404 for /:\n%s", a);
    free(a);
    a = get(H.port, "/metrics?x=1"); /* a query string is ignored */
    EXPECT(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0, "expected 200 for /metrics?x=1:\n%s", a);
    free(a);
    static const char post[] = "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n";
    a = http(H.port, post, sizeof post - 1);
    EXPECT(strncmp(a, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0 && strstr(a, "Allow: GET"),
           "expected 405 for POST:\n%s", a);
    free(a);
    static const char junk[] = "hello there\r\n\r\n";
    a = http(H.port, junk, sizeof junk - 1);
    EXPECT(strncmp(a, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "expected 400:\n%s", a);
    free(a);
    size_t big = 20000;
    char *huge = malloc(big);
    memcpy(huge, "GET /metrics HTTP/1.1\r\nX: ", 26);
    memset(huge + 26, 'a', big - 26);
    a = http(H.port, huge, big);
    EXPECT(strncmp(a, "HTTP/1.1 431 ", 13) == 0, "expected 431 for a 20 kB head:\n%.200s", a);
    free(a);
    free(huge);
}

static void test_a_silent_client_does_not_hold_the_listener(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)H.port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    /* says nothing; the next scrape is still answered (the listener
     * serves its connections side by side; the silent one is dropped at
     * its 2 s) */
    double t0 = proc_now();
    char *a = get(H.port, "/metrics");
    EXPECT(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0, "expected 200 behind a silent client:\n%s",
           a);
    EXPECT(proc_now() - t0 < 10, "expected the silent client dropped within its 2 s");
    free(a);
    close(fd);
}

static void test_bad_listen_address_is_a_usage_error(void **state)
{
    (void)state;
    const char *m = cli_manifest("metricsbad", echo_manifest_text);
    static const char *bad[] = {"localhost:x", "1.2.3:80", "99999", ":80", ""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cli_out o;
        cli_exec(&o, NULL, "run", m, "--metrics-listen", bad[i], NULL);
        cli_expect_exit(&o, 2);
        CLI_CHECK(&o, strstr(o.r.err, "--metrics-listen: expected [ADDR:]PORT"),
                  "expected the usage error for \"%s\"", bad[i]);
        cli_free(&o);
    }
}

/* GET /metrics from H2 with `auth` as its Authorization header (NULL: none). */
static char *get_with(const char *auth)
{
    char req[512];
    int n = snprintf(req, sizeof req, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n%s%s%s"
                     "Connection: close\r\n\r\n", auth ? "Authorization: " : "",
                     auth ? auth : "", auth ? "\r\n" : "");
    return http(H2.port, req, (size_t)n);
}

static void test_with_a_token_only_a_request_that_carries_it_is_served(void **state)
{
    (void)state;
    static const char *refused[] = {NULL, "Bearer wrong", "Bearer " TOKEN "x",
                                    "Bearer s3cr3t", "Basic " TOKEN, TOKEN};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char *a = get_with(refused[i]);
        EXPECT(strncmp(a, "HTTP/1.1 401 Unauthorized\r\n", 27) == 0 &&
                   strstr(a, "WWW-Authenticate: Bearer") && !strstr(a, "ringhost_queue"),
               "expected 401 with Authorization %s, got:\n%.300s",
               refused[i] ? refused[i] : "(none)", a);
        free(a);
    }
    static const char *served[] = {"Bearer " TOKEN, "bearer   " TOKEN};
    char want[160];
    snprintf(want, sizeof want, "ringhost_queue_capacity{instance=\"%s\",queue=\"e.in\"}",
             H2.instance);
    for (size_t i = 0; i < sizeof served / sizeof *served; i++) {
        char *a = get_with(served[i]);
        EXPECT(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0 && strstr(a, want),
               "expected 200 and %s with Authorization %s, got:\n%.300s", want, served[i], a);
        free(a);
    }
    /* the host without a token asks for none */
    char *a = get(H.port, "/metrics");
    EXPECT(strncmp(a, "HTTP/1.1 200 OK\r\n", 17) == 0, "expected 200 from H:\n%.200s", a);
    free(a);
}

static void test_a_token_file_others_may_read_or_without_a_token_is_refused(void **state)
{
    (void)state;
    const char *m = cli_manifest("metricstokbad", echo_manifest_text);
    const char *open_to_all = cli_write("open.token", TOKEN "\n");
    chmod(open_to_all, 0644);
    const char *empty = cli_write("empty.token", "\n");
    chmod(empty, 0600);
    const char *spaced = cli_write("spaced.token", "two words\n");
    chmod(spaced, 0600);
    const char *missing = cli_keep("%s/no.token", cli_tmpdir());
    struct {
        const char *file, *says;
    } bad[] = {{open_to_all, "may be read or written by other users"},
               {empty, "is empty"},
               {spaced, "not visible ASCII"},
               {missing, "No such file"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cli_out o;
        cli_exec(&o, NULL, "run", m, "--metrics-listen", "0", "--metrics-token-file",
                 bad[i].file, NULL);
        cli_expect_exit(&o, 2);
        CLI_CHECK(&o, strstr(o.r.err, bad[i].file) && strstr(o.r.err, bad[i].says),
                  "expected the refusal to name %s and say \"%s\"", bad[i].file, bad[i].says);
        cli_free(&o);
    }
    cli_out o;
    cli_exec(&o, NULL, "run", m, "--metrics-token-file", token_file, NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "--metrics-listen"),
              "expected a token without --metrics-listen to be a usage error");
    cli_free(&o);
}

/* A free TCP port on loopback (bound, read, closed: another process could
 * take it before prometheus does; unlikely, and then the test says so). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static void test_a_real_prometheus_scrapes_a_series(void **state)
{
    (void)state;
    const char *prometheus = on_path("prometheus");
    EXPECT(prometheus, "expected prometheus on PATH: install the Debian package prometheus "
                       "(.ci/deps.sh does)");
    int port = free_port();
    const char *cfg = cli_write("prometheus.yml",
                                cli_keep("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                                         "scrape_configs:\n  - job_name: ringhost\n"
                                         "    static_configs:\n"
                                         "      - targets: ['127.0.0.1:%d']\n"
                                         "  - job_name: ringhost-token\n"
                                         "    authorization:\n"
                                         "      credentials_file: %s\n"
                                         "    static_configs:\n"
                                         "      - targets: ['127.0.0.1:%d']\n",
                                         H.port, token_file, H2.port));
    char *argv[] = {(char *)prometheus,
                    (char *)cli_keep("--config.file=%s", cfg),
                    (char *)cli_keep("--storage.tsdb.path=%s/prom-data", cli_tmpdir()),
                    (char *)cli_keep("--web.listen-address=127.0.0.1:%d", port),
                    NULL};
    proc prom;
    assert_int_equal(proc_start(&prom, argv), 0);
    char path[512];
    snprintf(path, sizeof path,
             "/api/v1/query?query=ringhost_queue_enqueued_total%%7Bqueue%%3D%%22e.in%%22%%7D");
    char *a = NULL;
    char want[128], want2[128];
    /* Prometheus keeps its own "instance" (the target) and renames ours
     * (docs/OPERATIONS.md says so; honor_labels: true keeps ours) */
    snprintf(want, sizeof want, "\"exported_instance\":\"%s\"", H.instance);
    snprintf(want2, sizeof want2, "\"exported_instance\":\"%s\"", H2.instance);
    /* the series comes back once prometheus started, scraped and stored;
     * H2's only with the token (its job's authorization) */
    int got = WAIT_UNTIL_EVERY(60.0, 200, (free(a), a = get(port, path),
                                           strstr(a, "\"status\":\"success\"") &&
                                               strstr(a, "\"queue\":\"e.in\"") && strstr(a, want) &&
                                               strstr(a, "\"1\"]") && strstr(a, want2)) ||
                                              !proc_running(&prom));
    int running = proc_running(&prom);
    proc_signal(&prom, SIGTERM);
    proc_result r;
    proc_wait(&prom, 30, &r);
    if (!got || !running)
        fail_msg("expected prometheus to give back ringhost_queue_enqueued_total{queue=\"e.in\"} 1 "
                 "of %s, and the series of %s (scraped with its token), within 60 s; last "
                 "answer:\n%s\nprometheus %s; its stderr:\n%s", H.instance, H2.instance, a ? a : "",
                 running ? "running" : "exited", r.err);
    proc_result_free(&r);
    free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_metrics_is_what_stat_prom_prints),
        cmocka_unit_test(test_metrics_carry_the_build_info_of_ringhost_version),
        cmocka_unit_test(test_promtool_accepts_the_metrics),
        cmocka_unit_test(test_other_paths_methods_and_malformed_requests_are_refused),
        cmocka_unit_test(test_a_silent_client_does_not_hold_the_listener),
        cmocka_unit_test(test_bad_listen_address_is_a_usage_error),
        cmocka_unit_test(test_with_a_token_only_a_request_that_carries_it_is_served),
        cmocka_unit_test(test_a_token_file_others_may_read_or_without_a_token_is_refused),
        cmocka_unit_test(test_a_real_prometheus_scrapes_a_series),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
