/*
 * test_queue.c — the named queue: creation rules, send/recv, the four
 * backpressure policies, waiting, MPMC delivery, shared memory across
 * processes, and burst dequeue.
 *
 * Every shared queue lives in an instance named after this process, so
 * parallel test runs never meet, and every test closes what it creates.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"

#include "queue/queue_pvt.h"
#include "ringhost/ringhost.h"

#define MS 1000000ull

/* The message every test sends: who sent it and its number. */
typedef struct test_msg {
    uint64_t producer;
    uint64_t seq;
    uint64_t check; /* a function of the two, to catch torn copies */
} test_msg;

static const rh_type test_type = {
    .struct_size = sizeof(rh_type),
    .name = "test.msg",
    .fingerprint = 0x7465737420747970ull,
    .size = sizeof(test_msg),
    .align = 8,
};

static const rh_type other_type = {
    .struct_size = sizeof(rh_type),
    .name = "test.other",
    .fingerprint = 0x6f74686572747970ull,
    .size = sizeof(test_msg),
    .align = 8,
};

static char instance[64];

static uint64_t check_of(uint64_t producer, uint64_t seq)
{
    return (producer * 0x9e3779b97f4a7c15ull) ^ (seq + 0x632be59bd9b4e019ull);
}

static test_msg msg_of(uint64_t producer, uint64_t seq)
{
    test_msg m = {producer, seq, check_of(producer, seq)};
    return m;
}

static rh_queue_config config(uint32_t capacity, rh_backpressure bp, uint32_t block_timeout_ms)
{
    rh_queue_config c = RH_QUEUE_CONFIG_INIT(.capacity = capacity, .backpressure = bp,
                                             .block_timeout_ms = block_timeout_ms);
    return c;
}

static rh_queue *make_queue(const char *name, rh_queue_config cfg)
{
    rh_queue *q = NULL;
    rh_error err = {0};
    int rc = rh_queue_create(instance, name, &test_type, &cfg, "plugins/libtest.so", &q, &err);
    EXPECT(rc == 0 && q, "expected queue \"%s\" to be created, got %d: %s", name, rc, err.msg);
    return q;
}

static void send_ok(rh_queue *q, uint64_t producer, uint64_t seq)
{
    test_msg m = msg_of(producer, seq);
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    EXPECT(rc == 0, "send of message %llu failed: %d (%s)", (unsigned long long)seq, rc,
           rh_strerror(rc));
}

static test_msg recv_ok(rh_queue *q, int timeout_ms)
{
    test_msg m = {0};
    rh_envelope env;
    int rc = rh_recv(q, &env, &m, sizeof m, timeout_ms);
    EXPECT(rc == (int)sizeof m, "expected a %zu-byte message, got %d (%s)", sizeof m, rc,
           rh_strerror(rc));
    EXPECT(env.payload_len == sizeof m, "envelope payload_len %u, expected %zu", env.payload_len,
           sizeof m);
    EXPECT(m.check == check_of(m.producer, m.seq), "message %llu arrived torn",
           (unsigned long long)m.seq);
    return m;
}

static rh_queue_stats stats_of(const rh_queue *q)
{
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &s);
    return s;
}

static int create_rc(const char *name, rh_queue_config cfg, const rh_type *type, rh_error *err)
{
    rh_queue *q = NULL;
    int rc = rh_queue_create(instance, name, type, &cfg, NULL, &q, err);
    if (q)
        rh_queue_close(q);
    return rc;
}

/* ------------------------------------------------------------ creation -- */

static void test_create_rejects_capacity_1000_saying_what_is_expected(void **state)
{
    (void)state;
    rh_error err = {0};
    int rc = create_rc("q", config(1000, RH_BP_REJECT, 0), &test_type, &err);
    EXPECT(rc == RH_EINVAL, "expected RH_EINVAL for capacity 1000, got %d", rc);
    EXPECT(strstr(err.msg, "capacity must be a power of two between 2 and 16777216, got 1000"),
           "the message must state the rule and the value, got: %s", err.msg);
}

static void test_create_rejects_capacities_outside_powers_of_two_2_to_2_pow_24(void **state)
{
    (void)state;
    static const uint32_t bad[] = {0, 1, 3, 6, (1u << 24) + 1, 1u << 25, UINT32_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rh_error err = {0};
        int rc = create_rc("q", config(bad[i], RH_BP_REJECT, 0), &test_type, &err);
        char want[32];
        snprintf(want, sizeof want, "got %u", bad[i]);
        EXPECT(rc == RH_EINVAL, "expected RH_EINVAL for capacity %u, got %d", bad[i], rc);
        EXPECT(strstr(err.msg, want), "expected \"%s\" in: %s", want, err.msg);
    }
}

static void test_create_accepts_capacity_2_and_2_pow_24(void **state)
{
    (void)state;
    rh_error err = {0};
    EXPECT(create_rc("q", config(2, RH_BP_REJECT, 0), &test_type, &err) == 0,
           "capacity 2 must be accepted: %s", err.msg);
    EXPECT(create_rc("q", config(1u << 24, RH_BP_REJECT, 0), &test_type, &err) == 0,
           "capacity 2^24 must be accepted: %s", err.msg);
}

static void test_create_accepts_capacity_4096_with_dedup_window_1024(void **state)
{
    (void)state;
    rh_queue_config cfg = config(4096, RH_BP_BLOCK, 5000);
    cfg.dedup_window = 1024;
    rh_error err = {0};
    int rc = create_rc("vadd.in", cfg, &test_type, &err);
    EXPECT(rc == 0, "the manifest defaults (4096 slots, dedup 1024) must work: %d %s", rc,
           err.msg);
}

static void test_create_rejects_dedup_window_above_4_times_capacity(void **state)
{
    (void)state;
    rh_queue_config cfg = config(16, RH_BP_REJECT, 0);
    cfg.dedup_window = 64;
    rh_error err = {0};
    EXPECT(create_rc("q", cfg, &test_type, &err) == 0, "dedup_window 64 = 4*16 is allowed: %s",
           err.msg);
    cfg.dedup_window = 65;
    int rc = create_rc("q", cfg, &test_type, &err);
    EXPECT(rc == RH_EINVAL, "expected RH_EINVAL for dedup_window 65 > 64, got %d", rc);
    EXPECT(strstr(err.msg, "64") && strstr(err.msg, "got 65"),
           "the message must give the limit 64 and the value 65: %s", err.msg);
}

static void test_create_rejects_invalid_queue_names(void **state)
{
    (void)state;
    char long_name[RH_QUEUE_NAME_MAX + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *bad[] = {"", "has space", "a/b", "tab\t", "ü", long_name};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rh_error err = {0};
        int rc = create_rc(bad[i], config(4, RH_BP_REJECT, 0), &test_type, &err);
        EXPECT(rc == RH_EINVAL, "expected RH_EINVAL for queue name \"%s\", got %d", bad[i], rc);
        EXPECT(strstr(err.msg, "[A-Za-z0-9._-]"), "the message must give the charset: %s",
               err.msg);
    }
    long_name[RH_QUEUE_NAME_MAX] = '\0';
    rh_error err = {0};
    EXPECT(create_rc(long_name, config(4, RH_BP_REJECT, 0), &test_type, &err) == 0,
           "a 64-character name is allowed: %s", err.msg);
    EXPECT(rh_queue_name_valid("Vadd_1.in-2"), "letters, digits, '.', '_' and '-' are allowed");
    EXPECT(!rh_queue_name_valid(NULL), "NULL is not a name");
}

static void test_create_rejects_missing_type_and_zero_fingerprint(void **state)
{
    (void)state;
    rh_error err = {0};
    int rc = create_rc("q", config(4, RH_BP_REJECT, 0), NULL, &err);
    EXPECT(rc == RH_EINVAL, "expected RH_EINVAL without a type, got %d", rc);
    rh_type unfingerprinted = test_type;
    unfingerprinted.fingerprint = 0;
    rc = create_rc("q", config(4, RH_BP_REJECT, 0), &unfingerprinted, &err);
    EXPECT(rc == RH_EINVAL, "expected RH_EINVAL for fingerprint 0, got %d", rc);
    EXPECT(strstr(err.msg, "fingerprint"), "the message must mention the fingerprint: %s",
           err.msg);
}

static void test_create_rejects_shared_queue_with_invalid_instance(void **state)
{
    (void)state;
    rh_queue_config cfg = config(4, RH_BP_REJECT, 0);
    cfg.shared = 1;
    rh_queue *q = NULL;
    rh_error err = {0};
    int rc = rh_queue_create("no/slash", "q", &test_type, &cfg, NULL, &q, &err);
    EXPECT(rc == RH_EINVAL && q == NULL, "expected RH_EINVAL for instance \"no/slash\", got %d",
           rc);
}

/* ------------------------------------------------------- send and recv -- */

static void test_send_recv_round_trip_preserves_id_correlation_priority_and_flags(void **state)
{
    (void)state;
    rh_queue *q = make_queue("rt", config(8, RH_BP_REJECT, 0));
    rh_envelope in = {.id = {0x1111, 0x2222}, .correlation_id = {0x3333, 0x4444},
                      .priority = 200, .flags = RH_ENV_HAS_CORRELATION, .enqueue_ns = 1,
                      .payload_len = 999, .port = 7};
    test_msg m = msg_of(1, 2);
    rh_id assigned = {0, 0};
    uint64_t before = rh_now_ns();
    EXPECT(rh_send(q, &in, &m, sizeof m, &assigned) == 0, "send failed");
    uint64_t after = rh_now_ns();
    EXPECT(rh_id_eq(assigned, in.id), "a given id must be kept and reported");

    rh_envelope out;
    test_msg got;
    int rc = rh_recv(q, &out, &got, sizeof got, 0);
    EXPECT(rc == (int)sizeof m, "expected %zu bytes, got %d", sizeof m, rc);
    EXPECT(memcmp(&got, &m, sizeof m) == 0, "payload changed in transit");
    EXPECT(rh_id_eq(out.id, in.id), "id not preserved");
    EXPECT(rh_id_eq(out.correlation_id, in.correlation_id), "correlation id not preserved");
    EXPECT(out.priority == 200 && out.flags == RH_ENV_HAS_CORRELATION,
           "priority/flags not preserved: %u/%u", out.priority, out.flags);
    EXPECT(out.payload_len == sizeof m, "payload_len must be the sent length, got %u",
           out.payload_len);
    EXPECT(out.enqueue_ns >= before && out.enqueue_ns <= after,
           "enqueue_ns must be stamped at send time (CLOCK_MONOTONIC)");
    rh_queue_close(q);
}

static void test_send_without_envelope_generates_a_fresh_id(void **state)
{
    (void)state;
    rh_queue *q = make_queue("gen", config(8, RH_BP_REJECT, 0));
    test_msg m = msg_of(0, 0);
    rh_id a = {0, 0}, b = {0, 0};
    rh_envelope zero_id = {.priority = 3};
    EXPECT(rh_send(q, NULL, &m, sizeof m, &a) == 0, "send with env NULL failed");
    EXPECT(rh_send(q, &zero_id, &m, sizeof m, &b) == 0, "send with a zero id failed");
    EXPECT(!rh_id_is_zero(a) && !rh_id_is_zero(b) && !rh_id_eq(a, b),
           "each message without an id must get a fresh, distinct one");
    rh_envelope out;
    recv_ok(q, 0);
    EXPECT(rh_recv(q, &out, &m, sizeof m, 0) == (int)sizeof m, "second recv failed");
    EXPECT(rh_id_eq(out.id, b), "the received id must be the one reported to the sender");
    rh_queue_close(q);
}

static void test_send_larger_than_the_slot_gives_etoobig(void **state)
{
    (void)state;
    rh_queue *q = make_queue("big", config(8, RH_BP_REJECT, 0));
    char big[sizeof(test_msg) + 1] = {0};
    int rc = rh_send(q, NULL, big, sizeof big, NULL);
    EXPECT(rc == RH_ETOOBIG, "expected RH_ETOOBIG for %zu > %zu bytes, got %d", sizeof big,
           sizeof(test_msg), rc);
    EXPECT(stats_of(q).enqueued == 0, "a refused message must not be enqueued");
    rh_queue_close(q);
}

static void test_recv_into_too_small_buffer_gives_etoobig_and_keeps_the_message(void **state)
{
    (void)state;
    rh_queue *q = make_queue("small", config(8, RH_BP_REJECT, 0));
    send_ok(q, 0, 5);
    char tiny[8];
    int rc = rh_recv(q, NULL, tiny, sizeof tiny, 0);
    EXPECT(rc == RH_ETOOBIG, "expected RH_ETOOBIG receiving 24 bytes into 8, got %d", rc);
    test_msg m = recv_ok(q, 0);
    EXPECT(m.seq == 5, "the message must have stayed queued");
    rh_queue_close(q);
}

static void test_recv_with_timeout_0_on_empty_queue_gives_eempty(void **state)
{
    (void)state;
    rh_queue *q = make_queue("empty", config(8, RH_BP_REJECT, 0));
    test_msg m;
    int rc = rh_recv(q, NULL, &m, sizeof m, 0);
    EXPECT(rc == RH_EEMPTY, "expected RH_EEMPTY, got %d", rc);
    rh_queue_close(q);
}

static void test_recv_times_out_after_timeout_ms(void **state)
{
    (void)state;
    rh_queue *q = make_queue("to", config(8, RH_BP_REJECT, 0));
    test_msg m;
    uint64_t t0 = rh_now_ns();
    int rc = rh_recv(q, NULL, &m, sizeof m, 50);
    uint64_t waited = rh_now_ns() - t0;
    EXPECT(rc == RH_ETIMEDOUT, "expected RH_ETIMEDOUT, got %d", rc);
    EXPECT(waited >= 50 * MS, "returned after %llu ms, before the 50 ms timeout",
           (unsigned long long)(waited / MS));
    EXPECT(waited < 5000 * MS, "a 50 ms timeout took %llu ms", (unsigned long long)(waited / MS));
    rh_queue_close(q);
}

typedef struct delayed {
    rh_queue *q;
    unsigned delay_ms;
    int rc;
} delayed;

static void *send_later(void *arg)
{
    delayed *d = arg;
    usleep(d->delay_ms * 1000);
    test_msg m = msg_of(9, 9);
    d->rc = rh_send(d->q, NULL, &m, sizeof m, NULL);
    return NULL;
}

static void test_recv_forever_wakes_when_a_message_arrives(void **state)
{
    (void)state;
    rh_queue *q = make_queue("later", config(8, RH_BP_REJECT, 0));
    delayed d = {q, 30, -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, send_later, &d), 0);
    test_msg m = recv_ok(q, -1);
    pthread_join(t, NULL);
    EXPECT(d.rc == 0 && m.seq == 9, "expected the late message (seq 9), got %llu",
           (unsigned long long)m.seq);
    rh_queue_close(q);
}

/* ------------------------------------------------------------ policies -- */

static void test_reject_policy_gives_efull_and_counts_rejected(void **state)
{
    (void)state;
    rh_queue *q = make_queue("reject", config(2, RH_BP_REJECT, 0));
    send_ok(q, 0, 0);
    send_ok(q, 0, 1);
    test_msg m = msg_of(0, 2);
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    EXPECT(rc == RH_EFULL, "expected RH_EFULL from a full reject queue, got %d", rc);
    rh_queue_stats s = stats_of(q);
    EXPECT(s.rejected == 1 && s.enqueued == 2 && s.depth == 2,
           "expected rejected 1, enqueued 2, depth 2; got %llu, %llu, %llu",
           (unsigned long long)s.rejected, (unsigned long long)s.enqueued,
           (unsigned long long)s.depth);
    EXPECT(s.high_water == 2, "a producer finding the queue full sets high_water to capacity");
    EXPECT(recv_ok(q, 0).seq == 0 && recv_ok(q, 0).seq == 1, "the queued messages are intact");
    rh_queue_close(q);
}

static void test_drop_newest_policy_gives_edropped_and_keeps_queued_messages(void **state)
{
    (void)state;
    rh_queue *q = make_queue("dropnew", config(2, RH_BP_DROP_NEWEST, 0));
    send_ok(q, 0, 0);
    send_ok(q, 0, 1);
    test_msg m = msg_of(0, 2);
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    EXPECT(rc == RH_EDROPPED, "expected RH_EDROPPED, got %d", rc);
    rh_queue_stats s = stats_of(q);
    EXPECT(s.dropped_newest == 1 && s.rejected == 0 && s.dropped_oldest == 0,
           "expected only dropped_newest counted (1), got %llu",
           (unsigned long long)s.dropped_newest);
    EXPECT(recv_ok(q, 0).seq == 0 && recv_ok(q, 0).seq == 1,
           "the two older messages must be the ones kept");
    rh_queue_close(q);
}

static void test_drop_oldest_policy_evicts_the_oldest_and_counts_it(void **state)
{
    (void)state;
    rh_queue *q = make_queue("dropold", config(2, RH_BP_DROP_OLDEST, 0));
    for (uint64_t i = 0; i < 5; i++)
        send_ok(q, 0, i); /* 0 and 1 fit; 2, 3, 4 each evict one */
    rh_queue_stats s = stats_of(q);
    EXPECT(s.dropped_oldest == 3, "expected 3 evictions, got %llu",
           (unsigned long long)s.dropped_oldest);
    EXPECT(s.enqueued == 5 && s.depth == 2 && s.dequeued == 0,
           "evictions are not deliveries: expected enqueued 5, depth 2, dequeued 0; got %llu, "
           "%llu, %llu", (unsigned long long)s.enqueued, (unsigned long long)s.depth,
           (unsigned long long)s.dequeued);
    EXPECT(recv_ok(q, 0).seq == 3 && recv_ok(q, 0).seq == 4, "the newest two must survive");
    s = stats_of(q);
    EXPECT(s.dequeued == 2, "expected dequeued 2 after two recvs, got %llu",
           (unsigned long long)s.dequeued);
    rh_queue_close(q);
}

static void test_block_policy_times_out_after_block_timeout(void **state)
{
    (void)state;
    rh_queue *q = make_queue("block", config(2, RH_BP_BLOCK, 80));
    send_ok(q, 0, 0);
    send_ok(q, 0, 1);
    test_msg m = msg_of(0, 2);
    uint64_t t0 = rh_now_ns();
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    uint64_t waited = rh_now_ns() - t0;
    EXPECT(rc == RH_ETIMEDOUT, "expected RH_ETIMEDOUT from a full block queue, got %d", rc);
    EXPECT(waited >= 80 * MS, "gave up after %llu ms, before block_timeout_ms = 80",
           (unsigned long long)(waited / MS));
    EXPECT(waited < 5000 * MS, "an 80 ms block took %llu ms", (unsigned long long)(waited / MS));
    EXPECT(stats_of(q).rejected == 1, "a timed-out block counts as rejected");
    rh_queue_close(q);
}

typedef struct delayed_recv {
    rh_queue *q;
    test_msg got;
    int rc;
} delayed_recv;

static void *recv_later(void *arg)
{
    delayed_recv *d = arg;
    usleep(50 * 1000);
    d->rc = rh_recv(d->q, NULL, &d->got, sizeof d->got, 5000);
    return NULL;
}

static void test_block_policy_succeeds_once_a_consumer_frees_space(void **state)
{
    (void)state;
    rh_queue *q = make_queue("unblock", config(2, RH_BP_BLOCK, 10000));
    send_ok(q, 0, 0);
    send_ok(q, 0, 1);
    delayed_recv d = {.q = q, .rc = -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, recv_later, &d), 0);
    test_msg m = msg_of(0, 2);
    uint64_t t0 = rh_now_ns();
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    uint64_t waited = rh_now_ns() - t0;
    pthread_join(t, NULL);
    EXPECT(rc == 0, "expected the blocked send to succeed once space was freed, got %d", rc);
    EXPECT(waited < 10000 * MS, "the send waited the whole block timeout");
    EXPECT(d.rc == (int)sizeof m && d.got.seq == 0, "the consumer must get the oldest message");
    EXPECT(recv_ok(q, 0).seq == 1 && recv_ok(q, 0).seq == 2, "order must be preserved");
    EXPECT(stats_of(q).rejected == 0, "nothing was rejected");
    rh_queue_close(q);
}

static void test_backpressure_names_round_trip(void **state)
{
    (void)state;
    static const char *const names[] = {"block", "reject", "drop_oldest", "drop_newest"};
    for (int bp = RH_BP_BLOCK; bp <= RH_BP_DROP_NEWEST; bp++) {
        EXPECT(strcmp(rh_backpressure_name((rh_backpressure)bp), names[bp]) == 0,
               "expected policy %d to be named %s", bp, names[bp]);
        EXPECT(rh_backpressure_parse(names[bp]) == bp, "expected %s to parse to %d", names[bp],
               bp);
    }
    EXPECT(rh_backpressure_parse("drop") == -1 && rh_backpressure_parse(NULL) == -1,
           "unknown policy names parse to -1");
}

/* ---------------------------------------------------- stats, counters --- */

static void test_stats_derive_enqueued_dequeued_depth_and_high_water(void **state)
{
    (void)state;
    rh_queue *q = make_queue("stats", config(16, RH_BP_REJECT, 0));
    for (uint64_t i = 0; i < 10; i++)
        send_ok(q, 0, i);
    rh_queue_stats s = stats_of(q);
    EXPECT(s.enqueued == 10 && s.depth == 10 && s.high_water == 10 && s.capacity == 16,
           "after 10 sends expected enqueued/depth/high_water 10, capacity 16");
    for (int i = 0; i < 7; i++)
        recv_ok(q, 0);
    send_ok(q, 0, 10);
    s = stats_of(q);
    EXPECT(s.dequeued == 7 && s.depth == 4 && s.high_water == 10,
           "expected dequeued 7, depth 4, high_water 10; got %llu, %llu, %llu",
           (unsigned long long)s.dequeued, (unsigned long long)s.depth,
           (unsigned long long)s.high_water);
    rh_queue_close(q);
}

static void test_count_adds_to_host_side_counters(void **state)
{
    (void)state;
    rh_queue *q = make_queue("counters", config(4, RH_BP_REJECT, 0));
    rh__queue_count(q, RH_QC_DUPLICATES, 3);
    rh__queue_count(q, RH_QC_EXPIRED, 4);
    rh__queue_count(q, RH_QC_INVALID, 5);
    rh__queue_count(q, RH_QC_FAILED, 6);
    rh__queue_count(q, RH_QC_DEAD_LETTERED, 7);
    rh_queue_stats s = stats_of(q);
    EXPECT(s.duplicates == 3 && s.expired == 4 && s.invalid == 5 && s.failed == 6 &&
               s.dead_lettered == 7,
           "each counter must receive its own count");
    rh_queue_close(q);
}

/* ---------------------------------------------------------------- burst -- */

static void test_dequeue_burst_copies_messages_into_an_array_of_buffers(void **state)
{
    (void)state;
    rh_queue *q = make_queue("burst", config(16, RH_BP_REJECT, 0));
    enum { N = 5 };
    /* Each destination is an envelope followed by room for the payload. */
    struct {
        rh_envelope env;
        test_msg msg;
    } bufs[8];
    rh_envelope *dst[8];
    for (int i = 0; i < 8; i++)
        dst[i] = &bufs[i].env;
    EXPECT(rh__queue_dequeue_burst(q, dst, 8) == 0, "a burst from an empty queue returns 0");
    EXPECT(rh__queue_is_empty(q), "a new queue is empty");
    for (uint64_t i = 0; i < N; i++)
        send_ok(q, 0, i);
    EXPECT(!rh__queue_is_empty(q), "a queue holding messages is not empty");
    uint32_t got = rh__queue_dequeue_burst(q, dst, 3);
    EXPECT(got == 3, "expected a burst of 3 (asked 3 of 5), got %u", got);
    got += rh__queue_dequeue_burst(q, dst + 3, 8);
    EXPECT(got == N, "expected the other 2 in the second burst, got %u total", got);
    for (uint64_t i = 0; i < N; i++) {
        EXPECT(bufs[i].msg.seq == i && bufs[i].msg.check == check_of(0, i),
               "buffer %llu holds the wrong message", (unsigned long long)i);
        EXPECT(bufs[i].env.payload_len == sizeof(test_msg), "buffer %llu: payload_len %u",
               (unsigned long long)i, bufs[i].env.payload_len);
    }
    EXPECT(rh__queue_is_empty(q) && stats_of(q).dequeued == N, "burst dequeues are counted");
    rh_queue_close(q);
}

/* ----------------------------------------------------------------- MPMC -- */

/* 4 x 200k messages; under ThreadSanitizer (~10x slower, and this machine
 * has 2 cores) 4 x 50k: the interleavings it checks come from the thread
 * count and the small queue, not from the message count. */
#if defined(__SANITIZE_THREAD__)
enum { PRODUCERS = 4, CONSUMERS = 2, PER_PRODUCER = 50000 };
#else
enum { PRODUCERS = 4, CONSUMERS = 2, PER_PRODUCER = 200000 };
#endif

typedef struct mpmc {
    rh_queue *q;
    _Atomic unsigned char seen[PRODUCERS][PER_PRODUCER];
    _Atomic uint64_t received;
    _Atomic uint64_t duplicates;
    _Atomic uint64_t bad;
    _Atomic uint64_t send_failures;
    _Atomic uint64_t checksum;
    uint64_t give_up_ns; /* consumers stop here, so a lost message fails, not hangs */
} mpmc;

typedef struct worker {
    mpmc *m;
    uint64_t index;
} worker;

/* Producers 0 and 1 send one by one, 2 and 3 in bursts of up to 8 (their
 * claims of several cells race the single claims and each other). */
static void *mpmc_producer(void *arg)
{
    worker *w = arg;
    if (w->index < 2) {
        for (uint64_t s = 0; s < PER_PRODUCER; s++) {
            test_msg msg = msg_of(w->index, s);
            if (rh_send(w->m->q, NULL, &msg, sizeof msg, NULL) != 0) {
                atomic_fetch_add(&w->m->send_failures, 1);
                if (rh_now_ns() > w->m->give_up_ns)
                    return NULL; /* the consumers are gone: fail, not hang */
            }
        }
        return NULL;
    }
    test_msg burst[8];
    for (uint64_t s = 0; s < PER_PRODUCER;) {
        uint32_t n = (uint32_t)(1 + s % 8); /* vary the burst: 1..8 */
        if (n > PER_PRODUCER - s)
            n = (uint32_t)(PER_PRODUCER - s);
        for (uint32_t i = 0; i < n; i++)
            burst[i] = msg_of(w->index, s + i);
        int k = rh_send_burst(w->m->q, NULL, burst, sizeof burst[0], sizeof burst[0], n, NULL);
        if (k != (int)n) {
            atomic_fetch_add(&w->m->send_failures, 1);
            return NULL;
        }
        s += n;
    }
    return NULL;
}

static void consume_one(mpmc *m, const test_msg *msg, uint64_t *last_seq)
{
    if (msg->producer >= PRODUCERS || msg->seq >= PER_PRODUCER ||
        msg->check != check_of(msg->producer, msg->seq)) {
        atomic_fetch_add(&m->bad, 1);
    } else {
        if (atomic_exchange(&m->seen[msg->producer][msg->seq], 1))
            atomic_fetch_add(&m->duplicates, 1);
        /* One consumer sees each producer's messages in send order: its
         * dequeue positions only grow, and a producer's positions do too. */
        if (last_seq[msg->producer] != UINT64_MAX && msg->seq <= last_seq[msg->producer])
            atomic_fetch_add(&m->bad, 1);
        last_seq[msg->producer] = msg->seq;
        atomic_fetch_add(&m->checksum, msg->check);
    }
    atomic_fetch_add(&m->received, 1);
}

/* Consumer 0 uses rh_recv, consumer 1 bursts (the host's burst and the
 * public rh_recv_burst in turn), so every path races the others. */
static void *mpmc_consumer(void *arg)
{
    worker *w = arg;
    mpmc *m = w->m;
    uint64_t last_seq[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        last_seq[i] = UINT64_MAX;
    struct {
        rh_envelope env;
        test_msg msg;
    } bufs[16];
    rh_envelope *dst[16];
    for (int i = 0; i < 16; i++)
        dst[i] = &bufs[i].env;
    while (atomic_load(&m->received) < (uint64_t)PRODUCERS * PER_PRODUCER &&
           rh_now_ns() < m->give_up_ns) {
        if (w->index == 1) {
            uint32_t n = rh__queue_dequeue_burst(m->q, dst, 16);
            for (uint32_t i = 0; i < n; i++)
                consume_one(m, &bufs[i].msg, last_seq);
            test_msg msgs[16];
            int k = rh_recv_burst(m->q, NULL, msgs, sizeof msgs[0], 16, 0);
            for (int i = 0; i < k; i++)
                consume_one(m, &msgs[i], last_seq);
            if (n > 0 || k > 0)
                continue;
        }
        test_msg msg;
        if (rh_recv(m->q, NULL, &msg, sizeof msg, 10) == (int)sizeof msg)
            consume_one(m, &msg, last_seq);
    }
    return NULL;
}

static void test_mpmc_single_and_burst_calls_lose_and_duplicate_nothing(void **state)
{
    (void)state;
    mpmc *m = calloc(1, sizeof *m);
    assert_non_null(m);
    /* A blocked send gives up after 10 s, so a producer left alone once the
     * consumers gave up (a lost message) ends instead of blocking for ever. */
    m->q = make_queue("mpmc", config(1024, RH_BP_BLOCK, 10000));
    m->give_up_ns = rh_now_ns() + 60000 * MS;
    pthread_t p[PRODUCERS], c[CONSUMERS];
    worker pw[PRODUCERS], cw[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) {
        cw[i] = (worker){m, (uint64_t)i};
        assert_int_equal(pthread_create(&c[i], NULL, mpmc_consumer, &cw[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++) {
        pw[i] = (worker){m, (uint64_t)i};
        assert_int_equal(pthread_create(&p[i], NULL, mpmc_producer, &pw[i]), 0);
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(p[i], NULL);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(c[i], NULL);

    uint64_t want_sum = 0;
    for (uint64_t pr = 0; pr < PRODUCERS; pr++)
        for (uint64_t s = 0; s < PER_PRODUCER; s++)
            want_sum += check_of(pr, s);
    uint64_t missing = 0;
    for (int pr = 0; pr < PRODUCERS; pr++)
        for (int s = 0; s < PER_PRODUCER; s++)
            missing += !atomic_load(&m->seen[pr][s]);
    EXPECT(atomic_load(&m->send_failures) == 0, "%llu sends failed",
           (unsigned long long)atomic_load(&m->send_failures));
    EXPECT(atomic_load(&m->bad) == 0, "%llu messages arrived torn or out of producer order",
           (unsigned long long)atomic_load(&m->bad));
    EXPECT(atomic_load(&m->duplicates) == 0, "%llu messages were delivered twice",
           (unsigned long long)atomic_load(&m->duplicates));
    EXPECT(missing == 0, "%llu messages were lost", (unsigned long long)missing);
    EXPECT(atomic_load(&m->checksum) == want_sum, "checksum mismatch");
    rh_queue_stats s = stats_of(m->q);
    EXPECT(s.enqueued == (uint64_t)PRODUCERS * PER_PRODUCER && s.dequeued == s.enqueued &&
               s.depth == 0,
           "expected enqueued == dequeued == %d and depth 0", PRODUCERS * PER_PRODUCER);
    rh_queue_close(m->q);
    free(m);
}

/* ------------------------------------------------------- shared memory --- */

static void shm_path(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "/dev/shm/ringhost.%s:%s", instance, name);
}

static rh_queue *make_shared(const char *name, rh_queue_config cfg)
{
    cfg.shared = 1;
    return make_queue(name, cfg);
}

enum { CHILD_MESSAGES = 2000 };

/* Runs in the forked child: no cmocka here, only exit codes. */
static int child_sends(const char *name)
{
    rh_queue *q = NULL;
    if (rh_queue_attach(instance, name, &q, NULL) != 0)
        return 10;
    if (rh_queue_bind_type(q, &test_type, NULL) != 0)
        return 11;
    for (uint64_t i = 0; i < CHILD_MESSAGES; i++) {
        test_msg m = msg_of(77, i);
        if (rh_send(q, NULL, &m, sizeof m, NULL) != 0)
            return 12;
    }
    rh_queue_close(q);
    return 0;
}

static void test_shared_queue_attached_from_a_forked_child_delivers_to_the_parent(void **state)
{
    (void)state;
    /* Small and blocking, so the child fills it and must be woken by the
     * parent's receives through the shared not_full bell. */
    rh_queue *q = make_shared("xproc", config(16, RH_BP_BLOCK, 10000));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(child_sends("xproc"));
    uint64_t bad = 0;
    for (uint64_t i = 0; i < CHILD_MESSAGES; i++) {
        test_msg m = recv_ok(q, 10000);
        bad += (m.producer != 77 || m.seq != i);
    }
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "the child must attach, bind and send everything (exit status %d)",
           WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    EXPECT(bad == 0, "%llu messages from the child arrived out of order", (unsigned long long)bad);
    EXPECT(stats_of(q).enqueued == CHILD_MESSAGES, "the child's sends count in the shared header");
    rh_queue_close(q);
}

/* A queue whose creator still runs belongs to a live host: a second host
 * launched under the same instance name must not steal it. */
static void test_create_refuses_a_queue_of_a_live_host(void **state)
{
    (void)state;
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        rh_queue *q = NULL;
        rh_queue_config cfg = config(16, RH_BP_REJECT, 0);
        cfg.shared = 1;
        int rc = rh_queue_create(instance, "owned", &test_type, &cfg, NULL, &q, NULL);
        char c = rc == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) != 1)
            _exit(2);
        pause(); /* stay alive until killed */
        _exit(0);
    }
    char c = 0;
    assert_int_equal(read(ready[0], &c, 1), 1);
    assert_int_equal(c, 'y');
    rh_error err = {0};
    rh_queue_config cfg = config(16, RH_BP_REJECT, 0);
    cfg.shared = 1;
    rh_queue *q = NULL;
    int rc = rh_queue_create(instance, "owned", &test_type, &cfg, NULL, &q, &err);
    EXPECT(rc == RH_EEXIST, "expected RH_EEXIST for a live host's queue, got %d", rc);
    char pidtext[32];
    snprintf(pidtext, sizeof pidtext, "pid %d", (int)child);
    EXPECT(strstr(err.msg, pidtext) != NULL, "the message names the owner: %s", err.msg);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    /* now it is a leftover of a dead host: replaced */
    rc = rh_queue_create(instance, "owned", &test_type, &cfg, NULL, &q, &err);
    EXPECT(rc == 0, "a dead host's queue is replaced, got %d: %s", rc, err.msg);
    rh_queue_close(q);
    close(ready[0]);
    close(ready[1]);
}

static void test_attach_to_a_missing_queue_gives_enoent(void **state)
{
    (void)state;
    rh_queue *q = (rh_queue *)0x1;
    rh_error err = {0};
    int rc = rh_queue_attach(instance, "nope", &q, &err);
    EXPECT(rc == RH_ENOENT, "expected RH_ENOENT, got %d", rc);
    EXPECT(q == NULL, "*out must be NULL on failure");
    EXPECT(strstr(err.msg, "nope"), "the message must name the queue: %s", err.msg);
}

static void test_attach_reads_the_header_and_leaves_the_type_unbound(void **state)
{
    (void)state;
    rh_queue_config cfg = config(64, RH_BP_DROP_OLDEST, 123);
    cfg.dedup_window = 100;
    cfg.ttl_ms = 456;
    rh_queue *q = make_shared("hdr", cfg);
    rh_queue *a = NULL;
    rh_error err = {0};
    EXPECT(rh_queue_attach(instance, "hdr", &a, &err) == 0, "attach failed: %s", err.msg);
    EXPECT(rh_queue_type(a) == NULL, "an attached queue has no type until bind_type");
    EXPECT(strcmp(rh_queue_name(a), "hdr") == 0, "name");
    EXPECT(strcmp(rh_queue_type_name(a), "test.msg") == 0, "type name from the header");
    EXPECT(strcmp(rh_queue_type_origin(a), "plugins/libtest.so") == 0, "type origin");
    EXPECT(rh_queue_fingerprint(a) == test_type.fingerprint, "fingerprint from the header");
    EXPECT(rh_queue_payload_size(a) == sizeof(test_msg), "payload size from the header");
    const rh_queue_config *c = rh_queue_config_of(a);
    EXPECT(c->capacity == 64 && c->backpressure == RH_BP_DROP_OLDEST &&
               c->block_timeout_ms == 123 && c->dedup_window == 100 && c->ttl_ms == 456 &&
               c->shared,
           "the configuration must be read back from the header");
    EXPECT(rh_queue_bind_type(a, &test_type, &err) == 0, "binding the right type: %s", err.msg);
    EXPECT(rh_queue_type(a) == &test_type, "bind_type sets the type");
    rh_queue_close(a);
    rh_queue_close(q);
}

static void test_bind_type_with_wrong_fingerprint_gives_etype_naming_both(void **state)
{
    (void)state;
    rh_queue *q = make_shared("typed", config(4, RH_BP_REJECT, 0));
    rh_queue *a = NULL;
    EXPECT(rh_queue_attach(instance, "typed", &a, NULL) == 0, "attach failed");
    rh_error err = {0};
    int rc = rh_queue_bind_type(a, &other_type, &err);
    EXPECT(rc == RH_ETYPE, "expected RH_ETYPE, got %d", rc);
    EXPECT(strstr(err.msg, "test.msg") && strstr(err.msg, "test.other"),
           "the message must name both types: %s", err.msg);
    EXPECT(rh_queue_type(a) == NULL, "a refused bind leaves the type unbound");
    rh_queue_close(a);
    rh_queue_close(q);
}

static void test_shared_queue_object_has_mode_0600(void **state)
{
    (void)state;
    mode_t old = umask(0); /* the mode must not depend on the caller's umask */
    rh_queue *q = make_shared("mode", config(4, RH_BP_REJECT, 0));
    umask(old);
    char path[256];
    shm_path(path, sizeof path, "mode");
    struct stat st;
    EXPECT(stat(path, &st) == 0, "expected %s to exist", path);
    EXPECT((st.st_mode & 07777) == 0600, "expected mode 0600, got %04o",
           (unsigned)(st.st_mode & 07777));
    rh_queue_close(q);
}

static void test_close_by_the_creator_unlinks_but_close_by_a_client_does_not(void **state)
{
    (void)state;
    rh_queue *q = make_shared("gone", config(4, RH_BP_REJECT, 0));
    char path[256];
    shm_path(path, sizeof path, "gone");
    rh_queue *a = NULL;
    EXPECT(rh_queue_attach(instance, "gone", &a, NULL) == 0, "attach failed");
    rh_queue_close(a);
    EXPECT(access(path, F_OK) == 0, "a client's close must leave the queue in place");
    rh_queue_close(q);
    EXPECT(access(path, F_OK) != 0 && errno == ENOENT, "the creator's close must unlink %s", path);
}

static void write_junk_shm(const char *name, size_t size)
{
    char shm[256];
    snprintf(shm, sizeof shm, "/ringhost.%s:%s", instance, name);
    int fd = shm_open(shm, O_CREAT | O_RDWR | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char junk[4096];
    memset(junk, 0x5a, sizeof junk);
    for (size_t off = 0; off < size; off += sizeof junk)
        assert_true(write(fd, junk, size - off < sizeof junk ? size - off : sizeof junk) > 0);
    close(fd);
}

static void test_create_replaces_a_leftover_shared_object(void **state)
{
    (void)state;
    write_junk_shm("leftover", 100);
    rh_queue *q = make_shared("leftover", config(4, RH_BP_REJECT, 0));
    send_ok(q, 0, 1);
    EXPECT(recv_ok(q, 0).seq == 1, "the new queue must work");
    rh_queue *a = NULL;
    EXPECT(rh_queue_attach(instance, "leftover", &a, NULL) == 0, "the replacement is attachable");
    rh_queue_close(a);
    rh_queue_close(q);
}

static void test_attach_refuses_an_object_that_is_not_a_queue(void **state)
{
    (void)state;
    static const size_t sizes[] = {10, 4096, 1 << 16};
    for (size_t i = 0; i < 3; i++) {
        write_junk_shm("junk", sizes[i]);
        rh_queue *a = NULL;
        rh_error err = {0};
        int rc = rh_queue_attach(instance, "junk", &a, &err);
        EXPECT(rc == RH_EINVAL && a == NULL, "expected RH_EINVAL for %zu bytes of junk, got %d",
               sizes[i], rc);
    }
    char shm[256];
    snprintf(shm, sizeof shm, "/ringhost.%s:junk", instance);
    shm_unlink(shm);
}

static void test_attach_refuses_a_queue_whose_size_does_not_match_its_header(void **state)
{
    (void)state;
    rh_queue *q = make_shared("resized", config(4, RH_BP_REJECT, 0));
    char shm[256];
    snprintf(shm, sizeof shm, "/ringhost.%s:resized", instance);
    int fd = shm_open(shm, O_RDWR, 0);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(ftruncate(fd, st.st_size + 4096), 0);
    close(fd);
    rh_queue *a = NULL;
    rh_error err = {0};
    int rc = rh_queue_attach(instance, "resized", &a, &err);
    EXPECT(rc == RH_EINVAL, "expected RH_EINVAL when the file size disagrees, got %d", rc);
    EXPECT(strstr(err.msg, "size"), "the message must say what disagrees: %s", err.msg);
    rh_queue_close(q);
}

static void collect(const char *name, void *arg)
{
    char *out = arg;
    strcat(out, name);
    strcat(out, ";");
}

static void test_queue_list_names_the_shared_queues_of_an_instance(void **state)
{
    (void)state;
    rh_queue *a = make_shared("list.a", config(4, RH_BP_REJECT, 0));
    rh_queue *b = make_shared("list.b", config(4, RH_BP_REJECT, 0));
    rh_queue *local = make_queue("list.local", config(4, RH_BP_REJECT, 0));
    char names[1024] = "";
    int n = rh_queue_list(instance, collect, names);
    EXPECT(n == 2, "expected the 2 shared queues, got %d (%s)", n, names);
    EXPECT(strstr(names, "list.a;") && strstr(names, "list.b;"), "expected both names: %s",
           names);
    EXPECT(rh_queue_list("no-such-instance-xyz", NULL, NULL) == 0, "an unknown instance has none");
    EXPECT(rh_queue_list("bad/instance", NULL, NULL) == RH_EINVAL, "bad instance names fail");
    rh_queue_close(local);
    rh_queue_close(b);
    rh_queue_close(a);
}

static int setup(void **state)
{
    (void)state;
    snprintf(instance, sizeof instance, "rhtest-queue-%d", (int)getpid());
    return 0;
}

/* Resident kilobytes of this process's mapping of `path` (smaps "Rss"):
 * the pages that are mapped now, so touching them costs no page fault. */
static long mapped_kb(const char *path)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    char line[512];
    int in = 0;
    long kb = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strchr(line, '-') && strchr(line, ' ') && strstr(line, "/dev/shm/"))
            in = strstr(line, path) != NULL;
        else if (in && sscanf(line, "Rss: %ld kB", &kb) == 1)
            break;
    }
    if (f)
        fclose(f);
    return kb;
}

/* A queue of moderate size is mapped in full when it is created, so the
 * first lap of messages pays no page faults (~4 us each on these VMs); a
 * huge one is mapped as it is used. */
static void test_create_maps_the_pages_of_a_small_shared_queue_only(void **state)
{
    (void)state;
    char path[256];
    struct stat st;
    rh_queue *small = make_shared("prefault", config(1024, RH_BP_REJECT, 0));
    shm_path(path, sizeof path, "prefault");
    EXPECT(stat(path, &st) == 0, "stat %s failed", path);
    long kb = mapped_kb(path);
    EXPECT(kb * 1024 >= (long)st.st_size - 4096,
           "expected the %lld bytes of %s mapped at creation, smaps says %ld kB",
           (long long)st.st_size, path, kb);
    rh_queue_close(small);
    rh_queue *huge = make_shared("lazy", config(1u << 22, RH_BP_REJECT, 0));
    shm_path(path, sizeof path, "lazy");
    kb = mapped_kb(path);
    EXPECT(kb >= 0 && kb < 1024, "a queue this large is mapped as it is used; %ld kB already", kb);
    rh_queue_close(huge);
}

/* Whatever a failed test left behind in /dev/shm. */
static void unlink_one(const char *name, void *arg)
{
    (void)arg;
    char shm[256];
    snprintf(shm, sizeof shm, "/ringhost.%s:%s", instance, name);
    shm_unlink(shm);
}

static int teardown(void **state)
{
    (void)state;
    rh_queue_list(instance, unlink_one, NULL);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_capacity_1000_saying_what_is_expected),
        cmocka_unit_test(test_create_refuses_a_queue_of_a_live_host),
        cmocka_unit_test(test_create_rejects_capacities_outside_powers_of_two_2_to_2_pow_24),
        cmocka_unit_test(test_create_accepts_capacity_2_and_2_pow_24),
        cmocka_unit_test(test_create_accepts_capacity_4096_with_dedup_window_1024),
        cmocka_unit_test(test_create_rejects_dedup_window_above_4_times_capacity),
        cmocka_unit_test(test_create_rejects_invalid_queue_names),
        cmocka_unit_test(test_create_rejects_missing_type_and_zero_fingerprint),
        cmocka_unit_test(test_create_rejects_shared_queue_with_invalid_instance),
        cmocka_unit_test(test_send_recv_round_trip_preserves_id_correlation_priority_and_flags),
        cmocka_unit_test(test_send_without_envelope_generates_a_fresh_id),
        cmocka_unit_test(test_send_larger_than_the_slot_gives_etoobig),
        cmocka_unit_test(test_recv_into_too_small_buffer_gives_etoobig_and_keeps_the_message),
        cmocka_unit_test(test_recv_with_timeout_0_on_empty_queue_gives_eempty),
        cmocka_unit_test(test_recv_times_out_after_timeout_ms),
        cmocka_unit_test(test_recv_forever_wakes_when_a_message_arrives),
        cmocka_unit_test(test_reject_policy_gives_efull_and_counts_rejected),
        cmocka_unit_test(test_drop_newest_policy_gives_edropped_and_keeps_queued_messages),
        cmocka_unit_test(test_drop_oldest_policy_evicts_the_oldest_and_counts_it),
        cmocka_unit_test(test_block_policy_times_out_after_block_timeout),
        cmocka_unit_test(test_block_policy_succeeds_once_a_consumer_frees_space),
        cmocka_unit_test(test_backpressure_names_round_trip),
        cmocka_unit_test(test_stats_derive_enqueued_dequeued_depth_and_high_water),
        cmocka_unit_test(test_count_adds_to_host_side_counters),
        cmocka_unit_test(test_dequeue_burst_copies_messages_into_an_array_of_buffers),
        cmocka_unit_test(test_mpmc_single_and_burst_calls_lose_and_duplicate_nothing),
        cmocka_unit_test(test_shared_queue_attached_from_a_forked_child_delivers_to_the_parent),
        cmocka_unit_test(test_attach_to_a_missing_queue_gives_enoent),
        cmocka_unit_test(test_attach_reads_the_header_and_leaves_the_type_unbound),
        cmocka_unit_test(test_bind_type_with_wrong_fingerprint_gives_etype_naming_both),
        cmocka_unit_test(test_shared_queue_object_has_mode_0600),
        cmocka_unit_test(test_close_by_the_creator_unlinks_but_close_by_a_client_does_not),
        cmocka_unit_test(test_create_replaces_a_leftover_shared_object),
        cmocka_unit_test(test_attach_refuses_an_object_that_is_not_a_queue),
        cmocka_unit_test(test_attach_refuses_a_queue_whose_size_does_not_match_its_header),
        cmocka_unit_test(test_queue_list_names_the_shared_queues_of_an_instance),
        cmocka_unit_test(test_create_maps_the_pages_of_a_small_shared_queue_only),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
