/*
 * fake_host.c — the host services a kernel calls under the harness (the
 * rh_host_api of its rh_ctx: emit, emit_reserve/emit_commit, fail, poll,
 * should_stop, log), strict where the real host is lenient: every misuse of
 * the API is counted and named (rh_harness_api_errors), and reserved slots
 * come zeroed so a kernel that forgets a field is caught by the type's
 * validate.  The harness API itself is testing.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "testing/harness_pvt.h"

void rh__harness_api_error(rh_harness *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->last_api_error, sizeof h->last_api_error, fmt, ap);
    va_end(ap);
    h->api_errors++;
    if (getenv("RH_HARNESS_LOG"))
        fprintf(stderr, "[harness] API misuse: %s\n", h->last_api_error);
}

/* A zeroed block of the type's size, aligned for it. */
void *rh__harness_slot_alloc(const rh_type *t)
{
    size_t align = t->align < sizeof(void *) ? sizeof(void *) : t->align;
    size_t size = (t->size + align - 1) / align * align;
    void *p = aligned_alloc(align, size ? size : align);
    if (p)
        memset(p, 0, size ? size : align);
    return p;
}

/* Record an emitted message; takes ownership of slot. */
static int record_output(rh_harness *h, uint32_t port, const rh_msg *in, void *slot,
                         uint32_t len)
{
    if (rh_grow(&h->outputs, &h->cap_outputs, h->n_outputs + 1, sizeof *h->outputs)) {
        free(slot);
        return RH_ENOMEM;
    }
    rh_harness_output *o = &h->outputs[h->n_outputs++];
    memset(o, 0, sizeof *o);
    o->port = port;
    if (in && in->env) {
        o->correlation_id = in->env->id;
        o->has_correlation = 1;
    }
    o->len = len;
    o->payload = slot;
    const rh_type *t = h->desc->outputs[port].type;
    o->valid = !t->validate || t->validate(slot, o->invalid_why, sizeof o->invalid_why) == 0;
    return 0;
}

static const rh_type *output_type(rh_harness *h, const char *fn, uint32_t port)
{
    if (port >= h->desc->n_outputs || port >= 16) {
        rh__harness_api_error(h, "%s: port %u, but kernel \"%s\" has %u outputs", fn, port,
                              h->desc->name, h->desc->n_outputs);
        return NULL;
    }
    return h->desc->outputs[port].type;
}

static int h_emit(rh_ctx *ctx, uint32_t port, const rh_msg *in, const void *msg, uint32_t len)
{
    rh_harness *h = ctx->host;
    if (h->stopping)
        return RH_ESTOPPED;
    const rh_type *t = output_type(h, "emit", port);
    if (!t)
        return RH_EINVAL;
    if (len > t->size || (!msg && len)) {
        rh__harness_api_error(h, "emit: port %u (%s): %u bytes from %p, the type holds %u", port,
                              t->name, len, msg, t->size);
        return RH_EINVAL;
    }
    void *slot = rh__harness_slot_alloc(t);
    if (!slot)
        return RH_ENOMEM;
    if (len)
        memcpy(slot, msg, len);
    return record_output(h, port, in, slot, len);
}

static void *h_emit_reserve(rh_ctx *ctx, uint32_t port)
{
    rh_harness *h = ctx->host;
    if (h->stopping)
        return NULL;
    const rh_type *t = output_type(h, "emit_reserve", port);
    if (!t)
        return NULL;
    if (h->reserved[port]) {
        rh__harness_api_error(
            h, "emit_reserve: port %u already has a reserved slot; emit_commit it first", port);
        return NULL;
    }
    h->reserved[port] = rh__harness_slot_alloc(t);
    /* A real host hands out reused ring slots holding an earlier message's
     * bytes; poison ours so a kernel that forgets to set a field fails its
     * own test instead of leaking stale data in production. */
    if (h->reserved[port])
        memset(h->reserved[port], 0xA5, t->size);
    return h->reserved[port];
}

static int h_emit_commit(rh_ctx *ctx, uint32_t port, const rh_msg *in, uint32_t len)
{
    rh_harness *h = ctx->host;
    const rh_type *t = output_type(h, "emit_commit", port);
    if (!t)
        return RH_EINVAL;
    void *slot = h->reserved[port];
    if (!slot) {
        rh__harness_api_error(
            h, "emit_commit: port %u has no reserved slot (call emit_reserve first)", port);
        return RH_EINVAL;
    }
    h->reserved[port] = NULL;
    if (len > t->size) {
        free(slot);
        rh__harness_api_error(h, "emit_commit: port %u (%s): %u bytes, the type holds %u", port,
                              t->name, len, t->size);
        return RH_EINVAL;
    }
    if (h->stopping) {
        free(slot);
        return RH_ESTOPPED;
    }
    if (len < t->size) /* the host publishes len bytes: do not let a test see more */
        memset((char *)slot + len, 0, t->size - len);
    return record_output(h, port, in, slot, len);
}

void rh__harness_record_failure(rh_harness *h, const rh_msg *in, const char *fmt, ...)
{
    if (rh_grow(&h->failures, &h->cap_failures, h->n_failures + 1, sizeof *h->failures))
        return;
    rh_harness_failure *f = &h->failures[h->n_failures++];
    memset(f, 0, sizeof *f);
    if (in && in->env) {
        f->id = in->env->id;
        f->has_msg = 1;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->reason, sizeof f->reason, fmt, ap);
    va_end(ap);
}

static void h_fail(rh_ctx *ctx, const rh_msg *in, const char *reason)
{
    rh__harness_record_failure(ctx->host, in, "%s", reason ? reason : "(no reason)");
}

void rh__harness_free_inputs(input **v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free(v[i]->payload);
        free(v[i]);
    }
}

/* Point h->batch at inputs v[0..n). */
const rh_batch *rh__harness_make_batch(rh_harness *h, input **v, uint32_t n)
{
    if (rh_grow(&h->msgs, &h->cap_msgs, n ? n : 1, sizeof *h->msgs))
        n = 0;
    for (uint32_t i = 0; i < n; i++) {
        h->msgs[i].env = &v[i]->env;
        h->msgs[i].data = v[i]->payload;
        h->msgs[i].port = v[i]->port;
    }
    h->batch.count = n;
    h->batch.msgs = h->msgs;
    return &h->batch;
}

static int h_poll(rh_ctx *ctx, rh_batch *batch, uint32_t max, int timeout_ms)
{
    rh_harness *h = ctx->host;
    (void)timeout_ms; /* nothing will arrive later: there is no producer */
    rh__harness_free_inputs(h->polled, h->n_polled);
    free(h->polled);
    h->polled = NULL;
    h->n_polled = 0;
    batch->count = 0;
    batch->msgs = NULL;
    if (!h->running) {
        rh__harness_api_error(h, "poll: called outside run()");
        return RH_ESTOPPED;
    }
    if (h->stopping || h->n_inputs == 0) {
        h->run_stop = 1;
        return RH_ESTOPPED;
    }
    /* max 0 means "the host's batch size", as in rh_poll(); here: all */
    uint32_t n = max && max < h->n_inputs ? max : h->n_inputs;
    h->polled = malloc(n * sizeof *h->polled);
    if (!h->polled)
        return 0;
    memcpy(h->polled, h->inputs, n * sizeof *h->polled);
    memmove(h->inputs, h->inputs + n, (h->n_inputs - n) * sizeof *h->inputs);
    h->n_inputs -= n;
    h->n_polled = n;
    *batch = *rh__harness_make_batch(h, h->polled, n);
    return (int)n;
}

static int h_should_stop(rh_ctx *ctx)
{
    rh_harness *h = ctx->host;
    return h->stopping || h->run_stop;
}

static void h_log(rh_ctx *ctx, int level, const char *msg)
{
    rh_harness *h = ctx->host;
    h->logs++;
    snprintf(h->last_log, sizeof h->last_log, "%s", msg ? msg : "");
    if (getenv("RH_HARNESS_LOG"))
        fprintf(stderr, "[%s log %d] %s\n", h->desc->name, level, h->last_log);
}

const rh_host_api rh__harness_host_api = {
    .struct_size = sizeof(rh_host_api),
    .emit = h_emit,
    .emit_reserve = h_emit_reserve,
    .emit_commit = h_emit_commit,
    .fail = h_fail,
    .poll = h_poll,
    .should_stop = h_should_stop,
    .log = h_log,
};
