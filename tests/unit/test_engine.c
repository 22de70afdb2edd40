/*
 * test_engine.c — the engine's objects on their own, without a manifest,
 * a plugin file or a thread: a worker's init/fini, a bridge's, a kernel's
 * fini, a reactor freed with planned tasks, and one dispatch step driven
 * by hand (a message pushed into the worker's input ring comes out of its
 * output ring answered, with the answer id derived from the input's).
 * ASan checks that every fini gives back what its init took.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* ------------------------------------------------------------ a kernel -- */

typedef struct num {
    uint64_t v;
} num;

static const rh_type num_type = {.struct_size = sizeof(rh_type), .name = "test.num",
                                 .fingerprint = 0x1234, .size = sizeof(num),
                                 .align = _Alignof(num)};
static const rh_port in_port = {"in", &num_type};
static const rh_port out_port = {"out", &num_type};

static int calls;

/* Answers each message with twice its value. */
static int doubler(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    calls++;
    for (uint32_t i = 0; i < batch->count; i++) {
        num n = *(const num *)batch->msgs[i].data;
        n.v *= 2;
        if (rh_emit(ctx, 0, &batch->msgs[i], &n, sizeof n) != 0)
            return -1;
    }
    return 0;
}

static const rh_kernel_desc doubler_desc = {
    RH_KERNEL_ABI, .name = "doubler", .inputs = &in_port, .n_inputs = 1,
    .outputs = &out_port, .n_outputs = 1, .process = doubler,
};

static uint32_t sixteen_slots(uint32_t configured, uint32_t type_size)
{
    (void)type_size;
    return configured ? configured : 16;
}

typedef struct fixture {
    rh_runtime rt;
    rh_kernel_decl decl;
    rh_kinst k;
    rh_worker w[2];
} fixture;

/* A runtime running one kernel of two workers, built by hand. */
static fixture *fixture_new(void)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->rt.log = fopen("/dev/null", "w");
    atomic_init(&f->rt.flow, RH_FLOW_RUNNING);
    snprintf(f->decl.name, sizeof f->decl.name, "doubler");
    f->decl.batch = 4;
    f->decl.workers = 2;
    f->decl.bridge = RH_BRIDGE_THREAD;
    f->k.rt = &f->rt;
    f->k.decl = &f->decl;
    f->k.desc = &doubler_desc;
    f->k.workers = f->w;
    f->k.n_workers = 2;
    atomic_init(&f->k.kflow, RH_KFLOW_RUN);
    rh_error err = {0};
    for (uint32_t i = 0; i < 2; i++)
        if (rh__worker_init(&f->w[i], &f->k, i, &rh__ring_mem_heap, sixteen_slots, &err) != 0)
            fail_msg("worker init: %s", err.msg);
    return f;
}

static void fixture_free(fixture *f)
{
    f->k.workers = NULL; /* the fixture's own memory: kernel fini empties, frees nothing */
    for (uint32_t i = 0; i < 2; i++)
        rh__worker_fini(&f->w[i]);
    rh__kernel_fini(&f->k);
    fclose(f->rt.log);
    free(f);
}

/* ------------------------------------------------------------- workers -- */

static void test_worker_init_gives_each_port_a_ring_and_the_kernel_a_context(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    for (uint32_t i = 0; i < 2; i++) {
        rh_worker *w = &f->w[i];
        assert_ptr_equal(w->kernel, &f->k);
        assert_int_equal(w->index, i);
        assert_int_equal(w->ctx.worker, i);
        assert_int_equal(w->ctx.workers, 2);
        assert_string_equal(w->ctx.kernel_name, "doubler");
        assert_ptr_equal(w->ctx.host, w);
        assert_non_null(w->in[0]);
        assert_non_null(w->out[0]);
        assert_null(w->in[1]); /* one port each way */
        assert_null(w->out[1]);
        assert_int_equal(w->in[0]->ctl.capacity, 16);
        assert_int_equal(w->out[0]->ctl.payload_size, sizeof(num));
        assert_non_null(w->msgs);
        assert_non_null(w->failed_mark);
        assert_non_null(w->emit_counts);
    }
    fixture_free(f);
}

static void test_worker_fini_gives_everything_back_and_may_run_twice(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    rh__worker_fini(&f->w[0]);
    assert_null(f->w[0].in[0]);
    assert_null(f->w[0].out[0]);
    assert_null(f->w[0].msgs);
    rh__worker_fini(&f->w[0]); /* idempotent: destroy after a failed launch calls it again */
    fixture_free(f);
}

static void test_worker_init_of_a_ring_that_cannot_exist_names_the_kernel(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    rh_worker extra = {0};
    f->decl.ring_capacity = 3; /* not a power of two: refused by the ring */
    rh_error err = {0};
    assert_int_equal(rh__worker_init(&extra, &f->k, 0, &rh__ring_mem_heap, sixteen_slots, &err),
                     RH_ENOMEM);
    assert_non_null(strstr(err.msg, "kernel doubler: cannot allocate its input ring"));
    rh__worker_fini(&extra); /* what it got before the refusal goes back */
    fixture_free(f);
}

/* ------------------------------------------------------------- bridges -- */

static void test_bridges_point_at_the_kernels_rings_and_fini_frees_them(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    rh_in_bridge in = {0};
    rh_out_bridge out = {0};
    assert_int_equal(rh__in_bridge_init(&in, &f->k, 0, 2), 0);
    assert_ptr_equal(in.kernel, &f->k);
    assert_ptr_equal(in.type, &num_type);
    assert_int_equal(in.n_targets, 2);
    assert_non_null(in.targets);
    assert_int_equal(rh__out_bridge_init(&out, &f->k, 0), 0);
    assert_int_equal(out.n_sources, 2);
    assert_ptr_equal(out.sources[0], f->w[0].out[0]); /* one source ring per worker */
    assert_ptr_equal(out.sources[1], f->w[1].out[0]);
    rh__in_bridge_fini(&in);
    rh__out_bridge_fini(&out);
    assert_null(in.targets);
    assert_null(out.sources);
    rh__in_bridge_fini(&in);
    rh__out_bridge_fini(&out);
    fixture_free(f);
}

/* ------------------------------------------------------------ reactors -- */

static void test_a_reactor_that_never_ran_is_freed_with_its_planned_tasks(void **state)
{
    (void)state;
    rh_reactor *r = calloc(1, sizeof *r);
    assert_non_null(r);
    assert_int_equal(rh__reactor_plan_task(r, "dispatch doubler#0"), 0);
    assert_int_equal(rh__reactor_plan_task(r, "bridge q -> doubler.in"), 0);
    assert_int_equal(r->n_tasks, 2);
    assert_string_equal(r->tasks[1].what, "bridge q -> doubler.in");
    assert_null(r->tasks[0].step);
    rh__reactor_free(r); /* ASan: the names, the array and the reactor */
    rh__reactor_free(NULL);
}

/* ------------------------------------------------------------ dispatch -- */

static void test_one_dispatch_step_answers_what_the_input_ring_holds(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    rh_worker *w = &f->w[0];
    calls = 0;
    for (uint64_t i = 1; i <= 6; i++) {
        rh_envelope env = {0};
        env.id.hi = 0xabc;
        env.id.lo = i;
        num n = {i};
        assert_int_equal(rh__ring_push(w->in[0], &env, &n, sizeof n), 0);
    }
    /* batch 4: the first step takes 4, the second the other 2 */
    assert_int_equal(rh__worker_step(w), 4);
    assert_int_equal(rh__worker_step(w), 2);
    assert_int_equal(rh__worker_step(w), 0); /* nothing left: no call */
    assert_int_equal(calls, 2);
    assert_int_equal(atomic_load(&w->processed), 6);
    assert_int_equal(atomic_load(&w->batches), 2);
    assert_int_equal(atomic_load(&w->emitted), 6);
    assert_int_equal(rh__ring_count(w->in[0]), 0);
    assert_int_equal(rh__ring_count(w->out[0]), 6);
    rh_id ids[6];
    for (uint64_t i = 1; i <= 6; i++) {
        rh_envelope env;
        num n;
        assert_int_equal(rh__ring_pop(w->out[0], &env, &n, sizeof n), (int)sizeof n);
        assert_int_equal(n.v, 2 * i); /* answered, in order */
        ids[i - 1] = env.id;
        assert_false(env.id.hi == 0 && env.id.lo == 0);
        for (uint64_t j = 0; j + 1 < i; j++)
            assert_false(ids[j].hi == env.id.hi && ids[j].lo == env.id.lo);
    }
    /* the other worker was not touched */
    assert_int_equal(atomic_load(&f->w[1].processed), 0);
    fixture_free(f);
}

static void test_a_paused_kernel_takes_nothing_at_its_step(void **state)
{
    (void)state;
    fixture *f = fixture_new();
    rh_worker *w = &f->w[0];
    num n = {7};
    assert_int_equal(rh__ring_push(w->in[0], NULL, &n, sizeof n), 0);
    atomic_store(&f->k.kflow, RH_KFLOW_PAUSED);
    assert_int_equal(rh__worker_step(w), 0);
    assert_int_equal(rh__ring_count(w->in[0]), 1); /* still waiting */
    atomic_store(&f->k.kflow, RH_KFLOW_RUN);
    assert_int_equal(rh__worker_step(w), 1);
    assert_int_equal(rh__ring_count(w->out[0]), 1);
    fixture_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker_init_gives_each_port_a_ring_and_the_kernel_a_context),
        cmocka_unit_test(test_worker_fini_gives_everything_back_and_may_run_twice),
        cmocka_unit_test(test_worker_init_of_a_ring_that_cannot_exist_names_the_kernel),
        cmocka_unit_test(test_bridges_point_at_the_kernels_rings_and_fini_frees_them),
        cmocka_unit_test(test_a_reactor_that_never_ran_is_freed_with_its_planned_tasks),
        cmocka_unit_test(test_one_dispatch_step_answers_what_the_input_ring_holds),
        cmocka_unit_test(test_a_paused_kernel_takes_nothing_at_its_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
