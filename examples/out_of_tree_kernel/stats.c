/*
 * stats — count, min, max and mean of a list of samples.
 *
 * An example of a kernel built outside the ringhost tree, against the
 * installed package only (see CMakeLists.txt and README.md).  Input "in"
 * (stats.samples {values}), output "out" (stats.summary {count, min, max,
 * mean}): one summary per input, correlated with it.  An input with no
 * samples has no min or max: it is failed with a reason, not answered.
 */
#include <string.h>

#include "ringhost/kernel.h"
#include "stats_samples.h"
#include "stats_summary.h"

static const rh_port inputs[] = {{.name = "in", .type = &stats_samples_type}};
static const rh_port outputs[] = {{.name = "out", .type = &stats_summary_type}};

static int stats_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        const stats_samples *s = in->data;
        if (s->values_len == 0) {
            rh_fail(ctx, in, "stats: no samples");
            continue;
        }
        /* Zero-copy: the slot is reused and holds an earlier message's
         * bytes, so clear it (padding included) before filling it. */
        stats_summary *out = rh_emit_reserve(ctx, 0);
        if (!out) {
            rh_fail(ctx, in, "stats: no output slot (host stopping)");
            continue;
        }
        double sum = 0, lo = s->values[0], hi = s->values[0];
        for (uint32_t j = 0; j < s->values_len; j++) {
            double v = s->values[j];
            sum += v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        memset(out, 0, sizeof *out);
        out->count = s->values_len;
        out->min = lo;
        out->max = hi;
        out->mean = sum / s->values_len;
        if (rh_emit_commit(ctx, 0, in, sizeof *out) < 0)
            rh_fail(ctx, in, "stats: the summary could not be emitted (host stopping)");
    }
    return 0;
}

static const rh_kernel_desc stats_desc = {
    RH_KERNEL_ABI,
    .name = "stats",
    .version = "1.0.0",
    .description = "count, min, max and mean of a list of samples",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .process = stats_process,
};

RH_KERNEL_EXPORT(stats_desc)
