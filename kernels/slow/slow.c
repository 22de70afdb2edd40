/*
 * slow — echo that takes its time: sleeps delay_us microseconds per message.
 *
 * Same ports and type as echo (in/out, echo.message).  Used by backpressure
 * tests to make a consumer slower than its producer on purpose.
 *
 * config: {"delay_us": N}, 0 .. 60000000 (one minute), default 1000.
 * Unknown config keys are refused, so a misspelt "delay" cannot silently
 * run at the default speed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "echo_message.h"
#include "ringhost/kernel.h"

#define SLOW_DEFAULT_DELAY_US 1000
#define SLOW_MAX_DELAY_US 60000000

typedef struct slow_state {
    uint64_t delay_us;
} slow_state;

static const rh_port inputs[] = {{.name = "in", .type = &echo_message_type}};
static const rh_port outputs[] = {{.name = "out", .type = &echo_message_type}};

/* Log why the config is refused; returns -1 for init to return. */
static int refuse(rh_ctx *ctx, const char *what)
{
    char line[512];
    snprintf(line, sizeof line, "slow: config: %s", what);
    rh_log(ctx, RH_LOG_ERROR, line);
    return -1;
}

static int slow_init(rh_ctx *ctx, const char *config_json, void **state)
{
    json_error_t jerr;
    json_t *cfg = json_loads(config_json ? config_json : "{}", 0, &jerr);
    if (!cfg)
        return refuse(ctx, jerr.text);
    uint64_t delay = SLOW_DEFAULT_DELAY_US;
    int rc = 0;
    const char *key;
    json_t *v;
    if (!json_is_object(cfg))
        rc = refuse(ctx, "expected a JSON object");
    else
        json_object_foreach(cfg, key, v) {
            if (strcmp(key, "delay_us") != 0) {
                char why[256];
                snprintf(why, sizeof why, "%.64s: unknown key (slow knows delay_us)", key);
                rc = refuse(ctx, why);
                break;
            }
            if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                json_integer_value(v) > SLOW_MAX_DELAY_US) {
                rc = refuse(ctx, "delay_us: expected an integer in 0..60000000 (microseconds)");
                break;
            }
            delay = (uint64_t)json_integer_value(v);
        }
    json_decref(cfg);
    if (rc)
        return rc;
    slow_state *s = malloc(sizeof *s);
    if (!s)
        return refuse(ctx, "out of memory");
    s->delay_us = delay;
    *state = s;
    return 0;
}

static void sleep_us(uint64_t us)
{
    struct timespec t = {.tv_sec = (time_t)(us / 1000000), .tv_nsec = (long)(us % 1000000) * 1000};
    while (nanosleep(&t, &t) != 0 && errno == EINTR)
        ;
}

static int slow_process(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    const slow_state *s = state;
    for (uint32_t i = 0; i < batch->count; i++) {
        const rh_msg *in = &batch->msgs[i];
        if (s->delay_us)
            sleep_us(s->delay_us);
        if (rh_emit(ctx, 0, in, in->data, in->env->payload_len) < 0)
            rh_fail(ctx, in, "slow: the copy could not be emitted (host stopping)");
    }
    return 0;
}

static void slow_fini(rh_ctx *ctx, void *state)
{
    (void)ctx;
    free(state);
}

static const rh_kernel_desc slow_desc = {
    RH_KERNEL_ABI,
    .name = "slow",
    .version = "1.0.0",
    .description = "echo that sleeps config delay_us microseconds per message",
    .inputs = inputs,
    .n_inputs = 1,
    .outputs = outputs,
    .n_outputs = 1,
    .init = slow_init,
    .process = slow_process,
    .fini = slow_fini,
    .config_schema = "{\"delay_us\": {\"type\": \"integer\", \"default\": 1000, "
                     "\"minimum\": 0, \"maximum\": 60000000, "
                     "\"description\": \"microseconds slept per message\"}}",
};

RH_KERNEL_EXPORT(slow_desc)
