/*
 * vector_add — element-wise arithmetic on two f32 vectors (the VectorAdd demo).
 *
 * Input "requests" (vector_add.request): op (add, sub, mul, div), a, b.
 * Output "responses" (vector_add.response): exactly one per request, with the
 * request as its correlation.  Vectors of different lengths give
 * success=false and the reason in error ("length mismatch: a has 3 elements,
 * b has 4"), never a crash.  Division follows IEEE 754, as C and numpy do:
 * x/0 is +-inf and 0/0 is NaN, and the response still says success=true
 * (the JSON encoding writes those as "inf", "-inf", "nan").
 *
 * A response is ~4 KiB, so it is built in place in the output slot with
 * rh_emit_reserve()/rh_emit_commit() instead of being copied.
 */
#include <stdio.h>

#include "ringhost/kernel.h"
#include "vector_add_request.h"
#include "vector_add_response.h"

enum { PORT_REQUESTS = 0 };  /* input */
enum { PORT_RESPONSES = 0 }; /* output */

static const rh_port inputs[] = {{.name = "requests", .type = &vector_add_request_type}};
static const rh_port outputs[] = {{.name = "responses", .type = &vector_add_response_type}};

/* Fill the response *rs for *rq.  *rs is a reused output slot holding an
 * earlier response's bytes, so every field is written here; result[] past
 * result_len is never read. */
static void compute(const vector_add_request *rq, vector_add_response *rs)
{
    rs->result_len = 0;
    rs->success = false;
    rs->error[0] = '\0';
    rs->processed_elements = 0;
    uint32_t n = rq->a_len;
    if (rq->a_len != rq->b_len) {
        snprintf(rs->error, sizeof rs->error, "length mismatch: a has %u element%s, b has %u",
                 (unsigned)rq->a_len, rq->a_len == 1 ? "" : "s", (unsigned)rq->b_len);
        return;
    }
    if (n > VECTOR_ADD_REQUEST_A_MAX) { /* the input bridge validated it; stay safe anyway */
        snprintf(rs->error, sizeof rs->error, "a has %u elements, more than %u",
                 (unsigned)n, VECTOR_ADD_REQUEST_A_MAX);
        return;
    }
    const float *a = rq->a, *b = rq->b;
    float *r = rs->result;
    switch (rq->op) {
    case VECTOR_ADD_REQUEST_OP_ADD:
        for (uint32_t i = 0; i < n; i++)
            r[i] = a[i] + b[i];
        break;
    case VECTOR_ADD_REQUEST_OP_SUB:
        for (uint32_t i = 0; i < n; i++)
            r[i] = a[i] - b[i];
        break;
    case VECTOR_ADD_REQUEST_OP_MUL:
        for (uint32_t i = 0; i < n; i++)
            r[i] = a[i] * b[i];
        break;
    case VECTOR_ADD_REQUEST_OP_DIV:
        for (uint32_t i = 0; i < n; i++)
            r[i] = a[i] / b[i]; /* IEEE 754: b[i] == 0 gives +-inf or NaN */
        break;
    default:
        snprintf(rs->error, sizeof rs->error, "unknown op %u", (unsigned)rq->op);
        return;
    }
    rs->result_len = n;
    rs->processed_elements = n;
    rs->success = true;
}

static int vector_add_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        vector_add_response *rs = rh_emit_reserve(ctx, PORT_RESPONSES);
        if (!rs) {
            /* Only when the host is stopping: say so rather than drop it. */
            rh_fail(ctx, in, "vector_add: no output slot for the response (host stopping)");
            continue;
        }
        compute(in->data, rs);
        if (rh_emit_commit(ctx, PORT_RESPONSES, in, sizeof *rs) < 0)
            rh_fail(ctx, in, "vector_add: the response could not be published");
    }
    return 0;
}

static const rh_kernel_desc vector_add_desc = {
    RH_KERNEL_ABI,
    .name = "vector_add",
    .version = "1.0.0",
    .description = "element-wise add, sub, mul or div of two f32 vectors",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .process = vector_add_process,
    .config_schema = "{}", /* no config keys */
};

RH_KERNEL_EXPORT(vector_add_desc)
