/*
 * sum — adds up the values of a vector.
 *
 * Input "in" (vector.f32 {values}), output "out" (sum.result {sum, count}):
 * one result per input, correlated with it.  The sum is accumulated in double
 * (an empty vector sums to 0); count is the number of values.
 */
#include <string.h>

#include "ringhost/kernel.h"
#include "sum_result.h"
#include "vector_f32.h"

static const rh_port inputs[] = {{.name = "in", .type = &vector_f32_type}};
static const rh_port outputs[] = {{.name = "out", .type = &sum_result_type}};

static int sum_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        const vector_f32 *v = in->data;
        if (v->values_len > VECTOR_F32_VALUES_MAX) { /* validated by the bridge; stay safe */
            rh_fail(ctx, in, "sum: values longer than its maximum");
            continue;
        }
        sum_result r;
        memset(&r, 0, sizeof r); /* no stack bytes in the padding that leaves */
        r.count = v->values_len;
        for (uint32_t j = 0; j < v->values_len; j++)
            r.sum += v->values[j];
        if (rh_emit(ctx, 0, in, &r, sizeof r) < 0)
            rh_fail(ctx, in, "sum: the result could not be emitted (host stopping)");
    }
    return 0;
}

static const rh_kernel_desc sum_desc = {
    RH_KERNEL_ABI,
    .name = "sum",
    .version = "1.0.0",
    .description = "sum and count of a vector's values",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .process = sum_process,
    .config_schema = "{}", /* no config keys */
};

RH_KERNEL_EXPORT(sum_desc)
