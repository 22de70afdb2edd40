/*
 * test_queue_burst.c — the burst calls of the named queue: rh_send_burst and
 * rh_recv_burst (public), rh__queue_enqueue_burst (the output bridge's).
 * A burst must behave like the same messages sent one by one — order, ids,
 * each backpressure policy and its counters — only cheaper.
 * (Racing producers and consumers, bursts among them: test_queue.c's MPMC.)
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"

#include "queue/queue_pvt.h"
#include "ringhost/ringhost.h"

typedef struct msg {
    uint64_t seq;
    uint64_t tail[3]; /* 32 bytes in all: room to show zero-extension */
} msg;

static const rh_type msg_type = {
    .struct_size = sizeof(rh_type),
    .name = "test.burst",
    .fingerprint = 0x6275727374747970ull,
    .size = sizeof(msg),
    .align = 8,
};

static rh_queue *make(uint32_t capacity, rh_backpressure bp, uint32_t block_timeout_ms)
{
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = capacity, .backpressure = bp,
                                               .block_timeout_ms = block_timeout_ms);
    rh_queue *q = NULL;
    rh_error err = {0};
    int rc = rh_queue_create("rhtest-burst", "q", &msg_type, &cfg, NULL, &q, &err);
    EXPECT(rc == 0 && q, "queue creation failed: %d %s", rc, err.msg);
    return q;
}

static void fill(msg *m, uint32_t n, uint64_t first)
{
    for (uint32_t i = 0; i < n; i++)
        m[i] = (msg){.seq = first + i, .tail = {1, 2, 3}};
}

static rh_queue_stats stats(rh_queue *q)
{
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &s);
    return s;
}

/* Receive everything left and check it is exactly first..first+n-1. */
static void expect_queued(rh_queue *q, uint64_t first, uint32_t n)
{
    msg got[16];
    int k = rh_recv_burst(q, NULL, got, sizeof got[0], 16, 0);
    EXPECT(k == (int)n, "expected %u messages left in the queue, found %d", n, k);
    for (uint32_t i = 0; i < n; i++)
        EXPECT(got[i].seq == first + i, "message %u: seq %llu, expected %llu", i,
               (unsigned long long)got[i].seq, (unsigned long long)(first + i));
}

static void test_send_burst_enqueues_in_order_with_distinct_ids_and_one_clock(void **state)
{
    (void)state;
    rh_queue *q = make(16, RH_BP_REJECT, 0);
    msg m[5];
    fill(m, 5, 100);
    rh_id ids[5];
    EXPECT(rh_send_burst(q, NULL, m, sizeof m[0], sizeof m[0], 5, ids) == 5,
           "all 5 fit in 16 slots");
    rh_envelope env[5];
    msg got[5];
    EXPECT(rh_recv_burst(q, env, got, sizeof got[0], 5, 0) == 5, "5 come back in one burst");
    for (int i = 0; i < 5; i++) {
        EXPECT(got[i].seq == 100u + (unsigned)i, "order kept: slot %d has %llu", i,
               (unsigned long long)got[i].seq);
        EXPECT(rh_id_eq(env[i].id, ids[i]), "message %d carries the id reported for it", i);
        EXPECT(env[i].payload_len == sizeof(msg), "payload_len of message %d", i);
        EXPECT(env[i].enqueue_ns == env[0].enqueue_ns, "one enqueue time for the whole burst");
        for (int j = 0; j < i; j++)
            EXPECT(!rh_id_eq(ids[i], ids[j]), "ids %d and %d are equal", i, j);
    }
    EXPECT(stats(q).enqueued == 5 && stats(q).dequeued == 5, "counted as 5 in, 5 out");
    rh_queue_close(q);
}

static void test_send_burst_keeps_given_envelopes_and_correlation(void **state)
{
    (void)state;
    rh_queue *q = make(8, RH_BP_REJECT, 0);
    msg m[2];
    fill(m, 2, 0);
    rh_envelope envs[2] = {{.id = {1, 2}, .correlation_id = {3, 4}, .priority = 7,
                            .flags = RH_ENV_HAS_CORRELATION},
                           {.id = {0, 0}}};
    rh_id ids[2];
    EXPECT(rh_send_burst(q, envs, m, sizeof m[0], sizeof m[0], 2, ids) == 2, "both fit");
    EXPECT(ids[0].hi == 1 && ids[0].lo == 2, "a given id is kept");
    EXPECT(!rh_id_is_zero(ids[1]), "a zero id is replaced by a fresh one");
    rh_envelope env;
    msg got;
    EXPECT(rh_recv_burst(q, &env, &got, sizeof got, 1, 0) == 1, "first back");
    EXPECT(env.correlation_id.hi == 3 && env.correlation_id.lo == 4 && env.priority == 7 &&
               env.flags == RH_ENV_HAS_CORRELATION,
           "correlation id, priority and flags travel with the message");
    rh_queue_close(q);
}

static void test_send_burst_reject_stops_at_the_first_refused_message_and_counts_it(void **state)
{
    (void)state;
    rh_queue *q = make(4, RH_BP_REJECT, 0);
    msg m[6];
    fill(m, 6, 0);
    int k = rh_send_burst(q, NULL, m, sizeof m[0], sizeof m[0], 6, NULL);
    EXPECT(k == 4, "4 slots: expected 4 accepted, got %d", k);
    rh_queue_stats s = stats(q);
    EXPECT(s.rejected == 1, "the refused 5th is counted once (the 6th was never tried): %llu",
           (unsigned long long)s.rejected);
    expect_queued(q, 0, 4);
    /* The caller retries from the returned index, as the API says. */
    EXPECT(rh_send_burst(q, NULL, m + k, sizeof m[0], sizeof m[0], 2, NULL) == 2, "retry fits");
    expect_queued(q, 4, 2);
    rh_queue_close(q);
}

static void test_send_burst_drop_newest_discards_the_overflow_and_counts_each(void **state)
{
    (void)state;
    rh_queue *q = make(4, RH_BP_DROP_NEWEST, 0);
    msg m[7];
    fill(m, 7, 0);
    int k = rh_send_burst(q, NULL, m, sizeof m[0], sizeof m[0], 7, NULL);
    EXPECT(k == 7, "every message is dealt with for good (4 queued, 3 dropped), got %d", k);
    EXPECT(stats(q).dropped_newest == 3 && stats(q).rejected == 0,
           "expected dropped_newest 3, rejected 0; got %llu, %llu",
           (unsigned long long)stats(q).dropped_newest, (unsigned long long)stats(q).rejected);
    expect_queued(q, 0, 4);
    rh_queue_close(q);
}

static void test_send_burst_drop_oldest_keeps_the_newest_and_counts_evictions(void **state)
{
    (void)state;
    rh_queue *q = make(4, RH_BP_DROP_OLDEST, 0);
    msg m[6];
    fill(m, 6, 0);
    EXPECT(rh_send_burst(q, NULL, m, sizeof m[0], sizeof m[0], 6, NULL) == 6, "all 6 enqueued");
    EXPECT(stats(q).dropped_oldest == 2, "two evicted, got %llu",
           (unsigned long long)stats(q).dropped_oldest);
    expect_queued(q, 2, 4);
    rh_queue_close(q);
}

static void test_send_burst_block_times_out_on_the_first_message_that_finds_no_room(void **state)
{
    (void)state;
    rh_queue *q = make(2, RH_BP_BLOCK, 30);
    msg m[3];
    fill(m, 3, 0);
    uint64_t t0 = rh_now_ns();
    int k = rh_send_burst(q, NULL, m, sizeof m[0], sizeof m[0], 3, NULL);
    uint64_t waited_ms = (rh_now_ns() - t0) / 1000000;
    EXPECT(k == 2, "2 slots and nobody reading: expected 2 accepted, got %d", k);
    EXPECT(waited_ms >= 25, "the third waited block_timeout_ms (30) first; waited %llu ms",
           (unsigned long long)waited_ms);
    EXPECT(stats(q).rejected == 1, "the timed-out message is counted as rejected");
    expect_queued(q, 0, 2);
    rh_queue_close(q);
}

static void test_send_burst_refuses_bad_arguments(void **state)
{
    (void)state;
    rh_queue *q = make(4, RH_BP_REJECT, 0);
    msg m[2];
    fill(m, 2, 0);
    EXPECT(rh_send_burst(NULL, NULL, m, sizeof m[0], sizeof m[0], 2, NULL) == RH_EINVAL,
           "NULL queue");
    EXPECT(rh_send_burst(q, NULL, m, 8, sizeof m[0], 2, NULL) == RH_EINVAL,
           "a stride shorter than the message would overlap messages");
    EXPECT(rh_send_burst(q, NULL, m, 64, 64, 1, NULL) == RH_ETOOBIG, "longer than the slot");
    EXPECT(rh_send_burst(q, NULL, m, sizeof m[0], sizeof m[0], 0, NULL) == 0, "n 0 sends nothing");
    EXPECT(stats(q).enqueued == 0 && stats(q).rejected == 0, "nothing enqueued nor counted");
    rh_queue_close(q);
}

static void test_recv_burst_zero_extends_short_payloads_to_the_type_size(void **state)
{
    (void)state;
    rh_queue *q = make(4, RH_BP_REJECT, 0);
    msg m[2];
    fill(m, 2, 9);
    EXPECT(rh_send_burst(q, NULL, m, sizeof m[0], 8, 2, NULL) == 2, "two 8-byte prefixes sent");
    msg got[2];
    memset(got, 0xee, sizeof got);
    rh_envelope env[2];
    EXPECT(rh_recv_burst(q, env, got, sizeof got[0], 2, 0) == 2, "both received");
    for (int i = 0; i < 2; i++) {
        EXPECT(env[i].payload_len == 8, "payload_len says 8 bytes were sent");
        EXPECT(got[i].seq == 9u + (unsigned)i, "the prefix arrived");
        EXPECT(got[i].tail[0] == 0 && got[i].tail[1] == 0 && got[i].tail[2] == 0,
               "the rest of message %d is zero, not what the buffer held", i);
    }
    rh_queue_close(q);
}

static void test_recv_burst_refuses_a_stride_smaller_than_the_slot(void **state)
{
    (void)state;
    rh_queue *q = make(4, RH_BP_REJECT, 0);
    msg m;
    fill(&m, 1, 0);
    EXPECT(rh_send_burst(q, NULL, &m, sizeof m, sizeof m, 1, NULL) == 1, "sent");
    uint64_t small[4];
    EXPECT(rh_recv_burst(q, NULL, small, 8, 4, 0) == RH_EINVAL,
           "8-byte buffers cannot hold a 32-byte slot");
    EXPECT(stats(q).depth == 1, "the refused call took nothing");
    rh_queue_close(q);
}

static void test_recv_burst_returns_0_when_empty_and_times_out_when_asked_to_wait(void **state)
{
    (void)state;
    rh_queue *q = make(4, RH_BP_REJECT, 0);
    msg got[2];
    EXPECT(rh_recv_burst(q, NULL, got, sizeof got[0], 2, 0) == 0, "empty, no wait: 0");
    uint64_t t0 = rh_now_ns();
    EXPECT(rh_recv_burst(q, NULL, got, sizeof got[0], 2, 20) == RH_ETIMEDOUT,
           "empty, 20 ms wait: RH_ETIMEDOUT");
    EXPECT(rh_now_ns() - t0 >= 15000000ull, "it waited about 20 ms");
    rh_queue_close(q);
}

static void test_enqueue_burst_stamps_slots_and_stops_when_full_without_counting(void **state)
{
    (void)state;
    rh_queue *q = make(4, RH_BP_REJECT, 0);
    struct {
        rh_envelope env;
        msg m;
    } slots[6];
    rh_envelope *src[6];
    memset(slots, 0, sizeof slots);
    for (int i = 0; i < 6; i++) {
        slots[i].env.payload_len = sizeof(msg);
        slots[i].env.port = 3; /* host-private: must not leak into the queue */
        slots[i].m.seq = (uint64_t)i;
        src[i] = &slots[i].env;
    }
    uint32_t k = rh__queue_enqueue_burst(q, src, 6);
    EXPECT(k == 4, "4 slots free: expected 4, got %u", k);
    EXPECT(stats(q).rejected == 0, "no policy applied: the bridge does that for the rest");
    rh_envelope env[4];
    msg got[4];
    EXPECT(rh_recv_burst(q, env, got, sizeof got[0], 4, 0) == 4, "4 back");
    for (int i = 0; i < 4; i++) {
        EXPECT(got[i].seq == (uint64_t)i, "message %d in order", i);
        EXPECT(!rh_id_is_zero(env[i].id) && env[i].enqueue_ns != 0,
               "message %d got an id and an enqueue time", i);
        for (int j = 0; j < i; j++)
            EXPECT(!rh_id_eq(env[i].id, env[j].id), "messages %d and %d share an id", i, j);
        EXPECT(env[i].port == 0, "port is reset to 0 in the queue");
    }
    rh_queue_close(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_burst_enqueues_in_order_with_distinct_ids_and_one_clock),
        cmocka_unit_test(test_send_burst_keeps_given_envelopes_and_correlation),
        cmocka_unit_test(test_send_burst_reject_stops_at_the_first_refused_message_and_counts_it),
        cmocka_unit_test(test_send_burst_drop_newest_discards_the_overflow_and_counts_each),
        cmocka_unit_test(test_send_burst_drop_oldest_keeps_the_newest_and_counts_evictions),
        cmocka_unit_test(test_send_burst_block_times_out_on_the_first_message_that_finds_no_room),
        cmocka_unit_test(test_send_burst_refuses_bad_arguments),
        cmocka_unit_test(test_recv_burst_zero_extends_short_payloads_to_the_type_size),
        cmocka_unit_test(test_recv_burst_refuses_a_stride_smaller_than_the_slot),
        cmocka_unit_test(test_recv_burst_returns_0_when_empty_and_times_out_when_asked_to_wait),
        cmocka_unit_test(test_enqueue_burst_stamps_slots_and_stops_when_full_without_counting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
