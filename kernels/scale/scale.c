/*
 * scale — multiplies every value of a vector by a constant factor.
 *
 * Input "in", output "out", both vector.f32 {values}.  One output per input,
 * correlated with it, with the same length.  The product is taken in double
 * and rounded once to float.
 *
 * config: {"factor": X}, any finite number, default 2.0.  Unknown config keys
 * are refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ringhost/kernel.h"
#include "vector_f32.h"

#define SCALE_DEFAULT_FACTOR 2.0

typedef struct scale_state {
    double factor;
} scale_state;

static const rh_port inputs[] = {{.name = "in", .type = &vector_f32_type}};
static const rh_port outputs[] = {{.name = "out", .type = &vector_f32_type}};

static int refuse(rh_ctx *ctx, const char *what)
{
    char line[512];
    snprintf(line, sizeof line, "scale: config: %s", what);
    rh_log(ctx, RH_LOG_ERROR, line);
    return -1;
}

static int scale_init(rh_ctx *ctx, const char *config_json, void **state)
{
    json_error_t jerr;
    json_t *cfg = json_loads(config_json ? config_json : "{}", 0, &jerr);
    if (!cfg)
        return refuse(ctx, jerr.text);
    double factor = SCALE_DEFAULT_FACTOR;
    int rc = 0;
    const char *key;
    json_t *v;
    if (!json_is_object(cfg))
        rc = refuse(ctx, "expected a JSON object");
    else
        json_object_foreach(cfg, key, v) {
            if (strcmp(key, "factor") != 0) {
                char why[256];
                snprintf(why, sizeof why, "%.64s: unknown key (scale knows factor)", key);
                rc = refuse(ctx, why);
                break;
            }
            if (!json_is_number(v)) {
                rc = refuse(ctx, "factor: expected a number");
                break;
            }
            factor = json_number_value(v);
        }
    json_decref(cfg);
    if (rc)
        return rc;
    scale_state *s = malloc(sizeof *s);
    if (!s)
        return refuse(ctx, "out of memory");
    s->factor = factor;
    *state = s;
    return 0;
}

static int scale_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    const scale_state *s = state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        const vector_f32 *v = in->data;
        if (v->values_len > VECTOR_F32_VALUES_MAX) { /* validated by the bridge; stay safe */
            rh_fail(ctx, in, "scale: values longer than its maximum");
            continue;
        }
        vector_f32 *out = rh_emit_reserve(ctx, 0);
        if (!out) {
            rh_fail(ctx, in, "scale: no output slot (host stopping)");
            continue;
        }
        out->values_len = v->values_len;
        for (uint32_t j = 0; j < v->values_len; j++)
            out->values[j] = (float)((double)v->values[j] * s->factor);
        if (rh_emit_commit(ctx, 0, in, sizeof *out) < 0)
            rh_fail(ctx, in, "scale: the result could not be published");
    }
    return 0;
}

static void scale_fini(rh_ctx *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static const rh_kernel_desc scale_desc = {
    RH_KERNEL_ABI,
    .name = "scale",
    .version = "1.0.0",
    .description = "multiplies every value by config factor (default 2)",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .init = scale_init,
    .process = scale_process,
    .fini = scale_fini,
    .config_schema = "{\"factor\": {\"type\": \"number\", \"default\": 2.0, "
                     "\"description\": \"what every value is multiplied by (finite)\"}}",
};

RH_KERNEL_EXPORT(scale_desc)
