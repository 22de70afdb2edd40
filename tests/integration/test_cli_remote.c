/*
 * test_cli_remote.c — queues across hosts through NATS JetStream (issue 12):
 * real `ringhost run` processes (a gateway with no kernel, kernel hosts)
 * and a real `nats-server -js` that the fixture starts on a loopback port
 * of its own and stops by pid (tests/support/nats_fixture.h).
 *
 * The client is this test: it attaches to the gateway's shared queues
 * (e.in exports to rh.<tag>.in, e.out imports rh.<tag>.out) and sends
 * numbered ids in bursts; each kernel host imports rh.<tag>.in into its
 * echo kernel and exports the answers to rh.<tag>.out.  "Exactly once"
 * is checked on the answers' correlation ids: every request answered, none
 * twice, and nothing more arrives after the last.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_common.h"
#include "ringhost/ringhost.h"
#include "../support/nats_fixture.h"

#define READY_WITHIN_S 60.0
#define PAYLOAD 16

/* The "nats" value of a link: a URL quoted, or a JSON list as it is. */
static const char *nats_value(const char *url)
{
    return url[0] == '[' ? cli_keep("%s", url) : cli_keep("\"%s\"", url);
}

/* The manifests, filled in with the tag's subjects and the server's URL. */
static const char *gateway(const char *tag, const char *url, const char *extra_link)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
             " \"links\": {\"hub\": {\"nats\": %s, \"stream\": \"S_%s\", "
             "\"ack_wait_ms\": 2000%s}},\n"
             " \"queues\": {\n"
             "  \"e.in\": {\"type\": \"echo.message\", \"capacity\": 1024, "
             "\"export\": {\"link\": \"hub\", \"subject\": \"rh.%s.in\"}},\n"
             "  \"e.out\": {\"type\": \"echo.message\", \"capacity\": 16384, "
             "\"import\": {\"link\": \"hub\", \"subject\": \"rh.%s.out\"}}},\n"
             " \"kernels\": []}\n",
             nats_value(url), tag, extra_link ? extra_link : "", tag, tag);
    char name[128];
    snprintf(name, sizeof name, "%s-gw", tag);
    return cli_manifest(name, text);
}

/* persist: the kernel host's queues outlive a SIGKILL (what it took from
 * JetStream and acked, and what it answered but JetStream has not acked). */
static const char *kernel_host(const char *tag, const char *which, const char *url, int persist)
{
    char text[4096];
    const char *p = persist ? ", \"persist\": true" : "";
    snprintf(text, sizeof text,
             "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
             " \"links\": {\"hub\": {\"nats\": %s, \"stream\": \"S_%s\", "
             "\"ack_wait_ms\": 2000%s}},\n"
             " \"queues\": {\n"
             "  \"e.in\": {\"type\": \"echo.message\", \"capacity\": 1024, \"dedup_window\": 4096%s, "
             "\"import\": {\"link\": \"hub\", \"subject\": \"rh.%s.in\"}},\n"
             "  \"e.out\": {\"type\": \"echo.message\", \"capacity\": 1024%s, "
             "\"export\": {\"link\": \"hub\", \"subject\": \"rh.%s.out\"}}},\n"
             " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", "
             "\"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n",
             nats_value(url), tag, url[0] == '[' ? ", \"replicas\": 3" : "", p, tag, p, tag);
    char name[128];
    snprintf(name, sizeof name, "%s-%s", tag, which);
    return cli_manifest(name, text);
}

/* The hosts of the running test, so that a failure shows what each
 * counted (dump_hosts). */
static proc *hosts[4];

static void start_host(proc *host, const char *manifest_path)
{
    char *argv[] = {RH_TEST_BINARY, "run", (char *)manifest_path, NULL};
    assert_int_equal(proc_start(host, argv), 0);
    for (int i = 0; i < 4; i++)
        if (hosts[i] == host || !hosts[i]) {
            hosts[i] = host;
            break;
        }
    if (cli_host_logged_within(host, CLI_SERVING, 1, READY_WITHIN_S) != 0)
        fail_msg("expected `ringhost run %s` to serve within %.0f s", manifest_path,
                 READY_WITHIN_S);
}

/* SIGTERM, then its exit status must be 0 and every accounting line
 * balanced (the queue lines and the remote bridges' lines).  Returns its
 * stderr (malloc'd). */
static char *stop_host_balanced(proc *host, const char *what)
{
    proc_signal(host, SIGTERM);
    proc_result r;
    proc_wait(host, 60, &r);
    char *err = strdup(r.err ? r.err : "");
    if (r.exit_code != 0 || strstr(err, "UNBALANCED") || strstr(err, "UNCONFIRMED") ||
        !strstr(err, "accounting: export") || !strstr(err, "accounting: import")) {
        /* fail_msg keeps a few hundred bytes: the whole stderr first */
        fprintf(stderr, "---- stderr of the %s ----\n%s\n", what, err);
        fail_msg("expected the %s to stop with exit 0 and every accounting line balanced "
                 "(queues, export, import); got exit %d signal %d, stderr:\n%s",
                 what, r.exit_code, r.term_signal, err);
    }
    proc_result_free(&r);
    return err;
}

static void kill_host(proc *host)
{
    assert_int_equal(proc_signal(host, SIGKILL), 0);
    proc_result r;
    proc_wait(host, 10, &r);
    proc_result_free(&r);
}

/* The id of request i (1-based) of this process. */
static rh_id request_id(uint64_t i)
{
    rh_id id = {.hi = 0x5248000000000000ull | (uint64_t)getpid() << 16, .lo = i};
    return id;
}

typedef struct client {
    rh_queue *in, *out;
    uint64_t n;          /* requests */
    unsigned char *seen; /* answers per request (0..n-1) */
    uint64_t answers, repeats, strangers;
} client;

static void client_open(client *c, const char *instance, uint64_t n)
{
    rh_error err;
    memset(c, 0, sizeof *c);
    if (rh_queue_attach(instance, "e.in", &c->in, &err) != 0 ||
        rh_queue_attach(instance, "e.out", &c->out, &err) != 0)
        fail_msg("cannot attach to the gateway %s: %s", instance, err.msg);
    c->n = n;
    c->seen = calloc(n, 1);
    assert_non_null(c->seen);
}

static void client_close(client *c)
{
    rh_queue_close(c->in);
    rh_queue_close(c->out);
    free(c->seen);
}

/* Send requests [from, to) in bursts. */
static void send_range(client *c, uint64_t from, uint64_t to)
{
    enum { BURST = 256 };
    rh_envelope envs[BURST];
    unsigned char payloads[BURST][PAYLOAD];
    for (uint64_t i = from; i < to;) {
        uint32_t k = (uint32_t)(to - i < BURST ? to - i : BURST);
        for (uint32_t j = 0; j < k; j++) {
            memset(&envs[j], 0, sizeof envs[j]);
            envs[j].id = request_id(i + j + 1);
            memset(payloads[j], 0, PAYLOAD); /* a valid echo.message: empty */
        }
        int sent = rh_send_burst(c->in, envs, payloads, PAYLOAD, PAYLOAD, k, NULL);
        if (sent < 0)
            fail_msg("rh_send_burst to the gateway's e.in failed: %s", rh_strerror(sent));
        i += (uint64_t)sent; /* a block that timed out: the rest again */
    }
}

/* Receive answers until `until` answers were counted or within_s passed. */
static void receive(client *c, uint64_t until, double within_s)
{
    enum { BURST = 256 };
    uint32_t stride = rh_queue_payload_size(c->out);
    rh_envelope envs[BURST];
    unsigned char *bufs = malloc((size_t)stride * BURST);
    assert_non_null(bufs);
    double deadline = proc_now() + within_s;
    while (c->answers < until && proc_now() < deadline) {
        int got = rh_recv_burst(c->out, envs, bufs, stride, BURST, 200);
        for (int j = 0; j < got; j++) {
            rh_id cid = envs[j].correlation_id;
            uint64_t i = cid.lo;
            if (cid.hi != request_id(1).hi || i == 0 || i > c->n) {
                c->strangers++;
                continue;
            }
            if (c->seen[i - 1]++)
                c->repeats++;
            else
                c->answers++;
        }
    }
    free(bufs);
}

/* A failure: stop every host of the test and print its counts. */
static void dump_hosts(void)
{
    for (int i = 0; i < 4; i++) {
        if (!hosts[i] || hosts[i]->pid == 0)
            continue; /* waited for already */
        if (proc_running(hosts[i])) /* one that died (ASan, a crash) shows its stderr too */
            proc_signal(hosts[i], SIGTERM);
        proc_result r;
        proc_wait(hosts[i], 30, &r);
        fprintf(stderr, "---- host %d, stopped: exit %d; its stderr (info lines left out) ----\n",
                i, r.exit_code);
        for (char *line = r.err; line && *line;) {
            char *nl = strchr(line, '\n');
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            if (!strstr(line, "level=info") || (nl && strstr(line, "level=info") > nl))
                fprintf(stderr, "%.*s\n", (int)len, line);
            line = nl ? nl + 1 : line + len;
        }
        proc_result_free(&r);
    }
    memset(hosts, 0, sizeof hosts);
}

static void expect_exactly_once(client *c, const char *what)
{
    /* nothing more may come: a late repeat would show here */
    receive(c, c->n + 1, 1.5);
    uint64_t missing = 0, first_missing = 0;
    for (uint64_t i = 0; i < c->n; i++)
        if (!c->seen[i] && !missing++)
            first_missing = i + 1;
    if (missing || c->repeats || c->strangers) {
        dump_hosts();
        fail_msg("%s: expected each of %llu requests answered exactly once; got %llu missing "
                 "(first: request %llu), %llu repeated answers, %llu answers to no request",
                 what, (unsigned long long)c->n, (unsigned long long)missing,
                 (unsigned long long)first_missing, (unsigned long long)c->repeats,
                 (unsigned long long)c->strangers);
    }
    memset(hosts, 0, sizeof hosts);
}

static long long summary_counter(const char *err, const char *needle, const char *counter)
{
    const char *line = strstr(err, needle);
    if (!line)
        return -1;
    const char *c = strstr(line, counter);
    const char *nl = strchr(line, '\n');
    if (!c || (nl && c > nl))
        return -1;
    return atoll(c + strlen(counter));
}

/* stat --json and --prom of the gateway show its link: connected, and every
 * request published and acked by JetStream. */
static void expect_link_counters(const char *instance, uint64_t n)
{
    cli_out o;
    cli_exec(&o, NULL, "stat", "--instance", instance, "--json", NULL);
    json_error_t je;
    json_t *j = json_loads(o.r.out ? o.r.out : "", 0, &je);
    json_t *l = json_array_get(json_object_get(j, "links"), 0);
    CLI_CHECK(&o, l && json_integer_value(json_object_get(l, "connected")) == 1 &&
                      json_integer_value(json_object_get(l, "acked")) == (json_int_t)n &&
                      json_integer_value(json_object_get(l, "pending_acks")) == 0,
              "expected stat --json to show link hub connected with %llu acked, 0 pending",
              (unsigned long long)n);
    json_decref(j);
    cli_free(&o);
    cli_exec(&o, NULL, "stat", "--instance", instance, "--prom", NULL);
    char want[128];
    snprintf(want, sizeof want, "ringhost_link_acked_total{instance=\"%s\",link=\"hub\"} %llu",
             instance, (unsigned long long)n);
    CLI_CHECK(&o, o.r.out && strstr(o.r.out, want), "expected stat --prom to hold %s", want);
    cli_free(&o);
}

/* ------------------------------------------------------------ tests ---- */

static void run_gateway_and_kernel_host(uint64_t n, double within_s)
{
    natsd *s = nats_fixture_start(NULL);
    char tag[32];
    snprintf(tag, sizeof tag, "g%llu", (unsigned long long)n);
    proc gw, kh;
    start_host(&gw, gateway(tag, s->url, NULL));
    start_host(&kh, kernel_host(tag, "k", s->url, 0));
    client c;
    char gw_name[64];
    snprintf(gw_name, sizeof gw_name, "%s-gw", tag);
    client_open(&c, cli_instance(gw_name), n);
    double t0 = proc_now();
    send_range(&c, 0, n);
    receive(&c, n, within_s);
    double took = proc_now() - t0;
    expect_exactly_once(&c, "gateway + kernel host");
    expect_link_counters(cli_instance(gw_name), n);
    print_message("    %llu round trips through one nats-server in %.2f s: %.0f msg/s "
                  "(machine shared: noise)\n", (unsigned long long)n, took, (double)n / took);
    client_close(&c);
    free(stop_host_balanced(&gw, "gateway"));
    free(stop_host_balanced(&kh, "kernel host"));
    nats_fixture_stop(s);
}

static void test_gateway_and_kernel_host_answer_10000_requests_exactly_once(void **st)
{
    (void)st;
    run_gateway_and_kernel_host(10000, 120);
}

static void test_gateway_and_kernel_host_answer_1000000_requests_exactly_once(void **st)
{
    (void)st;
    run_gateway_and_kernel_host(1000000, 1500);
}

static void test_two_kernel_hosts_importing_one_subject_share_the_work(void **st)
{
    (void)st;
    const uint64_t n = 10000;
    natsd *s = nats_fixture_start(NULL);
    proc gw, k1, k2;
    start_host(&gw, gateway("share", s->url, NULL));
    start_host(&k1, kernel_host("share", "k1", s->url, 0));
    start_host(&k2, kernel_host("share", "k2", s->url, 0));
    client c;
    client_open(&c, cli_instance("share-gw"), n);
    send_range(&c, 0, n);
    receive(&c, n, 120);
    expect_exactly_once(&c, "two kernel hosts");
    client_close(&c);
    free(stop_host_balanced(&gw, "gateway"));
    char *e1 = stop_host_balanced(&k1, "first kernel host");
    char *e2 = stop_host_balanced(&k2, "second kernel host");
    long long p1 = summary_counter(e1, "summary: kernel e:", "processed ");
    long long p2 = summary_counter(e2, "summary: kernel e:", "processed ");
    /* a real share: each at least a tenth (JetStream hands out fetches) */
    if (p1 < (long long)n / 10 || p2 < (long long)n / 10 || p1 + p2 < (long long)n)
        fail_msg("expected both kernel hosts to process a real share (>= %llu each) of the "
                 "%llu requests; got %lld and %lld", (unsigned long long)n / 10,
                 (unsigned long long)n, p1, p2);
    free(e1);
    free(e2);
    nats_fixture_stop(s);
}

static void test_sigkill_of_the_kernel_host_mid_stream_then_restart_loses_and_repeats_nothing(
    void **st)
{
    (void)st;
    const uint64_t n = 10000;
    natsd *s = nats_fixture_start(NULL);
    proc gw, kh;
    const char *km = kernel_host("kill", "k", s->url, 1);
    start_host(&gw, gateway("kill", s->url, NULL));
    start_host(&kh, km);
    client c;
    client_open(&c, cli_instance("kill-gw"), n);
    send_range(&c, 0, n);
    receive(&c, n / 4, 60);
    if (c.answers >= n)
        fail_msg("expected the kernel host to be mid-stream when killed; all %llu answers "
                 "came first", (unsigned long long)n);
    kill_host(&kh);
    start_host(&kh, km);
    receive(&c, n, 120);
    expect_exactly_once(&c, "SIGKILL of the kernel host and its restart");
    client_close(&c);
    free(stop_host_balanced(&gw, "gateway"));
    free(stop_host_balanced(&kh, "restarted kernel host"));
    /* persist queues outlive their host by design: leave none behind */
    for (int q = 0; q < 2; q++) {
        cli_out o;
        cli_exec(&o, NULL, "purge", "--instance", cli_instance("kill-k"), q ? "e.out" : "e.in",
                 NULL);
        cli_expect_exit(&o, 0);
        cli_free(&o);
    }
    nats_fixture_stop(s);
}

static void test_a_nats_server_restart_mid_stream_both_hosts_reconnect_and_lose_nothing(void **st)
{
    (void)st;
    const uint64_t n = 10000;
    natsd *s = nats_fixture_start(NULL);
    proc gw, kh;
    start_host(&gw, gateway("restart", s->url, NULL));
    start_host(&kh, kernel_host("restart", "k", s->url, 0));
    client c;
    client_open(&c, cli_instance("restart-gw"), n);
    send_range(&c, 0, n / 2);
    receive(&c, n / 4, 60);
    nats_fixture_stop(s); /* file storage: the stream and its consumers survive */
    cli_await_log(&gw, "event=link.down", 1, 30);
    cli_await_log(&kh, "event=link.down", 1, 30);
    nats_fixture_restart(s);
    cli_await_log(&gw, "event=link.up", 2, 60);
    cli_await_log(&kh, "event=link.up", 2, 60);
    send_range(&c, n / 2, n);
    receive(&c, n, 120);
    expect_exactly_once(&c, "a restart of nats-server mid-stream");
    client_close(&c);
    char *e = stop_host_balanced(&gw, "gateway");
    if (!strstr(e, "reconnects=1"))
        fail_msg("expected the gateway to log link.up with reconnects=1; got:\n%s", e);
    free(e);
    free(stop_host_balanced(&kh, "kernel host"));
    nats_fixture_stop(s);
}

static void test_a_cluster_node_killed_mid_stream_loses_and_repeats_nothing(void **st)
{
    (void)st;
    const uint64_t n = 10000;
    nats_cluster *cl = nats_fixture_cluster_start();
    char urls[512];
    snprintf(urls, sizeof urls, "[\"%s\", \"%s\", \"%s\"]", cl->node[0]->url,
             cl->node[1]->url, cl->node[2]->url);
    proc gw, kh;
    /* the kernel host creates the stream first, with 3 replicas */
    start_host(&kh, kernel_host("cluster", "k", urls, 0));
    start_host(&gw, gateway("cluster", urls, ", \"replicas\": 3"));
    client c;
    client_open(&c, cli_instance("cluster-gw"), n);
    send_range(&c, 0, n / 2);
    receive(&c, n / 4, 60);
    nats_fixture_cluster_kill_node(cl, 0);
    send_range(&c, n / 2, n);
    receive(&c, n, 180);
    expect_exactly_once(&c, "a cluster node killed mid-stream");
    client_close(&c);
    free(stop_host_balanced(&gw, "gateway"));
    free(stop_host_balanced(&kh, "kernel host"));
}

/* -------------------------------------------------------- bad links ---- */

static void test_an_unreachable_server_at_launch_is_an_error_naming_its_url(void **st)
{
    (void)st;
    /* a port nothing listens on: the fixture's server, stopped */
    natsd *s = nats_fixture_start(NULL);
    char url[64];
    snprintf(url, sizeof url, "%s", s->url);
    nats_fixture_stop(s);
    cli_out o;
    cli_exec(&o, NULL, "run", gateway("unreach", url, NULL), "--timeout", "5", NULL);
    cli_expect_exit(&o, 1);
    CLI_CHECK(&o, strstr(o.r.err, url) && strstr(o.r.err, "links.hub.nats") &&
                      strstr(o.r.err, "\"wait\": true"),
              "expected the error to name the URL %s, the JSON path links.hub.nats and the "
              "\"wait\": true way out", url);
    cli_free(&o);
}

static void test_a_link_with_wait_true_serves_and_connects_when_the_server_comes(void **st)
{
    (void)st;
    natsd *s = nats_fixture_start(NULL);
    nats_fixture_stop(s);
    proc gw;
    start_host(&gw, gateway("waits", s->url, ", \"wait\": true"));
    nats_fixture_restart(s);
    cli_await_log(&gw, "event=link.up", 1, 30);
    free(stop_host_balanced(&gw, "gateway that waited"));
    nats_fixture_stop(s);
}

static void test_wrong_credentials_are_an_error_that_never_shows_the_secret(void **st)
{
    (void)st;
    natsd_opts o = {.user = "rh", .password = "right-secret"};
    natsd *s = nats_fixture_start(&o);
    const char *creds = cli_write("wrong.creds", "rh:wrong-secret-xyz\n");
    char extra[512];
    snprintf(extra, sizeof extra, ", \"credentials\": \"%s\"", creds);
    cli_out out;
    cli_exec(&out, NULL, "run", gateway("creds", s->url, extra), "--timeout", "5", NULL);
    cli_expect_exit(&out, 1);
    CLI_CHECK(&out, strstr(out.r.err, "links.hub.credentials") && strstr(out.r.err, creds) &&
                        !strstr(out.r.err, "wrong-secret-xyz"),
              "expected the error to name links.hub.credentials and the file %s, never the "
              "secret in it", creds);
    cli_free(&out);
    /* the right ones, from the environment */
    setenv("RH_TEST_NATS_CREDS", "rh:right-secret", 1);
    proc gw;
    start_host(&gw, gateway("creds2", s->url, ", \"credentials\": \"env:RH_TEST_NATS_CREDS\""));
    char *err = stop_host_balanced(&gw, "gateway with credentials from the environment");
    if (strstr(err, "right-secret"))
        fail_msg("expected the log never to show the secret; got:\n%s", err);
    free(err);
    nats_fixture_stop(s);
}

static void test_a_stream_with_other_subjects_is_refused_naming_both(void **st)
{
    (void)st;
    natsd *s = nats_fixture_start(NULL);
    natsConnection *nc = nats_fixture_connect(s->url, 10);
    jsCtx *js = NULL;
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsStreamConfig c;
    jsStreamConfig_Init(&c);
    const char *subjects[] = {"other.>"};
    c.Name = "S_other";
    c.Subjects = subjects;
    c.SubjectsLen = 1;
    c.Storage = js_FileStorage;
    jsStreamInfo *si = NULL;
    assert_int_equal(js_AddStream(&si, js, &c, NULL, NULL), NATS_OK);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    cli_out o;
    cli_exec(&o, NULL, "run", gateway("other", s->url, NULL), "--timeout", "5", NULL);
    cli_expect_exit(&o, 1);
    CLI_CHECK(&o, strstr(o.r.err, "links.hub.stream") && strstr(o.r.err, "S_other") &&
                      strstr(o.r.err, "other.>") && strstr(o.r.err, "rh.other."),
              "expected the refusal to name the stream S_other, its subjects [other.>] and the "
              "manifest's subject rh.other.*");
    cli_free(&o);
    nats_fixture_stop(s);
}

static void test_a_message_bigger_than_max_payload_is_dead_lettered_with_the_reason(void **st)
{
    (void)st;
    /* 4 KiB: JetStream's API requests fit, a whole vector_add.request (8 KiB
     * of floats) does not */
    natsd_opts o = {.max_payload = 4096};
    natsd *s = nats_fixture_start(&o);
    char text[2048];
    snprintf(text, sizeof text,
             "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
             " \"links\": {\"hub\": {\"nats\": \"%s\", \"stream\": \"S_big\"}},\n"
             " \"queues\": {\"v.in\": {\"type\": \"vector_add.request\", "
             "\"export\": {\"link\": \"hub\", \"subject\": \"rh.big.in\"}}},\n"
             " \"kernels\": []}\n", s->url);
    proc gw;
    start_host(&gw, cli_manifest("big", text));
    rh_queue *in;
    rh_error err;
    assert_int_equal(rh_queue_attach(cli_instance("big"), "v.in", &in, &err), 0);
    uint32_t len = rh_queue_payload_size(in);
    assert_true(len + 56 > 4096);
    unsigned char *big = calloc(1, len);
    assert_int_equal(rh_send(in, NULL, big, len, NULL), 0);
    assert_int_equal(rh_send(in, NULL, big, 64, NULL), 0); /* a small one goes through */
    free(big);
    rh_queue_close(in);
    cli_out d;
    cli_exec(&d, NULL, "recv", "--instance", cli_instance("big"), "v.in.dlq", "-n", "1",
             "--timeout", "10", NULL);
    CLI_CHECK(&d, d.r.exit_code == 0 && strstr(d.r.out, "max_payload") &&
                      strstr(d.r.out, "4096"),
              "expected the big message in v.in.dlq with the reason naming max_payload 4096");
    cli_free(&d);
    proc_signal(&gw, SIGTERM);
    proc_result r;
    proc_wait(&gw, 60, &r);
    if (r.exit_code != 0 || !strstr(r.err, "taken 2 = acked by JetStream 1 + dead-lettered 1 + "
                                           "in flight 0: every message accounted for"))
        fail_msg("expected the export's accounting line to count 1 acked and 1 dead-lettered; "
                 "got exit %d, stderr:\n%s", r.exit_code, r.err);
    proc_result_free(&r);
    nats_fixture_stop(s);
}

static int teardown(void **state)
{
    nats_fixture_group_teardown(state);
    return cli_group_teardown(state);
}

int main(void)
{
    /* The 1,000,000-message run is its own ctest entry (label "slow"),
     * which sets RH_TEST_REMOTE_MILLION and runs only it. */
    const struct CMUnitTest million[] = {
        cmocka_unit_test(test_gateway_and_kernel_host_answer_1000000_requests_exactly_once),
    };
    if (getenv("RH_TEST_REMOTE_MILLION"))
        return cmocka_run_group_tests(million, NULL, teardown);
    if (getenv("RH_TEST_FILTER")) /* one test by name while debugging: "*restart*" */
        cmocka_set_test_filter(getenv("RH_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gateway_and_kernel_host_answer_10000_requests_exactly_once),
        cmocka_unit_test(test_two_kernel_hosts_importing_one_subject_share_the_work),
        cmocka_unit_test(
            test_sigkill_of_the_kernel_host_mid_stream_then_restart_loses_and_repeats_nothing),
        cmocka_unit_test(
            test_a_nats_server_restart_mid_stream_both_hosts_reconnect_and_lose_nothing),
        cmocka_unit_test(test_a_cluster_node_killed_mid_stream_loses_and_repeats_nothing),
        cmocka_unit_test(test_an_unreachable_server_at_launch_is_an_error_naming_its_url),
        cmocka_unit_test(test_a_link_with_wait_true_serves_and_connects_when_the_server_comes),
        cmocka_unit_test(test_wrong_credentials_are_an_error_that_never_shows_the_secret),
        cmocka_unit_test(test_a_stream_with_other_subjects_is_refused_naming_both),
        cmocka_unit_test(test_a_message_bigger_than_max_payload_is_dead_lettered_with_the_reason),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
