/*
 * test_queue_notes.c — slow is not dead (queue_notes.c): a producer
 * process stopped between its claim and its publish for longer than the
 * stall rule is waited for (nothing marked corrupt, every message
 * delivered once), and one killed there is repaired (its run published
 * void, counted, the queue goes on without a relaunch).
 *
 * The producer is a child process sending bursts of 16 through rh_send_burst
 * (the copying path).  The test stops it with SIGSTOP at whatever moment,
 * and keeps the stop only when the child holds a claim then
 * (prod_head != prod_tail while nobody else sends): it tries again
 * otherwise, so the test does not depend on how fast either side runs.
 * The stall rule is shortened to 50 ms in this process (the waiter's), so
 * a stop of 400 ms is eight times past it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"

#include "base/clock.h"
#include "queue/queue_layout.h"
#include "queue/queue_notes.h"
#include "queue/queue_pvt.h"

typedef struct test_msg {
    uint64_t seq, source;
} test_msg;

static const rh_type test_type = {
    .struct_size = sizeof(rh_type),
    .name = "test.notes",
    .fingerprint = 0x6e6f746573303031ull,
    .size = sizeof(test_msg),
    .align = 8,
};

#define CHILD_MSGS (4u << 20) /* at most: it sends until told to stop */
#define BURST 16u
#define FROM_CHILD 1u
#define FROM_PARENT 2u

static char instance[64];

/* Shared with the child: how many of its messages were accepted. */
typedef struct shared {
    _Atomic uint64_t acked;
    _Atomic int stop; /* the child stops sending */
} shared;

static shared *sh;

static rh_queue *make(const char *name)
{
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 256, .backpressure = RH_BP_BLOCK,
                                               .block_timeout_ms = 20000, .shared = 1);
    rh_queue *q = NULL;
    rh_error err = {0};
    int rc = rh_queue_create(instance, name, &test_type, &cfg, NULL, &q, &err);
    EXPECT(rc == 0 && q, "expected queue \"%s\" created, got %d: %s", name, rc, err.msg);
    return q;
}

/* The child: attach and send in bursts until told to stop (or CHILD_MSGS),
 * counting each accepted burst after its send returned. */
static pid_t start_child(const char *name)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    rh_queue *q = NULL;
    if (rh_queue_attach(instance, name, &q, NULL) != 0)
        _exit(3);
    test_msg m[BURST];
    for (uint64_t seq = 0; seq + BURST <= CHILD_MSGS && !atomic_load(&sh->stop);) {
        for (uint32_t i = 0; i < BURST; i++)
            m[i] = (test_msg){seq + i, FROM_CHILD};
        int rc = rh_send_burst(q, NULL, m, sizeof m[0], sizeof m[0], BURST, NULL);
        if (rc < 0)
            _exit(4);
        seq += (uint64_t)rc;
        atomic_store(&sh->acked, seq);
    }
    _exit(0);
}

/* The drain: every message received, counted by source and seq. */
typedef struct drain {
    rh_queue *q;
    uint8_t seen[CHILD_MSGS];
    _Atomic uint64_t child, parent; /* read by the test while the drain runs */
    uint64_t twice, bad;
    _Atomic int stop;
} drain;

static void *drain_main(void *arg)
{
    drain *d = arg;
    test_msg m;
    while (!atomic_load(&d->stop)) {
        int rc = rh_recv(d->q, NULL, &m, sizeof m, 20);
        if (rc == RH_EEMPTY || rc == RH_ETIMEDOUT)
            continue;
        if (rc != (int)sizeof m) {
            d->bad++;
            continue;
        }
        if (m.source == FROM_PARENT) {
            d->parent++;
        } else if (m.source == FROM_CHILD && m.seq < CHILD_MSGS) {
            d->twice += d->seen[m.seq]++ != 0;
            d->child++;
        } else {
            d->bad++;
        }
    }
    return NULL;
}

/* SIGSTOP the child at a moment it holds a claim: 1, or 0 when it did not
 * within 60 s (or it exited). */
static int stop_holding_a_claim(rh_queue *q, pid_t child)
{
    double until = expect_now_s() + 60.0;
    while (expect_now_s() < until) {
        int st;
        if (kill(child, SIGSTOP) != 0 || waitpid(child, &st, WUNTRACED) != child ||
            !WIFSTOPPED(st))
            return 0;
        if (atomic_load(&q->h->prod_head) != atomic_load(&q->h->prod_tail))
            return 1; /* stopped between its claim and its publish */
        kill(child, SIGCONT);
        /* let it run a little: at least one more send */
        uint64_t before = atomic_load(&sh->acked);
        WAIT_UNTIL_EVERY(5.0, 0, atomic_load(&sh->acked) != before);
    }
    return 0;
}

typedef struct cont_later {
    pid_t child;
    int ms;
} cont_later;

static void *cont_main(void *arg)
{
    cont_later *c = arg;
    /* The behaviour under test: the holder stays stopped this long, eight
     * times the (shortened) stall rule, while the parent sends behind it. */
    sleep_ms(c->ms);
    kill(c->child, SIGCONT);
    return NULL;
}

static void test_a_producer_stopped_between_claim_and_publish_is_waited_for(void **state)
{
    (void)state;
    rh_queue *q = make("notes.stop");
    atomic_store(&sh->acked, 0);
    atomic_store(&sh->stop, 0);
    static drain d;
    memset(&d, 0, sizeof d);
    d.q = q;
    pthread_t dt;
    pthread_create(&dt, NULL, drain_main, &d);
    pid_t child = start_child("notes.stop");
    int held = stop_holding_a_claim(q, child);
    EXPECT(held, "expected to stop the producer between a claim and its publish");

    cont_later c = {child, 400};
    pthread_t ct;
    pthread_create(&ct, NULL, cont_main, &c);
    test_msg m = {0, FROM_PARENT};
    uint64_t t0 = rh_now_ns();
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    uint64_t took = rh_now_ns() - t0;
    pthread_join(ct, NULL);
    atomic_store(&sh->stop, 1);
    EXPECT(rc == 0, "expected the send behind a stopped (live) producer to wait for it and go "
           "through, got %d (%s) after %llu ms", rc, rh_strerror(rc),
           (unsigned long long)(took / RH_NS_PER_MS));
    EXPECT(took >= 300 * RH_NS_PER_MS, "expected the send to wait for the stopped producer "
           "(about 400 ms), it returned after %llu ms", (unsigned long long)(took / RH_NS_PER_MS));

    int st = 0;
    EXPECT(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "expected the producer to go on sending after its stop and exit 0, got status %d",
           st);
    uint64_t acked = atomic_load(&sh->acked);
    EXPECT_WITHIN(30.0, d.child + d.parent >= acked + 1,
                  "expected all %llu + 1 messages delivered, got %llu + %llu",
                  (unsigned long long)acked, (unsigned long long)d.child,
                  (unsigned long long)d.parent);
    atomic_store(&d.stop, 1);
    pthread_join(dt, NULL);
    EXPECT(d.child == acked && d.parent == 1 && d.twice == 0 && d.bad == 0,
           "expected each message once: child %llu of %llu, parent %llu, twice %llu, bad %llu",
           (unsigned long long)d.child, (unsigned long long)acked,
           (unsigned long long)d.parent, (unsigned long long)d.twice,
           (unsigned long long)d.bad);
    rh_queue_health hl;
    rh__queue_health_get(q, &hl);
    EXPECT(hl.corrupt == 0 && hl.corrupt_sides == 0,
           "expected nothing marked corrupt for a slow producer, got corrupt %llu, sides %u",
           (unsigned long long)hl.corrupt, hl.corrupt_sides);
    rh_queue_close(q);
}

static void test_a_producer_killed_between_claim_and_publish_is_repaired(void **state)
{
    (void)state;
    rh_queue *q = make("notes.kill");
    atomic_store(&sh->acked, 0);
    atomic_store(&sh->stop, 0);
    static drain d;
    memset(&d, 0, sizeof d);
    d.q = q;
    pthread_t dt;
    pthread_create(&dt, NULL, drain_main, &d);
    pid_t child = start_child("notes.kill");
    int held = stop_holding_a_claim(q, child);
    EXPECT(held, "expected to stop the producer between a claim and its publish");
    uint64_t claimed = atomic_load(&q->h->prod_head) - atomic_load(&q->h->prod_tail);
    kill(child, SIGKILL);
    int st;
    waitpid(child, &st, 0);
    uint64_t acked = atomic_load(&sh->acked);

    test_msg m = {0, FROM_PARENT};
    uint64_t t0 = rh_now_ns();
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    uint64_t took = rh_now_ns() - t0;
    EXPECT(rc == 0, "expected the send behind a dead producer's claim to go through once the "
           "claim is repaired, got %d (%s) after %llu ms", rc, rh_strerror(rc),
           (unsigned long long)(took / RH_NS_PER_MS));
    EXPECT_WITHIN(30.0, d.child >= acked && d.parent == 1,
                  "expected the %llu accepted messages and the parent's delivered, got %llu + "
                  "%llu", (unsigned long long)acked, (unsigned long long)d.child,
                  (unsigned long long)d.parent);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    EXPECT_WITHIN(10.0, (rh_queue_stats_get(q, &s), s.depth == 0), "expected the queue drained");
    atomic_store(&d.stop, 1);
    pthread_join(dt, NULL);
    /* The child counts a burst once its call returned: a call killed after
     * publishing part of its burst (the rest one by one, when the queue
     * had room for part) delivered up to BURST - 1 more than it counted,
     * and those went out; the claim it held when killed did not. */
    EXPECT(d.child >= acked && d.child < acked + BURST && d.twice == 0 && d.bad == 0,
           "expected the %llu accepted messages (and at most %u published by the killed call), "
           "once each, got %llu, twice %llu, bad %llu", (unsigned long long)acked, BURST - 1,
           (unsigned long long)d.child, (unsigned long long)d.twice, (unsigned long long)d.bad);
    for (uint64_t i = 0; i < d.child; i++)
        EXPECT(d.seen[i] == 1, "expected message %llu delivered (a prefix, in order of sending)",
               (unsigned long long)i);
    EXPECT(s.enqueued == d.child + 1 && s.dequeued == d.child + 1,
           "expected the counters to hold only the messages (the void cells subtracted): "
           "enqueued %llu, dequeued %llu, delivered %llu + 1", (unsigned long long)s.enqueued,
           (unsigned long long)s.dequeued, (unsigned long long)d.child);
    EXPECT(atomic_load(&q->h->counters[C_VOID_MADE]) == claimed,
           "expected the killed claim's %llu cells published void, counted %llu",
           (unsigned long long)claimed,
           (unsigned long long)atomic_load(&q->h->counters[C_VOID_MADE]));
    rh_queue_health hl;
    rh__queue_health_get(q, &hl);
    EXPECT(hl.corrupt == 0 && hl.corrupt_sides == 0,
           "expected nothing marked corrupt for a dead producer's claim (repaired), got corrupt "
           "%llu, sides %u", (unsigned long long)hl.corrupt, hl.corrupt_sides);
    rh_queue_close(q);
}

/* The waiter's own deadline: behind a producer stopped longer than the
 * queue's block_timeout_ms, a send gives its run up (RH_ETIMEDOUT, not sent,
 * nothing marked); once the producer goes on, the given-up run is
 * published void by the next sender behind it and everything accepted is
 * delivered once. */
static void test_a_send_behind_a_stopped_producer_gives_up_at_its_deadline(void **state)
{
    (void)state;
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 256, .backpressure = RH_BP_BLOCK,
                                               .block_timeout_ms = 150, .shared = 1);
    rh_queue *q = NULL;
    rh_error err = {0};
    assert_int_equal(rh_queue_create(instance, "notes.late", &test_type, &cfg, NULL, &q, &err), 0);
    atomic_store(&sh->acked, 0);
    atomic_store(&sh->stop, 0);
    static drain d;
    memset(&d, 0, sizeof d);
    d.q = q;
    pthread_t dt;
    pthread_create(&dt, NULL, drain_main, &d);
    pid_t child = start_child("notes.late");
    EXPECT(stop_holding_a_claim(q, child), "expected to stop the producer in a claim");
    test_msg m = {0, FROM_PARENT};
    uint64_t t0 = rh_now_ns();
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    uint64_t took = rh_now_ns() - t0;
    EXPECT(rc == RH_ETIMEDOUT && took >= 100 * RH_NS_PER_MS,
           "expected RH_ETIMEDOUT after the 150-ms deadline (the stall rule here is 50 ms), "
           "got %d (%s) after %llu ms", rc, rh_strerror(rc),
           (unsigned long long)(took / RH_NS_PER_MS));
    kill(child, SIGCONT);
    m.seq = 1;
    EXPECT(rh_send(q, NULL, &m, sizeof m, NULL) == 0,
           "expected the next send to go through once the producer goes on");
    atomic_store(&sh->stop, 1);
    int st = 0;
    waitpid(child, &st, 0);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "expected the producer to exit 0, got %d", st);
    uint64_t acked = atomic_load(&sh->acked);
    EXPECT_WITHIN(30.0, d.child >= acked && d.parent >= 1,
                  "expected the %llu accepted messages and the parent's second delivered",
                  (unsigned long long)acked);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    EXPECT_WITHIN(10.0, (rh_queue_stats_get(q, &s), s.depth == 0), "expected the queue drained");
    atomic_store(&d.stop, 1);
    pthread_join(dt, NULL);
    EXPECT(d.child == acked && d.parent == 1 && d.twice == 0 && d.bad == 0,
           "expected the accepted messages once and only the parent's second send: child %llu "
           "of %llu, parent %llu, twice %llu", (unsigned long long)d.child,
           (unsigned long long)acked, (unsigned long long)d.parent,
           (unsigned long long)d.twice);
    EXPECT(atomic_load(&q->h->counters[C_VOID_MADE]) >= 1,
           "expected the given-up cell published void");
    rh_queue_health hl;
    rh__queue_health_get(q, &hl);
    EXPECT(hl.corrupt == 0 && hl.corrupt_sides == 0, "expected nothing marked, got %llu, %u",
           (unsigned long long)hl.corrupt, hl.corrupt_sides);
    rh_queue_close(q);
}

static void test_a_reused_identity_is_not_taken_for_the_holder(void **state)
{
    (void)state;
    uint64_t me = rh__note_self ? rh__note_self : rh__note_self_slow();
    EXPECT(rh__note_owner_alive(me), "expected this thread's own identity to read alive");
    /* the same pid and tid with another start time: a reused tid */
    EXPECT(!rh__note_owner_alive(me ^ 1), "expected a start time that differs to read dead");
    EXPECT(!rh__note_owner_alive(me ^ (1ull << 41)), "expected a tid that is not one of ours to read dead");
}

int main(void)
{
    snprintf(instance, sizeof instance, "notes%d", (int)getpid());
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 1;
    rh__queue_stall_ns = 50 * RH_NS_PER_MS;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_producer_stopped_between_claim_and_publish_is_waited_for),
        cmocka_unit_test(test_a_producer_killed_between_claim_and_publish_is_repaired),
        cmocka_unit_test(test_a_send_behind_a_stopped_producer_gives_up_at_its_deadline),
        cmocka_unit_test(test_a_reused_identity_is_not_taken_for_the_holder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
