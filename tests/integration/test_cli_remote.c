/*
 * test_cli_remote.c — queues across hosts through NATS JetStream:
 * real `ringhost run` processes (a gateway with no kernel, kernel hosts)
 * and a real `nats-server -js` that the fixture starts on a loopback port
 * of its own and stops by pid (tests/support/nats_fixture.h).
 *
 * The client is this test: it attaches to the gateway's shared queues
 * (e.in exports to rh.<tag>.in, e.out imports rh.<tag>.out) and sends
 * numbered ids in bursts; each kernel host imports rh.<tag>.in into its
 * echo kernel and exports the answers to rh.<tag>.out.  "Exactly once"
 * is checked on the answers' correlation ids: every request answered, none
 * twice, and nothing more arrives after the last.  The manifests, hosts
 * and client are remote_common.h's (test_cli_remote_faults uses them too).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "remote_common.h"
#include "../support/nats_fixture.h"

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
    /* and the table: a line per link under the queues, in 80 columns */
    cli_exec(&o, NULL, "stat", "--instance", instance, NULL);
    const char *at = o.r.out ? strstr(o.r.out, "\nLINK ") : NULL;
    const char *row = at ? strstr(at, "\nhub ") : NULL;
    unsigned long long published = 0, acked = 0, pending = 1;
    CLI_CHECK(&o, row && sscanf(row + 1, "hub yes %llu %llu %llu", &published, &acked, &pending) == 3 &&
                      published >= n && acked == n && pending == 0,
              "expected stat's table to show link hub up with %llu acked, 0 pending", (unsigned long long)n);
    cli_free(&o);
    /* ps too, under its kernels */
    cli_exec(&o, NULL, "ps", "--instance", instance, NULL);
    at = o.r.out ? strstr(o.r.out, "\nLINK ") : NULL;
    row = at ? strstr(at, "\nhub ") : NULL;
    acked = 0;
    CLI_CHECK(&o, row && sscanf(row + 1, "hub yes %llu %llu", &published, &acked) == 2 && acked == n,
              "expected ps to show link hub up with %llu acked", (unsigned long long)n);
    cli_free(&o);
}

/* ------------------------------------------------------------ tests ---- */

static void run_gateway_and_kernel_host(uint64_t n, double within_s)
{
    natsd *s = nats_fixture_start(NULL);
    char tag[32];
    snprintf(tag, sizeof tag, "g%llu", (unsigned long long)n);
    proc gw, kh;
    remote_start_host(&gw, remote_gateway(tag, s->url, NULL, 0));
    remote_start_host(&kh, remote_kernel_host(tag, "k", s->url, NULL, 0));
    remote_client c;
    char gw_name[64];
    snprintf(gw_name, sizeof gw_name, "%s-gw", tag);
    remote_client_open(&c, cli_instance(gw_name), n);
    double t0 = proc_now();
    remote_send_range(&c, 0, n);
    remote_receive(&c, n, within_s);
    double took = proc_now() - t0;
    remote_expect_exactly_once(&c, "gateway + kernel host");
    expect_link_counters(cli_instance(gw_name), n);
    print_message("    %llu round trips through one nats-server in %.2f s: %.0f msg/s "
                  "(machine shared: noise)\n", (unsigned long long)n, took, (double)n / took);
    remote_client_close(&c);
    free(remote_stop_host_balanced(&gw, "gateway"));
    free(remote_stop_host_balanced(&kh, "kernel host"));
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
    remote_start_host(&gw, remote_gateway("share", s->url, NULL, 0));
    remote_start_host(&k1, remote_kernel_host("share", "k1", s->url, NULL, 0));
    remote_start_host(&k2, remote_kernel_host("share", "k2", s->url, NULL, 0));
    remote_client c;
    remote_client_open(&c, cli_instance("share-gw"), n);
    remote_send_range(&c, 0, n);
    remote_receive(&c, n, 120);
    remote_expect_exactly_once(&c, "two kernel hosts");
    remote_client_close(&c);
    free(remote_stop_host_balanced(&gw, "gateway"));
    char *e1 = remote_stop_host_balanced(&k1, "first kernel host");
    char *e2 = remote_stop_host_balanced(&k2, "second kernel host");
    long long p1 = remote_summary_counter(e1, "summary: kernel e:", "processed ");
    long long p2 = remote_summary_counter(e2, "summary: kernel e:", "processed ");
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
    const char *km = remote_kernel_host("kill", "k", s->url, NULL, 1);
    remote_start_host(&gw, remote_gateway("kill", s->url, NULL, 0));
    remote_start_host(&kh, km);
    remote_client c;
    remote_client_open(&c, cli_instance("kill-gw"), n);
    remote_send_range(&c, 0, n);
    remote_receive(&c, n / 4, 60);
    if (c.answers >= n)
        fail_msg("expected the kernel host to be mid-stream when killed; all %llu answers "
                 "came first", (unsigned long long)n);
    remote_kill_host(&kh);
    remote_start_host(&kh, km);
    remote_receive(&c, n, 120);
    remote_expect_exactly_once(&c, "SIGKILL of the kernel host and its restart");
    remote_client_close(&c);
    free(remote_stop_host_balanced(&gw, "gateway"));
    free(remote_stop_host_balanced(&kh, "restarted kernel host"));
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

/* A nats-server restart mid-stream: test_cli_remote_faults.c
 * (test_a_nats_server_restart_mid_stream_reconnects_both_hosts_exactly_once). */

static void test_a_stream_made_with_replicas_3_survives_a_node_killed_mid_stream(void **st)
{
    (void)st;
    const uint64_t n = 10000;
    nats_cluster *cl = nats_fixture_cluster_start();
    char urls[512];
    snprintf(urls, sizeof urls, "[\"%s\", \"%s\", \"%s\"]", cl->node[0]->url,
             cl->node[1]->url, cl->node[2]->url);
    proc gw, kh;
    /* the kernel host creates the stream first, with 3 replicas */
    remote_start_host(&kh, remote_kernel_host("cluster", "k", urls, ", \"replicas\": 3", 0));
    remote_start_host(&gw, remote_gateway("cluster", urls, ", \"replicas\": 3", 0));
    remote_client c;
    remote_client_open(&c, cli_instance("cluster-gw"), n);
    remote_send_range(&c, 0, n / 2);
    remote_receive(&c, n / 4, 60);
    nats_fixture_cluster_kill_node(cl, 0);
    remote_send_range(&c, n / 2, n);
    remote_receive(&c, n, 180);
    remote_expect_exactly_once(&c, "a cluster node killed mid-stream");
    remote_client_close(&c);
    free(remote_stop_host_balanced(&gw, "gateway"));
    free(remote_stop_host_balanced(&kh, "kernel host"));
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
    cli_exec(&o, NULL, "run", remote_gateway("unreach", url, NULL, 0), "--timeout", "5", NULL);
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
    remote_start_host(&gw, remote_gateway("waits", s->url, ", \"wait\": true", 0));
    nats_fixture_restart(s);
    cli_await_log(&gw, "event=link.up", 1, 30);
    free(remote_stop_host_balanced(&gw, "gateway that waited"));
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
    cli_exec(&out, NULL, "run", remote_gateway("creds", s->url, extra, 0), "--timeout", "5",
             NULL);
    cli_expect_exit(&out, 1);
    CLI_CHECK(&out, strstr(out.r.err, "links.hub.credentials") && strstr(out.r.err, creds) &&
                        !strstr(out.r.err, "wrong-secret-xyz"),
              "expected the error to name links.hub.credentials and the file %s, never the "
              "secret in it", creds);
    cli_free(&out);
    /* the right ones, from the environment */
    setenv("RH_TEST_NATS_CREDS", "rh:right-secret", 1);
    proc gw;
    remote_start_host(&gw, remote_gateway("creds2", s->url,
                                          ", \"credentials\": \"env:RH_TEST_NATS_CREDS\"", 0));
    char *err = remote_stop_host_balanced(&gw, "gateway with credentials from the environment");
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
    cli_exec(&o, NULL, "run", remote_gateway("other", s->url, NULL, 0), "--timeout", "5", NULL);
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
    remote_start_host(&gw, cli_manifest("big", text));
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
    remote_remove_persist_queues();
    return cli_group_teardown(state);
}

int main(void)
{
    /* The 1,000,000-message run is its own ctest entry (label "slow"),
     * which sets RH_TEST_REMOTE_MILLION and runs only it. */
    const struct CMUnitTest million[] = {
        REMOTE_TEST(test_gateway_and_kernel_host_answer_1000000_requests_exactly_once),
    };
    if (getenv("RH_TEST_REMOTE_MILLION"))
        return cmocka_run_group_tests(million, NULL, teardown);
    if (getenv("RH_TEST_FILTER")) /* one test by name while debugging: "*restart*" */
        cmocka_set_test_filter(getenv("RH_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        REMOTE_TEST(test_gateway_and_kernel_host_answer_10000_requests_exactly_once),
        REMOTE_TEST(test_two_kernel_hosts_importing_one_subject_share_the_work),
        REMOTE_TEST(
            test_sigkill_of_the_kernel_host_mid_stream_then_restart_loses_and_repeats_nothing),
        REMOTE_TEST(test_a_stream_made_with_replicas_3_survives_a_node_killed_mid_stream),
        REMOTE_TEST(test_an_unreachable_server_at_launch_is_an_error_naming_its_url),
        REMOTE_TEST(test_a_link_with_wait_true_serves_and_connects_when_the_server_comes),
        REMOTE_TEST(test_wrong_credentials_are_an_error_that_never_shows_the_secret),
        REMOTE_TEST(test_a_stream_with_other_subjects_is_refused_naming_both),
        REMOTE_TEST(test_a_message_bigger_than_max_payload_is_dead_lettered_with_the_reason),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
