/*
 * test_wait.c — doorbells, multi-bell sleeps and wait strategies.
 *
 * No test asserts how fast a wake-up is; sleeps carry generous timeouts so a
 * lost wake-up fails the test instead of hanging it.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"

#include "ringhost/ringhost.h"
#include "base/wait.h"

#define MS 1000000ll
#define GENEROUS_NS (10000 * MS) /* a sleep that should be woken gives up after 10 s */

/* Spin until `waiters` sleepers are announced on b (so a ring will wake
 * them, whether or not they are inside the kernel yet). */
static void wait_for_waiters(rh_bell *b, uint32_t waiters)
{
    uint64_t give_up = rh_now_ns() + (uint64_t)GENEROUS_NS;
    while (atomic_load(&b->waiters) < waiters) {
        EXPECT(rh_now_ns() < give_up, "the sleeper never announced itself on the bell");
        usleep(100);
    }
}

/* A sleeper over bells[0..n): returns what rh__sleep_commit returned, unless
 * the flag was already set at the re-check. */
typedef struct sleeper {
    rh_bell **bells;
    uint32_t n;
    _Atomic int flag;
    int result;
} sleeper;

static void *sleep_thread(void *arg)
{
    sleeper *s = arg;
    for (;;) {
        rh_sleep sl;
        rh__sleep_prepare(&sl, s->bells, s->n);
        if (atomic_load(&s->flag)) {
            rh__sleep_cancel(&sl);
            s->result = 0;
            return NULL;
        }
        int rc = rh__sleep_commit(&sl, GENEROUS_NS);
        if (rc != 0 || atomic_load(&s->flag)) {
            s->result = rc;
            return NULL;
        }
    }
}

static void test_bell_ring_wakes_a_parked_thread(void **state)
{
    (void)state;
    rh_bell bell;
    rh__bell_init(&bell, 0);
    rh_bell *bells[] = {&bell};
    sleeper s = {.bells = bells, .n = 1, .result = -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sleep_thread, &s), 0);
    wait_for_waiters(&bell, 1);
    atomic_store(&s.flag, 1);
    rh_bell_ring(&bell);
    pthread_join(t, NULL);
    EXPECT(s.result == 0, "expected the ring to wake the sleeper (0), got %d", s.result);
    EXPECT(atomic_load(&bell.waiters) == 0, "the sleeper must withdraw after waking");
}

static void test_sleep_over_several_bells_wakes_on_any(void **state)
{
    (void)state;
    rh_bell b[3];
    for (int i = 0; i < 3; i++)
        rh__bell_init(&b[i], 0);
    rh_bell *bells[] = {&b[0], &b[1], &b[2]};
    for (int which = 0; which < 3; which++) {
        sleeper s = {.bells = bells, .n = 3, .result = -1};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, sleep_thread, &s), 0);
        wait_for_waiters(&b[which], 1);
        atomic_store(&s.flag, 1);
        rh_bell_ring(&b[which]);
        pthread_join(t, NULL);
        EXPECT(s.result == 0, "expected a ring on bell %d of 3 to wake the sleeper, got %d",
               which, s.result);
        for (int i = 0; i < 3; i++)
            EXPECT(atomic_load(&b[i].waiters) == 0, "bell %d still counts a sleeper", i);
    }
}

static void test_sleep_returns_etimedout_when_nothing_rings(void **state)
{
    (void)state;
    rh_bell bell;
    rh__bell_init(&bell, 0);
    rh_bell *bells[] = {&bell};
    rh_sleep s;
    uint64_t t0 = rh_now_ns();
    rh__sleep_prepare(&s, bells, 1);
    int rc = rh__sleep_commit(&s, 30 * MS);
    uint64_t waited = rh_now_ns() - t0;
    EXPECT(rc == RH_ETIMEDOUT, "expected RH_ETIMEDOUT after a 30 ms sleep, got %d", rc);
    EXPECT(waited >= 29 * MS, "expected at least 30 ms asleep, woke after %llu ns",
           (unsigned long long)waited);
    EXPECT(waited < GENEROUS_NS, "a 30 ms sleep took %llu ns", (unsigned long long)waited);
    EXPECT(atomic_load(&bell.waiters) == 0, "a timed-out sleeper must withdraw");
}

static void test_ring_between_prepare_and_commit_makes_commit_return_at_once(void **state)
{
    (void)state;
    rh_bell bell;
    rh__bell_init(&bell, 0);
    rh_bell *bells[] = {&bell};
    rh_sleep s;
    rh__sleep_prepare(&s, bells, 1);
    rh_bell_ring(&bell); /* lands after the snapshot: must not be lost */
    int rc = rh__sleep_commit(&s, GENEROUS_NS);
    EXPECT(rc == 0, "expected commit to see the earlier ring and return 0, got %d", rc);
}

static void test_ring_with_nobody_waiting_leaves_seq_alone(void **state)
{
    (void)state;
    rh_bell bell;
    rh__bell_init(&bell, 0);
    for (int i = 0; i < 1000; i++)
        rh_bell_ring(&bell);
    EXPECT(atomic_load(&bell.seq) == 0,
           "with no sleeper a ring must take the fast path (seq stays 0), seq is %u",
           atomic_load(&bell.seq));
}

static void test_cancel_withdraws_the_sleeper(void **state)
{
    (void)state;
    rh_bell a, b;
    rh__bell_init(&a, 0);
    rh__bell_init(&b, 0);
    rh_bell *bells[] = {&a, &b};
    rh_sleep s;
    rh__sleep_prepare(&s, bells, 2);
    EXPECT(atomic_load(&a.waiters) == 1 && atomic_load(&b.waiters) == 1,
           "prepare must announce a sleeper on every bell");
    rh__sleep_cancel(&s);
    EXPECT(atomic_load(&a.waiters) == 0 && atomic_load(&b.waiters) == 0,
           "cancel must withdraw from every bell");
}

static void test_zero_timeout_polls_without_sleeping(void **state)
{
    (void)state;
    rh_bell bell;
    rh__bell_init(&bell, 0);
    rh_bell *bells[] = {&bell};
    rh_sleep s;
    rh__sleep_prepare(&s, bells, 1);
    EXPECT(rh__sleep_commit(&s, 0) == RH_ETIMEDOUT, "expected RH_ETIMEDOUT from a 0 ns poll");
    rh__sleep_prepare(&s, bells, 1);
    rh_bell_ring(&bell);
    EXPECT(rh__sleep_commit(&s, 0) == 0, "expected a 0 ns poll to report the ring");
}

static void test_shared_bell_wakes_a_sleeper_in_another_process(void **state)
{
    (void)state;
    /* Shared anonymous memory: the futex must not be private. */
    struct shared_area {
        rh_bell bell;
        _Atomic int flag;
    } *area = mmap(NULL, sizeof *area, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(area != MAP_FAILED);
    rh__bell_init(&area->bell, 1);
    atomic_init(&area->flag, 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        rh_bell *bells[] = {&area->bell};
        uint64_t give_up = rh_now_ns() + (uint64_t)GENEROUS_NS;
        while (!atomic_load(&area->flag)) {
            rh_sleep s;
            rh__sleep_prepare(&s, bells, 1);
            if (atomic_load(&area->flag)) {
                rh__sleep_cancel(&s);
                break;
            }
            rh__sleep_commit(&s, GENEROUS_NS);
            if (rh_now_ns() > give_up)
                _exit(1);
        }
        _exit(0);
    }
    wait_for_waiters(&area->bell, 1);
    atomic_store(&area->flag, 1);
    rh_bell_ring(&area->bell);
    int status = 0;
    waitpid(child, &status, 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
           "expected the child sleeping on a shared bell to be woken (exit 0), status %d",
           status);
    munmap(area, sizeof *area);
}

/* Make futex_waitv fail with ENOSYS in this process, as on Linux < 5.16. */
static int hide_futex_waitv(void)
{
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 449 /* __NR_futex_waitv */, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* Runs in a child with futex_waitv hidden; the exit code says what broke. */
static int fallback_checks(void)
{
    if (hide_futex_waitv() != 0)
        return 99; /* no seccomp here: reported as skipped */
    rh_bell a, b;
    rh__bell_init(&a, 0);
    rh__bell_init(&b, 0);
    rh_bell *bells[] = {&a, &b};
    rh_sleep s;

    uint64_t t0 = rh_now_ns();
    rh__sleep_prepare(&s, bells, 2);
    if (rh__sleep_commit(&s, 20 * MS) != RH_ETIMEDOUT || rh_now_ns() - t0 < 19 * MS)
        return 1; /* a short timeout must still be honoured exactly */

    /* A ring on a bell other than bells[0] is only seen when the capped
     * wait on bells[0] ends: within about a millisecond, not 10 s. */
    t0 = rh_now_ns();
    rh__sleep_prepare(&s, bells, 2);
    rh_bell_ring(&b);
    if (rh__sleep_commit(&s, GENEROUS_NS) != 0 || rh_now_ns() - t0 > 2000 * MS)
        return 2;
    if (atomic_load(&a.waiters) != 0 || atomic_load(&b.waiters) != 0)
        return 3;
    return 0;
}

static void test_sleep_without_futex_waitv_falls_back_to_a_capped_wait(void **state)
{
    (void)state;
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0)
        _exit(fallback_checks());
    int status = 0;
    waitpid(child, &status, 0);
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 99)
        skip();
    EXPECT(code != 1, "without futex_waitv a 20 ms sleep must still time out after 20 ms");
    EXPECT(code != 2, "without futex_waitv a ring on bells[1] must end the sleep within the "
                      "1 ms cap");
    EXPECT(code != 3, "the fallback sleep must withdraw from every bell");
    EXPECT(code == 0, "fallback child failed with status %d", status);
}

static void test_wait_names_round_trip(void **state)
{
    (void)state;
    static const char *const names[] = {"spin", "yield", "park", "adaptive"};
    for (int k = RH_WAIT_SPIN; k <= RH_WAIT_ADAPTIVE; k++) {
        EXPECT(strcmp(rh__wait_name((rh_wait_kind)k), names[k]) == 0,
               "expected kind %d to be named \"%s\", got \"%s\"", k, names[k],
               rh__wait_name((rh_wait_kind)k));
        EXPECT(rh__wait_parse(names[k]) == k, "expected \"%s\" to parse to %d", names[k], k);
    }
}

static void test_wait_parse_rejects_unknown_names(void **state)
{
    (void)state;
    EXPECT(rh__wait_parse("busy") == -1, "expected -1 for \"busy\"");
    EXPECT(rh__wait_parse("Spin") == -1, "names are case-sensitive: expected -1 for \"Spin\"");
    EXPECT(rh__wait_parse("") == -1, "expected -1 for the empty name");
    EXPECT(rh__wait_parse(NULL) == -1, "expected -1 for NULL");
}

static void test_adaptive_waiter_spins_then_yields_then_parks(void **state)
{
    (void)state;
    rh_waiter w;
    rh__waiter_init(&w, RH_WAIT_ADAPTIVE);
    uint32_t spins = 0, yields = 0, i = 0;
    rh_idle_action a;
    while ((a = rh__waiter_idle(&w)) == RH_IDLE_SPIN)
        spins++;
    while (a == RH_IDLE_YIELD) {
        yields++;
        a = rh__waiter_idle(&w);
    }
    EXPECT(spins >= 1000 && spins <= 5000, "expected about 2000 spinning polls, got %u", spins);
    EXPECT(yields >= 50 && yields <= 1000, "expected about 200 yielding polls, got %u", yields);
    EXPECT(a == RH_IDLE_PARK, "after spinning and yielding the waiter must park");
    for (i = 0; i < 100; i++)
        EXPECT(rh__waiter_idle(&w) == RH_IDLE_PARK, "once parked, an idle waiter stays parked");
}

static void test_busy_poll_restarts_the_adaptive_sequence(void **state)
{
    (void)state;
    rh_waiter w;
    rh__waiter_init(&w, RH_WAIT_ADAPTIVE);
    for (int i = 0; i < 100000; i++)
        rh__waiter_idle(&w);
    rh_waiter_busy(&w);
    EXPECT(rh__waiter_idle(&w) == RH_IDLE_SPIN, "after finding work the waiter spins again first");
}

static void test_fixed_kinds_always_give_their_action(void **state)
{
    (void)state;
    static const struct {
        rh_wait_kind kind;
        rh_idle_action action;
    } cases[] = {
        {RH_WAIT_SPIN, RH_IDLE_SPIN},
        {RH_WAIT_YIELD, RH_IDLE_YIELD},
        {RH_WAIT_PARK, RH_IDLE_PARK},
    };
    for (size_t c = 0; c < 3; c++) {
        rh_waiter w;
        rh__waiter_init(&w, cases[c].kind);
        for (int i = 0; i < 10000; i++)
            EXPECT(rh__waiter_idle(&w) == cases[c].action,
                   "wait kind %s must always answer the same action (poll %d)",
                   rh__wait_name(cases[c].kind), i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bell_ring_wakes_a_parked_thread),
        cmocka_unit_test(test_sleep_over_several_bells_wakes_on_any),
        cmocka_unit_test(test_sleep_returns_etimedout_when_nothing_rings),
        cmocka_unit_test(test_ring_between_prepare_and_commit_makes_commit_return_at_once),
        cmocka_unit_test(test_ring_with_nobody_waiting_leaves_seq_alone),
        cmocka_unit_test(test_cancel_withdraws_the_sleeper),
        cmocka_unit_test(test_zero_timeout_polls_without_sleeping),
        cmocka_unit_test(test_shared_bell_wakes_a_sleeper_in_another_process),
        cmocka_unit_test(test_sleep_without_futex_waitv_falls_back_to_a_capped_wait),
        cmocka_unit_test(test_wait_names_round_trip),
        cmocka_unit_test(test_wait_parse_rejects_unknown_names),
        cmocka_unit_test(test_adaptive_waiter_spins_then_yields_then_parks),
        cmocka_unit_test(test_busy_poll_restarts_the_adaptive_sequence),
        cmocka_unit_test(test_fixed_kinds_always_give_their_action),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
