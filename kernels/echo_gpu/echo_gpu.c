/*
 * echo_gpu — echo on the GPU: every message back unchanged, answered by a
 * persistent CUDA kernel (echo_gpu_device.cu) that ringhost feeds through
 * rings in mapped host memory ("isolation": "cuda",
 * manifests/echo_gpu.json).  The benchmark's GPU echo.
 *
 * This file is the host part: ports, and init() reading the config the
 * device gets (echo_gpu.h).  Config: {"fail_seq": N, "trap_seq": N,
 * "delay_us": N}, each optional, 0 = off (for tests and demos of the
 * failure paths).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "echo_gpu.h"
#include "echo_message.h"
#include "ringhost/device.h"
#include "ringhost/kernel.h"

static const rh_port inputs[] = {{.name = "in", .type = &echo_message_type}};
static const rh_port outputs[] = {{.name = "out", .type = &echo_message_type}};

const unsigned char *echo_gpu_device_fatbin_image(size_t *size); /* echo_gpu_device_fatbin.c */

static int read_u64(rh_ctx *ctx, json_t *cfg, const char *key, uint64_t *out)
{
    json_t *v = json_object_get(cfg, key);
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        char m[96];
        snprintf(m, sizeof m, "echo_gpu: config.%s: expected an integer >= 0", key);
        rh_log(ctx, RH_LOG_ERROR, m);
        return -1;
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

static int echo_gpu_init(rh_ctx *ctx, const char *config_json, void **state)
{
    json_error_t e;
    json_t *cfg = json_loads(config_json, 0, &e);
    echo_gpu_config *c = calloc(1, sizeof *c);
    int rc = cfg && c ? 0 : -1;
    if (rc == 0)
        rc = read_u64(ctx, cfg, "fail_seq", &c->fail_seq) ||
             read_u64(ctx, cfg, "trap_seq", &c->trap_seq) ||
             read_u64(ctx, cfg, "delay_us", &c->delay_us);
    json_decref(cfg);
    if (rc) {
        free(c);
        return -1;
    }
    *state = c;
    return 0;
}

static void echo_gpu_fini(rh_ctx *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static const rh_device_kernel echo_gpu_device = {
    RH_DEVICE_KERNEL_ABI,
    .lanes = 1,
    .platform = RH_DEVICE_CUDA,
    .image = echo_gpu_device_fatbin_image,
    .function = "echo_gpu_loop",
    .block_threads = 1024,
    .config_size = sizeof(echo_gpu_config),
};

static const rh_kernel_desc echo_gpu_desc = {
    RH_KERNEL_ABI,
    .name = "echo_gpu",
    .version = "1.0.0",
    .description = "emits each message back unchanged, on the GPU",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .init = echo_gpu_init,
    .fini = echo_gpu_fini,
    .config_schema = "{\"fail_seq\": {\"type\": \"integer\", \"default\": 0, \"minimum\": 0, "
                     "\"description\": \"fail the message with this seq (tests)\"}, "
                     "\"trap_seq\": {\"type\": \"integer\", \"default\": 0, \"minimum\": 0, "
                     "\"description\": \"fault the device on the message with this seq "
                     "(tests)\"}, "
                     "\"delay_us\": {\"type\": \"integer\", \"default\": 0, \"minimum\": 0, "
                     "\"maximum\": 10000000, \"description\": \"each message takes at least "
                     "this long (tests)\"}}",
    .device = &echo_gpu_device,
};

RH_KERNEL_EXPORT(echo_gpu_desc)
