/*
 * test_dlq.c — dead-letter queues and the accounting lines.
 *
 * The dead-letter type (its classes, validate, encode, decode), rh__dlq_put
 * on plain queues, the accounting equation on counters that do and do not
 * balance, and then the runtime with real plugins: an invalid, an expired
 * and a kernel-failed message each land in "<kernel>.dlq" with the reason,
 * the original id and payload; a batch failure dead-letters its batch; the
 * accounting lines balance.  The "failing" test kernel
 * (tests/plugins/failing) fails the messages whose text asks for it.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "queue/dlq.h"
#include "queue/type_registry.h"
#include "plugin/plugin.h"
#include "queue/queue_pvt.h"
#include "ringhost/ringhost.h"
#include "rt_fixture.h"
#include "engine/engine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* ------------------------------------------------------------ helpers -- */

/* The echo plugin's echo.message type (the plugin stays loaded). */
static const rh_type *echo_type(void)
{
    static rh_plugin p;
    if (!p.desc) {
        rh_error err;
        if (rh__plugin_open(RH_TEST_PLUGIN_DIR "/echo.so", &p, &err) != 0)
            fail_msg("load echo.so: %s", err.msg);
    }
    return p.desc->inputs[0].type;
}

/* Launch, or NULL with the reason in *err. */
static rh_runtime *try_launch(const char *name, const char *body, rh_error *err)
{
    rh_runtime *rt = NULL;
    return rt_try_launch(name, body, &rt, err) == 0 ? rt : NULL;
}

static rh_id send_json(rh_runtime *rt, const char *qname, const char *json)
{
    rh_id id;
    rt_send_json(rt, qname, json, &id);
    return id;
}

static void wait_idle(rh_runtime *rt)
{
    EXPECT_WITHIN(20, rh_runtime_is_idle(rt), "expected the host idle within 20 s");
    assert_true(rh_runtime_is_idle(rt));
}

/* Take one dead letter from qname (waiting up to 5 s); the caller frees
 * *buf.  Returns its envelope. */
static rh_envelope recv_dead_letter(rh_runtime *rt, const char *qname, rh_dead_letter **buf)
{
    rh_queue *q = rh_runtime_queue(rt, qname);
    if (!q)
        fail_msg("no queue %s", qname);
    assert_true(rh__dlq_is_type(rh_queue_type(q)));
    uint32_t len = rh_queue_payload_size(q);
    *buf = calloc(1, len);
    rh_envelope env;
    int n = rh_recv(q, &env, *buf, len, 5000);
    if (n < 0)
        fail_msg("no dead letter in %s: %s", qname, rh_strerror(n));
    char why[256];
    if (rh_queue_type(q)->validate(*buf, why, sizeof why) != 0)
        fail_msg("the dead letter does not validate: %s", why);
    return env;
}

static rh_queue_stats stats_of(rh_runtime *rt, const char *qname)
{
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(rh_runtime_queue(rt, qname), &s);
    return s;
}

/* Terminate with the log captured; returns it (caller frees). */
static char *terminate_capturing(rh_runtime *rt)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    rt->log = mem;
    assert_int_equal(rh_runtime_terminate(rt, 2000, NULL), 0);
    fclose(mem);
    rt->log = rt_quiet_log();
    return text;
}

static const char *ECHO_BODY =
    "\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": \"echo.message\"}},"
    "\"kernels\": [{\"name\": \"echo\", \"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"},"
    " \"outputs\": {\"out\": \"e.out\"}}]";

static const char *FAILING_BODY =
    "\"queues\": {\"f.in\": {\"type\": \"echo.message\"}, \"f.out\": {\"type\": \"echo.message\"}},"
    "\"kernels\": [{\"name\": \"f\", \"plugin\": \"failing\", \"inputs\": {\"in\": \"f.in\"},"
    " \"outputs\": {\"out\": \"f.out\"}}]";

/* The same with the inline bridge: the kernel reads its batch in f.in's
 * cells and writes its answers into f.out's (engine/inplace.c), so a
 * failed message is dead-lettered from the queue's cell. */
static const char *FAILING_BODY_INLINE =
    "\"queues\": {\"f.in\": {\"type\": \"echo.message\"}, \"f.out\": {\"type\": \"echo.message\"}},"
    "\"kernels\": [{\"name\": \"f\", \"plugin\": \"failing\", \"bridge\": \"inline\", "
    "\"inputs\": {\"in\": \"f.in\"}, \"outputs\": {\"out\": \"f.out\"}}]";

/* ---------------------------------------------------------- the type -- */

static void test_room_is_the_smallest_quarter_octave_class_holding_the_input(void **state)
{
    (void)state;
    struct { uint32_t need, room; } cases[] = {
        {0, 64}, {1, 64}, {64, 64}, {65, 80}, {96, 96}, {97, 112}, {113, 128}, {129, 160},
        {332, 384}, {8204, 10240}, {1u << 20, 1u << 20}, {(1u << 20) + 1, 5u << 18},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rh_type *t = rh__dlq_type_for(cases[i].need);
        assert_non_null(t);
        if (rh__dlq_payload_room(t) != cases[i].room)
            fail_msg("payload of %u bytes: expected room %u, got %u", cases[i].need,
                     cases[i].room, rh__dlq_payload_room(t));
        assert_int_equal(t->size, RH_DLQ_HEADER_SIZE + cases[i].room);
        assert_string_equal(t->name, RH_DLQ_TYPE_NAME);
        assert_true(rh__dlq_is_type(t));
    }
    assert_null(rh__dlq_type_for(UINT32_MAX)); /* past the largest class */
    assert_false(rh__dlq_is_type(echo_type()));
}

static void test_every_class_has_its_own_fingerprint_and_is_found_by_it(void **state)
{
    (void)state;
    const rh_type *prev = NULL;
    for (uint64_t need = 0; need < (1u << 30); need = need ? need * 5 / 4 + 1 : 1) {
        const rh_type *t = rh__dlq_type_for((uint32_t)need);
        assert_non_null(t);
        assert_int_not_equal(t->fingerprint, 0);
        assert_ptr_equal(rh__dlq_type_by_fingerprint(t->fingerprint), t);
        assert_non_null(strstr(t->schema, RH_DLQ_TYPE_NAME));
        if (prev && prev != t)
            assert_int_not_equal(prev->fingerprint, t->fingerprint);
        prev = t;
    }
    assert_null(rh__dlq_type_by_fingerprint(echo_type()->fingerprint));
}

/* A dead letter of echo.message as rh__dlq_put would write it. */
static rh_dead_letter *sample(const rh_type *dt, const char *text)
{
    rh_dead_letter *d = calloc(1, dt->size);
    d->stage = RH_DLQ_FAILED;
    d->id = (rh_id){0x1111, 0x2222};
    d->correlation_id = (rh_id){0x3333, 0x4444};
    d->flags = RH_ENV_HAS_CORRELATION;
    d->priority = 9;
    d->enqueue_ns = 1000;
    d->dead_letter_ns = 2000;
    snprintf(d->reason, sizeof d->reason, "bad input: \xff");
    snprintf(d->kernel, sizeof d->kernel, "k");
    snprintf(d->source_queue, sizeof d->source_queue, "k.in");
    snprintf(d->type, sizeof d->type, "echo.message");
    const rh_type *et = echo_type();
    d->type_fingerprint = et->fingerprint;
    json_t *j = json_pack("{s:i, s:s}", "seq", 42, "text", text);
    char why[128];
    assert_int_equal(et->decode(j, d->payload, why, sizeof why), 0);
    json_decref(j);
    d->payload_len = et->size;
    return d;
}

static void test_validate_refuses_a_bad_stage_length_or_unterminated_text(void **state)
{
    (void)state;
    const rh_type *dt = rh__dlq_type_for(echo_type()->size);
    rh_dead_letter *d = sample(dt, "x");
    char why[256];
    assert_int_equal(dt->validate(d, why, sizeof why), 0);
    d->stage = 0;
    assert_int_not_equal(dt->validate(d, why, sizeof why), 0);
    assert_non_null(strstr(why, "stage"));
    d->stage = RH_DLQ_INVALID;
    d->payload_len = rh__dlq_payload_room(dt) + 1;
    assert_int_not_equal(dt->validate(d, why, sizeof why), 0);
    assert_non_null(strstr(why, "payload_len"));
    d->payload_len = 0;
    memset(d->source_queue, 'q', sizeof d->source_queue);
    assert_int_not_equal(dt->validate(d, why, sizeof why), 0);
    assert_non_null(strstr(why, "source_queue"));
    free(d);
}

static void test_encode_shows_the_payload_with_its_type_when_known_else_base64(void **state)
{
    (void)state;
    const rh_type *dt = rh__dlq_type_for(echo_type()->size);
    rh_dead_letter *d = sample(dt, "hello");
    json_t *o = dt->encode(d); /* echo.message not registered yet */
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "stage")), "failed");
    assert_string_equal(json_string_value(json_object_get(o, "reason")), "bad input: ?");
    assert_string_equal(json_string_value(json_object_get(o, "source_queue")), "k.in");
    assert_string_equal(json_string_value(json_object_get(o, "id")),
                        "00000000-0000-1111-0000-000000002222");
    assert_non_null(json_object_get(o, "correlation_id"));
    assert_non_null(json_object_get(json_object_get(o, "payload"), "base64"));
    json_decref(o);

    rh__type_registry_add(echo_type());
    o = dt->encode(d);
    json_t *payload = json_object_get(o, "payload");
    assert_int_equal(json_integer_value(json_object_get(payload, "seq")), 42);
    assert_string_equal(json_string_value(json_object_get(payload, "text")), "hello");
    json_decref(o);
    rh__type_registry_remove(echo_type());
    free(d);
}

/* Lengths and texts come from shared memory: encode must stay inside the
 * room whatever they say (ASan checks the reads). */
static void test_encode_is_safe_on_any_bytes(void **state)
{
    (void)state;
    const rh_type *dt = rh__dlq_type_for(64);
    unsigned char *junk = malloc(dt->size);
    memset(junk, 0xff, dt->size);
    json_t *o = dt->encode(junk);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "payload_len")), 64);
    assert_int_equal(json_integer_value(json_object_get(o, "stage")), (json_int_t)UINT32_MAX);
    json_decref(o);
    char why[128];
    assert_int_not_equal(dt->validate(junk, why, sizeof why), 0);
    free(junk);
}

static void test_decode_reads_back_what_encode_wrote(void **state)
{
    (void)state;
    const rh_type *dt = rh__dlq_type_for(echo_type()->size);
    rh_dead_letter *d = sample(dt, "round trip");
    snprintf(d->reason, sizeof d->reason, "plain reason");
    rh_dead_letter *back = malloc(dt->size);
    char why[256];
    for (int known = 0; known < 2; known++) {
        if (known)
            rh__type_registry_add(echo_type());
        json_t *o = dt->encode(d);
        if (dt->decode(o, back, why, sizeof why) != 0)
            fail_msg("decode of its own encoding (type %s): %s", known ? "known" : "unknown",
                     why);
        assert_memory_equal(back, d, RH_DLQ_HEADER_SIZE);
        assert_memory_equal(back->payload, d->payload, d->payload_len);
        json_decref(o);
    }
    rh__type_registry_remove(echo_type());
    json_t *bad = json_pack("{s:s}", "stage", "lost");
    assert_int_not_equal(dt->decode(bad, back, why, sizeof why), 0);
    assert_non_null(strstr(why, "stage"));
    json_decref(bad);
    bad = json_pack("{s:{s:s}}", "payload", "base64", "AAAA!");
    assert_int_not_equal(dt->decode(bad, back, why, sizeof why), 0);
    json_decref(bad);
    free(back);
    free(d);
}

/* ------------------------------------------------------------- puts -- */

static rh_queue *plain_queue(const char *name, const rh_type *t, uint32_t capacity,
                             rh_backpressure bp)
{
    rh_queue_config cfg = RH_QUEUE_CONFIG_INIT(.capacity = capacity, .backpressure = bp,
                                               .block_timeout_ms = 5000);
    rh_queue *q;
    rh_error err;
    if (rh_queue_create(NULL, name, t, &cfg, NULL, &q, &err) != 0)
        fail_msg("create %s: %s", name, err.msg);
    return q;
}

static void test_put_keeps_reason_envelope_and_payload_and_counts_the_source(void **state)
{
    (void)state;
    const rh_type *et = echo_type();
    const rh_type *dt = rh__dlq_type_for(et->size);
    rh_queue *src = plain_queue("src", et, 8, RH_BP_BLOCK);
    rh_queue *dlq = plain_queue("src.dlq", dt, 8, RH_BP_DROP_OLDEST);
    unsigned char payload[16] = "0123456789abcde";
    rh_envelope env = {.id = {1, 2}, .correlation_id = {3, 4}, .enqueue_ns = 77,
                       .payload_len = sizeof payload, .priority = 5,
                       .flags = RH_ENV_HAS_CORRELATION, .port = 0};
    assert_int_equal(rh__dlq_put(dlq, src, "kern", et, RH_DLQ_EXPIRED, &env, payload,
                                 "expired: 80 ms in queue src, ttl_ms 50", NULL), 0);
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(src, &s);
    assert_int_equal(s.dead_lettered, 1);

    rh_dead_letter *d = calloc(1, dt->size);
    rh_envelope got;
    assert_int_equal(rh_recv(dlq, &got, d, dt->size, 0), (int)(RH_DLQ_HEADER_SIZE + 16));
    assert_true(rh_id_eq(got.id, env.id)); /* the dead letter keeps the original's id */
    assert_true(rh_id_eq(got.correlation_id, env.correlation_id));
    assert_int_equal(d->stage, RH_DLQ_EXPIRED);
    assert_string_equal(d->reason, "expired: 80 ms in queue src, ttl_ms 50");
    assert_string_equal(d->kernel, "kern");
    assert_string_equal(d->source_queue, "src");
    assert_string_equal(d->type, "echo.message");
    assert_int_equal(d->type_fingerprint, et->fingerprint);
    assert_int_equal(d->enqueue_ns, 77);
    assert_int_equal(d->priority, 5);
    assert_int_equal(d->payload_len, 16);
    assert_memory_equal(d->payload, payload, 16);
    free(d);
    rh_queue_close(dlq);
    rh_queue_close(src);
}

/* A poison flood must never block the thread that dead-letters: the
 * dead-letter queue drops its oldest, and counts it. */
static void test_full_dead_letter_queue_drops_its_oldest_and_never_blocks(void **state)
{
    (void)state;
    const rh_type *et = echo_type();
    rh_queue_config defaults = RH_QUEUE_CONFIG_INIT(.capacity = 4096, .backpressure = RH_BP_BLOCK,
                                                    .block_timeout_ms = 5000, .dedup_window = 64,
                                                    .ttl_ms = 10);
    rh_queue_config c = rh__dlq_config(&defaults, NULL);
    assert_int_equal(c.capacity, RH_DLQ_CAPACITY_DEFAULT);
    assert_int_equal(c.backpressure, RH_BP_DROP_OLDEST);
    assert_int_equal(c.dedup_window, 0);
    assert_int_equal(c.ttl_ms, 0);
    rh_queue_config declared = defaults;
    declared.capacity = 2; /* declared with block: becomes drop_oldest */
    declared.dedup_window = 0;
    c = rh__dlq_config(&defaults, &declared);
    assert_int_equal(c.capacity, 2);
    assert_int_equal(c.backpressure, RH_BP_DROP_OLDEST);
    declared.backpressure = RH_BP_REJECT;
    assert_int_equal(rh__dlq_config(&defaults, &declared).backpressure, RH_BP_REJECT);

    rh_queue *src = plain_queue("flood", et, 8, RH_BP_BLOCK);
    declared.backpressure = RH_BP_BLOCK;
    c = rh__dlq_config(&defaults, &declared);
    rh_dead_letter *d = calloc(1, rh__dlq_type_for(et->size)->size);
    rh_queue *dlq;
    assert_int_equal(rh_queue_create(NULL, "flood.dlq", rh__dlq_type_for(et->size), &c, NULL,
                                     &dlq, NULL), 0);
    uint64_t t0 = rh_now_ns();
    for (uint64_t i = 1; i <= 5; i++) {
        rh_envelope env = {.id = {0, i}};
        assert_int_equal(rh__dlq_put(dlq, src, "k", et, RH_DLQ_INVALID, &env, NULL, "x", NULL),
                         0);
    }
    assert_true(rh_now_ns() - t0 < 1000000000ull); /* nowhere near block_timeout_ms */
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(dlq, &s);
    assert_int_equal(s.dropped_oldest, 3);
    assert_int_equal(s.depth, 2);
    rh_queue_stats_get(src, &s);
    assert_int_equal(s.dead_lettered, 5);
    rh_envelope env;
    assert_true(rh_recv(dlq, &env, d, rh_queue_payload_size(dlq), 0) >= 0);
    assert_int_equal(env.id.lo, 4); /* the newest two are kept */
    free(d);
    rh_queue_close(dlq);
    rh_queue_close(src);
}

/* ------------------------------------------------------- accounting -- */

static void test_accounting_balances_when_every_message_is_somewhere(void **state)
{
    (void)state;
    /* 20 accepted: 2 dropped oldest, 4 left in the queue; of the 14 taken,
     * 1 duplicate, 2 expired, 1 invalid refused by the bridge, 10 moved to
     * the kernel, 3 of them still in its ring and 2 failed. */
    rh_queue_stats s = {.enqueued = 20, .dequeued = 14, .depth = 4, .dropped_oldest = 2,
                        .duplicates = 1, .expired = 2, .invalid = 1, .failed = 2,
                        .dead_lettered = 5, .rejected = 7, .dropped_newest = 1};
    rh_queue_account a;
    assert_true(rh__queue_account_of(&s, 1, 10, 3, &a));
    assert_int_equal(a.accepted, 20);
    assert_int_equal(a.delivered, 5);
    assert_int_equal(a.dead_lettered, 5);
    assert_int_equal(a.dropped, 3);
    assert_int_equal(a.queued, 7);
    assert_int_equal(a.refused, 8);
    assert_int_equal(a.missing, 0);
    /* a queue no kernel reads: what consumers took is delivered */
    rh_queue_stats out = {.enqueued = 9, .dequeued = 6, .depth = 2, .dropped_oldest = 1};
    assert_true(rh__queue_account_of(&out, 0, 0, 0, &a));
    assert_int_equal(a.delivered, 6);
}

static void test_accounting_that_does_not_balance_says_how_many_are_missing(void **state)
{
    (void)state;
    rh_queue_stats s = {.enqueued = 20, .dequeued = 14, .depth = 4, .dropped_oldest = 2,
                        .duplicates = 1, .expired = 2, .invalid = 1, .failed = 2,
                        .dead_lettered = 5};
    rh_queue_account a;
    /* the bridge lost one: it moved 9, not 10 */
    assert_false(rh__queue_account_of(&s, 1, 9, 3, &a));
    assert_int_equal(a.missing, 1);
    /* a refusal or failure that was not dead-lettered */
    s.dead_lettered = 4;
    assert_false(rh__queue_account_of(&s, 1, 10, 3, &a));
    assert_int_equal(a.missing, 1);
    /* counted twice */
    s.dead_lettered = 6;
    assert_false(rh__queue_account_of(&s, 1, 10, 3, &a));
    assert_int_equal(a.missing, -1);
    /* more failed than the kernel ever took: delivered would be negative */
    rh_queue_stats f = {.enqueued = 2, .dequeued = 2, .failed = 3, .dead_lettered = 3};
    assert_false(rh__queue_account_of(&f, 1, 2, 0, &a));
}

/* Counters read from a shared header another process may have scribbled on:
 * sums and differences that do not fit are an
 * impossible line, never a balanced one, and never undefined behaviour
 * (the UBSan build aborts on a signed overflow here without the checks). */
static void test_accounting_of_counters_no_queue_can_hold_is_impossible_not_undefined(void **state)
{
    (void)state;
    rh_queue_account a;
    /* failed past INT64_MAX: moved - in_rings - failed does not fit */
    rh_queue_stats k = {.enqueued = 2, .dequeued = 2, .failed = 1ull << 63};
    assert_false(rh__queue_account_of(&k, 1, 2, 0, &a));
    assert_true(a.impossible);
    /* a client queue that says it handed out more than fits a count */
    rh_queue_stats c = {.enqueued = 1, .dequeued = UINT64_MAX};
    assert_false(rh__queue_account_of(&c, 0, 0, 0, &a));
    assert_true(a.impossible);
    /* dead-lettered + dropped + queued wrap around */
    rh_queue_stats w = {.enqueued = 3, .dequeued = 3, .dead_lettered = UINT64_MAX,
                        .dropped_oldest = 2, .depth = UINT64_MAX};
    assert_false(rh__queue_account_of(&w, 0, 0, 1, &a));
    assert_true(a.impossible);
    /* and a true line is still balanced, and not impossible */
    rh_queue_stats t = {.enqueued = 5, .dequeued = 5};
    assert_true(rh__queue_account_of(&t, 0, 0, 0, &a));
    assert_false(a.impossible);
}

/* ------------------------------------------------------------ runtime -- */

static void test_every_kernel_gets_a_shared_dead_letter_queue(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("every", "\"kernels\": [{\"name\": \"a\", \"plugin\": \"echo\"}, "
                                     "{\"name\": \"b\", \"plugin\": \"vector_add\"}]");
    for (int i = 0; i < 2; i++) {
        const char *name = i ? "b.dlq" : "a.dlq";
        rh_queue *q = rh_runtime_queue(rt, name);
        if (!q)
            fail_msg("no queue %s", name);
        assert_string_equal(rh_queue_type_name(q), RH_DLQ_TYPE_NAME);
        assert_int_equal(rh_queue_config_of(q)->backpressure, RH_BP_DROP_OLDEST);
        assert_int_equal(rh_queue_config_of(q)->capacity, RH_DLQ_CAPACITY_DEFAULT);
        assert_true(rh_queue_config_of(q)->shared);
        /* a dead letter holds the kernel's largest input */
        const rh_type *in = rt->kernels[i].desc->inputs[0].type;
        assert_true(rh__dlq_payload_room(rh_queue_type(q)) >= in->size);
        char shm[256];
        snprintf(shm, sizeof shm, "/dev/shm/ringhost.%s:%s", rh_runtime_instance(rt), name);
        assert_int_equal(access(shm, F_OK), 0);
    }
    for (uint32_t i = 0; rh_runtime_queue_name(rt, i); i++)
        if (strstr(rh_runtime_queue_name(rt, i), ".dlq"))
            assert_false(rh_runtime_queue_consumed(rt, i)); /* a host output */
    rh_runtime_destroy(rt);
}

static void test_a_declared_dead_letter_queue_keeps_its_settings_but_never_blocks(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("declared",
                            "\"queues\": {\"echo.dlq\": {\"capacity\": 4, \"backpressure\": "
                            "\"block\", \"type\": \"ringhost.dead_letter\"}}, \"kernels\": "
                            "[{\"name\": \"echo\", \"plugin\": \"echo\"}]");
    rh_queue *q = rh_runtime_queue(rt, "echo.dlq");
    assert_non_null(q);
    assert_int_equal(rh_queue_config_of(q)->capacity, 4);
    assert_int_equal(rh_queue_config_of(q)->backpressure, RH_BP_DROP_OLDEST);
    assert_true(rh__dlq_is_type(rh_queue_type(q)));
    rh_runtime_destroy(rt);
}

static void test_wiring_refuses_what_would_clash_with_a_dead_letter_queue(void **state)
{
    (void)state;
    rh_error err = {0};
    /* a port of another type wired to "<kernel>.dlq" */
    assert_null(try_launch("clash", "\"queues\": {\"a.dlq\": {}}, "
                                    "\"kernels\": [{\"name\": \"a\", \"plugin\": \"echo\"}, "
                                    "{\"name\": \"b\", \"plugin\": \"echo\", \"inputs\": "
                                    "{\"in\": \"a.dlq\"}}]", &err));
    if (err.code != RH_ETYPE)
        fail_msg("expected RH_ETYPE, got %d: %s", err.code, err.msg);
    assert_non_null(strstr(err.msg, "kernels[1].inputs.in"));
    assert_non_null(strstr(err.msg, "dead-letter queue of kernels[0]"));
    /* the dead-letter type on a queue that is no kernel's dead-letter queue */
    assert_null(try_launch("notdlq", "\"queues\": {\"x\": {\"type\": \"ringhost.dead_letter\"}},"
                                     "\"kernels\": [{\"name\": \"a\", \"plugin\": \"echo\"}]",
                           &err));
    assert_int_equal(err.code, RH_EMANIFEST);
    assert_non_null(strstr(err.msg, "queues.x.type"));
    assert_non_null(strstr(err.msg, "dead-letter queue"));
    /* a kernel name that leaves no room for ".dlq" */
    char body[512];
    snprintf(body, sizeof body, "\"kernels\": [{\"name\": \"%.61s\", \"plugin\": \"echo\", "
             "\"inputs\": {\"in\": \"i\"}, \"outputs\": {\"out\": \"o\"}}], \"queues\": {\"i\": "
             "{\"type\": \"echo.message\"}, \"o\": {\"type\": \"echo.message\"}}",
             "kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk");
    assert_null(try_launch("long", body, &err));
    assert_non_null(strstr(err.msg, "kernels[0].name"));
    assert_non_null(strstr(err.msg, ".dlq"));
}

static void test_invalid_message_is_dead_lettered_with_the_validate_reason(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("invalid", ECHO_BODY);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rh_queue *q = rh_runtime_queue(rt, "e.in");
    const rh_type *t = rh_queue_type(q);
    unsigned char *junk = malloc(t->size);
    memset(junk, 0xff, t->size); /* no NUL in text, lengths past their max */
    char why[256];
    assert_int_not_equal(t->validate(junk, why, sizeof why), 0);
    rh_id id;
    assert_int_equal(rh_send(q, NULL, junk, t->size, &id), 0);
    send_json(rt, "e.in", "{\"seq\": 3}");
    wait_idle(rt);

    rh_dead_letter *d;
    rh_envelope env = recv_dead_letter(rt, "echo.dlq", &d);
    assert_true(rh_id_eq(env.id, id));
    assert_true(rh_id_eq(d->id, id));
    assert_int_equal(d->stage, RH_DLQ_INVALID);
    assert_string_equal(d->reason, why); /* what validate said */
    assert_string_equal(d->source_queue, "e.in");
    assert_string_equal(d->kernel, "echo");
    assert_int_equal(d->payload_len, t->size);
    assert_memory_equal(d->payload, junk, t->size);
    rh_queue_stats s = stats_of(rt, "e.in");
    assert_int_equal(s.invalid, 1);
    assert_int_equal(s.dead_lettered, 1);
    assert_int_equal(rh_runtime_kernel_processed(rt, "echo"), 1);
    free(d);
    free(junk);
    rh_runtime_destroy(rt);
}

static void test_expired_message_is_dead_lettered_with_its_age(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("ttl", "\"queues\": {\"e.in\": {\"type\": \"echo.message\", "
                                   "\"ttl_ms\": 50}}, \"kernels\": [{\"name\": \"echo\", "
                                   "\"plugin\": \"echo\", \"inputs\": {\"in\": \"e.in\"}}]");
    rh_id id = send_json(rt, "e.in", "{\"seq\": 1, \"text\": \"late\"}"); /* waits, ages */
    sleep_ms(120); /* a sleep, not a wait: the message must outlive its 50 ms ttl */
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    wait_idle(rt);
    rh_dead_letter *d;
    rh_envelope env = recv_dead_letter(rt, "echo.dlq", &d);
    assert_true(rh_id_eq(env.id, id));
    assert_int_equal(d->stage, RH_DLQ_EXPIRED);
    if (!strstr(d->reason, "ttl_ms 50") || !strstr(d->reason, "in queue e.in"))
        fail_msg("expected the reason to give the age and ttl_ms, got \"%s\"", d->reason);
    assert_true(d->dead_letter_ns - d->enqueue_ns >= 50000000ull);
    json_t *o = rh_queue_type(rh_runtime_queue(rt, "echo.dlq"))->encode(d);
    json_t *payload = json_object_get(o, "payload"); /* decoded with echo.message */
    assert_string_equal(json_string_value(json_object_get(payload, "text")), "late");
    assert_string_equal(json_string_value(json_object_get(o, "stage")), "expired");
    json_decref(o);
    rh_queue_stats s = stats_of(rt, "e.in");
    assert_int_equal(s.expired, 1);
    assert_int_equal(s.dead_lettered, 1);
    assert_int_equal(rh_runtime_kernel_processed(rt, "echo"), 0);
    free(d);
    rh_runtime_destroy(rt);
}

static void kernel_failed_message_is_dead_lettered(const char *name, const char *body)
{
    rh_runtime *rt = rt_launch(name, body);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rh_id id = send_json(rt, "f.in", "{\"seq\": 8, \"text\": \"fail:no such customer\"}");
    send_json(rt, "f.in", "{\"seq\": 9, \"text\": \"fine\"}");
    wait_idle(rt);
    rh_dead_letter *d;
    rh_envelope env = recv_dead_letter(rt, "f.dlq", &d);
    assert_true(rh_id_eq(env.id, id));
    assert_int_equal(d->stage, RH_DLQ_FAILED);
    assert_string_equal(d->reason, "no such customer");
    assert_string_equal(d->source_queue, "f.in");
    rh_queue_stats s = stats_of(rt, "f.in");
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.dead_lettered, 1);
    assert_int_equal(stats_of(rt, "f.out").enqueued, 1); /* "fine" answered */
    assert_int_equal(stats_of(rt, "f.dlq").depth, 0);    /* one dead letter only */
    free(d);
    rh_runtime_destroy(rt);
}

static void test_kernel_failed_message_is_dead_lettered_with_the_kernels_reason(void **state)
{
    (void)state;
    kernel_failed_message_is_dead_lettered("failed", FAILING_BODY);
}

static void test_kernel_failed_message_read_in_place_is_dead_lettered_from_its_cell(void **state)
{
    (void)state;
    kernel_failed_message_is_dead_lettered("failedinl", FAILING_BODY_INLINE);
}

static void failing_a_message_twice_dead_letters_it_once(const char *name, const char *body)
{
    rh_runtime *rt = rt_launch(name, body);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"fail-twice\"}");
    send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"fail-null\"}"); /* a failure of no message: not counted */
    wait_idle(rt);
    rh_dead_letter *d;
    recv_dead_letter(rt, "f.dlq", &d);
    assert_string_equal(d->reason, "first");
    rh_queue_stats s = stats_of(rt, "f.in");
    assert_int_equal(s.failed, 1);
    assert_int_equal(s.dead_lettered, 1);
    assert_int_equal(stats_of(rt, "f.dlq").depth, 0);
    char *log = terminate_capturing(rt);
    assert_non_null(strstr(log, "accounting: queue f.in: accepted 2 = delivered 1 + "
                                "dead-lettered 1 + dropped 0 + queued 0: balanced"));
    free(log);
    free(d);
    rh_runtime_destroy(rt);
}

/* process() < 0 fails its whole batch: every message is dead-lettered
 * once, those the kernel had already rh_fail'ed included, with their own
 * reason. */
static void test_failing_a_message_twice_dead_letters_it_once(void **state)
{
    (void)state;
    failing_a_message_twice_dead_letters_it_once("twice", FAILING_BODY);
    failing_a_message_twice_dead_letters_it_once("twiceinl", FAILING_BODY_INLINE);
}

static void batch_failure_dead_letters_every_message(const char *name, const char *body)
{
    rh_runtime *rt = rt_launch(name, body);
    rh_id ids[3];
    ids[0] = send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"ok\"}");
    ids[1] = send_json(rt, "f.in", "{\"seq\": 1, \"text\": \"fail:mine\"}");
    ids[2] = send_json(rt, "f.in", "{\"seq\": 2, \"text\": \"fail-batch\"}");
    assert_int_equal(rh_runtime_activate(rt, NULL), 0); /* one burst, one batch */
    wait_idle(rt);
    int seen[3] = {0};
    for (int i = 0; i < 3; i++) {
        rh_dead_letter *d;
        rh_envelope env = recv_dead_letter(rt, "f.dlq", &d);
        int j = rh_id_eq(env.id, ids[0]) ? 0 : rh_id_eq(env.id, ids[1]) ? 1 : 2;
        assert_true(rh_id_eq(env.id, ids[j]));
        seen[j]++;
        assert_int_equal(d->stage, RH_DLQ_FAILED);
        if (j == 1)
            assert_string_equal(d->reason, "mine");
        else if (!strstr(d->reason, "process() returned -1 for its batch of 3"))
            fail_msg("message %d: expected the batch failure as reason, got \"%s\"", j,
                     d->reason);
        free(d);
    }
    assert_int_equal(seen[0] + seen[1] + seen[2], 3);
    assert_true(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
    rh_queue_stats s = stats_of(rt, "f.in");
    assert_int_equal(s.failed, 3);
    assert_int_equal(s.dead_lettered, 3);
    assert_int_equal(stats_of(rt, "f.out").enqueued, 0);
    rh_runtime_destroy(rt);
}

static void test_batch_failure_dead_letters_every_message_of_the_batch(void **state)
{
    (void)state;
    batch_failure_dead_letters_every_message("batch", FAILING_BODY);
    batch_failure_dead_letters_every_message("batchinl", FAILING_BODY_INLINE);
}

/*
 * The output queue's backpressure policies on the in-place path: echo with
 * an inline bridge (one worker, then two sharing e.out), e.out of 4 cells
 * nobody reads, 24 messages.  While e.out has room the answers are written
 * in its cells; once it is full they go through the output ring and the
 * policy decides, as on the copying path: reject and block (its timeout)
 * refuse and count them, drop_newest drops them, drop_oldest evicts the
 * oldest, keeping the last 4 answers.  Every line balances at terminate,
 * the kernel's too (emitted = sent + refused + ...).
 */
static void output_policy_in_place(const char *policy, const char *workers)
{
    char body[768];
    snprintf(body, sizeof body,
             "\"queues\": {\"e.in\": {\"type\": \"echo.message\"}, \"e.out\": {\"type\": "
             "\"echo.message\", \"capacity\": 4, \"backpressure\": \"%s\", "
             "\"block_timeout_ms\": 20}}, \"kernels\": [{\"name\": \"echo\", \"plugin\": "
             "\"echo\", \"bridge\": \"inline\", \"batch\": 4%s, \"inputs\": {\"in\": "
             "\"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]",
             policy, workers);
    char name[32];
    snprintf(name, sizeof name, "bp%s%s", policy, workers[0] ? "2" : "");
    rh_runtime *rt = rt_launch(name, body);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    for (int i = 0; i < 24; i++) {
        char json[64];
        snprintf(json, sizeof json, "{\"seq\": %d}", i);
        send_json(rt, "e.in", json);
    }
    wait_idle(rt);
    rh_queue_stats s = stats_of(rt, "e.out");
    assert_int_equal(s.depth, 4);
    if (!strcmp(policy, "drop_oldest")) {
        assert_int_equal(s.dropped_oldest, 20);
        if (!workers[0]) { /* one worker answers in order: the last 4 stay */
            rh_queue *out = rh_runtime_queue(rt, "e.out");
            void *buf = calloc(1, rh_queue_payload_size(out));
            rh_envelope env;
            for (uint64_t want = 20; want < 24; want++) {
                assert_true(rh_recv(out, &env, buf, rh_queue_payload_size(out), 0) >= 0);
                assert_int_equal(*(uint64_t *)buf, want); /* echo.message starts with seq */
            }
            free(buf);
        }
    } else if (!strcmp(policy, "drop_newest")) {
        assert_int_equal(s.dropped_newest, 20);
    } else {
        assert_int_equal(s.rejected, 20);
    }
    char *log = terminate_capturing(rt);
    assert_int_equal(rh_runtime_unbalanced(rt), 0);
    if (!strstr(log, "accounting: kernel echo: emitted 24 = sent ") ||
        !strstr(log, "every answer accounted for"))
        fail_msg("%s: expected the kernel's 24 answers accounted for, got:\n%s", name, log);
    free(log);
    rh_runtime_destroy(rt);
}

static void test_output_queue_policies_hold_on_the_in_place_path(void **state)
{
    (void)state;
    const char *policies[] = {"reject", "drop_newest", "drop_oldest", "block"};
    for (int i = 0; i < 4; i++) {
        output_policy_in_place(policies[i], "");
        output_policy_in_place(policies[i], ", \"workers\": 2");
    }
}

static void test_terminate_prints_one_balanced_accounting_line_per_queue(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("lines", "\"queues\": {\"f.in\": {\"type\": \"echo.message\", "
                                     "\"dedup_window\": 8}, \"f.out\": {\"type\": "
                                     "\"echo.message\"}}, \"kernels\": [{\"name\": \"f\", "
                                     "\"plugin\": \"failing\", \"inputs\": {\"in\": \"f.in\"}, "
                                     "\"outputs\": {\"out\": \"f.out\"}}]");
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    rh_queue *in = rh_runtime_queue(rt, "f.in");
    const rh_type *t = rh_queue_type(in);
    void *buf = calloc(1, t->size);
    rh_envelope env = {.id = rh_id_new()};
    for (int i = 0; i < 3; i++) /* one delivered, two duplicates */
        assert_int_equal(rh_send(in, &env, buf, t->size, NULL), 0);
    send_json(rt, "f.in", "{\"seq\": 0, \"text\": \"fail:nope\"}");
    wait_idle(rt);
    char *log = terminate_capturing(rt);
    assert_int_equal(rh_runtime_unbalanced(rt), 0);
    const char *want[] = {
        "accounting: queue f.in: accepted 4 = delivered 1 + dead-lettered 1 + dropped 2 + "
        "queued 0: balanced",
        "accounting: queue f.out: accepted 1 = delivered 0 + dead-lettered 0 + dropped 0 + "
        "queued 1: balanced",
        "accounting: queue f.dlq: accepted 1 = delivered 0 + dead-lettered 0 + dropped 0 + "
        "queued 1: balanced",
    };
    for (size_t i = 0; i < 3; i++)
        if (!strstr(log, want[i]))
            fail_msg("expected \"%s\" in:\n%s", want[i], log);
    assert_non_null(strstr(log, "summary: queue f.in:"));
    assert_non_null(strstr(log, "dead_lettered 1"));
    free(log);
    free(buf);
    rh_runtime_destroy(rt);
}

/* A message taken from a kernel's input queue that neither reached the
 * kernel nor was dead-lettered (what a bridge that drops refusals would
 * leave) shows as a line that does not balance; dead-lettering it restores
 * the balance.  The same message received by a client, not by a bridge, is
 * delivered (to the client): balanced. */
static void test_a_message_neither_delivered_nor_dead_lettered_unbalances_its_line(void **state)
{
    (void)state;
    rh_runtime *rt = rt_launch("unbal", ECHO_BODY);
    assert_int_equal(rh_runtime_activate(rt, NULL), 0);
    send_json(rt, "e.in", "{\"seq\": 1}");
    wait_idle(rt);
    free(terminate_capturing(rt));
    assert_int_equal(rh_runtime_unbalanced(rt), 0);

    /* the bridges are stopped: take one from e.in behind the kernel's back */
    rh_queue *in = rh_runtime_queue(rt, "e.in");
    send_json(rt, "e.in", "{\"seq\": 2}");
    void *buf = calloc(1, rh_queue_payload_size(in));
    rh_envelope env;
    assert_true(rh_recv(in, &env, buf, rh_queue_payload_size(in), 0) >= 0);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    assert_int_equal(rh_runtime_report_accounting(rt, mem), 0);
    fclose(mem);
    if (!strstr(text, "accounting: queue e.in: accepted 2 = delivered 2 + dead-lettered 0"))
        fail_msg("expected what a client received from e.in counted delivered, got:\n%s", text);
    free(text);

    /* now as the kernel's bridge: counted taken by it, never moved */
    rh_kinst *k = &rt->kernels[0];
    atomic_fetch_add(&k->in_bridges[0].taken, 1);
    mem = open_memstream(&text, &len);
    assert_int_equal(rh_runtime_report_accounting(rt, mem), 1);
    fclose(mem);
    if (!strstr(text, "accounting: queue e.in: accepted 2 != delivered 1 + dead-lettered 0") ||
        !strstr(text, "UNBALANCED, 1 message(s) unaccounted for"))
        fail_msg("expected e.in to be reported unbalanced by 1, got:\n%s", text);
    free(text);

    assert_int_equal(rh__dlq_put(k->dlq, in, "echo", rh_queue_type(in), RH_DLQ_INVALID, &env, buf,
                                 "taken aside", NULL), 0);
    mem = open_memstream(&text, &len);
    assert_int_equal(rh_runtime_report_accounting(rt, mem), 0);
    fclose(mem);
    if (!strstr(text, "accounting: queue e.in: accepted 2 = delivered 1 + dead-lettered 1"))
        fail_msg("expected e.in to balance once the message is dead-lettered, got:\n%s", text);
    free(text);
    free(buf);
    rh_runtime_destroy(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_room_is_the_smallest_quarter_octave_class_holding_the_input),
        cmocka_unit_test(test_every_class_has_its_own_fingerprint_and_is_found_by_it),
        cmocka_unit_test(test_validate_refuses_a_bad_stage_length_or_unterminated_text),
        cmocka_unit_test(test_encode_shows_the_payload_with_its_type_when_known_else_base64),
        cmocka_unit_test(test_encode_is_safe_on_any_bytes),
        cmocka_unit_test(test_decode_reads_back_what_encode_wrote),
        cmocka_unit_test(test_put_keeps_reason_envelope_and_payload_and_counts_the_source),
        cmocka_unit_test(test_full_dead_letter_queue_drops_its_oldest_and_never_blocks),
        cmocka_unit_test(test_accounting_balances_when_every_message_is_somewhere),
        cmocka_unit_test(test_accounting_that_does_not_balance_says_how_many_are_missing),
        cmocka_unit_test(test_accounting_of_counters_no_queue_can_hold_is_impossible_not_undefined),
        cmocka_unit_test(test_every_kernel_gets_a_shared_dead_letter_queue),
        cmocka_unit_test(test_a_declared_dead_letter_queue_keeps_its_settings_but_never_blocks),
        cmocka_unit_test(test_wiring_refuses_what_would_clash_with_a_dead_letter_queue),
        cmocka_unit_test(test_invalid_message_is_dead_lettered_with_the_validate_reason),
        cmocka_unit_test(test_expired_message_is_dead_lettered_with_its_age),
        cmocka_unit_test(test_kernel_failed_message_is_dead_lettered_with_the_kernels_reason),
        cmocka_unit_test(test_failing_a_message_twice_dead_letters_it_once),
        cmocka_unit_test(test_kernel_failed_message_read_in_place_is_dead_lettered_from_its_cell),
        cmocka_unit_test(test_output_queue_policies_hold_on_the_in_place_path),
        cmocka_unit_test(test_batch_failure_dead_letters_every_message_of_the_batch),
        cmocka_unit_test(test_terminate_prints_one_balanced_accounting_line_per_queue),
        cmocka_unit_test(test_a_message_neither_delivered_nor_dead_lettered_unbalances_its_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
