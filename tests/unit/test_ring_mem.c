/*
 * test_ring_mem.c — a ring's memory comes from the allocator passed to
 * rh__ring_create: one allocation of the ring and its slots, freed through
 * the same allocator; the heap allocator's ring stays in its process, the
 * shared allocator's ring is one memory with a child fork()ed after it.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"

#include "ring/ring.h"
#include "ringhost/ringhost.h"

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

/* An allocator that counts its calls and remembers what it handed out. */
typedef struct counting {
    int allocs, frees, fail;
    void *given, *freed;
    size_t given_len, freed_len;
} counting;

static void *counting_alloc(size_t len, void *ctx)
{
    counting *c = ctx;
    c->allocs++;
    if (c->fail)
        return NULL;
    c->given = rh__ring_mem_heap.alloc(len, NULL);
    c->given_len = len;
    return c->given;
}

static void counting_free(void *p, size_t len, void *ctx)
{
    counting *c = ctx;
    c->frees++;
    c->freed = p;
    c->freed_len = len;
    rh__ring_mem_heap.free(p, len, NULL);
}

static void test_create_takes_one_allocation_from_the_allocator_and_destroy_gives_it_back(
    void **state)
{
    (void)state;
    counting c = {0};
    rh_ring_mem mem = {"counting", counting_alloc, counting_free, &c, 0};
    rh_ring *r = rh__ring_create(&mem, 16, 100);
    EXPECT(r != NULL && c.allocs == 1 && (void *)r == c.given,
           "expected the ring to be the allocator's one allocation (%d calls)", c.allocs);
    /* The slots follow the ring in that allocation, at slots_offset. */
    size_t want = (size_t)r->ctl.slots_offset + (size_t)16 * r->ctl.slot_size;
    EXPECT(c.given_len == want, "expected %zu bytes asked (ring + 16 slots), got %zu", want,
           c.given_len);
    EXPECT((unsigned char *)rh_ring_slot(r, 0) == (unsigned char *)r + r->ctl.slots_offset &&
               r->ctl.slots_offset % 64 == 0 && r->ctl.slots_offset >= sizeof(rh_ring),
           "expected slot 0 on the first line after the ring, at offset %llu",
           (unsigned long long)r->ctl.slots_offset);
    EXPECT(r->ctl.abi_version == RH_RING_ABI_VERSION && r->ctl.flow == RH_RING_FLOW_RUN &&
               r->ctl.capacity == 16 && r->ctl.mask == 15 && r->ctl.payload_size == 100,
           "expected the control block filled in");
    EXPECT(!r->not_empty.shared && !r->not_full.shared,
           "an allocator that is not shared gets private bells");
    EXPECT(push_u64(r, 7) == 0 && pop_u64(r) == 7, "expected the ring to carry a message");
    rh__ring_destroy(r);
    EXPECT(c.frees == 1 && c.freed == c.given && c.freed_len == c.given_len,
           "expected destroy to free the same %zu bytes through the allocator (%d frees)",
           c.given_len, c.frees);
}

static void test_create_fails_cleanly_when_the_allocator_fails(void **state)
{
    (void)state;
    counting c = {.fail = 1};
    rh_ring_mem mem = {"failing", counting_alloc, counting_free, &c, 0};
    EXPECT(rh__ring_create(&mem, 8, 8) == NULL, "expected NULL from a failing allocator");
    EXPECT(c.allocs == 1 && c.frees == 0, "expected one try and nothing to free");
    /* Bad arguments are refused before any memory is asked for. */
    c.fail = 0;
    EXPECT(rh__ring_create(&mem, 3, 8) == NULL && c.allocs == 1,
           "expected capacity 3 refused without an allocation");
    EXPECT(rh__ring_create(NULL, 8, 8) == NULL, "expected no ring without an allocator");
}

/* A child fork()ed after a heap ring gets a copy: what it pushes stays in
 * the child.  That is what the shared allocator is for. */
static void test_heap_ring_is_not_shared_with_a_forked_child(void **state)
{
    (void)state;
    rh_ring *r = rh__ring_create(&rh__ring_mem_heap, 8, 8);
    assert_non_null(r);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(push_u64(r, 1) == 0 && rh__ring_count(r) == 1 ? 0 : 1);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0, "expected the child's push to succeed");
    EXPECT(rh__ring_count(r) == 0, "expected the parent's heap ring still empty, got %u",
           rh__ring_count(r));
    rh__ring_destroy(r);
}

/* rh__ring_mem_shared (isolation.c): a child fork()ed after the ring
 * exists produces into it, parks on a shared bell, and the parent sees its
 * messages and wakes it; then the parent produces and the child consumes. */
static void test_shared_ring_carries_messages_between_forked_processes(void **state)
{
    (void)state;
    rh_ring *r = rh__ring_create(&rh__ring_mem_shared, 8, 8);
    EXPECT(r != NULL && r->not_empty.shared && r->not_full.shared,
           "expected a shared ring with shared bells");
    rh_ring *back = rh__ring_create(&rh__ring_mem_shared, 8, 8);
    assert_non_null(back);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* 12 messages through 8 slots: the child must park on not_full
         * until the parent pops, so the bell crosses the process too. */
        for (uint64_t v = 1; v <= 12; v++)
            while (push_u64(r, v) != 0) {
                rh_bell *b = &r->not_full;
                rh_sleep s;
                rh__sleep_prepare(&s, &b, 1);
                if (rh__ring_free(r))
                    rh__sleep_cancel(&s);
                else
                    rh__sleep_commit(&s, 5000000000ll);
            }
        /* The other way: the parent's message, waited for on not_empty. */
        for (int tries = 0; rh__ring_count(back) == 0 && tries < 10; tries++) {
            rh_bell *b = &back->not_empty;
            rh_sleep s;
            rh__sleep_prepare(&s, &b, 1);
            if (rh__ring_count(back))
                rh__sleep_cancel(&s);
            else
                rh__sleep_commit(&s, 1000000000ll);
        }
        uint64_t v = 0;
        rh_envelope env;
        _exit(rh__ring_pop(back, &env, &v, sizeof v) == 8 && v == 99 ? 0 : 2);
    }
    for (uint64_t v = 1; v <= 12; v++) {
        uint64_t deadline = rh_now_ns() + 10000000000ull; /* generous: noisy machines */
        while (rh__ring_count(r) == 0 && rh_now_ns() < deadline)
            sched_yield();
        if (rh__ring_count(r) == 0) {
            kill(pid, SIGKILL);
            fail_msg("message %llu from the child never arrived", (unsigned long long)v);
        }
        EXPECT(pop_u64(r) == v, "expected message %llu from the child", (unsigned long long)v);
    }
    EXPECT(push_u64(back, 99) == 0, "expected the push to the child");
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    EXPECT(WIFEXITED(st) && WEXITSTATUS(st) == 0,
           "expected the child to exit 0 (2: it did not get the parent's message)");
    EXPECT(rh__ring_count(back) == 0, "expected the child's pop to reach the parent's view");
    rh__ring_destroy(back);
    rh__ring_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_create_takes_one_allocation_from_the_allocator_and_destroy_gives_it_back),
        cmocka_unit_test(test_create_fails_cleanly_when_the_allocator_fails),
        cmocka_unit_test(test_heap_ring_is_not_shared_with_a_forked_child),
        cmocka_unit_test(test_shared_ring_carries_messages_between_forked_processes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
