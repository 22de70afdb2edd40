/*
 * test_cli_latency.c — latency a user can see, through the real binary:
 * messages sent at once through the slow kernel (5 ms per message, batch
 * 1) wait in their queue behind each other, and each spends about 5 ms in
 * the kernel.  `stat --json` says so (each queue's "wait", each kernel's
 * "latency"."service", each thread's busy and idle polls), `stat --prom`
 * as Prometheus histograms (parsed here: cumulative buckets, +Inf equal to
 * _count), `graph --instance` on its edges; RINGHOST_LATENCY=0 records
 * nothing.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"

#define DELAY_US 5000
#define SENT 20
#define WITHIN_S 60.0

/* e.in -> slow (batch 1, bridge "thread": a pump copies into the
 * worker's ring; "inline": the worker reads e.in's cells in place) -> e.out */
static const char *manifest(const char *tag, const char *bridge)
{
    char text[2048];
    snprintf(text, sizeof text,
             "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
             " \"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 64},\n"
             "            \"e.out\": {\"type\": \"echo.message\", \"capacity\": 64}},\n"
             " \"kernels\": [{\"name\": \"k\", \"plugin\": \"slow\", \"batch\": 1,\n"
             "               \"bridge\": \"%s\",\n"
             "               \"config\": {\"delay_us\": %d},\n"
             "               \"inputs\": {\"in\": \"e.in\"},\n"
             "               \"outputs\": {\"out\": \"e.out\"}}]}\n",
             bridge, DELAY_US);
    return cli_manifest(tag, text);
}

/* SENT messages in one send: they queue behind each other. */
static void send_all(const char *instance)
{
    const char *args[SENT + 8] = {"send", "--instance", instance, "e.in"};
    int a = 4;
    for (int i = 0; i < SENT; i++)
        args[a++] = cli_keep("{\"seq\": %d, \"text\": \"m%d\"}", i, i);
    args[a] = NULL;
    cli_out o;
    cli_exec_argv(&o, NULL, args);
    cli_expect_exit(&o, 0);
    cli_free(&o);
}

static void start_and_answer_all(proc *host, const char *tag, const char *inst,
                                 const char *bridge)
{
    cli_start_host(host, manifest(tag, bridge), inst);
    send_all(inst);
    if (!WAIT_UNTIL_EVERY(WITHIN_S, CLI_POLL_MS,
                          cli_queue_counter(inst, "e.out", "enqueued") >= SENT))
        fail_msg("expected the slow kernel to answer all %d within %.0f s", SENT, WITHIN_S);
}

static void stop(proc *host)
{
    proc_signal(host, SIGTERM);
    proc_result r;
    proc_wait(host, 30, &r);
    proc_result_free(&r);
}

static json_t *stat_json(cli_out *o, const char *inst)
{
    cli_exec(o, NULL, "stat", "--instance", inst, "--json", NULL);
    cli_expect_exit(o, 0);
    json_t *doc = json_loads(o->r.out, 0, NULL);
    CLI_CHECK(o, doc, "expected stat --json to print one JSON document");
    return doc;
}

static json_t *find(json_t *arr, const char *key, const char *value)
{
    json_t *x;
    size_t i;
    json_array_foreach (arr, i, x)
        if (!strcmp(json_string_value(json_object_get(x, key)) ?: "", value))
            return x;
    return NULL;
}

static long long ival(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static void test_stat_json_shows_the_wait_and_the_service_time_of_a_5_ms_kernel(void **state)
{
    (void)state;
    const char *inst = cli_instance("latjson");
    proc host;
    start_and_answer_all(&host, "latjson", inst, "thread");
    cli_out o;
    json_t *doc = stat_json(&o, inst);
    json_t *k = find(json_object_get(doc, "kernels"), "name", "k");
    json_t *service = json_object_get(json_object_get(k, "latency"), "service");
    CLI_CHECK(&o, service, "expected kernels[k].latency.service");
    long long p50 = ival(service, "p50_ns"), n = ival(service, "count");
    print_message("service: count %lld p50 %lld ns p99 %lld ns\n", n, p50,
                  ival(service, "p99_ns"));
    CLI_CHECK(&o, n == SENT, "expected a service time for each of the %d messages, got %lld",
              SENT, n);
    /* the bucket's upper edge: at least the delay, at most 25% above it,
     * plus a loaded (or sanitized) machine's oversleep */
    CLI_CHECK(&o, p50 >= DELAY_US * 1000LL && p50 <= 10 * DELAY_US * 1000LL,
              "expected service p50 within [5 ms, 50 ms] for a 5 ms kernel, got %lld ns", p50);
    json_t *wait = json_object_get(find(json_object_get(doc, "queues"), "queue", "e.in"), "wait");
    CLI_CHECK(&o, wait, "expected queues[e.in].wait");
    print_message("e.in wait: count %lld p50 %lld ns p99 %lld ns\n", ival(wait, "count"),
                  ival(wait, "p50_ns"), ival(wait, "p99_ns"));
    CLI_CHECK(&o, ival(wait, "count") == SENT, "expected a wait for each of the %d, got %lld",
              SENT, ival(wait, "count"));
    /* sent at once, taken one per 5 ms: the last waited ~19 services */
    CLI_CHECK(&o, ival(wait, "p99_ns") >= DELAY_US * 1000LL,
              "expected e.in's p99 wait to be at least one service time (5 ms): they queued "
              "behind each other, got %lld ns", ival(wait, "p99_ns"));
    CLI_CHECK(&o, ival(wait, "p50_ns") > 0, "expected a non-zero p50 wait");
    CLI_CHECK(&o, !json_object_get(find(json_object_get(doc, "queues"), "queue", "e.out"),
                                   "wait"),
              "e.out is read by no kernel: it must have no wait");
    /* every thread of the host reports its polls; one of them found work */
    json_t *t;
    size_t i;
    long long busy = 0;
    json_array_foreach (json_object_get(doc, "threads"), i, t) {
        CLI_CHECK(&o, json_is_integer(json_object_get(t, "idle_polls")),
                  "expected idle_polls on every thread");
        busy += ival(t, "busy_polls");
    }
    CLI_CHECK(&o, busy >= SENT, "expected at least %d busy polls over the threads, got %lld",
              SENT, busy);
    json_decref(doc);
    cli_free(&o);

    /* the table */
    cli_exec(&o, NULL, "stat", "--instance", inst, "--once", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "p99.9") && strstr(o.r.out, "service  k") &&
                  strstr(o.r.out, "wait     e.in") && strstr(o.r.out, "busy polls"),
              "expected the latency and polls tables under stat's");
    cli_free(&o);

    /* the graph's edges */
    cli_exec(&o, NULL, "graph", "--instance", inst, NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "wait p50 ") && strstr(o.r.out, "service p50 "),
              "expected graph --instance edges to say wait p50 and service p50");
    cli_free(&o);
    stop(&host);
}

/* The value of the sample whose line starts with prefix (name{labels}),
 * or -1. */
static double sample(const char *text, const char *prefix)
{
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, prefix, strlen(prefix)))
            return atof(l + strlen(prefix));
    return -1;
}

/* name's _bucket lines for labels: cumulative (never decreasing), the
 * last le="+Inf" equal to _count; returns _count, and the count at le. */
static double check_prom_hist(const cli_out *o, const char *name, const char *labels,
                              const char *le, double *at_le)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s_bucket{%s,le=\"", name, labels);
    double last = 0, inf = -1;
    int buckets = 0;
    for (const char *l = o->r.out; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, prefix, strlen(prefix)))
            continue;
        const char *q = strchr(l + strlen(prefix), '"');
        CLI_CHECK(o, q && q[1] == '}', "a _bucket line without its le: %.80s", l);
        double v = atof(q + 2);
        CLI_CHECK(o, v >= last, "%s buckets must be cumulative: %.80s", name, l);
        last = v;
        buckets++;
        if (!strncmp(l + strlen(prefix), "+Inf\"", 5))
            inf = v;
        if (le && !strncmp(l + strlen(prefix), le, strlen(le)) &&
            l[strlen(prefix) + strlen(le)] == '"')
            *at_le = v;
    }
    snprintf(prefix, sizeof prefix, "%s_count{%s} ", name, labels);
    double count = sample(o->r.out, prefix);
    CLI_CHECK(o, buckets > 2 && inf == count && count >= 0,
              "expected %s{%s}: buckets ending in +Inf equal to _count, got %d buckets, +Inf "
              "%.0f, count %.0f", name, labels, buckets, inf, count);
    snprintf(prefix, sizeof prefix, "%s_sum{%s} ", name, labels);
    CLI_CHECK(o, sample(o->r.out, prefix) >= 0, "expected %s_sum{%s}", name, labels);
    return count;
}

static void test_stat_prom_has_histograms_of_wait_and_service_and_thread_polls(void **state)
{
    (void)state;
    const char *inst = cli_instance("latprom");
    proc host;
    start_and_answer_all(&host, "latprom", inst, "thread");
    cli_out o;
    cli_exec(&o, NULL, "stat", "--instance", inst, "--prom", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strstr(o.r.out, "# TYPE ringhost_kernel_service_seconds histogram") &&
                  strstr(o.r.out, "# TYPE ringhost_queue_wait_seconds histogram"),
              "expected both histograms TYPEd histogram");
    const char *kl = cli_keep("instance=\"%s\",kernel=\"k\"", inst);
    const char *ql = cli_keep("instance=\"%s\",queue=\"e.in\"", inst);
    /* 2^23 ns = 8.39 ms: a 5 ms service is below it (less the machine's
     * oversleep: at least half of them) */
    double below_8ms = -1;
    double n = check_prom_hist(&o, "ringhost_kernel_service_seconds", kl, "0.008388608",
                               &below_8ms);
    CLI_CHECK(&o, n == SENT, "expected service _count %d, got %.0f", SENT, n);
    CLI_CHECK(&o, below_8ms >= SENT / 2, "expected most services under 8.39 ms, got %.0f",
              below_8ms);
    double below_5ms = -1;
    check_prom_hist(&o, "ringhost_kernel_service_seconds", kl, "0.004194304", &below_5ms);
    CLI_CHECK(&o, below_5ms == 0, "no service of a 5 ms kernel is under 4.19 ms, got %.0f",
              below_5ms);
    double w = check_prom_hist(&o, "ringhost_queue_wait_seconds", ql, NULL, NULL);
    CLI_CHECK(&o, w == SENT, "expected wait _count %d, got %.0f", SENT, w);
    const char *busy = cli_keep("ringhost_thread_polls_total{instance=\"%s\",thread=\"", inst);
    CLI_CHECK(&o, strstr(o.r.out, busy) && strstr(o.r.out, "result=\"busy\"} ") &&
                  strstr(o.r.out, "result=\"idle\"} "),
              "expected ringhost_thread_polls_total busy and idle per thread");
    cli_free(&o);
    stop(&host);
}

/* The in-place take (inline bridge) records as the copying one does. */
static void test_an_inline_bridge_records_every_wait_and_service_time(void **state)
{
    (void)state;
    const char *inst = cli_instance("latinl");
    proc host;
    start_and_answer_all(&host, "latinl", inst, "inline");
    cli_out o;
    json_t *doc = stat_json(&o, inst);
    json_t *lat = json_object_get(find(json_object_get(doc, "kernels"), "name", "k"), "latency");
    json_t *service = json_object_get(lat, "service");
    json_t *wait = json_object_get(find(json_object_get(doc, "queues"), "queue", "e.in"), "wait");
    CLI_CHECK(&o, ival(service, "count") == SENT && ival(wait, "count") == SENT,
              "expected %d service times and %d waits, got %lld and %lld", SENT, SENT,
              ival(service, "count"), ival(wait, "count"));
    CLI_CHECK(&o, ival(service, "p50_ns") >= DELAY_US * 1000LL &&
                  ival(service, "p50_ns") <= 10 * DELAY_US * 1000LL,
              "expected service p50 within [5 ms, 50 ms], got %lld ns", ival(service, "p50_ns"));
    CLI_CHECK(&o, ival(wait, "p99_ns") >= DELAY_US * 1000LL,
              "expected e.in's p99 wait to be at least one service time, got %lld ns",
              ival(wait, "p99_ns"));
    json_decref(doc);
    cli_free(&o);
    stop(&host);
}

static void test_ringhost_latency_0_records_nothing(void **state)
{
    (void)state;
    const char *inst = cli_instance("latoff");
    proc host;
    setenv("RINGHOST_LATENCY", "0", 1); /* the host inherits it */
    start_and_answer_all(&host, "latoff", inst, "inline");
    unsetenv("RINGHOST_LATENCY");
    cli_out o;
    json_t *doc = stat_json(&o, inst);
    json_t *lat = json_object_get(find(json_object_get(doc, "kernels"), "name", "k"), "latency");
    CLI_CHECK(&o, json_is_false(json_object_get(lat, "recorded")) &&
                  ival(json_object_get(lat, "service"), "count") == 0,
              "expected RINGHOST_LATENCY=0 to record no service time");
    json_t *wait = json_object_get(find(json_object_get(doc, "queues"), "queue", "e.in"), "wait");
    CLI_CHECK(&o, ival(wait, "count") == 0, "expected no wait recorded, got %lld",
              ival(wait, "count"));
    json_decref(doc);
    cli_free(&o);
    stop(&host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CLI_HOST_TEST(test_stat_json_shows_the_wait_and_the_service_time_of_a_5_ms_kernel),
        CLI_HOST_TEST(test_stat_prom_has_histograms_of_wait_and_service_and_thread_polls),
        CLI_HOST_TEST(test_an_inline_bridge_records_every_wait_and_service_time),
        CLI_HOST_TEST(test_ringhost_latency_0_records_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
