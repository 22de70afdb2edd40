/*
 * test_queue_persist.c — persistent queues (queue_persist.c): a persist
 * queue outlives its handle with its messages, the next create takes it
 * over, repairs what a dead host left in its indices, refuses one whose
 * geometry or type differs, waits briefly for attached clients and then moves
 * the queue from under them, and a stale client handle gives back only what
 * no host will take, and
 * producers never overwrite a message taken but not acknowledged; a launch
 * without persist does not discard one, and purge spares a running host's
 * queue.  A "dead host" is a handle closed without any cleanup of the
 * indices the test wrote into its header.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "expect.h"

#include "queue/queue_layout.h"

typedef struct test_msg {
    uint64_t seq, pad;
} test_msg;

static const rh_type type_a = {
    .struct_size = sizeof(rh_type), .name = "test.persist.a",
    .fingerprint = 0x7065727369737461ull, .size = sizeof(test_msg), .align = 8,
};
static const rh_type type_b = {
    .struct_size = sizeof(rh_type), .name = "test.persist.b",
    .fingerprint = 0x7065727369737462ull, .size = sizeof(test_msg), .align = 8,
};

static char instance[64];

static int open_q(const char *name, const rh_type *t, uint32_t capacity, int persist,
                  rh_queue **q, rh_error *err)
{
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = capacity, .backpressure = RH_BP_REJECT,
                                               .shared = 1, .persist = persist);
    memset(err, 0, sizeof *err);
    return rh_queue_create(instance, name, t, &cfg, NULL, q, err);
}

static rh_queue *make(const char *name, uint32_t capacity)
{
    rh_queue *q = NULL;
    rh_error err;
    int rc = open_q(name, &type_a, capacity, 1, &q, &err);
    EXPECT(rc == 0 && q, "expected persist queue \"%s\" to open, got %d: %s", name, rc, err.msg);
    return q;
}

static void send_seq(rh_queue *q, uint64_t seq)
{
    test_msg m = {seq, 0};
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    EXPECT(rc == 0, "expected send of %llu to succeed, got %d", (unsigned long long)seq, rc);
}

static uint64_t recv_seq(rh_queue *q)
{
    test_msg m = {0};
    int rc = rh_recv(q, NULL, &m, sizeof m, 0);
    EXPECT(rc == (int)sizeof m, "expected a message, got %d", rc);
    return m.seq;
}

static double proc_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int shm_exists(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/ringhost.%s:%s", instance, name);
    struct stat st;
    return stat(path, &st) == 0;
}

static void purge(const char *name)
{
    rh_error err;
    rh__queue_purge(instance, name, &err);
}

static void test_persist_queue_keeps_its_messages_after_close_and_reopen(void **state)
{
    (void)state;
    rh_queue *q = make("keep", 8);
    for (uint64_t i = 1; i <= 3; i++)
        send_seq(q, i);
    rh_queue_close(q);
    EXPECT(shm_exists("keep"), "expected the persist queue's object to stay in /dev/shm");
    q = make("keep", 8);
    uint64_t carried = 0;
    EXPECT(rh__queue_recovered(q, &carried) == 1 && carried == 3,
           "expected the reopened queue to be recovered with 3 messages, got %d, %llu",
           rh__queue_recovered(q, NULL), (unsigned long long)carried);
    for (uint64_t i = 1; i <= 3; i++) {
        uint64_t got = recv_seq(q);
        EXPECT(got == i, "expected message %llu in order, got %llu", (unsigned long long)i,
               (unsigned long long)got);
    }
    EXPECT(rh__queue_is_empty(q), "expected nothing more than the 3 messages");
    rh_queue_close(q);
    purge("keep");
}

static void test_a_shared_queue_without_persist_is_unlinked_at_close(void **state)
{
    (void)state;
    rh_queue *q = NULL;
    rh_error err;
    assert_int_equal(open_q("plain", &type_a, 8, 0, &q, &err), 0);
    send_seq(q, 1);
    rh_queue_close(q);
    EXPECT(!shm_exists("plain"), "expected a queue without persist to leave no object");
}

static void test_reopen_with_another_capacity_is_refused_saying_what_is_there(void **state)
{
    (void)state;
    rh_queue *q = make("cap", 8);
    send_seq(q, 1);
    rh_queue_close(q);
    rh_error err;
    int rc = open_q("cap", &type_a, 16, 1, &q, &err);
    EXPECT(rc == RH_ETYPE, "expected RH_ETYPE for capacity 16 over 8, got %d: %s", rc, err.msg);
    EXPECT(strstr(err.msg, "capacity 8;") && strstr(err.msg, "expected type test.persist.a") &&
               strstr(err.msg, "capacity 16") && strstr(err.msg, "ringhost purge") &&
               strstr(err.msg, "/dev/shm/ringhost."),
           "expected the message to say what is there, what was expected and how to discard "
           "it, got: %s", err.msg);
    char purge_cmd[128];
    snprintf(purge_cmd, sizeof purge_cmd, "ringhost purge --instance %s cap,", instance);
    EXPECT(strstr(err.msg, purge_cmd), "expected the exact command \"%s\" in: %s", purge_cmd,
           err.msg);
    EXPECT(shm_exists("cap"), "expected the refused queue to be left as it was");
    q = make("cap", 8);
    EXPECT(recv_seq(q) == 1, "expected its message still there");
    rh_queue_close(q);
    purge("cap");
}

static void test_a_launch_without_persist_does_not_discard_a_persist_queues_messages(void **state)
{
    (void)state;
    rh_queue *q = make("guard", 8);
    send_seq(q, 1);
    rh_queue_close(q);
    rh_error err;
    int rc = open_q("guard", &type_a, 8, 0, &q, &err);
    EXPECT(rc == RH_EEXIST && strstr(err.msg, "holds 1 message(s)") && strstr(err.msg, "purge"),
           "expected RH_EEXIST: a queue without persist must not replace a persist queue "
           "holding a message, got %d: %s", rc, err.msg);
    q = make("guard", 8);
    EXPECT(recv_seq(q) == 1, "expected its message still there");
    rh_queue_close(q); /* now empty: a launch without persist may replace it */
    rc = open_q("guard", &type_a, 8, 0, &q, &err);
    EXPECT(rc == 0, "expected an empty persist leftover to be replaced, got %d: %s", rc, err.msg);
    rh_queue_close(q);
    EXPECT(!shm_exists("guard"), "expected the replacement (not persist) removed at close");
}

static void test_reopen_with_another_type_is_refused(void **state)
{
    (void)state;
    rh_queue *q = make("type", 8);
    rh_queue_close(q);
    rh_error err;
    int rc = open_q("type", &type_b, 8, 1, &q, &err);
    EXPECT(rc == RH_ETYPE && strstr(err.msg, "holds type test.persist.a"),
           "expected RH_ETYPE naming the type there, got %d: %s", rc, err.msg);
    purge("type");
}

static void test_a_persist_queue_held_by_a_live_host_is_refused(void **state)
{
    (void)state;
    rh_queue *q = make("held", 8), *q2 = NULL;
    rh_error err;
    int rc = open_q("held", &type_a, 8, 1, &q2, &err);
    EXPECT(rc == RH_EEXIST && strstr(err.msg, "in use by a running host"),
           "expected RH_EEXIST while the first handle holds the lock, got %d: %s", rc, err.msg);
    rc = rh__queue_purge(instance, "held", &err);
    EXPECT(rc == RH_EEXIST, "expected purge to refuse a held queue, got %d", rc);
    rh_queue_close(q);
    rc = rh__queue_purge(instance, "held", &err);
    EXPECT(rc == 0 && !shm_exists("held"), "expected purge to remove it once free, got %d: %s",
           rc, err.msg);
}

/* The pid of a process that has exited and been reaped: a dead host. */
static pid_t dead_pid(void)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

/*
 * Attached clients do not stop a recovery: it moves the queue into a new
 * object of the name.  The message the dead host left is recovered; the
 * client's next send still lands (in the old object, after the copy), and
 * tells it (the send after says RH_ESTALE); its rh_recv gives back exactly
 * that one, which no host will take, then RH_ESTALE; a client attaching now
 * reaches the new host.
 */
static void test_recovery_moves_the_queue_from_under_an_attached_client(void **state)
{
    (void)state;
    rh_queue *q = make("client", 8);
    send_seq(q, 1);
    rh_queue *client = NULL;
    rh_error err;
    assert_int_equal(rh_queue_attach(instance, "client", &client, &err), 0);
    rh_queue_close(q); /* the host goes; the client stays attached */
    int rc = open_q("client", &type_a, 8, 1, &q, &err);
    EXPECT(rc == 0, "expected the recovery to go on under an attached client, got %d: %s", rc,
           err.msg);
    EXPECT(recv_seq(q) == 1, "expected the dead host's message recovered");
    test_msg m = {2, 0};
    EXPECT(rh_send(client, NULL, &m, sizeof m, NULL) == 0,
           "expected the send that meets the move to land (in the old object)");
    m.seq = 3;
    rc = rh_send(client, NULL, &m, sizeof m, NULL);
    EXPECT(rc == RH_ESTALE, "expected the client to learn of the new host at its next send "
           "(RH_ESTALE), not when the queue is full; got %d", rc);
    test_msg got = {0};
    rc = rh_recv(client, NULL, &got, sizeof got, 0);
    EXPECT(rc == (int)sizeof got && got.seq == 2,
           "expected the stale handle to give back the message sent after the move, got %d "
           "(seq %llu)", rc, (unsigned long long)got.seq);
    rc = rh_recv(client, NULL, &got, sizeof got, 0);
    EXPECT(rc == RH_ESTALE, "expected nothing more given back (RH_ESTALE), got %d", rc);
    EXPECT(rh_recv(q, NULL, &got, sizeof got, 0) == RH_EEMPTY,
           "expected the new object to hold nothing the client still has");
    rh_queue_close(client);
    assert_int_equal(rh_queue_attach(instance, "client", &client, &err), 0);
    send_seq(client, 4);
    EXPECT(recv_seq(q) == 4, "expected a client attaching now to reach the new host");
    rh_queue_close(client);
    rh_queue_close(q);
    purge("client");
}

/*
 * The take-back rule on a persist queue: a stale handle gives nothing back
 * while the queue is not moved.  The dead host's input bridge had taken
 * messages 1 and 2 and not acked them; a client's rh_recv would have taken
 * 3 and 4 and acked past all four, and the recovery would have delivered
 * none of them again.
 */
static void test_a_stale_persist_handle_gives_nothing_back(void **state)
{
    (void)state;
    rh_queue *q = make("strand", 4);
    rh_queue *client = NULL;
    rh_error err;
    assert_int_equal(rh_queue_attach(instance, "strand", &client, &err), 0);
    for (uint64_t i = 1; i <= 4; i++)
        send_seq(client, i);
    struct { rh_envelope env; test_msg m; } slot[2]; /* the bridge's ring slots */
    rh_envelope *dst[2] = {&slot[0].env, &slot[1].env};
    EXPECT(rh__queue_dequeue_burst(q, dst, 2) == 2, "expected the bridge to take 2");
    test_msg buf[2];
    q->h->creator_pid = (int32_t)dead_pid(); /* the host is killed */
    test_msg m = {5, 0};
    int rc = rh_send(client, NULL, &m, sizeof m, NULL);
    EXPECT(rc == RH_ESTALE, "expected the full queue of a dead host to say RH_ESTALE, got %d",
           rc);
    uint64_t acked = rh__queue_acked(q);
    test_msg got;
    rc = rh_recv(client, NULL, &got, sizeof got, 0);
    EXPECT(rc == RH_ESTALE, "expected the stale persist handle to give nothing back, got %d",
           rc);
    rc = rh_recv_burst(client, NULL, buf, sizeof buf[0], 2, 0);
    EXPECT(rc == RH_ESTALE, "expected rh_recv_burst to give nothing back either, got %d", rc);
    EXPECT(rh__queue_acked(q) == acked, "expected the take-back to ack nothing");
    rh_queue_close(client);
    rh_queue_close(q); /* a persist queue's object stays, its indices as they are */
    q = make("strand", 4);
    uint64_t carried = 0;
    EXPECT(rh__queue_recovered(q, &carried) == 1 && carried == 4,
           "expected the recovery to deliver all 4 again (2 the bridge held), got %llu",
           (unsigned long long)carried);
    for (uint64_t i = 1; i <= 4; i++)
        EXPECT(recv_seq(q) == i, "expected message %llu recovered in order",
               (unsigned long long)i);
    rh_queue_close(q);
    purge("strand");
}

/* A client that sends seq 1, 2, ... as ringhost.h says, through a move,
 * until told to stop: on RH_ESTALE it takes back what its stale handle
 * gives, attaches again, sends those again, then the refused one; on
 * RH_EFULL it tries again.  Paced (a sleep between sends: the pace is the
 * workload, not a wait) so that the queue does not fill before the move. */
#define RACE_MAX 1000000
typedef struct race_client {
    rh_queue *q;
    _Atomic int stop;
    _Atomic uint64_t sent;       /* the highest seq sent */
    _Atomic int stale_seen;
    int given_back, failed;
} race_client;

static void *race_send(void *arg)
{
    race_client *c = arg;
    for (uint64_t seq = 1; !atomic_load(&c->stop) && seq < RACE_MAX && !c->failed;) {
        test_msg m = {seq, 0};
        int rc = rh_send(c->q, NULL, &m, sizeof m, NULL);
        if (rc == 0) {
            atomic_store(&c->sent, seq++);
            usleep(20);
            continue;
        }
        if (rc == RH_EFULL) {
            usleep(100);
            continue;
        }
        if (rc != RH_ESTALE) {
            c->failed = rc;
            break;
        }
        test_msg back[64];
        int k = 0;
        while (k < 64 && rh_recv(c->q, NULL, &back[k], sizeof back[k], 0) == (int)sizeof back[k])
            k++;
        c->given_back += k;
        rh_queue_close(c->q);
        c->q = NULL;
        while (rh_queue_attach(instance, "race", &c->q, NULL) != 0)
            usleep(1000);
        for (int i = 0; i < k && !c->failed; i++)
            if ((rc = rh_send(c->q, NULL, &back[i], sizeof back[i], NULL)) != 0)
                c->failed = rc;
        atomic_fetch_add(&c->stale_seen, 1);
    }
    return NULL;
}

/* Receive what q holds now into seen (counts per seq); how many. */
static int race_drain(rh_queue *q, unsigned char *seen, int *dups)
{
    int got = 0;
    test_msg m;
    while (rh_recv(q, NULL, &m, sizeof m, 0) == (int)sizeof m) {
        EXPECT(m.seq >= 1 && m.seq < RACE_MAX, "expected a seq in 1..%d, got %llu", RACE_MAX,
               (unsigned long long)m.seq);
        *dups += seen[m.seq]++ != 0;
        got++;
    }
    return got;
}

/*
 * The fence of a move, against a client sending all along: the host goes
 * while the client is mid-stream, the recovery moves the queue from under
 * it, and every seq reaches a host exactly once: each was published
 * before the copy's end (and copied) or after it (and given back to the
 * client, which sends it again), never both, never neither.  The steps
 * wait for conditions (500 sent; the client stale and 500 more), so a
 * side 100 times faster or slower changes only how long it takes.
 */
static void test_a_move_under_a_sending_client_loses_and_repeats_nothing(void **state)
{
    (void)state;
    rh_queue *q = NULL;
    rh_error err;
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = 8192, .backpressure = RH_BP_REJECT,
                                               .shared = 1, .persist = 1);
    assert_int_equal(rh_queue_create(instance, "race", &type_a, &cfg, NULL, &q, &err), 0);
    static race_client c;
    memset(&c, 0, sizeof c);
    static unsigned char seen[RACE_MAX];
    memset(seen, 0, sizeof seen);
    int dups = 0, got = 0;
    assert_int_equal(rh_queue_attach(instance, "race", &c.q, &err), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, race_send, &c), 0);
    /* the first host serves (takes and acks) until 500 are sent */
    for (double until = proc_now_s() + 20; atomic_load(&c.sent) < 500 && proc_now_s() < until;)
        got += race_drain(q, seen, &dups);
    rh_queue_close(q); /* the host goes; the client goes on sending */
    uint64_t at_move = atomic_load(&c.sent);
    int rc = rh_queue_create(instance, "race", &type_a, &cfg, NULL, &q, &err);
    EXPECT(rc == 0, "expected the recovery under a sending client, got %d: %s", rc, err.msg);
    for (double until = proc_now_s() + 20;
         (atomic_load(&c.stale_seen) == 0 || atomic_load(&c.sent) < at_move + 500) &&
         proc_now_s() < until && !c.failed;)
        got += race_drain(q, seen, &dups);
    atomic_store(&c.stop, 1);
    pthread_join(t, NULL);
    got += race_drain(q, seen, &dups);
    uint64_t last = atomic_load(&c.sent);
    int missing = 0;
    for (uint64_t i = 1; i <= last; i++)
        missing += !seen[i];
    print_message("move under a sending client: %llu sent (%llu before the move), %d received, "
                  "given back %d, stale seen %d, missing %d, repeated %d\n",
                  (unsigned long long)last, (unsigned long long)at_move, got, c.given_back,
                  atomic_load(&c.stale_seen), missing, dups);
    EXPECT(c.failed == 0, "expected every send of the client to go through, got %d",
           c.failed);
    EXPECT(atomic_load(&c.stale_seen) >= 1, "expected the client to learn of the move");
    EXPECT(missing == 0 && dups == 0,
           "expected each of the %llu exactly once, got %d missing, %d repeated",
           (unsigned long long)last, missing, dups);
    rh_queue_close(c.q);
    rh_queue_close(q);
    purge("race");
}

/* A `ringhost stat` polling a host that launches holds its lock for a
 * moment: the recovery does not fail for it (it waits 200 ms for it, then
 * moves the queue from under it, as under any client that stays). */
static void test_recovery_waits_for_a_client_that_leaves_soon(void **state)
{
    (void)state;
    rh_queue *q = make("brief", 8);
    send_seq(q, 1);
    rh_queue_close(q);
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        rh_queue *c = NULL;
        int ok = rh_queue_attach(instance, "brief", &c, NULL) == 0;
        (void)!write(ready[1], "x", 1);
        usleep(300000);
        rh_queue_close(c);
        _exit(ok ? 0 : 1);
    }
    char x;
    assert_int_equal(read(ready[0], &x, 1), 1);
    rh_error err;
    int rc = open_q("brief", &type_a, 8, 1, &q, &err);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT(WIFEXITED(status) && WEXITSTATUS(status) == 0, "expected the client to attach");
    EXPECT(rc == 0, "expected the recovery to wait for the client, got %d: %s", rc, err.msg);
    EXPECT(recv_seq(q) == 1, "expected the message recovered");
    rh_queue_close(q);
    close(ready[0]);
    close(ready[1]);
    purge("brief");
}

static void test_purge_refuses_the_queue_of_a_running_host_without_persist(void **state)
{
    (void)state;
    rh_queue *q = NULL;
    rh_error err;
    assert_int_equal(open_q("live", &type_a, 8, 0, &q, &err), 0);
    /* Its creator is this process, which purge leaves alone; fake another
     * live one: our parent. */
    q->h->creator_pid = (int32_t)getppid();
    int rc = rh__queue_purge(instance, "live", &err);
    EXPECT(rc == RH_EEXIST && strstr(err.msg, "belongs to a running host"),
           "expected purge to refuse a running host's queue, got %d: %s", rc, err.msg);
    EXPECT(shm_exists("live"), "expected the queue left in place");
    rh_queue_close(q);
}

static void test_producers_wait_for_acks_not_for_the_consumer_tail(void **state)
{
    (void)state;
    rh_queue *q = make("ack", 4);
    for (uint64_t i = 1; i <= 4; i++)
        send_seq(q, i);
    /* The host's input bridge takes them without acking (its kernel has
     * not finished them): their cells must not be reused. */
    unsigned char slots[4][sizeof(rh_envelope) + sizeof(test_msg)];
    rh_envelope *dst[4];
    for (int i = 0; i < 4; i++)
        dst[i] = (rh_envelope *)slots[i];
    assert_int_equal(rh__queue_dequeue_burst(q, dst, 4), 4);
    test_msg m = {5, 0};
    int rc = rh_send(q, NULL, &m, sizeof m, NULL);
    EXPECT(rc == RH_EFULL, "expected RH_EFULL while 4 taken messages are not acked, got %d", rc);
    rh_queue *client = NULL;
    rh_error err;
    assert_int_equal(rh_queue_attach(instance, "ack", &client, &err), 0);
    rc = rh_send(client, NULL, &m, sizeof m, NULL);
    EXPECT(rc == RH_EFULL, "expected an attached client to wait for acks too, got %d", rc);
    rh__queue_ack(q, rh__queue_taken(q));
    rc = rh_send(client, NULL, &m, sizeof m, NULL);
    EXPECT(rc == 0, "expected room once acked, got %d", rc);
    /* A client's recv acks at once: its delivery is the recv. */
    EXPECT(recv_seq(client) == 5, "expected message 5");
    EXPECT(rh__queue_acked(q) == rh__queue_taken(q), "expected a client recv to ack");
    rh_queue_close(client);
    rh_queue_close(q);
    purge("ack");
}

/* What a host killed mid-operation leaves: 6 sent, 3 taken by the bridge
 * of which 1 acked, a consumer claim of message 4 not finished, and a
 * producer claim of 1 cell never published. */
static void test_recovery_discards_unpublished_claims_and_redelivers_unacked(void **state)
{
    (void)state;
    rh_queue *q = make("crash", 8);
    for (uint64_t i = 1; i <= 6; i++)
        send_seq(q, i);
    unsigned char slots[3][sizeof(rh_envelope) + sizeof(test_msg)];
    rh_envelope *dst[3] = {(rh_envelope *)slots[0], (rh_envelope *)slots[1],
                           (rh_envelope *)slots[2]};
    assert_int_equal(rh__queue_dequeue_burst(q, dst, 3), 3);
    rh__queue_ack(q, 1);
    queue_header *h = q->h;
    atomic_store(&h->cons_head, 4);       /* claimed message 4, died copying it */
    atomic_store(&h->prod_head, 7);       /* claimed cell 6, died filling it */
    rh_queue_close(q);                    /* the "death": the lock goes, the indices stay */

    q = make("crash", 8);
    uint64_t carried = 0;
    rh__queue_recovered(q, &carried);
    EXPECT(carried == 5, "expected 5 messages carried (6 sent - 1 acked), got %llu",
           (unsigned long long)carried);
    h = q->h;
    EXPECT(atomic_load(&h->prod_head) == 6 && atomic_load(&h->prod_tail) == 6,
           "expected the unpublished claim discarded (prod_head 6), got %llu",
           (unsigned long long)atomic_load(&h->prod_head));
    EXPECT(atomic_load(&h->cons_head) == 1 && atomic_load(&h->cons_tail) == 1,
           "expected the consumer indices rewound to acked (1), got %llu/%llu",
           (unsigned long long)atomic_load(&h->cons_head),
           (unsigned long long)atomic_load(&h->cons_tail));
    for (uint64_t i = 2; i <= 6; i++) {
        uint64_t got = recv_seq(q);
        EXPECT(got == i, "expected message %llu again, got %llu", (unsigned long long)i,
               (unsigned long long)got);
    }
    EXPECT(rh__queue_is_empty(q), "expected no message from the unpublished claim");
    send_seq(q, 7); /* the queue works on from there */
    EXPECT(recv_seq(q) == 7, "expected the queue to carry on");
    rh_queue_close(q);
    purge("crash");
}

static void test_recovery_refuses_indices_that_describe_no_queue(void **state)
{
    (void)state;
    rh_queue *q = make("bad", 8);
    send_seq(q, 1);
    atomic_store(&q->h->cons_tail, 5); /* past prod_tail (1) */
    rh_queue_close(q);
    rh_error err;
    int rc = open_q("bad", &type_a, 8, 1, &q, &err);
    EXPECT(rc == RH_EINVAL && strstr(err.msg, "indices do not describe a queue") &&
               strstr(err.msg, "purge"),
           "expected RH_EINVAL about the indices, got %d: %s", rc, err.msg);
    purge("bad");
}

static void test_counts_since_open_carry_the_previous_runs_messages(void **state)
{
    (void)state;
    rh_queue *q = make("acct", 8);
    for (uint64_t i = 1; i <= 3; i++)
        send_seq(q, i);
    (void)recv_seq(q);
    rh_queue_close(q);
    q = make("acct", 8);
    send_seq(q, 4);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh__queue_stats_since_open(q, &s);
    EXPECT(s.enqueued == 3 && s.dequeued == 0 && s.depth == 3,
           "expected this run to account for 2 carried + 1 sent, none taken, got enqueued %llu "
           "dequeued %llu depth %llu", (unsigned long long)s.enqueued,
           (unsigned long long)s.dequeued, (unsigned long long)s.depth);
    rh_queue_close(q);
    purge("acct");
}

static int setup(void **state)
{
    (void)state;
    snprintf(instance, sizeof instance, "rhtest-persist-%d", (int)getpid());
    return 0;
}

/* A failed test leaves its persist queues behind: remove them. */
static int teardown(void **state)
{
    (void)state;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "ringhost.%s:", instance);
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) {
            char path[300];
            snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_persist_queue_keeps_its_messages_after_close_and_reopen),
        cmocka_unit_test(test_a_shared_queue_without_persist_is_unlinked_at_close),
        cmocka_unit_test(test_reopen_with_another_capacity_is_refused_saying_what_is_there),
        cmocka_unit_test(test_reopen_with_another_type_is_refused),
        cmocka_unit_test(test_a_launch_without_persist_does_not_discard_a_persist_queues_messages),
        cmocka_unit_test(test_a_persist_queue_held_by_a_live_host_is_refused),
        cmocka_unit_test(test_recovery_moves_the_queue_from_under_an_attached_client),
        cmocka_unit_test(test_a_stale_persist_handle_gives_nothing_back),
        cmocka_unit_test(test_a_move_under_a_sending_client_loses_and_repeats_nothing),
        cmocka_unit_test(test_recovery_waits_for_a_client_that_leaves_soon),
        cmocka_unit_test(test_purge_refuses_the_queue_of_a_running_host_without_persist),
        cmocka_unit_test(test_producers_wait_for_acks_not_for_the_consumer_tail),
        cmocka_unit_test(test_recovery_discards_unpublished_claims_and_redelivers_unacked),
        cmocka_unit_test(test_recovery_refuses_indices_that_describe_no_queue),
        cmocka_unit_test(test_counts_since_open_carry_the_previous_runs_messages),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
