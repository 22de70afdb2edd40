/*
 * test_device_loop.cpp — ringhost's device loop (ringhost/device.cuh) driven
 * on the CPU: the same poll, per-message and publish phases the GPU runs,
 * with the real kernels' device functions (kernels/echo_gpu,
 * kernels/vector_add_gpu) compiled for the host, over rings of
 * ringhost/ring_abi.h in plain memory.  The test plays the host: it
 * produces into the input ring, consumes the output ring and the fail ring
 * (a thread of its own, as the executor's supervisor does), and writes the
 * flow.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern "C" {
#include <cmocka.h>
}

#include "ringhost/device.cuh"

/* The kernels' device functions, compiled here for the host. */
#include "../../kernels/echo_gpu/echo_gpu_device.cu"
#include "../../kernels/vector_add_gpu/vector_add_gpu_device.cu"

extern "C" rh_id rh__id_of_answer(rh_id input_id, uint32_t port, uint32_t emit_index);

/* ----------------------------------------------------- rings by hand ---- */

static rh_ring_ctl *ring_new(uint32_t capacity, uint32_t payload_size)
{
    size_t slot = RH_RING_SLOT_SIZE(payload_size);
    size_t len = sizeof(rh_ring_ctl) + capacity * slot;
    rh_ring_ctl *c = (rh_ring_ctl *)aligned_alloc(64, (len + 63) & ~(size_t)63);
    assert_non_null(c);
    memset((void *)c, 0, len);
    c->capacity = capacity;
    c->mask = capacity - 1;
    c->slot_size = (uint32_t)slot;
    c->payload_size = payload_size;
    c->slots_offset = sizeof(rh_ring_ctl);
    c->abi_version = RH_RING_ABI_VERSION;
    return c;
}

static void host_push(rh_ring_ctl *c, uint64_t seq, const void *payload, uint32_t len, uint8_t flags)
{
    uint64_t head = c->head;
    assert_true(head - __atomic_load_n(&c->tail, __ATOMIC_ACQUIRE) < c->capacity);
    rh_envelope *e = rh_ring_ctl_slot(c, head);
    memset(e, 0, sizeof *e);
    e->id.hi = 0x1234000000008000ull;
    e->id.lo = 0x8000000000000000ull | seq;
    e->payload_len = len;
    e->priority = 7;
    e->flags = flags;
    memcpy(rh_ring_ctl_payload(e), payload, len);
    __atomic_store_n(&c->head, head + 1, __ATOMIC_RELEASE);
}

/* The consumer's next slot, or NULL; host_pop_done releases it. */
static rh_envelope *host_peek(rh_ring_ctl *c)
{
    uint64_t tail = c->tail;
    if (__atomic_load_n(&c->head, __ATOMIC_ACQUIRE) == tail)
        return NULL;
    return rh_ring_ctl_slot(c, tail);
}

static void host_pop_done(rh_ring_ctl *c)
{
    __atomic_store_n(&c->tail, c->tail + 1, __ATOMIC_RELEASE);
}

/* ------------------------------------------------------------ a worker -- */

typedef struct rig {
    rh_ring_ctl *in, *out, *fail;
    rh_dev_worker w;
    rh_dev_block b;
    uint32_t reason_offset;
    void *config;
} rig;

static void rig_open(rig *r, uint32_t in_cap, uint32_t out_cap, uint32_t in_payload,
                     uint32_t out_payload, uint32_t lanes, uint32_t threads, void *config,
                     uint32_t config_size)
{
    memset((void *)r, 0, sizeof *r);
    r->in = ring_new(in_cap, in_payload);
    r->out = ring_new(out_cap, out_payload);
    r->reason_offset = (in_payload + 7) & ~7u;
    r->fail = ring_new(64, r->reason_offset + RH_DEV_FAIL_REASON);
    r->config = config;
    rh_dev_worker *w = &r->w;
    w->version = RH_DEV_WORKER_VERSION;
    w->n_inputs = 1;
    w->n_outputs = 1;
    w->lanes = lanes;
    w->block_threads = threads;
    w->config = (uint64_t)(uintptr_t)config;
    w->config_size = config_size;
    w->fail_reason_offset = r->reason_offset;
    w->in[0] = (uint64_t)(uintptr_t)r->in;
    w->out[0] = (uint64_t)(uintptr_t)r->out;
    w->fail = (uint64_t)(uintptr_t)r->fail;
    w->flow = RH_DEV_FLOW_RUN;
    w->flow_gen = 1;
}

static void rig_start(rig *r)
{
    rh_dev_open(&r->b, &r->w);
}

static void rig_close(rig *r)
{
    free(r->in);
    free(r->out);
    free(r->fail);
}

static void set_flow(rig *r, uint32_t f)
{
    __atomic_store_n(&r->w.flow, f, __ATOMIC_RELEASE);
    __atomic_store_n(&r->w.flow_gen, r->w.flow_gen + 1, __ATOMIC_RELEASE);
}

static echo_message echo_msg(uint64_t seq)
{
    echo_message m;
    memset(&m, 0, sizeof m);
    m.seq = seq;
    snprintf(m.text, sizeof m.text, "message %llu", (unsigned long long)seq);
    m.data_len = (uint32_t)(seq % 200);
    for (uint32_t i = 0; i < m.data_len; i++)
        m.data[i] = (uint8_t)(seq * 31 + i);
    return m;
}

/* -------------------------------------------------------------- tests -- */

/* Every message answered once, in order, its payload intact, its envelope
 * as the host's dispatch writes it: the id the host derives, correlation,
 * priority.  Batches are bounded by block_threads / lanes and by the room
 * the output ring has. */
static void test_echo_answers_each_message_with_the_hosts_answer_id(void **st)
{
    (void)st;
    rig r;
    rig_open(&r, 256, 16, sizeof(echo_message), sizeof(echo_message), 1, 64, NULL, 0);
    rig_start(&r);
    const uint64_t N = 200;
    uint64_t sent = 0, got = 0;
    while (got < N) {
        while (sent < N && r.in->head - r.in->tail < r.in->capacity) {
            echo_message m = echo_msg(sent + 1);
            host_push(r.in, sent + 1, &m, sizeof m, 0);
            sent++;
        }
        int n = rh_dev_step_host(&r.b, echo_gpu);
        assert_true(n >= 0 && n <= 16); /* the output ring's 16 slots bound a batch */
        rh_envelope *e;
        while ((e = host_peek(r.out)) != NULL) {
            got++;
            assert_int_equal(e->payload_len, sizeof(echo_message));
            echo_message want = echo_msg(got);
            assert_memory_equal(rh_ring_ctl_payload(e), &want, sizeof want);
            rh_id in_id = {0x1234000000008000ull, 0x8000000000000000ull | got};
            rh_id host_id = rh__id_of_answer(in_id, 0, 0);
            assert_true(e->id.hi == host_id.hi && e->id.lo == host_id.lo);
            assert_true(e->correlation_id.hi == in_id.hi && e->correlation_id.lo == in_id.lo);
            assert_int_equal(e->priority, 7);
            assert_int_equal(e->flags, RH_ENV_HAS_CORRELATION);
            host_pop_done(r.out);
        }
    }
    assert_int_equal(r.in->tail, N); /* every input released */
    assert_int_equal(__atomic_load_n(&r.w.processed, __ATOMIC_RELAXED), N);
    assert_int_equal(__atomic_load_n(&r.w.emitted, __ATOMIC_RELAXED), N);
    assert_int_equal(__atomic_load_n(&r.w.batch_n, __ATOMIC_RELAXED), 0);
    rig_close(&r);
}

/* The host's side of the fail ring, on its own thread as the executor's
 * supervisor: dead-letters (here: records) and releases. */
typedef struct drainer {
    rig *r;
    int stop; /* __atomic: the test sets it, the drainer reads it */
    uint64_t seqs[8];
    char reasons[8][RH_DEV_FAIL_REASON];
    int n;
} drainer;

static void *drain_main(void *arg)
{
    drainer *d = (drainer *)arg;
    while (!__atomic_load_n(&d->stop, __ATOMIC_ACQUIRE)) {
        rh_envelope *e = host_peek(d->r->fail);
        if (!e) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
            continue;
        }
        const echo_message *m = (const echo_message *)rh_ring_ctl_payload(e);
        if (d->n < 8) {
            d->seqs[d->n] = m->seq;
            memcpy(d->reasons[d->n], (const char *)rh_ring_ctl_payload(e) + d->r->reason_offset,
                   RH_DEV_FAIL_REASON);
            d->n++;
        }
        host_pop_done(d->r->fail);
    }
    return NULL;
}

/* A failed message leaves a void slot at its place in the output ring (no
 * answer), its copy and reason in the fail ring, and its input is released
 * only after the host took the failure. */
static void test_a_failed_message_goes_to_the_fail_ring_before_its_input_is_released(void **st)
{
    (void)st;
    echo_gpu_config cfg = {5, 0, 0};
    rig r;
    rig_open(&r, 64, 64, sizeof(echo_message), sizeof(echo_message), 1, 32, &cfg, sizeof cfg);
    rig_start(&r);
    for (uint64_t s = 1; s <= 8; s++) {
        echo_message m = echo_msg(s);
        host_push(r.in, s, &m, sizeof m, 0);
    }
    drainer d;
    memset((void *)&d, 0, sizeof d);
    d.r = &r;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, drain_main, &d), 0);
    assert_int_equal(rh_dev_step_host(&r.b, echo_gpu), 8);
    __atomic_store_n(&d.stop, 1, __ATOMIC_RELEASE);
    pthread_join(t, NULL);
    assert_int_equal(d.n, 1);
    assert_int_equal(d.seqs[0], 5);
    assert_string_equal(d.reasons[0], "echo_gpu: failed on purpose (config fail_seq)");
    assert_int_equal(r.fail->tail, 1); /* taken before the inputs went */
    assert_int_equal(r.in->tail, 8);
    uint32_t answers = 0, voids = 0;
    for (uint64_t p = 0; p < 8; p++) {
        rh_envelope *e = rh_ring_ctl_slot(r.out, p);
        if (e->payload_len == RH_RING_VOID_LEN) {
            voids++;
            assert_int_equal(p, 4); /* seq 5's place */
        } else {
            answers++;
        }
    }
    assert_int_equal(answers, 7);
    assert_int_equal(voids, 1);
    assert_int_equal(__atomic_load_n(&r.w.failed, __ATOMIC_RELAXED), 1);
    assert_int_equal(__atomic_load_n(&r.w.emitted, __ATOMIC_RELAXED), 7);
    rig_close(&r);
}

/* PAUSE: nothing taken, the flow acknowledged; RUN again: taken; STOP: the
 * loop returns. */
static void test_the_loop_follows_the_hosts_flow(void **st)
{
    (void)st;
    rig r;
    rig_open(&r, 64, 64, sizeof(echo_message), sizeof(echo_message), 1, 32, NULL, 0);
    set_flow(&r, RH_DEV_FLOW_PAUSE);
    rig_start(&r);
    echo_message m = echo_msg(1);
    host_push(r.in, 1, &m, sizeof m, 0);
    assert_int_equal(rh_dev_step_host(&r.b, echo_gpu), 0);
    assert_int_equal(r.w.flow_seen, r.w.flow_gen);
    assert_int_equal(r.in->tail, 0);
    set_flow(&r, RH_DEV_FLOW_RUN);
    assert_int_equal(rh_dev_step_host(&r.b, echo_gpu), 1);
    assert_int_equal(r.w.flow_seen, r.w.flow_gen);
    set_flow(&r, RH_DEV_FLOW_STOP);
    /* a busy loop reads the flow every 64th round at least */
    int rc = 0;
    for (int i = 0; i < 64 && rc != -1; i++)
        rc = rh_dev_step_host(&r.b, echo_gpu);
    assert_int_equal(rc, -1);
    assert_int_equal(r.w.flow_seen, r.w.flow_gen);
    rig_close(&r);
}

/* After a device fault the host marks the batch retried and says how many:
 * those go one at a time, then batches again. */
static void test_retried_inputs_go_one_at_a_time(void **st)
{
    (void)st;
    rig r;
    rig_open(&r, 64, 64, sizeof(echo_message), sizeof(echo_message), 1, 32, NULL, 0);
    r.w.retry_n = 3;
    r.w.retry_port = 0;
    rig_start(&r);
    for (uint64_t s = 1; s <= 10; s++) {
        echo_message m = echo_msg(s);
        host_push(r.in, s, &m, sizeof m, s <= 3 ? RH_ENV_RETRIED : 0);
    }
    assert_int_equal(rh_dev_step_host(&r.b, echo_gpu), 1);
    assert_int_equal(rh_dev_step_host(&r.b, echo_gpu), 1);
    assert_int_equal(rh_dev_step_host(&r.b, echo_gpu), 1);
    assert_int_equal(rh_dev_step_host(&r.b, echo_gpu), 7);
    /* a retried input's answer is marked redelivered, for the output
     * bridge's repeat check */
    assert_int_equal(rh_ring_ctl_slot(r.out, 0)->flags, RH_ENV_HAS_CORRELATION | RH_ENV_REDELIVERED);
    assert_int_equal(rh_ring_ctl_slot(r.out, 3)->flags, RH_ENV_HAS_CORRELATION);
    rig_close(&r);
}

/* vector_add_gpu, a warp per request (its lanes run one after another
 * here): the report's three cases and the CPU kernel's error text. */
static void test_vector_add_gpu_answers_as_the_cpu_kernel(void **st)
{
    (void)st;
    rig r;
    rig_open(&r, 8, 8, sizeof(vector_add_request), sizeof(vector_add_response), 32, 1024, NULL,
             0);
    rig_start(&r);
    static vector_add_request rq[4];
    const uint32_t sizes[3] = {10, 25, 100};
    for (int c = 0; c < 3; c++) {
        memset(&rq[c], 0, sizeof rq[c]);
        rq[c].op = VECTOR_ADD_REQUEST_OP_ADD;
        rq[c].a_len = rq[c].b_len = sizes[c];
        for (uint32_t i = 0; i < sizes[c]; i++) {
            rq[c].a[i] = (float)(i + 1) * 0.5f;
            rq[c].b[i] = rq[c].a[i] * (float)(c + 2);
        }
        host_push(r.in, (uint64_t)c + 1, &rq[c], sizeof rq[c], 0);
    }
    memset(&rq[3], 0, sizeof rq[3]);
    rq[3].a_len = 1;
    rq[3].b_len = 4;
    host_push(r.in, 4, &rq[3], sizeof rq[3], 0);
    assert_int_equal(rh_dev_step_host(&r.b, vector_add_gpu), 4);
    for (int c = 0; c < 3; c++) {
        const vector_add_response *rs =
            (const vector_add_response *)rh_ring_ctl_payload(rh_ring_ctl_slot(r.out, (uint64_t)c));
        assert_true(rs->success);
        assert_int_equal(rs->result_len, sizes[c]);
        assert_int_equal(rs->processed_elements, sizes[c]);
        for (uint32_t i = 0; i < sizes[c]; i++)
            assert_true(rs->result[i] == rq[c].a[i] + rq[c].b[i]);
    }
    const vector_add_response *bad =
        (const vector_add_response *)rh_ring_ctl_payload(rh_ring_ctl_slot(r.out, 3));
    assert_false(bad->success);
    assert_string_equal(bad->error, "length mismatch: a has 1 element, b has 4");
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_answers_each_message_with_the_hosts_answer_id),
        cmocka_unit_test(test_a_failed_message_goes_to_the_fail_ring_before_its_input_is_released),
        cmocka_unit_test(test_the_loop_follows_the_hosts_flow),
        cmocka_unit_test(test_retried_inputs_go_one_at_a_time),
        cmocka_unit_test(test_vector_add_gpu_answers_as_the_cpu_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
