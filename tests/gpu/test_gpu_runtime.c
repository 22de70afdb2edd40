/*
 * test_gpu_runtime.c — the GPU executor on a real GPU, through the embedding
 * API with the real plugins (vector_add_gpu, echo_gpu).  Label `gpu`:
 * `ctest -L gpu` on a machine with a GPU.  Elsewhere every test says
 * "skipped: no CUDA device (<why>)" and passes: the launch is refused with
 * RH_EPLACE (test_cli_gpu checks that refusal).
 *
 *  - 1,000,000 VectorAdd requests (RINGHOST_GPU_TEST_N) of random vectors (1..64 elements, the
 *    four ops), each answer checked element by element against the same
 *    IEEE 754 float arithmetic on the CPU, by correlation;
 *  - activate / deactivate cycles with a round trip in each, and launch /
 *    activate / terminate cycles, the terminate's time recorded: no hang,
 *    nothing lost;
 *  - a planted illegal address (echo_gpu's trap_seq) and a failed message
 *    (fail_seq): the host lives, the failed message and the poison are
 *    dead-lettered with their reasons, the worker restarted, every other
 *    message answered once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "rt_fixture.h"
#include "ringhost/runtime.h"
#include "vector_add_request.h"
#include "vector_add_response.h"
#include "echo_message.h"

static char skip_why[512];

/* Launch body as name; NULL (and the test skipped) where no GPU runs it. */
static rh_runtime *gpu_launch(const char *name, const char *body)
{
    rh_runtime *rt = NULL;
    rh_error err = {0};
    int rc = rt_try_launch(name, body, &rt, &err);
    if (rc == RH_EPLACE && !getenv("RINGHOST_EXPECT_CUDA")) {
        snprintf(skip_why, sizeof skip_why, "%s", err.msg);
        print_message("    skipped: no CUDA device (%s)\n", err.msg);
        return NULL;
    }
    if (rc != 0)
        fail_msg("launch of %s failed: %s", name, err.msg);
    return rt;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* RINGHOST_GPU_TEST_N overrides it (the CPU stand-in of the driver,
 * tests/fake_cuda, runs fewer). */
#define VADD_N_DEFAULT 1000000u
static uint32_t VADD_N = VADD_N_DEFAULT;
#define VADD_WINDOW 4096u
#define VADD_BURST 64u

static void make_request(uint64_t i, vector_add_request *rq)
{
    memset(rq, 0, sizeof *rq);
    rng = 0x9e3779b97f4a7c15ull ^ (i * 0xd6e8feb86659fd93ull);
    rq->op = (vector_add_request_op)(i % 4);
    rq->a_len = rq->b_len = 1 + rnd() % 64;
    for (uint32_t k = 0; k < rq->a_len; k++) {
        rq->a[k] = (float)((int32_t)(rnd() % 20001) - 10000) / 97.0f;
        rq->b[k] = (float)((int32_t)(rnd() % 20001) - 10000) / 89.0f;
    }
}

static void check_response(uint64_t i, const vector_add_response *rs)
{
    vector_add_request rq;
    make_request(i, &rq);
    if (!rs->success || rs->result_len != rq.a_len || rs->processed_elements != rq.a_len)
        fail_msg("request %llu: expected success with %u elements, got success=%d len=%u (%s)",
                 (unsigned long long)i, rq.a_len, rs->success, rs->result_len, rs->error);
    for (uint32_t k = 0; k < rq.a_len; k++) {
        volatile float a = rq.a[k], b = rq.b[k], want;
        switch (rq.op) {
        case VECTOR_ADD_REQUEST_OP_ADD: want = a + b; break;
        case VECTOR_ADD_REQUEST_OP_SUB: want = a - b; break;
        case VECTOR_ADD_REQUEST_OP_MUL: want = a * b; break;
        default: want = a / b; break;
        }
        if (memcmp((const void *)&want, &rs->result[k], sizeof want) != 0)
            fail_msg("request %llu (op %d) element %u: expected %.9g, got %.9g",
                     (unsigned long long)i, (int)rq.op, k, (double)want, (double)rs->result[k]);
    }
}

static void test_a_million_vector_adds_checked_element_by_element(void **st)
{
    (void)st;
    rh_runtime *rt = gpu_launch(
        "vadd1m", "\"queues\": {\"vadd.in\": {\"type\": \"vector_add.request\", \"capacity\": 8192},"
                  " \"vadd.out\": {\"type\": \"vector_add.response\", \"capacity\": 8192}},"
                  " \"kernels\": [{\"name\": \"vadd\", \"plugin\": \"vector_add_gpu\","
                  " \"isolation\": \"cuda\", \"workers\": 2,"
                  " \"inputs\": {\"requests\": \"vadd.in\"},"
                  " \"outputs\": {\"responses\": \"vadd.out\"}}]");
    if (!rt)
        skip();
    const char *n_env = getenv("RINGHOST_GPU_TEST_N");
    if (n_env && atoi(n_env) > 0)
        VADD_N = (uint32_t)atoi(n_env);
    rh_error err = {0};
    assert_int_equal(rh_runtime_activate(rt, &err), 0);
    rh_queue *in = rh_runtime_queue(rt, "vadd.in"), *out = rh_runtime_queue(rt, "vadd.out");
    static vector_add_request rq[VADD_BURST];
    static vector_add_response rs[VADD_BURST];
    static rh_envelope envs[VADD_BURST], renv[VADD_BURST];
    uint8_t *seen = calloc(VADD_N, 1);
    assert_non_null(seen);
    uint64_t sent = 0, got = 0;
    double t0 = now_s(), deadline = t0 + 600;
    while (got < VADD_N) {
        if (now_s() > deadline)
            fail_msg("expected %u answers within 600 s; got %llu", VADD_N, (unsigned long long)got);
        if (sent < VADD_N && sent - got < VADD_WINDOW) {
            uint32_t n = VADD_N - sent < VADD_BURST ? (uint32_t)(VADD_N - sent) : VADD_BURST;
            for (uint32_t j = 0; j < n; j++) {
                make_request(sent + j, &rq[j]);
                memset(&envs[j], 0, sizeof envs[j]);
                envs[j].id.hi = 0x5eed000000008000ull;
                envs[j].id.lo = 0x8000000000000000ull | (sent + j);
            }
            int k = rh_send_burst(in, envs, rq, sizeof rq[0], sizeof rq[0], n, NULL);
            assert_true(k >= 0);
            sent += (uint64_t)k;
        }
        int r = rh_recv_burst(out, renv, rs, sizeof rs[0], VADD_BURST, sent - got >= VADD_WINDOW ? 1000 : 0);
        for (int j = 0; j < r; j++) {
            uint64_t i = renv[j].correlation_id.lo & ~0x8000000000000000ull;
            if (renv[j].correlation_id.hi != 0x5eed000000008000ull || i >= VADD_N || seen[i]++)
                fail_msg("an answer to no request, or twice to request %llu", (unsigned long long)i);
            check_response(i, &rs[j]);
            got++;
        }
    }
    double s = now_s() - t0;
    print_message("    %u VectorAdd requests answered and checked in %.2f s (%.0f/s)\n", VADD_N, s,
                  VADD_N / s);
    free(seen);
    assert_int_equal(rh_runtime_terminate(rt, 5000, &err), 0);
    rh_runtime_destroy(rt);
}

static const char *echo_body(const char *config)
{
    static char b[1024];
    snprintf(b, sizeof b,
             "\"queues\": {\"e.in\": {\"type\": \"echo.message\"},"
             " \"e.out\": {\"type\": \"echo.message\"}},"
             " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo_gpu\", \"isolation\": \"cuda\","
             " \"restart\": {\"max\": 10, \"backoff_ms\": 20},"
             " \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"},"
             " \"config\": %s}]", config);
    return b;
}

static void send_seq(rh_runtime *rt, uint64_t seq)
{
    echo_message m;
    memset(&m, 0, sizeof m);
    m.seq = seq;
    assert_int_equal(rh_send(rh_runtime_queue(rt, "e.in"), NULL, &m, sizeof m, NULL), 0);
}

static uint64_t recv_seq(rh_runtime *rt, int timeout_ms)
{
    echo_message m;
    rh_envelope e;
    int r = rh_recv(rh_runtime_queue(rt, "e.out"), &e, &m, sizeof m, timeout_ms);
    return r > 0 ? m.seq : 0;
}

static void test_activate_deactivate_and_terminate_cycles(void **st)
{
    (void)st;
    rh_runtime *rt = gpu_launch("cycles", echo_body("{}"));
    if (!rt)
        skip();
    rh_error err = {0};
    double worst = 0;
    for (uint64_t c = 1; c <= 1000; c++) {
        assert_int_equal(rh_runtime_activate(rt, &err), 0);
        send_seq(rt, c);
        uint64_t s = recv_seq(rt, 5000);
        if (s != c)
            fail_msg("cycle %llu: expected the answer %llu, got %llu", (unsigned long long)c,
                     (unsigned long long)c, (unsigned long long)s);
        double t0 = now_s();
        assert_int_equal(rh_runtime_deactivate(rt, &err), 0);
        worst = now_s() - t0 > worst ? now_s() - t0 : worst;
    }
    assert_int_equal(rh_runtime_terminate(rt, 5000, &err), 0);
    rh_runtime_destroy(rt);
    double worst_term = 0, sum_term = 0;
    uint64_t drained = 0;
    for (int c = 0; c < 20; c++) {
        rt = gpu_launch("cycles2", echo_body("{}"));
        assert_non_null(rt);
        assert_int_equal(rh_runtime_activate(rt, &err), 0);
        for (uint64_t i = 1; i <= 100; i++)
            send_seq(rt, i);
        double t0 = now_s();
        assert_int_equal(rh_runtime_terminate(rt, 5000, &err), 0);
        double t = now_s() - t0;
        sum_term += t;
        worst_term = t > worst_term ? t : worst_term;
        /* Terminate stops the intake and drains the rings: what the
         * bridges had taken is answered, the rest is still queued. */
        uint32_t answers = 0;
        while (recv_seq(rt, 0))
            answers++;
        uint64_t queued = rt_queue_depth(rt, "e.in");
        if (answers + queued != 100)
            fail_msg("launch %d: expected the 100 requests answered or still queued after "
                     "terminate; %u answered, %llu queued", c, answers,
                     (unsigned long long)queued);
        drained += answers;
        rh_runtime_destroy(rt);
    }
    print_message("    1000 activate/deactivate cycles (worst deactivate %.2f ms); 20 launch/"
                  "terminate cycles, terminate mean %.1f ms, worst %.1f ms, %llu of 2000 answered "
                  "at terminate, the rest still queued\n",
                  worst * 1e3, sum_term / 20 * 1e3, worst_term * 1e3, (unsigned long long)drained);
}

static void test_a_device_fault_is_dead_lettered_and_the_worker_restarted(void **st)
{
    (void)st;
    rh_runtime *rt = gpu_launch("fault", echo_body("{\"fail_seq\": 10, \"trap_seq\": 50}"));
    if (!rt)
        skip();
    rh_error err = {0};
    assert_int_equal(rh_runtime_activate(rt, &err), 0);
    for (uint64_t i = 1; i <= 100; i++)
        send_seq(rt, i);
    uint8_t seen[101] = {0};
    uint32_t answers = 0;
    double deadline = now_s() + 60;
    while (answers < 98 && now_s() < deadline) {
        uint64_t s = recv_seq(rt, 500);
        if (s) {
            assert_true(s <= 100 && !seen[s]);
            seen[s] = 1;
            answers++;
        }
    }
    if (answers != 98 || seen[10] || seen[50])
        fail_msg("expected 98 answers, none to seq 10 (failed) or 50 (the trap); got %u%s%s",
                 answers, seen[10] ? ", 10 answered" : "", seen[50] ? ", 50 answered" : "");
    /* the dead letters: the failure with its reason, the trap as poison */
    rh_queue *dlq = rh_runtime_queue(rt, "e.dlq");
    assert_non_null(dlq);
    int fails = 0, poison = 0;
    uint32_t cap = rh_queue_payload_size(dlq);
    char *buf = malloc(cap);
    assert_non_null(buf);
    rh_envelope e;
    for (int k = 0; k < 4; k++) {
        int r = rh_recv(dlq, &e, buf, cap, 2000);
        if (r <= 0)
            break;
        size_t off = 0;
        for (; off + 6 < (size_t)r; off++) {
            if (!memcmp(buf + off, "failed on purpose", 17))
                fails++;
            if (!memcmp(buf + off, "poison: the device faulted twice", 32))
                poison++;
        }
    }
    free(buf);
    rh_kernel_info ki = rt_kernel_info(rt, 0);
    print_message("    device fault: %u answers, %d failed and %d poison dead-lettered, %llu "
                  "restarts\n", answers, fails, poison, (unsigned long long)ki.restarts);
    assert_int_equal(fails, 1);
    assert_int_equal(poison, 1);
    assert_true(ki.restarts >= 2);
    assert_int_equal(rh_runtime_terminate(rt, 5000, &err), 0);
    rh_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_million_vector_adds_checked_element_by_element),
        cmocka_unit_test(test_activate_deactivate_and_terminate_cycles),
        cmocka_unit_test(test_a_device_fault_is_dead_lettered_and_the_worker_restarted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
