/*
 * fuzz_queue.c — libFuzzer target: a named queue whose shared memory is
 * written by a hostile client.
 *
 * The mapping of a shared queue is writable by every process of its user,
 * so nothing a process reads from it may be trusted: this target creates a
 * queue (shared in /dev/shm or private, as the input says), then runs a
 * little program read from the input that interleaves
 *  - hostile writes: any of the four head/tail indices, high_water, the
 *    counters, the doorbells, any cell byte, any cell's payload_len;
 *  - the calls a host and its clients make, each with timeout 0: rh_send,
 *    rh_send_burst, rh_recv (whole and short buffers), rh_recv_burst,
 *    rh_queue_stats_get, rh__queue_is_empty, and the bridge's
 *    rh__queue_dequeue_burst / rh__queue_enqueue_burst (queue_pvt.h), and
 *    the in-place path of an inline bridge (queue_inplace.c): a
 *    run of cells claimed, each one's length read and its tail cleared, the
 *    whole payload read where it lies (as a kernel reads its batch) while
 *    hostile writes land in the cells and indices, then released, retried
 *    until the release is done or gives up; and answers written into
 *    claimed cells, stamped and published, or given back.
 * Buffers are heap blocks of exactly the size the API promises to respect,
 * so ASan reports any byte read or written past them, or past the mapping.
 *
 * In persist mode (a shared persist queue), the program runs, the handle is
 * closed as a killed host would leave it, and the queue is created again:
 * recovery (queue_persist.c) must either refuse with a message or leave
 * indices a queue can work from; the rest of the program then runs on it.
 *
 * In attach mode, the program first rewrites header bytes of the shm object
 * (magic, version, sizes, capacity, mask, slot and payload size, names...)
 * and may resize the file, then calls rh_queue_attach: it must either
 * refuse with a message, or hand back a handle whose geometry fits the
 * mapping; the calls above then run on that handle (and on the creator's,
 * unless the file was resized).
 *
 * No state is skipped: a tail a little *behind* its head says a producer
 * (or consumer) holds a claim it has not published yet, or the head was
 * scribbled ahead (cons_head + 3 once wedged a kernel for good).  The
 * next claimer of that side waits for it, but only for rh__queue_stall_ns
 * (1 s in a host, 100 us here), then gives up, marks the side corrupt and
 * returns RH_ECORRUPT (a producer) or the message it took (a consumer).
 * The program has an op that opens such a gap on purpose, and one that
 * clears the corrupt marks, so both the giving up and the recovered
 * queue are exercised.  Every call must end within CALL_MAX_NS.
 *
 * Zero copy (queue_loan.c): loans (rh_send_reserve, written to
 * the whole slot, then rh_send_commit with lengths from the input, some
 * past the slot), peeks held across the rest of the program
 * (rh_recv_peek) whose views are read later, byte by byte, after any
 * scribble — on the header, the cells, and the claims table (owners with
 * our own live pid, a dead one or garbage, positions near the tails,
 * orphans and parked counts) — and the heartbeat's sweep.  A view must
 * stay inside the cells and its len within the slot, however the memory
 * under it changed; a waiter behind a recorded claim of a live pid waits
 * at most rh__queue_hold_max_ns (shortened here as the stall is).
 *
 * Producers' notes (queue_notes.c): any bytes, or plausible runs near an
 * index in this thread's name (not believed by its own waits), this
 * process's (live: a waiter gives its run up at its deadline, the stall
 * time here, with RH_ETIMEDOUT) or a dead one's (its run voided, checked
 * against the indices first); and the corrupt marks with the halt words
 * (indices found impossible halt both sides; op 14 may clear both).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "queue/queue_layout.h"
#include "queue/queue_notes.h"

/* How long a wait on a stalled tail lasts here (a host waits 1 s), and the
 * most any one call may take: a stall, plus ASan's slowness. */
#define FUZZ_STALL_NS (100ull * 1000)
#define FUZZ_HOLD_MAX_NS (300ull * 1000)
#define CALL_MAX_NS (2000ull * 1000 * 1000)

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_queue: broken promise: " __VA_ARGS__);       \
            fprintf(stderr, "\n");                                             \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* ------------------------------------------------------- input reader --- */

typedef struct input {
    const uint8_t *p;
    size_t n;
} input;

static uint8_t u8(input *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static uint64_t uN(input *in, unsigned bytes)
{
    uint64_t x = 0;
    for (unsigned i = 0; i < bytes; i++)
        x |= (uint64_t)u8(in) << (8 * i);
    return x;
}

/* ------------------------------------------------------------- setup --- */

static char instance[32];

/* A message type of any size: the codec is never called here. */
static rh_type fuzz_type = {
    .struct_size = sizeof(rh_type),
    .name = "fuzz.msg",
    .fingerprint = 0xF0220F0220F0220Full,
    .align = 1,
};

static _Atomic uint64_t *index_ptr(queue_header *h, unsigned which)
{
    switch (which % 6) {
    case 0: return &h->prod_head;
    case 1: return &h->prod_tail;
    case 2: return &h->cons_head;
    case 3: return &h->cons_tail;
    case 4: return &h->acked;
    default: return &h->high_water;
    }
}

/* A claim is held (see the top): calls of that side would wait for it.
 * The tail is behind its head by no more than any queue's capacity;
 * further (or ahead) is a scribble that publish() does not wait for. */
static int claim_held(uint64_t head, uint64_t tail)
{
    return head != tail && head - tail <= RH_QUEUE_CAPACITY_MAX;
}

static int producer_claim_held(const queue_header *h)
{
    return claim_held(atomic_load(&h->prod_head), atomic_load(&h->prod_tail));
}

static int consumer_claim_held(const queue_header *h)
{
    return claim_held(atomic_load(&h->cons_head), atomic_load(&h->cons_tail));
}

/* ----------------------------------------------------- hostile writes --- */

static void hostile_index(input *in, queue_header *h)
{
    uint8_t op = u8(in);
    _Atomic uint64_t *dst = index_ptr(h, op & 7u);
    uint64_t v;
    switch ((op >> 3) & 3u) {
    case 0: /* any value */
        v = uN(in, 8);
        break;
    case 1: /* near another index: the interesting, almost-consistent states */
        v = atomic_load(index_ptr(h, u8(in))) + (uint64_t)(int64_t)(int8_t)u8(in);
        break;
    case 2: /* near the queue's own size */
        v = atomic_load(index_ptr(h, u8(in))) + ((uint64_t)u8(in) << (u8(in) % 64));
        break;
    default: /* small */
        v = u8(in);
        break;
    }
    atomic_store(dst, v);
}

static void hostile_bytes(input *in, unsigned char *base, size_t size)
{
    size_t off = (size_t)(uN(in, 4) % size);
    size_t len = 1 + u8(in) % 32;
    for (size_t i = 0; i < len && off + i < size; i++)
        base[off + i] = u8(in);
}

/* ------------------------------------------------------------- calls --- */

static void check_stats(rh_queue *q)
{
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &s);
    CHECK(s.depth <= s.capacity, "depth %llu above capacity %llu", (unsigned long long)s.depth,
          (unsigned long long)s.capacity);
    CHECK(s.capacity == q->capacity, "stats capacity");
}

static void call_send(input *in, rh_queue *q)
{
    uint32_t len = (uint32_t)(uN(in, 2) % (q->payload_size + 1u));
    unsigned char *buf = malloc(len ? len : 1);
    memset(buf, u8(in), len);
    rh_envelope env = {.priority = u8(in)};
    rh_id id;
    int rc = rh_send(q, u8(in) & 1 ? &env : NULL, buf, len, &id);
    CHECK(rc == 0 || rc == RH_EFULL || rc == RH_EDROPPED || rc == RH_ETIMEDOUT ||
              rc == RH_ECORRUPT || rc == RH_ESTALE, "rh_send: %d", rc);
    CHECK(rc != RH_ECORRUPT || queue_side_corrupt(q, CORRUPT_PRODUCERS | CORRUPT_CONSUMERS),
          "rh_send: RH_ECORRUPT without a side marked corrupt");
    free(buf);
}

static void call_send_burst(input *in, rh_queue *q)
{
    uint32_t n = 1 + u8(in) % 8;
    uint32_t len = (uint32_t)(uN(in, 2) % (q->payload_size + 1u));
    uint32_t stride = len + u8(in) % 8;
    unsigned char *bufs = malloc((size_t)stride * n + 1);
    memset(bufs, 0x11, (size_t)stride * n + 1);
    rh_id ids[8];
    int rc = rh_send_burst(q, NULL, bufs, stride, len, n, ids);
    CHECK((rc >= 0 && (uint32_t)rc <= n) || rc == RH_ECORRUPT || rc == RH_ESTALE,
          "rh_send_burst: %d of %u", rc, n);
    free(bufs);
}

static void call_enqueue_burst(input *in, rh_queue *q)
{
    uint32_t n = 1 + u8(in) % 8;
    rh_envelope *src[8];
    for (uint32_t i = 0; i < n; i++) {
        src[i] = malloc(sizeof(rh_envelope) + q->payload_size);
        memset(src[i], 0x22, sizeof(rh_envelope) + q->payload_size);
        src[i]->payload_len = (uint32_t)uN(in, 4); /* a kernel's claim: clamped */
    }
    uint32_t k = rh__queue_enqueue_burst(q, src, n);
    CHECK(k <= n, "rh__queue_enqueue_burst: %u of %u", k, n);
    for (uint32_t i = 0; i < n; i++)
        free(src[i]);
}

static void call_recv(input *in, rh_queue *q)
{
    uint8_t how = u8(in);
    uint32_t buf_len = how & 1 ? q->payload_size : (uint32_t)(u8(in) % (q->payload_size + 1u));
    unsigned char *buf = malloc(buf_len ? buf_len : 1);
    rh_envelope env;
    int rc = rh_recv(q, &env, buf_len ? buf : NULL, buf_len, 0);
    CHECK(rc >= 0 || rc == RH_EEMPTY || rc == RH_ETOOBIG || rc == RH_EINVAL ||
              rc == RH_ECORRUPT || rc == RH_ESTALE, "rh_recv: %d", rc);
    CHECK(rc != RH_ECORRUPT || queue_side_corrupt(q, CORRUPT_PRODUCERS),
          "rh_recv: RH_ECORRUPT without the producers' side marked");
    if (rc >= 0) {
        CHECK((uint32_t)rc <= buf_len && (uint32_t)rc <= q->payload_size,
              "rh_recv: %d bytes into %u", rc, buf_len);
        CHECK(env.payload_len == (uint32_t)rc, "envelope length %u, returned %d",
              env.payload_len, rc);
    }
    free(buf);
}

static void call_recv_burst(input *in, rh_queue *q)
{
    uint32_t n = 1 + u8(in) % 8;
    uint32_t stride = q->payload_size + u8(in) % 4;
    unsigned char *bufs = malloc((size_t)stride * n);
    rh_envelope envs[8];
    int rc = rh_recv_burst(q, envs, bufs, stride, n, 0);
    CHECK((rc >= 0 && (uint32_t)rc <= n) || rc == RH_ECORRUPT || rc == RH_ESTALE,
          "rh_recv_burst: %d of %u", rc, n);
    for (int i = 0; i < rc; i++)
        CHECK(envs[i].payload_len <= q->payload_size, "rh_recv_burst: length %u of %u",
              envs[i].payload_len, q->payload_size);
    free(bufs);
}

static void call_dequeue_burst(input *in, rh_queue *q)
{
    uint32_t n = 1 + u8(in) % 8;
    rh_envelope *dst[8];
    for (uint32_t i = 0; i < n; i++)
        dst[i] = malloc(sizeof(rh_envelope) + q->payload_size);
    uint32_t k = rh__queue_dequeue_burst(q, dst, n);
    CHECK(k <= n, "rh__queue_dequeue_burst: %u of %u", k, n);
    for (uint32_t i = 0; i < k; i++)
        CHECK(dst[i]->payload_len <= q->payload_size, "dequeue_burst: length %u of %u",
              dst[i]->payload_len, q->payload_size);
    for (uint32_t i = 0; i < n; i++)
        free(dst[i]);
}

/* A batch read in place, as engine/inplace.c does, with hostile writes
 * between the claim and the release: every byte the kernel reads is inside
 * the claimed cells (ASan: inside the mapping), and the release ends, done
 * or given up, within the stall time. */
static void call_take_inplace(input *in, rh_queue *q)
{
    uint32_t n = 1 + u8(in) % 8;
    uint64_t pos;
    uint32_t k = rh__queue_take_inplace(q, n, &pos);
    CHECK(k <= n, "rh__queue_take_inplace: %u of %u", k, n);
    if (k == 0)
        return;
    size_t cells = (size_t)q->capacity * q->slot_size;
    unsigned sum = 0;
    for (uint32_t i = 0; i < k; i++) {
        (void)rh__queue_inplace_len(q, pos + i, (uint32_t)uN(in, 4));
        if (u8(in) & 1) /* a scribbler while the kernel reads */
            hostile_bytes(in, q->cells, cells);
        const unsigned char *p = (const unsigned char *)(rh__queue_cell(q, pos + i) + 1);
        for (uint32_t b = 0; b < q->payload_size; b++)
            sum += p[b];
    }
    (void)sum;
    if (u8(in) & 1)
        hostile_index(in, q->h);
    uint64_t since = 0, tail;
    for (;;) {
        if (rh__queue_release_inplace(q, pos, pos + k, &tail) == 0)
            break;
        if (rh__queue_release_stalled(q, tail, pos, pos + k, &since))
            break;
    }
}

/* Answers written in place: claimed, written (any payload_len), stamped
 * (the length clamped to the cell) and published, or given back. */
static void call_claim_inplace(input *in, rh_queue *q)
{
    uint32_t n = 1 + u8(in) % 8;
    uint64_t pos;
    int note = 0;
    uint32_t k = rh__queue_claim_inplace(q, n, &pos, &note);
    CHECK(k <= n, "rh__queue_claim_inplace: %u of %u", k, n);
    if (k == 0)
        return;
    uint32_t used = u8(in) % (k + 1);
    for (uint32_t i = 0; i < used; i++) {
        rh_envelope *e = rh__queue_cell(q, pos + i);
        memset(e, 0, sizeof *e);
        memset(e + 1, 0x33, q->payload_size);
        e->payload_len = (uint32_t)uN(in, 4);
        rh__queue_stamp_inplace(q, pos + i, pos + i + 1, rh_now_ns(), 0);
        CHECK(e->payload_len <= q->payload_size, "stamped length %u of %u", e->payload_len,
              q->payload_size);
    }
    if (used < k && rh__queue_unclaim_inplace(q, pos + used, pos + k, &note))
        k = used;
    else if (used < k) /* cannot be given back: published void */
        rh__queue_void_inplace(q, pos + used, pos + k);
    if (k)
        (void)rh__queue_publish_inplace(q, pos, pos + k, &note);
    else if (note) /* all given back: the note too */
        note_free(&q->h->notes[note - 1]);
}

/* ---------------------------------------------------------- zero copy --- */

static void call_loan(input *in, rh_queue *q)
{
    rh_loan loans[8];
    uint32_t n = 1 + u8(in) % 8;
    int k = rh_send_reserve(q, n, loans);
    CHECK((k >= 1 && (uint32_t)k <= n) || k == RH_EFULL || k == RH_EDROPPED ||
              k == RH_ETIMEDOUT || k == RH_ECORRUPT || k == RH_ESTALE || k == RH_EBUSY ||
              k == RH_ESTATE, "rh_send_reserve: %d of %u", k, n);
    if (k < 1)
        return;
    uint32_t lens[8];
    for (int i = 0; i < k; i++) {
        CHECK((unsigned char *)loans[i].env >= q->cells &&
                  (unsigned char *)loans[i].payload + q->payload_size <=
                      q->cells + (size_t)q->capacity * q->slot_size,
              "loan %d outside the cells", i);
        memset(loans[i].payload, 0x33, q->payload_size); /* the whole slot is the caller's */
        loans[i].env->priority = u8(in);
        lens[i] = u8(in) & 1 ? q->payload_size + u8(in) % 3 : (uint32_t)u8(in) % (q->payload_size + 1);
    }
    uint32_t c = (uint32_t)(u8(in) % (k + 1));
    int rc = rh_send_commit(q, c, u8(in) & 1 ? lens : NULL, NULL);
    if (rc == RH_ETOOBIG)
        rc = rh_send_commit(q, c, NULL, NULL); /* still held: commit it whole */
    CHECK(rc == (int)c || rc == RH_ECORRUPT, "rh_send_commit: %d of %u", rc, c);
}

/* A peek held across ops (at most one per handle, as the API says). */
static rh_queue *held_q;
static rh_msg_view held[8];
static int held_n;

static void read_held(void)
{
    if (!held_q)
        return;
    const unsigned char *lo = held_q->cells;
    const unsigned char *hi = held_q->cells + (size_t)held_q->capacity * held_q->slot_size;
    volatile unsigned sum = 0;
    for (int i = 0; i < held_n; i++) {
        const unsigned char *p = held[i].payload;
        CHECK((const unsigned char *)held[i].env >= lo && p >= lo &&
                  held[i].len <= held_q->payload_size && p + held[i].len <= hi,
              "view %d outside the cells (len %u)", i, held[i].len);
        for (uint32_t b = 0; b < held[i].len; b++)
            sum += p[b];
        sum += held[i].env->priority;
    }
    (void)sum;
}

static void call_peek(input *in, rh_queue *q)
{
    if (held_q) { /* read what we hold after whatever happened meanwhile, then give it back */
        read_held();
        CHECK(rh_recv_release(held_q) == 0, "rh_recv_release of a held peek");
        held_q = NULL;
        return;
    }
    uint32_t n = 1 + u8(in) % 8;
    int k = rh_recv_peek(q, n, 0, held);
    CHECK((k >= 1 && (uint32_t)k <= n) || k == RH_EEMPTY || k == RH_ECORRUPT ||
              k == RH_ESTALE || k == RH_EBUSY, "rh_recv_peek: %d of %u", k, n);
    if (k >= 1) {
        held_q = q;
        held_n = k;
        read_held();
    }
}

static void hostile_claims(input *in, queue_header *h)
{
    uint8_t how = u8(in);
    queue_claim *c = &h->claims[u8(in) % QUEUE_CLAIMS];
    switch (how % 5) {
    case 0: /* any bytes of the table */
        hostile_bytes(in, (unsigned char *)h->claims, sizeof h->claims);
        break;
    case 1: { /* a plausible entry: a kind, a pid (ours: live; 1: live, not ours; garbage) */
        static const uint32_t pids[] = {0, 1, 0x7ffffff0u};
        uint32_t pid = u8(in) & 1 ? (uint32_t)getpid() : pids[u8(in) % 3];
        uint64_t base = atomic_load(index_ptr(h, u8(in)));
        atomic_store(&c->pos, base + (uint64_t)(int64_t)(int8_t)u8(in));
        atomic_store(&c->end, atomic_load(&c->pos) + u8(in) % 70);
        atomic_store(&c->next, atomic_load(&c->pos) + u8(in) % 4);
        atomic_store(&c->upto, atomic_load(&c->end));
        atomic_store(&c->owner, ((uint64_t)pid << 8) | (u8(in) % 12) | (u8(in) & CLAIM_ACK));
        break;
    }
    case 2:
        atomic_store(&h->orphans, (uint32_t)uN(in, 4));
        atomic_store(&h->parked, (uint32_t)uN(in, 4));
        break;
    case 3: { /* a producers' note (queue_notes.c): any bytes, or a plausible one near an
               * index, in the name of this thread (live: believed unless it is the
               * waiter's own), of this process (live), or of nobody (dead) */
        queue_note *n = &h->notes[u8(in) % QUEUE_NOTES];
        uint8_t who = u8(in);
        if (who & 1) {
            hostile_bytes(in, (unsigned char *)n, sizeof *n);
            break;
        }
        uint64_t self = rh__note_self ? rh__note_self : rh__note_self_slow();
        uint64_t owners[] = {self, rh__note_process(), 0x3FFFFFull << 42, uN(in, 8)};
        uint64_t base = atomic_load(index_ptr(h, u8(in)));
        atomic_store(&n->pos, base + (uint64_t)(int64_t)(int8_t)u8(in));
        atomic_store(&n->done, atomic_load(&n->pos) + u8(in) % 4);
        atomic_store(&n->end, atomic_load(&n->done) + u8(in) % 70);
        atomic_store(&n->owner, owners[(who >> 1) % 4]);
        break;
    }
    default: /* freed */
        atomic_store(&c->owner, CLAIM_FREE);
        break;
    }
}

/* Run the program on q (and on a second handle of the same memory, when
 * there is one).  Hostile writes go straight to the mapping. */
static void run_program(input *in, rh_queue *q, rh_queue *other)
{
    queue_header *h = q->h;
    size_t cells = (size_t)q->capacity * q->slot_size;
    for (unsigned steps = 0; in->n && steps < 256; steps++) {
        uint8_t op = u8(in);
        rh_queue *t = other && (op & 0x80) ? other : q;
        /* A claim held (or a head scribbled ahead) no longer makes a call
         * wait for ever: each one runs in every state, and must end. */
        uint64_t t0 = rh_now_ns();
        int held_before = producer_claim_held(h) || consumer_claim_held(h);
        switch (op % 22) {
        case 0:
        case 1:
            hostile_index(in, h);
            break;
        case 2:
            atomic_store(&h->counters[u8(in) % C_COUNT], uN(in, 8));
            break;
        case 3:
            hostile_bytes(in, q->cells, cells);
            break;
        case 4: {
            cell *c = (cell *)(q->cells + (size_t)(u8(in) % q->capacity) * q->slot_size);
            uint32_t v = u8(in) & 1 ? (uint32_t)uN(in, 4) : q->payload_size + u8(in) - 128;
            __atomic_store_n(&c->env.payload_len, v, __ATOMIC_RELAXED);
            break;
        }
        case 5: /* the doorbells: futex words, waiter counts, the shared flag */
            hostile_bytes(in, (unsigned char *)&h->not_empty,
                          (size_t)((unsigned char *)(&h->not_full + 1) -
                                   (unsigned char *)&h->not_empty));
            break;
        case 6:
            call_send(in, t);
            break;
        case 7:
            call_send_burst(in, t);
            break;
        case 8:
            call_enqueue_burst(in, t);
            break;
        case 9:
        case 10:
            call_recv(in, t);
            break;
        case 11:
            call_recv_burst(in, t);
            break;
        case 12:
            call_dequeue_burst(in, t);
            break;
        case 13: { /* the case that wedged a kernel: a head a few cells ahead of its tail */
            uint8_t g = u8(in);
            _Atomic uint64_t *head = g & 1 ? &h->cons_head : &h->prod_head;
            _Atomic uint64_t *tail = g & 1 ? &h->cons_tail : &h->prod_tail;
            atomic_store(head, atomic_load(tail) + 1 + (g >> 1) % 8);
            break;
        }
        case 14: { /* the marks and the health line, rewritten (cleared, or set), and the
                    * halt words with them (or not) */
            uint8_t marks = u8(in);
            atomic_store(&h->corrupt_sides, marks & 15u);
            if ((marks & 0x30) == 0) {
                atomic_store(&h->prod_halt, (marks & CORRUPT_INDICES) != 0);
                atomic_store(&h->cons_halt, (marks & CORRUPT_INDICES) != 0);
            }
            hostile_bytes(in, (unsigned char *)&h->heartbeat_ns,
                          offsetof(queue_header, claims) -
                              offsetof(queue_header, heartbeat_ns));
            break;
        }
        case 16:
            call_loan(in, t);
            break;
        case 17:
            call_peek(in, t);
            break;
        case 18:
            hostile_claims(in, h);
            break;
        case 19:
            rh__queue_claims_sweep(t); /* what the host's heartbeat does once a second */
            read_held();
            break;
        case 20:
            call_take_inplace(in, t);
            break;
        case 21:
            call_claim_inplace(in, t);
            break;
        default:
            check_stats(t);
            (void)rh__queue_is_empty(t);
            break;
        }
        uint64_t took = rh_now_ns() - t0;
        CHECK(took < CALL_MAX_NS, "op %u took %llu ms (a claim was %sheld before it)", op % 22,
              (unsigned long long)(took / 1000000), held_before ? "" : "not ");
    }
    if (held_q) { /* the program ends: what we hold goes back before any close */
        read_held();
        rh_recv_release(held_q);
        held_q = NULL;
    }
}

/* ------------------------------------------------------------ attach --- */

/* Rewrite header bytes of the shm object and maybe its size, then attach.
 * Returns the attached handle, or NULL when attach refused. */
static rh_queue *hostile_attach(input *in, rh_queue *q, int *resized)
{
    char shm[sizeof q->shm_name];
    memcpy(shm, q->shm_name, sizeof shm);
    int fd = shm_open(shm, O_RDWR, 0);
    CHECK(fd >= 0, "shm_open of our own queue");
    queue_header *h = q->h;
    /* The fields up to the name are what geometry is made of: aim there. */
    unsigned edits = u8(in) % 8;
    for (unsigned i = 0; i < edits; i++) {
        uint8_t how = u8(in);
        size_t region = how & 1 ? offsetof(queue_header, name) : offsetof(queue_header, counters);
        size_t off = (size_t)(uN(in, 2) % region);
        size_t len = 1 + u8(in) % 8;
        for (size_t k = 0; k < len && off + k < region; k++)
            ((unsigned char *)h)[off + k] = u8(in);
    }
    uint8_t resize = u8(in);
    *resized = resize & 1;
    if (resize & 1) {
        /* The creator's handle is not used past a resize (its mapping may
         * now end inside the header): nor may its heartbeat write there. */
        rh__queue_heartbeat_stop(q);
        struct stat st;
        CHECK(fstat(fd, &st) == 0, "fstat");
        off_t size = st.st_size + (off_t)(int16_t)uN(in, 2);
        if (resize & 2)
            size = (off_t)(uN(in, 3)); /* anything up to 16 MiB */
        if (size >= 0)
            CHECK(ftruncate(fd, size) == 0, "ftruncate");
    }
    close(fd);

    rh_queue *a = (rh_queue *)0x1;
    rh_error err;
    memset(&err, 0, sizeof err);
    int rc = rh_queue_attach(instance, "q", &a, &err);
    if (rc != 0) {
        CHECK(a == NULL, "a refused attach must leave *out NULL");
        CHECK(err.msg[0] && strstr(err.msg, "\"q\""), "attach refused without naming the queue: "
              "%s", err.msg);
        return NULL;
    }
    /* Accepted: the geometry it will use must fit what it mapped. */
    CHECK(capacity_valid(a->capacity) && a->mask == a->capacity - 1, "attached capacity %u",
          a->capacity);
    CHECK(a->slot_size == slot_size_for(a->payload_size), "attached slot size");
    CHECK((uint64_t)a->map_size == sizeof(queue_header) + (uint64_t)a->capacity * a->slot_size,
          "attached mapping %zu bytes for %u x %u", a->map_size, a->capacity, a->slot_size);
    CHECK((unsigned)a->cfg.backpressure < BP_COUNT, "attached policy");
    CHECK(memchr(a->name, 0, sizeof a->name) && memchr(a->type_name, 0, sizeof a->type_name) &&
              memchr(a->type_origin, 0, sizeof a->type_origin),
          "attached names unterminated");
    /* A hostile policy may say block: no waiting in a fuzzer. */
    a->cfg.block_timeout_ms = 0;
    return a;
}

/* ----------------------------------------------------------- recover --- */

/* Close q as a dead host leaves it (indices as they are, lock released)
 * and create it again.  Returns the recovered handle, or NULL when the
 * recovery refused (it must say why, naming the queue). */
static rh_queue *recover(rh_queue *q, const rh_queue_config *cfg)
{
    rh_queue_close(q);
    rh_queue *r = (rh_queue *)0x1;
    rh_error err;
    memset(&err, 0, sizeof err);
    int rc = rh_queue_create(instance, "q", &fuzz_type, cfg, "fuzz.so", &r, &err);
    if (rc != 0) {
        CHECK(r == NULL, "a refused recovery must leave *out NULL");
        CHECK(strstr(err.msg, "\"q\"") && strstr(err.msg, "purge"),
              "recovery refused without naming the queue and the way out: %s", err.msg);
        return NULL;
    }
    queue_header *h = r->h;
    uint64_t acked = atomic_load(&h->acked), pt = atomic_load(&h->prod_tail);
    CHECK(atomic_load(&h->cons_head) == acked && atomic_load(&h->cons_tail) == acked &&
              atomic_load(&h->prod_head) == pt && pt - acked <= r->capacity,
          "recovered indices: acked %llu cons %llu/%llu prod %llu/%llu capacity %u",
          (unsigned long long)acked, (unsigned long long)atomic_load(&h->cons_head),
          (unsigned long long)atomic_load(&h->cons_tail),
          (unsigned long long)atomic_load(&h->prod_head), (unsigned long long)pt, r->capacity);
    return r;
}

/* ------------------------------------------------------------- entry --- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rh__queue_stall_ns = FUZZ_STALL_NS;
    rh__queue_hold_max_ns = FUZZ_HOLD_MAX_NS;
    rh__log_set_level(RH_LOG_OFF); /* queue.corrupt and queue.stale, once per queue */
    if (!instance[0])
        snprintf(instance, sizeof instance, "fuzzq%d", (int)getpid());
    input in = {data, size};
    uint8_t mode = u8(&in);
    int shared = mode & 1;
    int attach = shared && (mode & 2);
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(
        .capacity = 2u << (u8(&in) % 6), /* 2 .. 64 */
        .backpressure = (rh_backpressure)((mode >> 2) % BP_COUNT),
        .block_timeout_ms = 0, /* block gives up at once */
        .shared = shared);
    /* drop_oldest is refused for persist queues (it would evict what a
     * kernel still holds). */
    int persist = shared && !attach && (mode & 16) && cfg.backpressure != RH_BP_DROP_OLDEST;
    cfg.persist = persist;
    fuzz_type.size = 1 + u8(&in);
    rh__queue_purge(instance, "q", NULL); /* a persist queue of the previous input */
    rh_queue *q = NULL;
    rh_error err;
    int rc = rh_queue_create(instance, "q", &fuzz_type, &cfg, "fuzz.so", &q, &err);
    CHECK(rc == 0, "rh_queue_create: %s", err.msg);

    /* A shrunk file would fault the creator's larger mapping (SIGBUS): a
     * same-user process can always do that, see docs/RELIABILITY.md; so
     * after a resize only the attached handle runs. */
    int resized = 0;
    rh_queue *a = attach ? hostile_attach(&in, q, &resized) : NULL;
    if (a)
        run_program(&in, a, resized ? NULL : q);
    else if (!attach)
        run_program(&in, q, NULL);
    if (persist) {
        q = recover(q, &cfg);
        if (q)
            run_program(&in, q, NULL);
    }
    rh_queue_close(a);
    rh_queue_close(q);
    if (persist)
        rh__queue_purge(instance, "q", NULL);
    return 0;
}
