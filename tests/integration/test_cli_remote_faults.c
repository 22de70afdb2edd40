/*
 * test_cli_remote_faults.c — the remote queues under faults:
 * real `ringhost run` processes (a gateway with no kernel, an echo kernel
 * host: remote_common.h) and real `nats-server -js` processes
 * (tests/support/nats_fixture.h), each test hitting one part mid-stream:
 *  - SIGKILL of the gateway host (persist queues), then its restart;
 *  - a restart of nats-server (file storage);
 *  - a nats-server frozen (SIGSTOP) with a full window of publishes in
 *    flight, then killed and started again: acks that never come;
 *  - a three-node cluster (an R3 stream) losing the stream's leader;
 *  - a nats-server that dies while the hosts run, and the hosts stopped
 *    while it is dead.
 * Each waits for a counter (`ringhost stat --json`, or answers counted at
 * the client) before it strikes, never for a time, and counts exactly once
 * by the answers' correlation ids.  Message counts are small (a few
 * thousand): the big counts live in test_cli_remote.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "remote_common.h"
#include "../support/nats_fixture.h"

#define N 4000

/* Wait (within_s) until the host's link counter reaches at least v;
 * returns the value seen. */
static long long await_link_counter(const char *instance, const char *counter, long long v,
                                    double within_s)
{
    long long got = -1;
    if (!WAIT_UNTIL_EVERY(within_s, CLI_POLL_MS,
                          (got = remote_link_counter(instance, counter)) >= v))
        fail_msg("expected stat --json of %s to show link hub %s >= %lld within %.0f s; last "
                 "seen %lld", instance, counter, v, within_s, got);
    return got;
}

static int host_alive(proc *p)
{
    return proc_running(p) == 1;
}

/* ------------------------------------------------------------ tests ---- */

static void test_sigkill_of_the_persist_gateway_mid_stream_then_restart_answers_exactly_once(
    void **st)
{
    (void)st;
    natsd *s = nats_fixture_start(NULL);
    const char *gm = remote_gateway("gwkill", s->url, NULL, 1);
    const char *gw_inst = cli_instance("gwkill-gw");
    proc gw, kh;
    remote_start_host(&gw, gm);
    remote_start_host(&kh, remote_kernel_host("gwkill", "k", s->url, NULL, 0));
    remote_client c;
    remote_client_open(&c, gw_inst, N);
    /* An eighth, of which the client reads half the answers; then another
     * eighth (it fits e.in at once), and the gateway dies as soon as
     * JetStream acked the first of those: requests in e.in and in flight
     * to JetStream, answers in e.out and on their way. */
    remote_send_range(&c, 0, N / 8);
    remote_receive(&c, N / 16, 60);
    remote_send_range(&c, N / 8, N / 4);
    long long acked = await_link_counter(gw_inst, "acked", N / 8 + 1, 60);
    remote_kill_host(&gw);
    print_message("    gateway killed with %llu answers read, %lld of %d requests acked by "
                  "JetStream at the last look\n", (unsigned long long)c.answers, acked, N / 4);
    if (c.answers >= N / 4)
        fail_msg("expected the gateway to be killed mid-stream; all %d answers came first", N / 4);
    /* a persist queue is recovered only with no client attached */
    remote_client_detach(&c);
    remote_start_host(&gw, gm);
    remote_client_attach(&c, gw_inst);
    remote_send_range(&c, N / 4, N);
    remote_receive(&c, N, 120);
    remote_expect_exactly_once(&c, "SIGKILL of the persist gateway and its restart");
    remote_client_close(&c);
    free(remote_stop_host_balanced(&gw, "restarted gateway"));
    free(remote_stop_host_balanced(&kh, "kernel host"));
    nats_fixture_stop(s);
}

static void test_a_nats_server_restart_mid_stream_reconnects_both_hosts_exactly_once(void **st)
{
    (void)st;
    natsd *s = nats_fixture_start(NULL);
    const char *gw_inst = cli_instance("srvrst-gw"), *kh_inst = cli_instance("srvrst-k");
    proc gw, kh;
    remote_start_host(&gw, remote_gateway("srvrst", s->url, NULL, 0));
    remote_start_host(&kh, remote_kernel_host("srvrst", "k", s->url, NULL, 0));
    remote_client c;
    remote_client_open(&c, gw_inst, N);
    remote_send_range(&c, 0, N / 2);
    await_link_counter(gw_inst, "acked", N / 4, 60);
    nats_fixture_stop(s); /* a restart: graceful stop, same port and store */
    cli_await_log(&gw, "event=link.down", 1, 30);
    cli_await_log(&kh, "event=link.down", 1, 30);
    nats_fixture_restart(s);
    /* link.up once at launch, once at the reconnect */
    cli_await_log(&gw, "event=link.up", 2, 60);
    cli_await_log(&kh, "event=link.up", 2, 60);
    remote_send_range(&c, N / 2, N);
    remote_receive(&c, N, 120);
    remote_expect_exactly_once(&c, "a nats-server restart mid-stream");
    long long rg = remote_link_counter(gw_inst, "reconnects");
    long long rk = remote_link_counter(kh_inst, "reconnects");
    if (rg != 1 || rk != 1)
        fail_msg("expected stat --json of both hosts to count 1 reconnect; got gateway %lld, "
                 "kernel host %lld", rg, rk);
    remote_client_close(&c);
    char *e = remote_stop_host_balanced(&gw, "gateway");
    if (!strstr(e, "reconnects=1"))
        fail_msg("expected the gateway to log link.up with reconnects=1; got:\n%s", e);
    free(e);
    free(remote_stop_host_balanced(&kh, "kernel host"));
    nats_fixture_stop(s);
}

/* Publishes whose acks never come (the server that took them died) must not
 * wedge the export: the NATS client counts each as pending until its ack,
 * and the export gives it MaxWait so the client lets go of it and the
 * export publishes it again (export.c).  Before that, a full window of
 * lost publishes held every place the client has (MaxPending), and every
 * later publish stalled for ever. */
static void test_publishes_lost_with_a_frozen_then_killed_server_are_published_again(void **st)
{
    (void)st;
    natsd *s = nats_fixture_start(NULL);
    const char *gw_inst = cli_instance("frozen-gw");
    proc gw, kh;
    remote_start_host(&gw, remote_gateway("frozen", s->url, NULL, 0));
    remote_start_host(&kh, remote_kernel_host("frozen", "k", s->url, NULL, 0));
    remote_client c;
    remote_client_open(&c, gw_inst, N);
    remote_send_range(&c, 0, N / 8);
    await_link_counter(gw_inst, "acked", N / 16, 60);
    /* Frozen, the server reads nothing: what the export takes now stays in
     * flight, its window full, and none of it is ever acked. */
    assert_int_equal(kill(s->pid, SIGSTOP), 0);
    long long acked_at_stop = remote_link_counter(gw_inst, "acked");
    remote_send_range(&c, N / 8, N / 2);
    /* The export takes until its window (REMOTE_GATEWAY_IN_CAPACITY) is
     * full or it took every request: whichever comes first.  The window
     * is full only if fewer than N / 2 - window requests were acked before
     * the server stopped.  CI under ASan once saw 1050 acked with only
     * N / 8 sent before the SIGSTOP, not explained (the acked count at the
     * stop is printed to find out); the exactly-once check below fails if
     * any of those acks was false, so the test waits for either. */
    long long in_flight = -1, acked = -1;
    if (!WAIT_UNTIL_EVERY(60, CLI_POLL_MS,
                          (in_flight = remote_link_counter(gw_inst, "pending_acks")) >=
                                  REMOTE_GATEWAY_IN_CAPACITY ||
                              in_flight + (acked = remote_link_counter(gw_inst, "acked")) >=
                                  N / 2))
        fail_msg("expected the gateway's export to fill its window of %d or take all %d "
                 "requests within 60 s of the server's SIGSTOP; pending_acks %lld, acked %lld "
                 "(%lld when it stopped)", REMOTE_GATEWAY_IN_CAPACITY, N / 2, in_flight, acked,
                 acked_at_stop);
    if (in_flight < 1)
        fail_msg("expected publishes in flight to the frozen server; none (acked %lld, %lld "
                 "when it stopped)", acked, acked_at_stop);
    nats_fixture_kill(s);
    cli_await_log(&gw, "event=link.down", 1, 30);
    nats_fixture_restart(s);
    cli_await_log(&gw, "event=link.up", 2, 60);
    cli_await_log(&kh, "event=link.up", 2, 60);
    print_message("    server frozen and killed with %lld publishes of the gateway in flight "
                  "(acked %lld when frozen)\n", in_flight, acked_at_stop);
    remote_send_range(&c, N / 2, N);
    remote_receive(&c, N, 120);
    remote_expect_exactly_once(&c, "publishes lost with a frozen, then killed, server");
    remote_client_close(&c);
    free(remote_stop_host_balanced(&gw, "gateway"));
    free(remote_stop_host_balanced(&kh, "kernel host"));
    nats_fixture_stop(s);
}

/* The stream, R3 on the cluster, made as an operator would before the
 * hosts come (the host creates a missing stream with one replica). */
static void create_r3_stream(const nats_cluster *cl, const char *tag)
{
    natsConnection *nc = nats_fixture_connect(cl->urls, 30);
    jsCtx *js = NULL;
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    char name[64], in[64], out[64];
    snprintf(name, sizeof name, "S_%s", tag);
    snprintf(in, sizeof in, "rh.%s.in", tag);
    snprintf(out, sizeof out, "rh.%s.out", tag);
    const char *subjects[] = {in, out};
    jsStreamConfig c;
    jsStreamConfig_Init(&c);
    c.Name = name;
    c.Subjects = subjects;
    c.SubjectsLen = 2;
    c.Storage = js_FileStorage;
    c.Replicas = NATS_CLUSTER_NODES;
    c.Duplicates = (int64_t)120 * 1000000000; /* the manifest's default duplicates_ms */
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus rc = js_AddStream(&si, js, &c, NULL, &jerr);
    if (rc != NATS_OK)
        fail_msg("cannot create the R3 stream %s on %s: %s (jetstream error %d)", name,
                 cl->urls, nats_fixture_error(rc), (int)jerr);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
}

/* The node (0..2) that leads the stream S_<tag> now. */
static int stream_leader(const nats_cluster *cl, const char *tag)
{
    natsConnection *nc = nats_fixture_connect(cl->urls, 30);
    jsCtx *js = NULL;
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    char name[64];
    snprintf(name, sizeof name, "S_%s", tag);
    jsStreamInfo *si = NULL;
    natsStatus rc = js_GetStreamInfo(&si, js, name, NULL, NULL);
    int leader = -1;
    if (rc == NATS_OK && si->Cluster && si->Cluster->Leader &&
        strncmp(si->Cluster->Leader, "rh-n", 4) == 0)
        leader = atoi(si->Cluster->Leader + 4);
    jsStreamInfo_Destroy(si);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    if (leader < 0 || leader >= NATS_CLUSTER_NODES)
        fail_msg("expected the stream %s on %s to have a leader rh-n0..rh-n2: %s", name,
                 cl->urls, rc == NATS_OK ? "none named" : nats_fixture_error(rc));
    return leader;
}

static void test_a_cluster_node_killed_mid_stream_loses_and_repeats_nothing(void **st)
{
    (void)st;
    nats_cluster *cl = nats_fixture_cluster_start();
    create_r3_stream(cl, "clu");
    const char *gw_inst = cli_instance("clu-gw");
    proc gw, kh;
    remote_start_host(&gw, remote_gateway("clu", cl->urls, NULL, 0));
    remote_start_host(&kh, remote_kernel_host("clu", "k", cl->urls, NULL, 0));
    remote_client c;
    remote_client_open(&c, gw_inst, N);
    remote_send_range(&c, 0, N / 2);
    await_link_counter(gw_inst, "acked", N / 8, 60);
    int leader = stream_leader(cl, "clu");
    nats_fixture_cluster_kill_node(cl, leader); /* the stream's leader: the hardest one */
    print_message("    killed cluster node rh-n%d (the stream's leader) with %lld requests "
                  "acked\n", leader, remote_link_counter(gw_inst, "acked"));
    remote_send_range(&c, N / 2, N);
    remote_receive(&c, N, 120);
    remote_expect_exactly_once(&c, "a three-node cluster losing the stream's leader");
    remote_client_close(&c);
    free(remote_stop_host_balanced(&gw, "gateway"));
    free(remote_stop_host_balanced(&kh, "kernel host"));
    nats_fixture_cleanup();
}

static void test_a_dead_nats_server_never_crashes_a_host_and_backpressure_holds(void **st)
{
    (void)st;
    natsd *s = nats_fixture_start(NULL);
    const char *gm = remote_gateway("dead", s->url, NULL, 1);
    const char *km = remote_kernel_host("dead", "k", s->url, NULL, 1);
    const char *gw_inst = cli_instance("dead-gw"), *kh_inst = cli_instance("dead-k");
    proc gw, kh;
    remote_start_host(&gw, gm);
    remote_start_host(&kh, km);
    remote_client c;
    remote_client_open(&c, gw_inst, N);
    remote_send_range(&c, 0, N / 4);
    await_link_counter(gw_inst, "acked", N / 8, 60);
    nats_fixture_kill(s);
    cli_await_log(&gw, "event=link.down", 1, 30);
    cli_await_log(&kh, "event=link.down", 1, 30);
    long long published = remote_link_counter(gw_inst, "published");
    long long answers_acked = remote_link_counter(kh_inst, "acked");
    long long imported = cli_queue_counter(kh_inst, "e.in", "enqueued");

    /* Exports keep what they cannot publish in their local queue: the
     * client fills e.in, then its next send is refused (after the queue's
     * block_timeout_ms), and nothing is published. */
    uint64_t next = N / 4;
    int refused = 0;
    while (next < N && !refused) {
        rh_envelope env = {.id = remote_request_id(next + 1)};
        unsigned char p[REMOTE_PAYLOAD] = {0};
        int sent = rh_send_burst(c.in, &env, p, REMOTE_PAYLOAD, REMOTE_PAYLOAD, 1, NULL);
        if (sent == 1)
            next++;
        else
            refused = 1;
    }
    /* A persist queue keeps a taken message's cell until JetStream acks
     * it: the cells are those queued plus those in flight. */
    long long depth = cli_queue_counter(gw_inst, "e.in", "depth");
    long long in_flight = remote_link_counter(gw_inst, "pending_acks");
    if (!refused || depth + in_flight != REMOTE_GATEWAY_IN_CAPACITY)
        fail_msg("expected the gateway's e.in to fill its %d cells (queued + in flight to "
                 "JetStream) and refuse the next send while the server is dead; got %s after "
                 "%llu requests, depth %lld + in flight %lld", REMOTE_GATEWAY_IN_CAPACITY,
                 refused ? "a refusal" : "no refusal", (unsigned long long)next, depth,
                 in_flight);
    long long connected = remote_link_counter(gw_inst, "connected");
    long long published2 = remote_link_counter(gw_inst, "published");
    if (connected != 0 || published2 != published)
        fail_msg("expected the gateway's link down (connected 0) and nothing published while "
                 "the server is dead; got connected %lld, published %lld then %lld", connected,
                 published, published2);
    if (!host_alive(&gw) || !host_alive(&kh))
        fail_msg("expected both hosts to keep running with the server dead (gateway %s, "
                 "kernel host %s)", host_alive(&gw) ? "runs" : "gone",
                 host_alive(&kh) ? "runs" : "gone");
    /* the kernel host's import waits: nothing comes in (the refused send
     * above took block_timeout_ms, 5 s, to be refused) */
    long long imported2 = cli_queue_counter(kh_inst, "e.in", "enqueued");
    if (imported2 != imported)
        fail_msg("expected the kernel host's import to wait while the server is dead; its "
                 "e.in went from %lld to %lld enqueued", imported, imported2);
    print_message("    server dead: gateway e.in depth %lld + in flight %lld, %llu requests "
                  "sent, gateway published %lld, kernel host acked %lld\n", depth, in_flight,
                  (unsigned long long)next, published2, answers_acked);

    /* Stopped while the server is dead, both still balance (what is in
     * flight stays in their persist queues). */
    remote_client_detach(&c);
    free(remote_stop_host_balanced(&gw, "gateway stopped with the server dead"));
    free(remote_stop_host_balanced(&kh, "kernel host stopped with the server dead"));

    /* ... and nothing was lost: everything comes once the server is back */
    nats_fixture_restart(s);
    remote_start_host(&gw, gm);
    remote_start_host(&kh, km);
    remote_client_attach(&c, gw_inst);
    remote_send_range(&c, next, N);
    remote_receive(&c, N, 120);
    remote_expect_exactly_once(&c, "hosts through a dead nats-server, stopped and restarted");
    remote_client_close(&c);
    free(remote_stop_host_balanced(&gw, "restarted gateway"));
    free(remote_stop_host_balanced(&kh, "restarted kernel host"));
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
    if (getenv("RH_TEST_FILTER")) /* one test by name while debugging: "*cluster*" */
        cmocka_set_test_filter(getenv("RH_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        REMOTE_TEST(
            test_sigkill_of_the_persist_gateway_mid_stream_then_restart_answers_exactly_once),
        REMOTE_TEST(test_a_nats_server_restart_mid_stream_reconnects_both_hosts_exactly_once),
        REMOTE_TEST(test_publishes_lost_with_a_frozen_then_killed_server_are_published_again),
        REMOTE_TEST(test_a_cluster_node_killed_mid_stream_loses_and_repeats_nothing),
        REMOTE_TEST(test_a_dead_nats_server_never_crashes_a_host_and_backpressure_holds),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
