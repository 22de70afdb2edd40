/*
 * test_queue_health.c — queue_health.c in one process: a wait on a stalled
 * tail gives up, marks its side and loses no message; an attached handle
 * whose object went away says RH_ESTALE, its creator's never does; the
 * heartbeat thread lives exactly while shared queues do.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"

#include "base/clock.h"
#include "queue/queue_layout.h"
#include "queue/queue_pvt.h"

typedef struct test_msg {
    uint64_t a, b;
} test_msg;

static const rh_type test_type = {
    .struct_size = sizeof(rh_type),
    .name = "test.health",
    .fingerprint = 0x6865616c74683031ull,
    .size = sizeof(test_msg),
    .align = 8,
};

static char instance[64];

static rh_queue *make(const char *name, int shared)
{
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 16, .backpressure = RH_BP_BLOCK,
                                               .block_timeout_ms = 5000, .shared = shared);
    rh_queue *q = NULL;
    rh_error err = {0};
    int rc = rh_queue_create(instance, name, &test_type, &cfg, NULL, &q, &err);
    EXPECT(rc == 0 && q, "expected queue \"%s\" created, got %d: %s", name, rc, err.msg);
    return q;
}

/* Threads of this process named rh-heartbeat. */
static int heartbeat_threads(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int n = 0;
    while (d && (de = readdir(d)) != NULL) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        n += fgets(comm, sizeof comm, f) && strncmp(comm, "rh-heartbeat", 12) == 0;
        fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

static void test_a_consumer_behind_a_scribbled_head_delivers_and_marks_its_side(void **state)
{
    (void)state;
    rh_queue *q = make("stall.c", 0);
    test_msg m = {0};
    for (uint64_t i = 0; i < 5; i++) {
        m.a = i;
        assert_int_equal(rh_send(q, NULL, &m, sizeof m, NULL), 0);
    }
    atomic_fetch_add(&q->h->cons_head, 3); /* cells 0..2 skipped by the claim */
    uint64_t t0 = rh_now_ns();
    test_msg got;
    int rc = rh_recv(q, NULL, &got, sizeof got, 0);
    uint64_t took = rh_now_ns() - t0;
    EXPECT(rc == (int)sizeof got && got.a == 3,
           "expected the message taken past the gap (a = 3) to be delivered, got %d (a = %llu)",
           rc, (unsigned long long)got.a);
    EXPECT(took >= QUEUE_STALL_NS && took < QUEUE_STALL_NS + 2 * RH_NS_PER_S,
           "expected the wait to give up after about 1 s, took %llu ms",
           (unsigned long long)(took / RH_NS_PER_MS));
    EXPECT(queue_side_corrupt(q, CORRUPT_CONSUMERS) && !queue_side_corrupt(q, CORRUPT_PRODUCERS),
           "expected the consumers' side marked corrupt, and only it");
    rh_queue_health hl;
    rh__queue_health_get(q, &hl);
    EXPECT(hl.corrupt == 1 && hl.corrupt_tail == 0 && hl.corrupt_claim == 3,
           "expected one give-up recorded with tail 0 and claim 3, got %llu, %llu, %llu",
           (unsigned long long)hl.corrupt, (unsigned long long)hl.corrupt_tail,
           (unsigned long long)hl.corrupt_claim);
    /* the next one gives up at once, and still delivers */
    t0 = rh_now_ns();
    rc = rh_recv(q, NULL, &got, sizeof got, 0);
    took = rh_now_ns() - t0;
    EXPECT(rc == (int)sizeof got && got.a == 4 && took < 100 * RH_NS_PER_MS,
           "expected the next receive at once (a = 4), got %d after %llu ms", rc,
           (unsigned long long)(took / RH_NS_PER_MS));
    rh_queue_close(q);
}

static void test_a_producer_behind_a_scribbled_head_is_refused_and_counted(void **state)
{
    (void)state;
    rh_queue *q = make("stall.p", 0);
    test_msg m = {0};
    atomic_fetch_add(&q->h->prod_head, 2);
    uint64_t t0 = rh_now_ns();
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    uint64_t took = rh_now_ns() - t0;
    EXPECT(rc == RH_ECORRUPT && took < QUEUE_STALL_NS + 2 * RH_NS_PER_S,
           "expected RH_ECORRUPT after about 1 s, got %d after %llu ms", rc,
           (unsigned long long)(took / RH_NS_PER_MS));
    rh_queue_stats st = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &st);
    EXPECT(st.rejected == 1 && st.enqueued == 0, "expected the refusal counted as rejected and "
           "nothing enqueued, got rejected %llu, enqueued %llu",
           (unsigned long long)st.rejected, (unsigned long long)st.enqueued);
    t0 = rh_now_ns();
    EXPECT(rh_send_burst(q, NULL, &m, sizeof m, sizeof m, 1, NULL) == RH_ECORRUPT &&
               rh_now_ns() - t0 < 100 * RH_NS_PER_MS,
           "expected a burst on the marked side refused at once");
    test_msg got;
    EXPECT(rh_recv(q, NULL, &got, sizeof got, 5000) == RH_ECORRUPT,
           "expected a receive on an empty queue whose producers stalled to say RH_ECORRUPT, "
           "not wait 5 s");
    rh_queue_close(q);
}

static void test_an_attached_handle_of_a_removed_queue_is_stale_its_creator_never(void **state)
{
    (void)state;
    rh_queue *q = make("stale.q", 1);
    rh_queue *a = NULL;
    rh_error err;
    assert_int_equal(rh_queue_attach(instance, "stale.q", &a, &err), 0);
    test_msg got;
    EXPECT(rh_recv(a, NULL, &got, sizeof got, 0) == RH_EEMPTY,
           "expected a live queue's empty receive to be RH_EEMPTY");
    rh__queue_unlink(q); /* the name goes, as when a new host replaces it */
    /* the creator's handle never checks */
    EXPECT(rh_recv(q, NULL, &got, sizeof got, 0) == RH_EEMPTY, "expected the creator not stale");
    uint64_t t0 = rh_now_ns();
    int rc = rh_recv(a, NULL, &got, sizeof got, 3000);
    EXPECT(rc == RH_ESTALE && rh_now_ns() - t0 < RH_NS_PER_S,
           "expected the attached handle's waiting receive to say RH_ESTALE within 1 s, got %d",
           rc);
    test_msg m = {0};
    EXPECT(rh_send(a, NULL, &m, sizeof m, NULL) == RH_ESTALE,
           "expected a handle known stale to refuse every send at once (sticky)");
    rh_queue_close(a);
    rh_queue_close(q);
}

static void test_a_persist_queues_recovery_clears_the_corrupt_marks(void **state)
{
    (void)state;
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 16, .backpressure = RH_BP_BLOCK,
                                               .block_timeout_ms = 100, .shared = 1, .persist = 1);
    rh_queue *q = NULL;
    rh_error err = {0};
    assert_int_equal(rh_queue_create(instance, "mark.p", &test_type, &cfg, NULL, &q, &err), 0);
    test_msg m = {0};
    assert_int_equal(rh_send(q, NULL, &m, sizeof m, NULL), 0);
    atomic_fetch_add(&q->h->prod_head, 2); /* a claim that never publishes */
    EXPECT(rh_send(q, NULL, &m, sizeof m, NULL) == RH_ECORRUPT,
           "expected the send behind the dead claim refused");
    rh_queue_close(q); /* as the host that died leaves it */
    assert_int_equal(rh_queue_create(instance, "mark.p", &test_type, &cfg, NULL, &q, &err), 0);
    rh_queue_health hl;
    rh__queue_health_get(q, &hl);
    EXPECT(hl.corrupt_sides == 0 && hl.corrupt >= 1,
           "expected the recovery (which discards the dead claim) to clear the marks and keep "
           "the count, got sides %u, count %llu", hl.corrupt_sides,
           (unsigned long long)hl.corrupt);
    EXPECT(rh_send(q, NULL, &m, sizeof m, NULL) == 0,
           "expected the recovered queue to take a message again");
    test_msg got;
    EXPECT(rh_recv(q, NULL, &got, sizeof got, 0) == (int)sizeof got &&
               rh_recv(q, NULL, &got, sizeof got, 0) == (int)sizeof got,
           "expected both messages (the carried one and the new one) delivered");
    rh_queue_close(q);
    rh__queue_purge(instance, "mark.p", NULL);
}

static void test_the_heartbeat_thread_lives_while_shared_queues_do(void **state)
{
    (void)state;
    int before = heartbeat_threads();
    assert_int_equal(before, 0);
    rh_queue *p = make("beat.private", 0);
    EXPECT(heartbeat_threads() == 0, "expected no heartbeat for a private queue");
    rh_queue *a = make("beat.a", 1), *b = make("beat.b", 1);
    EXPECT(heartbeat_threads() == 1, "expected one heartbeat thread for two shared queues, "
           "got %d", heartbeat_threads());
    int64_t t = atomic_load(&a->h->heartbeat_ns);
    EXPECT(t > 0, "expected the heartbeat stored at creation");
    rh_queue_close(a);
    EXPECT(heartbeat_threads() == 1, "expected the heartbeat to go on for the other queue");
    rh_queue_close(b);
    EXPECT(heartbeat_threads() == 0, "expected the heartbeat thread joined with the last close");
    rh_queue_close(p);
}

int main(void)
{
    snprintf(instance, sizeof instance, "health%d", (int)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_consumer_behind_a_scribbled_head_delivers_and_marks_its_side),
        cmocka_unit_test(test_a_producer_behind_a_scribbled_head_is_refused_and_counted),
        cmocka_unit_test(test_an_attached_handle_of_a_removed_queue_is_stale_its_creator_never),
        cmocka_unit_test(test_a_persist_queues_recovery_clears_the_corrupt_marks),
        cmocka_unit_test(test_the_heartbeat_thread_lives_while_shared_queues_do),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
