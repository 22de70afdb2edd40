/*
 * harness_pvt.h — what the harness API (testing.c) and the fake host
 * services (fake_host.c) share: the harness itself, and the helpers both
 * use.  Nothing outside testing/ includes it.
 *
 * Ownership: every queued input lives in its own heap block (envelope and
 * payload), so the rh_msg.env/data pointers a kernel sees stay put while the
 * input array grows; outputs own their payload copies.  Everything is freed
 * by rh_harness_clear (results) or after process/run (inputs).
 */
#ifndef RH_TESTING_HARNESS_PVT_H
#define RH_TESTING_HARNESS_PVT_H

#include <stdint.h>

#include "ringhost/testing.h"
#include "plugin/plugin.h"

typedef struct input {
    rh_envelope env;
    void *payload;
    uint32_t port;
} input;

struct rh_harness {
    rh_ctx ctx;
    rh_host_api api;
    const rh_kernel_desc *desc;
    rh_plugin *plugin; /* the file of rh_harness_load, or NULL */
    void *state;
    int init_called;
    int init_ok;
    int stopping;
    int running;   /* inside rh_harness_run */
    int run_stop;  /* run(): no inputs left, should_stop is 1 */
    uint64_t next_id;

    input **inputs; /* queued, in push order */
    uint32_t n_inputs, cap_inputs;
    input **polled; /* handed out by the last poll() */
    uint32_t n_polled;
    rh_msg *msgs;   /* the batch array handed to the kernel */
    uint32_t cap_msgs;
    rh_batch batch;

    void *reserved[16]; /* per output port: a reserved, uncommitted slot */

    rh_harness_output *outputs;
    uint32_t n_outputs, cap_outputs;
    rh_harness_failure *failures;
    uint32_t n_failures, cap_failures;
    uint32_t api_errors;
    char last_api_error[512];
    uint32_t logs;
    char last_log[512];
};

/* The host services of every harness's rh_ctx (fake_host.c). */
extern const rh_host_api rh__harness_host_api;

/* Count and keep a misuse of the host API (printed when RH_HARNESS_LOG is
 * set). */
void rh__harness_api_error(rh_harness *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Keep a failed message with its reason (rh_fail, or a failed batch). */
void rh__harness_record_failure(rh_harness *h, const rh_msg *in, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A zeroed block of the type's size, aligned for it; NULL when out of
 * memory. */
void *rh__harness_slot_alloc(const rh_type *t);
/* Free n inputs and their payloads (the array itself stays). */
void rh__harness_free_inputs(input **v, uint32_t n);
/* The batch of v[0..n) the kernel is handed (h->batch, over h->msgs). */
const rh_batch *rh__harness_make_batch(rh_harness *h, input **v, uint32_t n);

#endif /* RH_TESTING_HARNESS_PVT_H */
