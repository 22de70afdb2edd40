/*
 * test_queue_shm.c — a queue's shared memory as untrusted input: what
 * another process (or another user) may have written into a queue's
 * mapping or left in /dev/shm is checked before it is used.
 *
 *  - indices and lengths scribbled into a live mapping never make a call
 *    hang or copy past a buffer or a cell (found by fuzz/fuzz_queue.c);
 *  - rh_queue_attach refuses a header whose geometry does not fit;
 *  - an object in /dev/shm owned by another user is neither attached to
 *    nor replaced: a queue created under its name takes the next numbered
 *    name, which clients find (run as root, as CI does, to chown one;
 *    skipped otherwise).
 *
 * Each test names the protection it checks; removing the protection makes
 * it fail (or hang, caught by run_bounded).  Private layout knowledge comes
 * from queue_layout.h, as a hostile client would have it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"

#include "queue/queue_layout.h"

typedef struct test_msg {
    uint64_t a, b, c;
} test_msg;

static const rh_type test_type = {
    .struct_size = sizeof(rh_type),
    .name = "test.shm",
    .fingerprint = 0x73686d7465737431ull,
    .size = sizeof(test_msg),
    .align = 8,
};

static char instance[64];

static rh_queue *make(const char *name, uint32_t capacity, int shared)
{
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = capacity, .backpressure = RH_BP_REJECT,
                                               .shared = shared);
    rh_queue *q = NULL;
    rh_error err = {0};
    int rc = rh_queue_create(instance, name, &test_type, &cfg, NULL, &q, &err);
    EXPECT(rc == 0 && q, "expected queue \"%s\" to be created, got %d: %s", name, rc, err.msg);
    return q;
}

static void shm_name(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "/ringhost.%s:%s", instance, name);
}

/* Run fn(arg) in a child and require it to exit 0 within `seconds`: a call
 * that would hang fails the test instead of stalling it. */
static void run_bounded(const char *what, int (*fn)(void *), void *arg, int seconds)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(arg));
    int status = 0;
    for (int i = 0; i < seconds * 100; i++) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                   "%s: expected the call to return normally (status %d, signal %d)", what,
                   WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                   WIFSIGNALED(status) ? WTERMSIG(status) : 0);
            return;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("%s: still waiting after %d s: it must return at once", what, seconds);
}

/* ------------------------------------------------ scribbled indices --- */

static int send_one(void *arg)
{
    test_msg m = {1, 2, 3};
    int rc = rh_send(arg, NULL, &m, sizeof m, NULL);
    /* RH_ECORRUPT: the indices were found to describe no queue, both
     * sides halted (queue_stall.c rh__queue_scribbled) */
    return rc == 0 || rc == RH_EFULL || rc == RH_ECORRUPT ? 0 : 10;
}

static int recv_one(void *arg)
{
    test_msg m;
    int rc = rh_recv(arg, NULL, &m, sizeof m, 0);
    return rc == (int)sizeof m || rc == RH_EEMPTY || rc == RH_ECORRUPT ? 0 : 10;
}

static int dequeue_one(void *arg)
{
    rh_queue *q = arg;
    rh_envelope *slot = malloc(sizeof(rh_envelope) + q->payload_size);
    rh_envelope *dst[1] = {slot};
    uint32_t k = rh__queue_dequeue_burst(q, dst, 1);
    free(slot);
    return k <= 1 ? 0 : 10;
}

/* A tail only ever moves to the end of a claim it was the start of, so a
 * tail ahead of its head is a scribble; publish() used to wait for the tail
 * to come back to the claim, forever (fuzz_queue: tail_ahead_of_head). */
static void test_send_returns_when_the_producer_tail_was_scribbled_past_its_head(void **state)
{
    (void)state;
    rh_queue *q = make("tail.prod", 8, 0);
    atomic_store(&q->h->prod_tail, atomic_load(&q->h->prod_head) + 5);
    run_bounded("rh_send with prod_tail = prod_head + 5", send_one, q, 5);
    rh_queue_close(q);
}

static void test_recv_returns_when_the_consumer_tail_was_scribbled_past_its_head(void **state)
{
    (void)state;
    rh_queue *q = make("tail.cons", 8, 0);
    test_msg m = {1, 2, 3};
    assert_int_equal(rh_send(q, NULL, &m, sizeof m, NULL), 0);
    assert_int_equal(rh_send(q, NULL, &m, sizeof m, NULL), 0);
    atomic_store(&q->h->cons_tail, atomic_load(&q->h->cons_head) + 3);
    run_bounded("rh_recv with cons_tail = cons_head + 3", recv_one, q, 5);
    run_bounded("rh__queue_dequeue_burst with cons_tail = cons_head + 3", dequeue_one, q, 5);
    rh_queue_close(q);
}

static int send_burst_then_one(void *arg)
{
    test_msg m[5] = {{1, 2, 3}};
    int n = rh_send_burst(arg, NULL, m, sizeof m[0], sizeof m[0], 5, NULL);
    if (n < 0)
        return 10;
    return send_one(arg);
}

/* A tail scribbled to inside the next claim: the claimer that finds it
 * there must move it to the claim's end, or the claim after it waits for a
 * publish that never comes (fuzz_queue: a burst of 5 with prod_tail 3
 * ahead, then a send, hung). */
static void test_a_tail_scribbled_inside_a_claim_moves_to_the_claims_end(void **state)
{
    (void)state;
    rh_queue *q = make("tail.inside", 8, 0);
    atomic_store(&q->h->prod_tail, atomic_load(&q->h->prod_head) + 3);
    run_bounded("rh_send_burst of 5 with prod_tail = prod_head + 3, then rh_send",
                send_burst_then_one, q, 5);
    rh_queue_close(q);
}

/* Earlier claims still to publish all fit in the ring, so a tail further
 * behind its head than any capacity (2^24) is a scribble too (fuzz_queue:
 * cons_tail = 2^63 + 1 with cons_head = 1 hung rh_recv). */
static void test_calls_return_when_a_tail_was_scribbled_far_behind_its_head(void **state)
{
    (void)state;
    rh_queue *q = make("tail.far", 8, 0);
    test_msg m = {1, 2, 3};
    assert_int_equal(rh_send(q, NULL, &m, sizeof m, NULL), 0);
    atomic_store(&q->h->cons_tail, atomic_load(&q->h->cons_head) + (1ull << 63));
    run_bounded("rh_recv with cons_tail = cons_head + 2^63", recv_one, q, 5);
    atomic_store(&q->h->cons_tail, atomic_load(&q->h->cons_head) - (1ull << 40));
    run_bounded("rh_recv with cons_tail = cons_head - 2^40", recv_one, q, 5);
    atomic_store(&q->h->cons_tail, atomic_load(&q->h->cons_head));
    atomic_store(&q->h->prod_head, 1ull << 41);
    atomic_store(&q->h->prod_tail, 1ull << 41);
    atomic_store(&q->h->cons_tail, (1ull << 41) - 2);
    atomic_store(&q->h->cons_head, (1ull << 41) - 2);
    atomic_store(&q->h->prod_tail, 0); /* 2^41 behind prod_head */
    run_bounded("rh_send with prod_tail = prod_head - 2^41", send_one, q, 5);
    rh_queue_close(q);
}

/* A cell's payload_len is written by whoever sent: it is clamped to the
 * slot and to the buffer before any copy. */
/* One send that must be refused (RH_EFULL, or RH_ECORRUPT once the indices
 * were found to describe no queue) within 50 ms, not after a wait. */
static int send_refused_at_once(void *arg)
{
    test_msg m = {1, 2, 3};
    uint64_t t0 = rh_now_ns();
    int rc = rh_send(arg, NULL, &m, sizeof m, NULL);
    uint64_t took = rh_now_ns() - t0;
    if (rc != RH_EFULL && rc != RH_ECORRUPT)
        return 11;
    return took < 50000000ull ? 0 : 12;
}

/* drop_oldest evicts until there is room; on a header whose indices no
 * queue can have (fuzz_queue: a consumer head 2^58 ahead, a producer tail
 * past its head, a depth of 2^40) it used to evict or wait for ever.  Now
 * each such send is refused at once and counted. */
static void test_drop_oldest_refuses_at_once_on_indices_no_queue_can_have(void **state)
{
    (void)state;
    static const struct { uint64_t ph, pt, ch, ct; const char *what; } cases[] = {
        {4, 4, 360288118561836032ull, 0, "cons_head far past prod_tail"},
        {4, 14685055085422158241ull, 0, 0, "prod_tail past prod_head"},
        {1ull << 40, 1ull << 40, 0, 0, "a depth of 2^40"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rh_queue *q = make("evict", 4, 0);
        q->cfg.backpressure = RH_BP_DROP_OLDEST;
        atomic_store(&q->h->prod_head, cases[i].ph);
        atomic_store(&q->h->prod_tail, cases[i].pt);
        atomic_store(&q->h->cons_head, cases[i].ch);
        atomic_store(&q->h->cons_tail, cases[i].ct);
        run_bounded(cases[i].what, send_refused_at_once, q, 5);
        rh_queue_close(q);
    }
}

typedef struct sleeper {
    rh_queue *q;
    int rc;
    uint64_t woke_after_ns;
} sleeper;

static void *sleep_in_recv(void *arg)
{
    sleeper *s = arg;
    test_msg m;
    uint64_t t0 = rh_now_ns();
    s->rc = rh_recv(s->q, NULL, &m, sizeof m, 3000);
    s->woke_after_ns = rh_now_ns() - t0;
    return NULL;
}

/* A bell's "shared" flag lives in the queue's shared memory.  A receiver
 * that went to sleep while it read 0 (a private futex) must still be woken
 * by a sender that reads 1 (a shared futex), and the other way round:
 * wakers wake both keys. */
static void test_a_flipped_bell_flag_does_not_lose_a_wake_up(void **state)
{
    (void)state;
    rh_queue *q = make("bell", 8, 1);
    /* Atomic stores: the sleeper reads the flag concurrently (as the host
     * would while another process scribbles). */
    uint32_t honest = __atomic_load_n(&q->h->not_empty.shared, __ATOMIC_RELAXED);
    __atomic_store_n(&q->h->not_empty.shared, !honest, __ATOMIC_RELAXED);
    sleeper s = {.q = q};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, sleep_in_recv, &s), 0);
    struct timespec nap = {0, 300 * 1000 * 1000}; /* long enough to be parked */
    nanosleep(&nap, NULL);
    __atomic_store_n(&q->h->not_empty.shared, honest, __ATOMIC_RELAXED);
    test_msg m = {1, 2, 3};
    assert_int_equal(rh_send(q, NULL, &m, sizeof m, NULL), 0);
    pthread_join(t, NULL);
    EXPECT(s.rc == (int)sizeof m, "the sleeper got %d, expected the message", s.rc);
    /* It slept 300 ms before the send; a lost wake-up ends at its 3 s timeout. */
    EXPECT(s.woke_after_ns < 1500ull * 1000 * 1000,
           "the sleeper woke after %llu ms: the wake-up was lost and only its 3 s timeout "
           "ended the sleep", (unsigned long long)(s.woke_after_ns / 1000000));
    rh_queue_close(q);
}

static void test_recv_clamps_a_scribbled_payload_len_to_the_slot_and_the_buffer(void **state)
{
    (void)state;
    rh_queue *q = make("len", 4, 0);
    test_msg m = {1, 2, 3};
    for (int i = 0; i < 3; i++)
        assert_int_equal(rh_send(q, NULL, &m, sizeof m, NULL), 0);
    for (uint32_t i = 0; i < 3; i++) {
        cell *c = (cell *)(q->cells + (size_t)i * q->slot_size);
        __atomic_store_n(&c->env.payload_len, 0xFFFFFFF0u, __ATOMIC_RELAXED);
    }
    /* a whole-slot buffer followed by a canary */
    struct {
        test_msg msg;
        uint64_t canary;
    } buf = {.canary = 0xC0FFEEull};
    rh_envelope env;
    int rc = rh_recv(q, &env, &buf.msg, sizeof buf.msg, 0);
    EXPECT(rc == (int)sizeof(test_msg), "expected the length clamped to %zu, got %d",
           sizeof(test_msg), rc);
    EXPECT(env.payload_len == sizeof(test_msg), "envelope says %u", env.payload_len);
    EXPECT(buf.canary == 0xC0FFEEull, "rh_recv wrote past the buffer");

    test_msg bufs[2];
    rh_envelope envs[2];
    rc = rh_recv_burst(q, envs, bufs, sizeof(test_msg), 1, 0);
    EXPECT(rc == 1 && envs[0].payload_len == sizeof(test_msg),
           "rh_recv_burst: expected 1 message clamped to %zu bytes, got %d (%u)",
           sizeof(test_msg), rc, envs[0].payload_len);

    rh_envelope *slot = malloc(sizeof(rh_envelope) + sizeof(test_msg) + sizeof(uint64_t));
    uint64_t canary = 0xC0FFEEull;
    memcpy((char *)(slot + 1) + sizeof(test_msg), &canary, sizeof canary);
    rh_envelope *dst[1] = {slot};
    EXPECT(rh__queue_dequeue_burst(q, dst, 1) == 1, "dequeue_burst: one message");
    EXPECT(slot->payload_len == sizeof(test_msg), "dequeue_burst: length %u", slot->payload_len);
    EXPECT(memcmp((char *)(slot + 1) + sizeof(test_msg), &canary, sizeof canary) == 0,
           "dequeue_burst wrote past the slot");
    free(slot);
    rh_queue_close(q);
}

/* Depth is derived from the indices; what stats report stays within the
 * queue's capacity whatever they say. */
static void test_stats_depth_stays_within_capacity_whatever_the_indices_say(void **state)
{
    (void)state;
    rh_queue *q = make("depth", 4, 0);
    atomic_store(&q->h->prod_tail, 1ull << 40);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &s);
    EXPECT(s.depth <= s.capacity, "depth %llu above capacity %llu",
           (unsigned long long)s.depth, (unsigned long long)s.capacity);
    atomic_store(&q->h->prod_tail, 0);
    rh_queue_close(q);
}

/* ------------------------------------------------- hostile headers --- */

typedef struct header_edit {
    const char *what;
    void (*apply)(queue_header *h);
} header_edit;

static void bad_magic(queue_header *h) { atomic_store(&h->magic, 0x1234); }
static void bad_version(queue_header *h) { h->layout_version = QUEUE_LAYOUT_VERSION + 1; }
static void bad_header_size(queue_header *h) { h->header_size = 64; }
static void bad_capacity_not_pow2(queue_header *h) { h->capacity = 6; h->mask = 5; }
static void bad_capacity_too_big(queue_header *h) { h->capacity = 1u << 31; h->mask = h->capacity - 1; }
static void bad_mask(queue_header *h) { h->mask = 0xFFFF; }
static void bad_slot_size(queue_header *h) { h->slot_size = 16; }
static void bad_payload_size(queue_header *h) { h->payload_size = 0xFFFFFFF0u; }
static void bad_policy(queue_header *h) { h->policy = 77; }
static void bad_fingerprint(queue_header *h) { h->fingerprint = 0; }
static void bad_name(queue_header *h) { memset(h->name, 'x', sizeof h->name); }
static void bad_type_name(queue_header *h) { memset(h->type_name, 'x', sizeof h->type_name); }
static void other_name(queue_header *h) { snprintf(h->name, sizeof h->name, "someone.else"); }
static void bad_bell(queue_header *h) { h->not_empty.shared = 0; }
/* capacity halved and payload grown so that capacity * slot_size, and so
 * the file size, still agree: the geometry is consistent, the type is not */
static void reshaped(queue_header *h)
{
    h->capacity /= 2;
    h->mask = h->capacity - 1;
    h->payload_size = 2 * h->slot_size - (uint32_t)sizeof(cell);
    h->slot_size = (uint32_t)slot_size_for(h->payload_size);
}

static void test_attach_refuses_every_header_whose_geometry_or_names_do_not_fit(void **state)
{
    (void)state;
    static const header_edit edits[] = {
        {"magic", bad_magic},
        {"layout version", bad_version},
        {"header size", bad_header_size},
        {"capacity 6", bad_capacity_not_pow2},
        {"capacity 2^31", bad_capacity_too_big},
        {"mask", bad_mask},
        {"slot size", bad_slot_size},
        {"payload size", bad_payload_size},
        {"policy", bad_policy},
        {"fingerprint 0", bad_fingerprint},
        {"unterminated name", bad_name},
        {"unterminated type name", bad_type_name},
        {"another queue's name", other_name},
        {"private doorbell", bad_bell},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        rh_queue *q = make("hdr", 8, 1);
        edits[i].apply(q->h);
        rh_queue *a = (rh_queue *)0x1;
        rh_error err = {0};
        int rc = rh_queue_attach(instance, "hdr", &a, &err);
        EXPECT(rc == RH_EINVAL && a == NULL, "%s: expected attach to refuse (RH_EINVAL), got %d",
               edits[i].what, rc);
        EXPECT(strstr(err.msg, "\"hdr\""), "%s: the message names the queue: %s", edits[i].what,
               err.msg);
        rh_queue_close(q);
    }
    /* the consistent reshape attaches, and the geometry it uses fits */
    rh_queue *q = make("hdr", 8, 1);
    reshaped(q->h);
    rh_queue *a = NULL;
    rh_error err = {0};
    EXPECT(rh_queue_attach(instance, "hdr", &a, &err) == 0, "reshaped: %s", err.msg);
    EXPECT((uint64_t)a->capacity * a->slot_size + sizeof(queue_header) == a->map_size,
           "the attached geometry must fit its mapping");
    EXPECT(rh_queue_bind_type(a, &test_type, &err) == RH_ETYPE,
           "a reshaped queue no longer carries the type's size");
    test_msg m = {1, 2, 3};
    EXPECT(rh_send(a, NULL, &m, sizeof m, NULL) == 0, "sending through the reshaped view");
    rh_queue_close(a);
    rh_queue_close(q);
}

/* ------------------------------------------------------ other users --- */

#define NOBODY 65534

/* An shm object of the queue's name, owned by another user.  Only root
 * can give a file away: skip elsewhere. */
static int plant_foreign_object(const char *name, int as_queue)
{
    if (geteuid() != 0)
        return 0;
    char shm[256];
    shm_name(shm, sizeof shm, name);
    if (as_queue) {
        /* a real queue, then given away: attach would otherwise accept it */
        rh_queue *q = make(name, 4, 1);
        q->creator = 0; /* keep it when the handle goes */
        q->h->creator_pid = 0;
        rh_queue_close(q);
    } else {
        int fd = shm_open(shm, O_CREAT | O_EXCL | O_RDWR, 0600);
        assert_true(fd >= 0);
        assert_int_equal(ftruncate(fd, 4096), 0);
        close(fd);
    }
    char path[256];
    snprintf(path, sizeof path, "/dev/shm%s", shm);
    assert_int_equal(chown(path, NOBODY, NOBODY), 0);
    return 1;
}

static void test_attach_refuses_a_queue_owned_by_another_user(void **state)
{
    (void)state;
    if (!plant_foreign_object("foreign.att", 1)) {
        print_message("    skipped: only root can give a file to another user\n");
        skip();
    }
    rh_queue *a = (rh_queue *)0x1;
    rh_error err = {0};
    int rc = rh_queue_attach(instance, "foreign.att", &a, &err);
    char shm[256];
    shm_name(shm, sizeof shm, "foreign.att");
    shm_unlink(shm);
    EXPECT(rc != 0 && a == NULL, "expected attach to refuse another user's queue, got %d", rc);
    EXPECT(strstr(err.msg, "uid 65534") && strstr(err.msg, "owned"),
           "the message says who owns it: %s", err.msg);
}

static void count_name(const char *name, void *arg)
{
    if (strcmp(name, "foreign.new") == 0)
        ++*(int *)arg;
}

static void test_create_leaves_another_users_object_alone_and_takes_the_next_name(void **state)
{
    (void)state;
    if (!plant_foreign_object("foreign.new", 0)) {
        print_message("    skipped: only root can give a file to another user\n");
        skip();
    }
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 4, .backpressure = RH_BP_REJECT,
                                               .shared = 1);
    rh_queue *q = NULL, *a = NULL;
    rh_error err = {0};
    int rc = rh_queue_create(instance, "foreign.new", &test_type, &cfg, NULL, &q, &err);
    char shm[256], path[256], numbered[256];
    shm_name(shm, sizeof shm, "foreign.new");
    snprintf(path, sizeof path, "/dev/shm%s", shm);
    snprintf(numbered, sizeof numbered, "%s:1", shm);
    struct stat st;
    int still_theirs = stat(path, &st) == 0 && st.st_uid == NOBODY;
    int named = q && strcmp(q->shm_name, numbered) == 0;
    /* a client attaching by name finds ours, not theirs */
    int arc = q ? rh_queue_attach(instance, "foreign.new", &a, &err) : -1;
    test_msg m = {7, 8, 9}, got = {0};
    int through = arc == 0 && rh_send(a, NULL, &m, sizeof m, NULL) == 0 &&
                  rh_recv(q, NULL, &got, sizeof got, 0) == (int)sizeof got && got.c == 9;
    int listed = 0;
    rh_queue_list(instance, count_name, &listed);
    if (a)
        rh_queue_close(a);
    if (q)
        rh_queue_close(q);
    char numbered_path[300];
    snprintf(numbered_path, sizeof numbered_path, "/dev/shm%s", numbered);
    int ours_removed = access(numbered_path, F_OK) != 0;
    int theirs_kept = stat(path, &st) == 0 && st.st_uid == NOBODY;
    shm_unlink(shm);
    shm_unlink(numbered);
    EXPECT(rc == 0 && q, "expected create to go on under the next name beside another user's "
                         "object, got %d: %s", rc, err.msg);
    EXPECT(named, "expected the queue at %s", numbered);
    EXPECT(still_theirs && theirs_kept, "the other user's object must be left alone");
    EXPECT(through, "expected a client attaching by name to reach the queue created (%d)", arc);
    EXPECT(listed == 1, "expected rh_queue_list to name the queue once, got %d", listed);
    EXPECT(ours_removed, "expected closing the queue to remove its own object");
}

static void test_a_persist_queue_under_a_numbered_name_is_recovered_and_purged_there(void **state)
{
    (void)state;
    if (!plant_foreign_object("foreign.per", 0)) {
        print_message("    skipped: only root can give a file to another user\n");
        skip();
    }
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 4, .backpressure = RH_BP_REJECT,
                                               .shared = 1, .persist = 1);
    rh_queue *q = NULL;
    rh_error err = {0};
    char shm[256], numbered[256];
    shm_name(shm, sizeof shm, "foreign.per");
    snprintf(numbered, sizeof numbered, "%s:1", shm);
    int rc = rh_queue_create(instance, "foreign.per", &test_type, &cfg, NULL, &q, &err);
    EXPECT(rc == 0 && q && strcmp(q->shm_name, numbered) == 0,
           "expected the persist queue at %s, got %d: %s", numbered, rc, err.msg);
    test_msg m = {1, 2, 3}, got = {0};
    EXPECT(rh_send(q, NULL, &m, sizeof m, NULL) == 0, "expected a send to the persist queue");
    rh_queue_close(q); /* a persist queue outlives its host: the next one recovers it */
    /* the other user's object goes meanwhile: the lowest name of ours is
     * still :1, so the next launch recovers there, not at a new plain one */
    shm_unlink(shm);
    q = NULL;
    rc = rh_queue_create(instance, "foreign.per", &test_type, &cfg, NULL, &q, &err);
    uint64_t carried = 0;
    int recovered = rc == 0 && rh__queue_recovered(q, &carried) == 1 && carried == 1 &&
                    strcmp(q->shm_name, numbered) == 0 &&
                    rh_recv(q, NULL, &got, sizeof got, 0) == (int)sizeof got && got.c == 3;
    if (q)
        rh_queue_close(q);
    rc = rh__queue_purge(instance, "foreign.per", &err);
    char numbered_path[300];
    snprintf(numbered_path, sizeof numbered_path, "/dev/shm%s", numbered);
    int purged = rc == 0 && access(numbered_path, F_OK) != 0;
    shm_unlink(numbered);
    EXPECT(recovered, "expected the relaunch to recover the 1 message from %s", numbered);
    EXPECT(purged, "expected purge to remove %s (%d: %s)", numbered, rc, err.msg);
}

static int setup(void **state)
{
    (void)state;
    snprintf(instance, sizeof instance, "rhtest-shm-%d", (int)getpid());
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_returns_when_the_producer_tail_was_scribbled_past_its_head),
        cmocka_unit_test(test_recv_returns_when_the_consumer_tail_was_scribbled_past_its_head),
        cmocka_unit_test(test_a_tail_scribbled_inside_a_claim_moves_to_the_claims_end),
        cmocka_unit_test(test_calls_return_when_a_tail_was_scribbled_far_behind_its_head),
        cmocka_unit_test(test_drop_oldest_refuses_at_once_on_indices_no_queue_can_have),
        cmocka_unit_test(test_a_flipped_bell_flag_does_not_lose_a_wake_up),
        cmocka_unit_test(test_recv_clamps_a_scribbled_payload_len_to_the_slot_and_the_buffer),
        cmocka_unit_test(test_stats_depth_stays_within_capacity_whatever_the_indices_say),
        cmocka_unit_test(test_attach_refuses_every_header_whose_geometry_or_names_do_not_fit),
        cmocka_unit_test(test_attach_refuses_a_queue_owned_by_another_user),
        cmocka_unit_test(test_create_leaves_another_users_object_alone_and_takes_the_next_name),
        cmocka_unit_test(test_a_persist_queue_under_a_numbered_name_is_recovered_and_purged_there),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
