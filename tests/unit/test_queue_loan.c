/*
 * test_queue_loan.c — queue_loan.c: loans (rh_send_reserve/rh_send_commit)
 * and peeks (rh_recv_peek/rh_recv_release) round trip in place, through
 * bursts and wrap-around; every backpressure policy keeps its promise for
 * a reservation; a process SIGKILLed holding a loan leaves void cells the
 * queue goes past, one killed holding a peek leaves messages the next
 * reader gets marked RH_ENV_REDELIVERED (persist queues too); a live
 * holder past the stall time marks nothing corrupt.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"

#include "base/clock.h"
#include "queue/queue_layout.h"
#include "queue/queue_pvt.h"

typedef struct test_msg {
    uint64_t seq;
    char text[56];
} test_msg;

static const rh_type test_type = {
    .struct_size = sizeof(rh_type),
    .name = "test.loan",
    .fingerprint = 0x6c6f616e74657374ull,
    .size = sizeof(test_msg),
    .align = 8,
};

static char instance[64];

static rh_queue *make_cfg(const char *name, rh_queue_config cfg)
{
    rh_queue *q = NULL;
    rh_error err = {0};
    int rc = rh_queue_create(instance, name, &test_type, &cfg, NULL, &q, &err);
    EXPECT(rc == 0 && q, "expected queue \"%s\" created, got %d: %s", name, rc, err.msg);
    return q;
}

static rh_queue *make(const char *name, uint32_t capacity, rh_backpressure bp, int shared)
{
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = capacity, .backpressure = bp,
                                               .block_timeout_ms = 50, .shared = shared);
    return make_cfg(name, cfg);
}

static int inside_mapping(const rh_queue *q, const void *p, size_t len)
{
    const unsigned char *c = p;
    return c >= q->cells && c + len <= (const unsigned char *)q->h + q->map_size;
}

static void send_seq(rh_queue *q, uint64_t seq)
{
    test_msg m = {.seq = seq};
    snprintf(m.text, sizeof m.text, "m%llu", (unsigned long long)seq);
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    EXPECT(rc == 0, "expected message %llu sent, got %d", (unsigned long long)seq, rc);
}

static uint64_t recv_seq(rh_queue *q, uint8_t *flags)
{
    rh_envelope env;
    test_msg m;
    int rc = rh_recv(q, &env, &m, sizeof m, 1000);
    EXPECT(rc == (int)sizeof m, "expected a message, got %d (%s)", rc, rh_strerror(rc));
    if (flags)
        *flags = env.flags;
    return m.seq;
}

static void expect_not_corrupt(rh_queue *q)
{
    rh_queue_health hl;
    rh__queue_health_get(q, &hl);
    EXPECT(hl.corrupt == 0 && hl.corrupt_sides == 0,
           "expected no corrupt mark, got corrupt=%llu sides=%u",
           (unsigned long long)hl.corrupt, hl.corrupt_sides);
}

/* ------------------------------------------------------- round trips --- */

static void test_reserve_commit_and_peek_release_round_trip_in_place_across_wraps(void **state)
{
    (void)state;
    rh_queue *q = make("rt", 8, RH_BP_REJECT, 0);
    uint64_t sent = 0, seen = 0;
    for (int round = 0; round < 40; round++) { /* 40 rounds of up to 5 in 8 cells: wraps */
        rh_loan loans[5];
        int k = rh_send_reserve(q, 5, loans);
        EXPECT(k >= 1 && k <= 5, "round %d: expected 1..5 cells reserved, got %d", round, k);
        uint32_t lens[5];
        rh_id ids[5];
        for (int i = 0; i < k; i++) {
            EXPECT(inside_mapping(q, loans[i].payload, sizeof(test_msg)) &&
                       inside_mapping(q, loans[i].env, sizeof(rh_envelope)),
                   "expected loan %d to point into the queue's cells", i);
            test_msg *m = loans[i].payload;
            m->seq = sent + (uint64_t)i;
            snprintf(m->text, sizeof m->text, "loan %llu", (unsigned long long)m->seq);
            loans[i].env->priority = 7;
            lens[i] = i % 2 ? (uint32_t)sizeof(test_msg) : 8; /* lengths of their own */
        }
        EXPECT(rh_send_commit(q, (uint32_t)k, lens, ids) == k, "expected %d committed", k);
        for (int i = 0; i < k; i++)
            EXPECT(!rh_id_is_zero(ids[i]), "expected a fresh id for message %d", i);
        sent += (uint64_t)k;

        rh_msg_view v[8];
        int got = rh_recv_peek(q, 8, 0, v);
        EXPECT(got == k, "round %d: expected the %d committed messages peeked, got %d", round,
               k, got);
        for (int i = 0; i < got; i++) {
            const test_msg *m = v[i].payload;
            EXPECT(m->seq == seen + (uint64_t)i, "expected seq %llu in place, got %llu",
                   (unsigned long long)(seen + (uint64_t)i), (unsigned long long)m->seq);
            EXPECT(v[i].len == lens[i] && v[i].env->priority == 7 && v[i].env->enqueue_ns &&
                       rh_id_eq(v[i].env->id, ids[i]),
                   "expected the envelope the commit stamped (len %u, priority 7, id)", lens[i]);
            EXPECT(inside_mapping(q, v[i].payload, v[i].len), "expected the view in the cells");
        }
        EXPECT(rh_recv_peek(q, 1, 0, v) == RH_ESTATE, "expected one peek per handle at a time");
        assert_int_equal(rh_recv_release(q), 0);
        assert_int_equal(rh_recv_release(q), RH_ESTATE);
        seen += (uint64_t)got;
    }
    rh_queue_stats st = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &st);
    EXPECT(st.enqueued == sent && st.dequeued == sent && st.depth == 0,
           "expected %llu in and out, depth 0; got %llu/%llu/%llu", (unsigned long long)sent,
           (unsigned long long)st.enqueued, (unsigned long long)st.dequeued,
           (unsigned long long)st.depth);
    rh_queue_close(q);
}

static void test_loans_and_copying_calls_mix_in_bursts(void **state)
{
    (void)state;
    rh_queue *q = make("mix", 64, RH_BP_BLOCK, 0);
    uint64_t seq = 0;
    for (int round = 0; round < 20; round++) {
        send_seq(q, seq++);
        rh_loan loans[32];
        int k = rh_send_reserve(q, 32, loans);
        EXPECT(k == 32, "expected a burst of 32 reserved, got %d", k);
        for (int i = 0; i < k; i++)
            ((test_msg *)loans[i].payload)->seq = seq++;
        assert_int_equal(rh_send_commit(q, (uint32_t)k, NULL, NULL), k);
        send_seq(q, seq++);
        uint64_t want = seq - 34;
        rh_msg_view v[16];
        int got = rh_recv_peek(q, 16, 0, v);
        EXPECT(got == 16, "expected 16 peeked, got %d", got);
        for (int i = 0; i < got; i++)
            EXPECT(((const test_msg *)v[i].payload)->seq == want + (uint64_t)i,
                   "expected seq %llu", (unsigned long long)(want + (uint64_t)i));
        assert_int_equal(rh_recv_release(q), 0);
        for (uint64_t i = 16; i < 34; i++)
            EXPECT(recv_seq(q, NULL) == want + i, "expected seq %llu by rh_recv",
                   (unsigned long long)(want + i));
    }
    rh_queue_close(q);
}

static void test_a_short_commit_publishes_void_cells_nobody_receives_or_counts(void **state)
{
    (void)state;
    rh_queue *q = make("short", 8, RH_BP_REJECT, 0);
    rh_loan loans[4];
    assert_int_equal(rh_send_reserve(q, 4, loans), 4);
    EXPECT(rh_send_reserve(q, 1, loans) == RH_ESTATE, "expected one loan per handle at a time");
    ((test_msg *)loans[0].payload)->seq = 10;
    ((test_msg *)loans[1].payload)->seq = 11;
    uint32_t big = sizeof(test_msg) + 1;
    EXPECT(rh_send_commit(q, 1, &big, NULL) == RH_ETOOBIG, "expected a length past the slot "
           "refused, the loan kept");
    assert_int_equal(rh_send_commit(q, 2, NULL, NULL), 2);
    send_seq(q, 12);
    uint64_t cursor = 0;
    rh_envelope env;
    test_msg m;
    int browsed = 0;
    while (rh_queue_peek(q, &cursor, &env, &m, sizeof m) >= 0)
        browsed++;
    EXPECT(browsed == 3, "expected the browser to show 3 messages and skip 2 void cells, got %d",
           browsed);
    EXPECT(recv_seq(q, NULL) == 10 && recv_seq(q, NULL) == 11 && recv_seq(q, NULL) == 12,
           "expected 10, 11, 12 and no void cell delivered");
    EXPECT(rh_recv(q, &env, &m, sizeof m, 0) == RH_EEMPTY, "expected the queue empty");
    rh_queue_stats st = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &st);
    EXPECT(st.enqueued == 3 && st.dequeued == 3 && st.depth == 0,
           "expected 3 enqueued, 3 dequeued, depth 0 (void cells not counted), got %llu/%llu/%llu",
           (unsigned long long)st.enqueued, (unsigned long long)st.dequeued,
           (unsigned long long)st.depth);
    /* A reservation cancelled (commit 0) and one left at close: both void. */
    assert_int_equal(rh_send_reserve(q, 2, loans), 2);
    assert_int_equal(rh_send_commit(q, 0, NULL, NULL), 0);
    rh_queue_stats_get(q, &st);
    EXPECT(st.enqueued == 3 && st.depth == 0, "expected a cancelled loan to count nothing");
    rh_queue_close(q);
}

/* ------------------------------------------------------ backpressure --- */

static void fill(rh_queue *q, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        send_seq(q, i);
}

static void test_a_reservation_on_a_full_queue_follows_each_policy(void **state)
{
    (void)state;
    rh_loan loans[2];
    rh_queue_stats st = RH_QUEUE_STATS_INIT;

    rh_queue *q = make("bp.reject", 4, RH_BP_REJECT, 0);
    fill(q, 4);
    EXPECT(rh_send_reserve(q, 2, loans) == RH_EFULL, "reject: expected RH_EFULL at once");
    rh_queue_stats_get(q, &st);
    EXPECT(st.rejected == 1, "reject: expected 1 rejected, got %llu",
           (unsigned long long)st.rejected);
    rh_queue_close(q);

    q = make("bp.newest", 4, RH_BP_DROP_NEWEST, 0);
    fill(q, 4);
    EXPECT(rh_send_reserve(q, 2, loans) == RH_EDROPPED, "drop_newest: expected RH_EDROPPED");
    rh_queue_stats_get(q, &st);
    EXPECT(st.dropped_newest == 1 && st.depth == 4,
           "drop_newest: expected 1 dropped and the 4 queued kept");
    rh_queue_close(q);

    q = make("bp.block", 4, RH_BP_BLOCK, 0); /* block_timeout_ms 50 */
    fill(q, 4);
    uint64_t t0 = rh_now_ns();
    EXPECT(rh_send_reserve(q, 2, loans) == RH_ETIMEDOUT, "block: expected RH_ETIMEDOUT");
    EXPECT(rh_now_ns() - t0 >= 40 * RH_NS_PER_MS, "block: expected a wait of block_timeout_ms");
    rh_queue_stats_get(q, &st);
    EXPECT(st.rejected == 1, "block: expected the timeout counted as rejected");
    EXPECT(recv_seq(q, NULL) == 0, "block: expected the oldest still first");
    EXPECT(rh_send_reserve(q, 2, loans) == 1, "block: expected the one free cell reserved");
    assert_int_equal(rh_send_commit(q, 1, NULL, NULL), 1);
    rh_queue_close(q);

    q = make("bp.oldest", 4, RH_BP_DROP_OLDEST, 0);
    fill(q, 4);
    EXPECT(rh_send_reserve(q, 2, loans) == 1, "drop_oldest: expected one cell freed by eviction");
    ((test_msg *)loans[0].payload)->seq = 99;
    assert_int_equal(rh_send_commit(q, 1, NULL, NULL), 1);
    rh_queue_stats_get(q, &st);
    EXPECT(st.dropped_oldest == 1, "drop_oldest: expected 1 evicted and counted");
    for (uint64_t want = 1; want < 4; want++)
        EXPECT(recv_seq(q, NULL) == want, "drop_oldest: expected %llu", (unsigned long long)want);
    EXPECT(recv_seq(q, NULL) == 99, "drop_oldest: expected the loaned message last");
    rh_queue_close(q);
}

/* --------------------------------------------------- dying holders --- */

/* Fork a child that runs fn(q) then says so on a pipe and waits to be
 * killed; returns its pid once it has said so. */
static pid_t child_holding(rh_queue *q, void (*fn)(rh_queue *))
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        fn(q);
        char c = 'x';
        if (write(p[1], &c, 1) != 1)
            _exit(3);
        for (;;)
            pause();
    }
    close(p[1]);
    char c;
    EXPECT(read(p[0], &c, 1) == 1, "expected the child to report its claim");
    close(p[0]);
    return pid;
}

static void kill_and_reap(pid_t pid)
{
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
}

static void reserve_two(rh_queue *q)
{
    rh_loan loans[2];
    if (rh_send_reserve(q, 2, loans) != 2)
        _exit(2);
    ((test_msg *)loans[0].payload)->seq = 666; /* written, never committed */
}

static void peek_two(rh_queue *q)
{
    rh_msg_view v[2];
    if (rh_recv_peek(q, 2, 1000, v) != 2)
        _exit(2);
}

static void peek_any(rh_queue *q)
{
    rh_msg_view v[2];
    if (rh_recv_peek(q, 2, 1000, v) < 1)
        _exit(2);
}

static void test_a_producer_killed_holding_a_loan_leaves_void_cells_the_queue_goes_past(void **s)
{
    (void)s;
    rh_queue *q = make("dead.loan", 16, RH_BP_BLOCK, 1);
    send_seq(q, 1);
    pid_t pid = child_holding(q, reserve_two);
    kill_and_reap(pid);
    uint64_t t0 = rh_now_ns();
    send_seq(q, 2); /* behind the dead loan: repairs it instead of stalling */
    send_seq(q, 3);
    EXPECT(rh_now_ns() - t0 < rh__queue_stall_ns, "expected the repair before the stall time");
    EXPECT(recv_seq(q, NULL) == 1 && recv_seq(q, NULL) == 2 && recv_seq(q, NULL) == 3,
           "expected 1, 2, 3 and nothing of the dead loan");
    rh_envelope env;
    test_msg m;
    EXPECT(rh_recv(q, &env, &m, sizeof m, 0) == RH_EEMPTY, "expected nothing more");
    rh_queue_stats st = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &st);
    EXPECT(st.enqueued == 3 && st.dequeued == 3 && st.rejected == 0 && st.depth == 0,
           "expected 3 in, 3 out, none lost or refused, got %llu/%llu/%llu",
           (unsigned long long)st.enqueued, (unsigned long long)st.dequeued,
           (unsigned long long)st.rejected);
    expect_not_corrupt(q);
    rh_queue_close(q);
}

static void test_a_consumer_killed_holding_a_peek_leaves_its_messages_to_the_next_reader(void **s)
{
    (void)s;
    rh_queue *q = make("dead.peek", 16, RH_BP_BLOCK, 1);
    send_seq(q, 1);
    send_seq(q, 2);
    pid_t pid = child_holding(q, peek_two);
    kill_and_reap(pid);
    uint8_t f1, f2;
    uint64_t a = recv_seq(q, &f1), b = recv_seq(q, &f2);
    EXPECT(a == 1 && b == 2, "expected 1 and 2 again, got %llu and %llu", (unsigned long long)a,
           (unsigned long long)b);
    EXPECT((f1 & RH_ENV_REDELIVERED) && (f2 & RH_ENV_REDELIVERED),
           "expected both marked RH_ENV_REDELIVERED, flags %#x %#x", f1, f2);

    /* Killed again, with a message arriving after: the reader gets the new
     * one at once (its run is parked behind the orphan), then the two. */
    send_seq(q, 3);
    send_seq(q, 4);
    pid = child_holding(q, peek_two);
    kill_and_reap(pid);
    send_seq(q, 5);
    uint64_t got[3];
    uint8_t fl[3];
    for (int i = 0; i < 3; i++)
        got[i] = recv_seq(q, &fl[i]);
    uint64_t sum = got[0] + got[1] + got[2];
    int marked = 0;
    for (int i = 0; i < 3; i++)
        marked += (got[i] == 3 || got[i] == 4) && (fl[i] & RH_ENV_REDELIVERED);
    EXPECT(sum == 12 && marked == 2, "expected 3, 4 (marked) and 5, got %llu %llu %llu",
           (unsigned long long)got[0], (unsigned long long)got[1], (unsigned long long)got[2]);
    rh_envelope env;
    test_msg m;
    EXPECT(rh_recv(q, &env, &m, sizeof m, 0) == RH_EEMPTY, "expected nothing more");
    rh_queue_stats st = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &st);
    EXPECT(st.depth == 0 && st.enqueued == 5, "expected 5 enqueued, depth 0 once all are taken");
    expect_not_corrupt(q);
    rh_queue_close(q);
}

static void test_a_persist_queue_redelivers_a_dead_peek_and_acks_at_release(void **s)
{
    (void)s;
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 8, .backpressure = RH_BP_REJECT,
                                               .shared = 1, .persist = 1);
    rh_queue *q = make_cfg("dead.persist", cfg);
    send_seq(q, 1);
    pid_t pid = child_holding(q, peek_any);
    kill_and_reap(pid);
    EXPECT(rh__queue_acked(q) == 0, "expected nothing acked by a peek never released");
    rh_msg_view v[4];
    int n = rh_recv_peek(q, 4, 1000, v);
    EXPECT(n == 1 && ((const test_msg *)v[0].payload)->seq == 1 &&
               (v[0].env->flags & RH_ENV_REDELIVERED),
           "expected message 1 peeked again, marked redelivered (got %d)", n);
    EXPECT(rh__queue_acked(q) == 0, "expected no ack before the release");
    assert_int_equal(rh_recv_release(q), 0);
    EXPECT(rh__queue_acked(q) == 1, "expected the release to ack it, acked %llu",
           (unsigned long long)rh__queue_acked(q));
    rh_queue_close(q);
    rh_error err = {0};
    (void)rh__queue_purge(instance, "dead.persist", &err);
}

/* --------------------------------------------------- live holders --- */

typedef struct holder {
    rh_queue *q;
    int ms;
    _Atomic int held;
} holder;

static void *hold_loan(void *arg)
{
    holder *h = arg;
    rh_queue *mine;
    rh_error err = {0};
    if (rh_queue_attach(instance, rh_queue_name(h->q), &mine, &err) != 0)
        return NULL;
    rh_loan l;
    if (rh_send_reserve(mine, 1, &l) == 1) {
        ((test_msg *)l.payload)->seq = 100;
        atomic_store(&h->held, 1);
        sleep_ms(h->ms); /* the behaviour under test: a loan held past the stall time */
        rh_send_commit(mine, 1, NULL, NULL);
    }
    rh_queue_close(mine);
    return NULL;
}

static void test_a_live_holder_past_the_stall_time_is_waited_for_and_marks_nothing(void **s)
{
    (void)s;
    uint64_t saved = rh__queue_stall_ns;
    rh__queue_stall_ns = 200 * RH_NS_PER_MS; /* three stall times in 0.6 s */
    rh_queue *q = make("live", 16, RH_BP_BLOCK, 1);

    /* A peek held: a receive behind it returns at once (parked). */
    send_seq(q, 1);
    send_seq(q, 2);
    rh_queue *other;
    rh_error err = {0};
    assert_int_equal(rh_queue_attach(instance, "live", &other, &err), 0);
    rh_msg_view v[1];
    assert_int_equal(rh_recv_peek(other, 1, 0, v), 1);
    EXPECT(recv_seq(q, NULL) == 2, "expected the message behind the peek delivered");
    sleep_ms(600); /* the behaviour under test: held three stall times */
    expect_not_corrupt(q);
    EXPECT(((const test_msg *)v[0].payload)->seq == 1, "expected the peek's view still intact");
    rh_queue_stats st = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &st);
    EXPECT(st.depth == 2, "expected both cells still taken while the peek holds the tail");
    assert_int_equal(rh_recv_release(other), 0);
    rh_queue_stats_get(q, &st);
    EXPECT(st.depth == 0 && st.dequeued == 2, "expected the release to free both cells");
    rh_queue_close(other);

    /* A loan held: a send behind it waits for it, then goes through. */
    holder h = {q, 600, 0};
    pthread_t t;
    pthread_create(&t, NULL, hold_loan, &h);
    EXPECT_WITHIN(5, atomic_load(&h.held), "expected the holder to reserve");
    send_seq(q, 3);
    pthread_join(t, NULL);
    EXPECT(recv_seq(q, NULL) == 100 && recv_seq(q, NULL) == 3,
           "expected the loaned message, then the one sent behind it");
    expect_not_corrupt(q);
    rh_queue_close(q);
    rh__queue_stall_ns = saved;
}

int main(void)
{
    snprintf(instance, sizeof instance, "loan%d", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_commit_and_peek_release_round_trip_in_place_across_wraps),
        cmocka_unit_test(test_loans_and_copying_calls_mix_in_bursts),
        cmocka_unit_test(test_a_short_commit_publishes_void_cells_nobody_receives_or_counts),
        cmocka_unit_test(test_a_reservation_on_a_full_queue_follows_each_policy),
        cmocka_unit_test(test_a_producer_killed_holding_a_loan_leaves_void_cells_the_queue_goes_past),
        cmocka_unit_test(test_a_consumer_killed_holding_a_peek_leaves_its_messages_to_the_next_reader),
        cmocka_unit_test(test_a_persist_queue_redelivers_a_dead_peek_and_acks_at_release),
        cmocka_unit_test(test_a_live_holder_past_the_stall_time_is_waited_for_and_marks_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
