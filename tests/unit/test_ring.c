/*
 * test_ring.c — the SPSC kernel ring: order, bounds, zero-copy calls,
 * wrap-around, and a two-thread run checked message by message.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "expect.h"

#include "ring/ring.h"
#include "ringhost/ringhost.h"

static rh_ring *make_ring(uint32_t capacity, uint32_t payload)
{
    rh_ring *r = rh__ring_create(&rh__ring_mem_heap, capacity, payload);
    EXPECT(r != NULL, "expected a ring of %u slots x %u bytes", capacity, payload);
    return r;
}

static int push_u64(rh_ring *r, uint64_t v)
{
    rh_envelope env = {.id = {v, ~v}};
    return rh__ring_push(r, &env, &v, sizeof v);
}

static uint64_t pop_u64(rh_ring *r)
{
    rh_envelope env;
    uint64_t v = 0;
    int rc = rh__ring_pop(r, &env, &v, sizeof v);
    EXPECT(rc == (int)sizeof v, "expected an 8-byte message, got %d", rc);
    EXPECT(env.id.hi == v && env.id.lo == ~v, "the envelope must travel with its payload");
    return v;
}

static void test_create_rejects_capacity_that_is_not_a_power_of_two(void **state)
{
    (void)state;
    static const uint32_t bad[] = {0, 1, 3, 1000, (1u << 24) + 1, 1u << 25};
    /* One validation for every allocator: refused before any memory. */
    const rh_ring_mem *mems[] = {&rh__ring_mem_heap, &rh__ring_mem_shared};
    for (size_t m = 0; m < 2; m++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            rh_ring *r = rh__ring_create(mems[m], bad[i], 8);
            EXPECT(r == NULL, "expected capacity %u to be refused (%s)", bad[i], mems[m]->name);
        }
}

static void test_slots_are_64_byte_aligned_and_hold_envelope_plus_payload(void **state)
{
    (void)state;
    static const uint32_t payloads[] = {0, 1, 16, 17, 100, 4096};
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        rh_ring *r = make_ring(8, payloads[i]);
        uint32_t size = r->ctl.slot_size;
        EXPECT(size % 64 == 0, "slot size %u is not a multiple of 64", size);
        EXPECT(size >= sizeof(rh_envelope) + payloads[i] &&
                   size < sizeof(rh_envelope) + payloads[i] + 64,
               "expected round_up(48 + %u, 64), got %u", payloads[i], size);
        for (uint64_t p = 0; p < 8; p++)
            EXPECT(((uintptr_t)rh_ring_slot(r, p) & 63) == 0, "slot %llu is not 64-byte aligned",
                   (unsigned long long)p);
        rh__ring_destroy(r);
    }
}

static void test_push_then_pop_preserves_order(void **state)
{
    (void)state;
    rh_ring *r = make_ring(16, 8);
    for (uint64_t i = 0; i < 16; i++)
        EXPECT(push_u64(r, i) == 0, "push %llu of 16 into a 16-slot ring failed",
               (unsigned long long)i);
    for (uint64_t i = 0; i < 16; i++) {
        uint64_t v = pop_u64(r);
        EXPECT(v == i, "expected message %llu, got %llu", (unsigned long long)i,
               (unsigned long long)v);
    }
    rh__ring_destroy(r);
}

static void test_full_ring_refuses_push_and_empty_ring_refuses_pop(void **state)
{
    (void)state;
    rh_ring *r = make_ring(4, 8);
    uint64_t v;
    EXPECT(rh__ring_pop(r, NULL, &v, sizeof v) == RH_EEMPTY, "expected RH_EEMPTY from a new ring");
    for (uint64_t i = 0; i < 4; i++)
        EXPECT(push_u64(r, i) == 0, "push %llu into a 4-slot ring failed", (unsigned long long)i);
    EXPECT(rh__ring_count(r) == 4 && rh__ring_free(r) == 0, "expected count 4, free 0; got %u, %u",
           rh__ring_count(r), rh__ring_free(r));
    EXPECT(push_u64(r, 99) == RH_EFULL, "expected RH_EFULL from the 5th push into 4 slots");
    pop_u64(r);
    EXPECT(push_u64(r, 4) == 0, "one pop must make room for one push");
    for (uint64_t i = 1; i <= 4; i++)
        EXPECT(pop_u64(r) == i, "expected message %llu after refill", (unsigned long long)i);
    EXPECT(rh__ring_pop(r, NULL, &v, sizeof v) == RH_EEMPTY, "expected RH_EEMPTY once drained");
    rh__ring_destroy(r);
}

static void test_reserve_commit_peek_release_work_in_place(void **state)
{
    (void)state;
    rh_ring *r = make_ring(8, 32);
    uint64_t pos;
    uint32_t got = rh__ring_reserve(r, 5, &pos);
    EXPECT(got == 5 && pos == 0, "expected 5 slots at 0, got %u at %llu", got,
           (unsigned long long)pos);
    for (uint32_t i = 0; i < got; i++) {
        rh_envelope *slot = rh_ring_slot(r, pos + i);
        slot->payload_len = 4;
        slot->priority = (uint8_t)i;
        memcpy(rh_ring_payload(slot), &i, 4);
    }
    uint64_t cpos;
    EXPECT(rh__ring_peek(r, 8, &cpos) == 0, "reserved but uncommitted slots must not be visible");
    rh__ring_commit(r, got);

    EXPECT(rh__ring_peek(r, 8, &cpos) == 5 && cpos == 0, "expected to peek the 5 committed slots");
    for (uint32_t i = 0; i < 5; i++) {
        rh_envelope *slot = rh_ring_slot(r, cpos + i);
        uint32_t v;
        memcpy(&v, rh_ring_payload(slot), 4);
        EXPECT(v == i && slot->priority == i, "peeked slot %u holds %u", i, v);
    }
    rh__ring_release(r, 2);
    EXPECT(rh__ring_count(r) == 3, "after releasing 2 of 5, expected 3 left, got %u",
           rh__ring_count(r));
    EXPECT(rh__ring_peek(r, 8, &cpos) == 3 && cpos == 2, "expected the 3 unreleased slots at 2");
    EXPECT(rh__ring_reserve(r, 8, &pos) == 5 && pos == 5,
           "expected reserve to offer exactly the 5 free slots at position 5");
    rh__ring_destroy(r);
}

static void test_wrap_around_keeps_order_and_contents(void **state)
{
    (void)state;
    rh_ring *r = make_ring(4, 8);
    uint64_t next_in = 0, next_out = 0;
    /* Uneven bursts so the indices cross the end of the slot array at
     * every offset. */
    for (int round = 0; round < 100; round++) {
        int in = 1 + round % 4, out = 1 + (round * 3) % 4;
        for (int i = 0; i < in; i++)
            if (push_u64(r, next_in) == 0)
                next_in++;
        for (int i = 0; i < out && next_out < next_in; i++) {
            uint64_t v = pop_u64(r);
            EXPECT(v == next_out, "round %d: expected %llu, got %llu", round,
                   (unsigned long long)next_out, (unsigned long long)v);
            next_out++;
        }
    }
    EXPECT(next_in > 4 * 4, "the test must wrap the ring several times (pushed %llu)",
           (unsigned long long)next_in);
    rh__ring_destroy(r);
}

static void test_pop_into_too_small_buffer_leaves_the_message(void **state)
{
    (void)state;
    rh_ring *r = make_ring(4, 64);
    char big[40] = "forty bytes of payload, give or take....";
    EXPECT(rh__ring_push(r, NULL, big, sizeof big) == 0, "push of 40 bytes failed");
    char small[8];
    EXPECT(rh__ring_pop(r, NULL, small, sizeof small) == RH_ETOOBIG,
           "expected RH_ETOOBIG popping 40 bytes into 8");
    char out[64];
    EXPECT(rh__ring_pop(r, NULL, out, sizeof out) == 40, "the message must still be there");
    EXPECT(memcmp(out, big, 40) == 0, "payload corrupted");
    rh__ring_destroy(r);
}

static void test_push_larger_than_payload_size_is_refused(void **state)
{
    (void)state;
    rh_ring *r = make_ring(4, 16);
    char buf[17] = {0};
    EXPECT(rh__ring_push(r, NULL, buf, 17) == RH_ETOOBIG, "expected RH_ETOOBIG for 17 > 16 bytes");
    EXPECT(rh__ring_count(r) == 0, "a refused push must not publish a slot");
    rh__ring_destroy(r);
}

typedef struct parked_consumer {
    rh_ring *r;
    uint64_t value;
    int rc;
} parked_consumer;

static void *consume_parked(void *arg)
{
    parked_consumer *c = arg;
    rh_bell *bells[] = {&c->r->not_empty};
    for (;;) {
        c->rc = rh__ring_pop(c->r, NULL, &c->value, sizeof c->value);
        if (c->rc != RH_EEMPTY)
            return NULL;
        rh_sleep s;
        rh__sleep_prepare(&s, bells, 1);
        if (rh__ring_count(c->r) > 0) {
            rh__sleep_cancel(&s);
            continue;
        }
        if (rh__sleep_commit(&s, 10000 * 1000000ll) == RH_ETIMEDOUT)
            return NULL; /* rc stays RH_EEMPTY: the ring never woke us */
    }
}

static void test_commit_wakes_a_consumer_parked_on_not_empty(void **state)
{
    (void)state;
    rh_ring *r = make_ring(4, 8);
    parked_consumer c = {.r = r, .rc = -1};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, consume_parked, &c), 0);
    while (atomic_load(&r->not_empty.waiters) == 0)
        sched_yield();
    EXPECT(push_u64(r, 42) == 0, "push failed");
    pthread_join(t, NULL);
    EXPECT(c.rc == 8 && c.value == 42, "expected the parked consumer to get 42, got rc %d", c.rc);
    rh__ring_destroy(r);
}

enum { SPSC_MESSAGES = 1000000, SPSC_BURST = 32 };

static void *spsc_producer(void *arg)
{
    rh_ring *r = arg;
    uint64_t next = 0;
    while (next < SPSC_MESSAGES) {
        uint64_t pos;
        uint32_t want = SPSC_MESSAGES - next < SPSC_BURST ? (uint32_t)(SPSC_MESSAGES - next)
                                                          : SPSC_BURST;
        uint32_t got = rh__ring_reserve(r, want, &pos);
        if (got == 0) {
            sched_yield(); /* 2 cores: let the consumer run */
            continue;
        }
        for (uint32_t i = 0; i < got; i++) {
            rh_envelope *slot = rh_ring_slot(r, pos + i);
            slot->id.lo = next;
            slot->payload_len = sizeof next;
            memcpy(rh_ring_payload(slot), &next, sizeof next);
            next++;
        }
        rh__ring_commit(r, got);
    }
    return NULL;
}

static void test_spsc_two_threads_one_million_messages_arrive_in_sequence(void **state)
{
    (void)state;
    rh_ring *r = make_ring(1024, 8);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, spsc_producer, r), 0);
    uint64_t expected = 0, bad = 0;
    while (expected < SPSC_MESSAGES) {
        uint64_t pos;
        uint32_t got = rh__ring_peek(r, SPSC_BURST, &pos);
        if (got == 0) {
            sched_yield();
            continue;
        }
        for (uint32_t i = 0; i < got; i++) {
            rh_envelope *slot = rh_ring_slot(r, pos + i);
            uint64_t v;
            memcpy(&v, rh_ring_payload(slot), sizeof v);
            if (v != expected || slot->id.lo != expected || slot->payload_len != sizeof v)
                bad++;
            expected++;
        }
        rh__ring_release(r, got);
    }
    pthread_join(t, NULL);
    EXPECT(bad == 0, "%llu of %d messages arrived out of sequence or corrupted",
           (unsigned long long)bad, SPSC_MESSAGES);
    EXPECT(rh__ring_count(r) == 0, "expected the ring drained, %u left", rh__ring_count(r));
    rh__ring_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_rejects_capacity_that_is_not_a_power_of_two),
        cmocka_unit_test(test_slots_are_64_byte_aligned_and_hold_envelope_plus_payload),
        cmocka_unit_test(test_push_then_pop_preserves_order),
        cmocka_unit_test(test_full_ring_refuses_push_and_empty_ring_refuses_pop),
        cmocka_unit_test(test_reserve_commit_peek_release_work_in_place),
        cmocka_unit_test(test_wrap_around_keeps_order_and_contents),
        cmocka_unit_test(test_pop_into_too_small_buffer_leaves_the_message),
        cmocka_unit_test(test_push_larger_than_payload_size_is_refused),
        cmocka_unit_test(test_commit_wakes_a_consumer_parked_on_not_empty),
        cmocka_unit_test(test_spsc_two_threads_one_million_messages_arrive_in_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
