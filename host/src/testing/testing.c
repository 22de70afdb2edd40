/*
 * testing.c — the fake host behind ringhost/testing.h.
 *
 * Ownership: every queued input lives in its own heap block (envelope and
 * payload), so the rh_msg.env/data pointers a kernel sees stay put while the
 * input array grows; outputs own their payload copies.  Everything is freed
 * by rh_harness_clear (results) or after process/run (inputs).
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/grow.h"
#include "ringhost/ringhost.h"
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

static void api_error(rh_harness *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void api_error(rh_harness *h, const char *fmt, ...)
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
static void *slot_alloc(const rh_type *t)
{
    size_t align = t->align < sizeof(void *) ? sizeof(void *) : t->align;
    size_t size = (t->size + align - 1) / align * align;
    void *p = aligned_alloc(align, size ? size : align);
    if (p)
        memset(p, 0, size ? size : align);
    return p;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * RH_NS_PER_S + (uint64_t)ts.tv_nsec;
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
        api_error(h, "%s: port %u, but kernel \"%s\" has %u outputs", fn, port, h->desc->name,
                  h->desc->n_outputs);
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
        api_error(h, "emit: port %u (%s): %u bytes from %p, the type holds %u", port, t->name,
                  len, msg, t->size);
        return RH_EINVAL;
    }
    void *slot = slot_alloc(t);
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
        api_error(h, "emit_reserve: port %u already has a reserved slot; emit_commit it first",
                  port);
        return NULL;
    }
    h->reserved[port] = slot_alloc(t);
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
        api_error(h, "emit_commit: port %u has no reserved slot (call emit_reserve first)", port);
        return RH_EINVAL;
    }
    h->reserved[port] = NULL;
    if (len > t->size) {
        free(slot);
        api_error(h, "emit_commit: port %u (%s): %u bytes, the type holds %u", port, t->name, len,
                  t->size);
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

static void record_failure(rh_harness *h, const rh_msg *in, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void record_failure(rh_harness *h, const rh_msg *in, const char *fmt, ...)
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
    record_failure(ctx->host, in, "%s", reason ? reason : "(no reason)");
}

static void free_inputs(input **v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free(v[i]->payload);
        free(v[i]);
    }
}

/* Point h->batch at inputs v[0..n). */
static const rh_batch *make_batch(rh_harness *h, input **v, uint32_t n)
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
    free_inputs(h->polled, h->n_polled);
    free(h->polled);
    h->polled = NULL;
    h->n_polled = 0;
    batch->count = 0;
    batch->msgs = NULL;
    if (!h->running) {
        api_error(h, "poll: called outside run()");
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
    *batch = *make_batch(h, h->polled, n);
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

rh_harness *rh_harness_new(const rh_kernel_desc *desc)
{
    rh_harness *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->desc = desc;
    h->api = (rh_host_api){
        .struct_size = sizeof(rh_host_api),
        .emit = h_emit,
        .emit_reserve = h_emit_reserve,
        .emit_commit = h_emit_commit,
        .fail = h_fail,
        .poll = h_poll,
        .should_stop = h_should_stop,
        .log = h_log,
    };
    h->ctx.api = &h->api;
    h->ctx.kernel_name = desc->name;
    h->ctx.worker = 0;
    h->ctx.workers = 1;
    h->ctx.host = h;
    h->next_id = 1;
    return h;
}

/* The loading and the checks are the host's own (plugin.c), so a test sees
 * the very reason `ringhost plugins` would print. */
rh_harness *rh_harness_load(const char *so_path, char *why, size_t why_len)
{
    char local[8];
    if (!why || !why_len) {
        why = local;
        why_len = sizeof local;
    }
    rh_plugin *p = malloc(sizeof *p);
    rh_error err = {0};
    if (!p) {
        snprintf(why, why_len, "%s: out of memory", so_path ? so_path : "(null)");
        return NULL;
    }
    if (!so_path || rh_plugin_open(so_path, p, &err) != 0) {
        snprintf(why, why_len, "%s", so_path ? err.msg : "(null): no plugin path given");
        free(p);
        return NULL;
    }
    rh_harness *h = rh_harness_new(p->desc);
    if (!h) {
        snprintf(why, why_len, "%s: out of memory", so_path);
        rh_plugin_close(p);
        free(p);
        return NULL;
    }
    h->plugin = p;
    why[0] = '\0';
    return h;
}

const rh_kernel_desc *rh_harness_desc(const rh_harness *h)
{
    return h->desc;
}

static int port_index(const rh_port *ports, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (name && strcmp(ports[i].name, name) == 0)
            return (int)i;
    return -1;
}

int rh_harness_input_port(const rh_harness *h, const char *name)
{
    return port_index(h->desc->inputs, h->desc->n_inputs, name);
}

int rh_harness_output_port(const rh_harness *h, const char *name)
{
    return port_index(h->desc->outputs, h->desc->n_outputs, name);
}

int rh_harness_init(rh_harness *h, const char *config_json)
{
    if (h->init_called) {
        api_error(h, "rh_harness_init called twice");
        return RH_ESTATE;
    }
    h->init_called = 1;
    int rc = h->desc->init ? h->desc->init(&h->ctx, config_json ? config_json : "{}", &h->state)
                           : 0;
    h->init_ok = rc == 0;
    return rc;
}

void rh_harness_clear(rh_harness *h)
{
    for (uint32_t i = 0; i < h->n_outputs; i++)
        free((void *)h->outputs[i].payload);
    h->n_outputs = 0;
    h->n_failures = 0;
    h->api_errors = 0;
    h->last_api_error[0] = '\0';
    h->logs = 0;
    h->last_log[0] = '\0';
}

void rh_harness_free(rh_harness *h)
{
    if (!h)
        return;
    if (h->init_ok && h->desc->fini)
        h->desc->fini(&h->ctx, h->state);
    rh_harness_clear(h);
    free_inputs(h->inputs, h->n_inputs);
    free_inputs(h->polled, h->n_polled);
    for (int i = 0; i < 16; i++)
        free(h->reserved[i]);
    if (h->plugin) {
        rh_plugin_close(h->plugin);
        free(h->plugin);
    }
    free(h->inputs);
    free(h->polled);
    free(h->msgs);
    free(h->outputs);
    free(h->failures);
    free(h);
}

void rh_harness_set_worker(rh_harness *h, uint32_t worker, uint32_t workers)
{
    h->ctx.worker = worker;
    h->ctx.workers = workers;
}

void rh_harness_set_stopping(rh_harness *h, int stopping)
{
    h->stopping = stopping;
}

rh_id rh_harness_push(rh_harness *h, uint32_t port, const void *payload, uint32_t len)
{
    rh_id none = {0, 0};
    if (port >= h->desc->n_inputs) {
        api_error(h, "push: input port %u, but kernel \"%s\" has %u inputs", port, h->desc->name,
                  h->desc->n_inputs);
        return none;
    }
    const rh_type *t = h->desc->inputs[port].type;
    if (len > t->size || (!payload && len)) {
        api_error(h, "push: %u bytes for input port %u (%s), the type holds %u", len, port,
                  t->name, t->size);
        return none;
    }
    if (rh_grow(&h->inputs, &h->cap_inputs, h->n_inputs + 1, sizeof *h->inputs))
        return none;
    input *in = calloc(1, sizeof *in);
    if (!in)
        return none;
    in->payload = slot_alloc(t);
    if (!in->payload) {
        free(in);
        return none;
    }
    if (len)
        memcpy(in->payload, payload, len);
    in->port = port;
    /* "HARNESS" in the high half, a counter in the low: never zero, easy to
     * read in a failure message. */
    in->env.id.hi = UINT64_C(0x004841524e455353);
    in->env.id.lo = h->next_id++;
    in->env.enqueue_ns = now_ns();
    in->env.payload_len = len;
    in->env.port = (uint16_t)port;
    h->inputs[h->n_inputs++] = in;
    return in->env.id;
}

int rh_harness_push_json(rh_harness *h, uint32_t port, const char *json_text, rh_id *id_out,
                         char *why, size_t why_len)
{
    char local[8];
    if (!why || !why_len) {
        why = local;
        why_len = sizeof local;
    }
    if (port >= h->desc->n_inputs) {
        snprintf(why, why_len, "input port %u, but kernel \"%s\" has %u inputs", port,
                 h->desc->name, h->desc->n_inputs);
        return -1;
    }
    const rh_type *t = h->desc->inputs[port].type;
    json_error_t jerr;
    json_t *j = json_loads(json_text, 0, &jerr);
    if (!j) {
        snprintf(why, why_len, "JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return -1;
    }
    void *msg = slot_alloc(t);
    int rc = -1;
    if (!msg)
        snprintf(why, why_len, "out of memory");
    else if (t->decode(j, msg, why, why_len) == 0 && t->validate(msg, why, why_len) == 0) {
        rh_id id = rh_harness_push(h, port, msg, t->size);
        if (id_out)
            *id_out = id;
        rc = rh_id_is_zero(id) ? -1 : 0;
        if (rc)
            snprintf(why, why_len, "out of memory");
    }
    free(msg);
    json_decref(j);
    return rc;
}

uint32_t rh_harness_pending(const rh_harness *h)
{
    return h->n_inputs;
}

const rh_batch *rh_harness_batch(rh_harness *h)
{
    return make_batch(h, h->inputs, h->n_inputs);
}

/* A reserved slot left uncommitted when the kernel returns would be a lost
 * message in a real host. */
static void check_uncommitted(rh_harness *h, const char *fn)
{
    for (uint32_t p = 0; p < 16; p++) {
        if (!h->reserved[p])
            continue;
        api_error(h, "%s returned with a reserved, uncommitted slot on output port %u", fn, p);
        free(h->reserved[p]);
        h->reserved[p] = NULL;
    }
}

static int ensure_init(rh_harness *h)
{
    if (!h->init_called)
        return rh_harness_init(h, NULL);
    return h->init_ok ? 0 : RH_ESTATE;
}

int rh_harness_process(rh_harness *h, uint32_t max_batch)
{
    if (!h->desc->process) {
        api_error(h, "rh_harness_process: kernel \"%s\" has no process()", h->desc->name);
        return RH_EINVAL;
    }
    int rc = ensure_init(h);
    if (rc)
        return rc;
    uint32_t done = 0;
    while (done < h->n_inputs) {
        uint32_t n = h->n_inputs - done;
        if (max_batch && n > max_batch)
            n = max_batch;
        const rh_batch *b = make_batch(h, h->inputs + done, n);
        int r = h->desc->process(&h->ctx, h->state, b);
        check_uncommitted(h, "process");
        if (r < 0) {
            for (uint32_t i = 0; i < b->count; i++)
                record_failure(h, &b->msgs[i], "batch failed: process returned %d", r);
            if (!rc)
                rc = r;
        }
        done += n;
    }
    free_inputs(h->inputs, h->n_inputs);
    h->n_inputs = 0;
    return rc;
}

int rh_harness_run(rh_harness *h)
{
    if (!h->desc->run) {
        api_error(h, "rh_harness_run: kernel \"%s\" has no run()", h->desc->name);
        return RH_EINVAL;
    }
    int rc = ensure_init(h);
    if (rc)
        return rc;
    h->running = 1;
    h->run_stop = 0;
    rc = h->desc->run(&h->ctx, h->state);
    h->running = 0;
    check_uncommitted(h, "run");
    free_inputs(h->polled, h->n_polled);
    free(h->polled);
    h->polled = NULL;
    h->n_polled = 0;
    return rc;
}

uint32_t rh_harness_output_count(const rh_harness *h)
{
    return h->n_outputs;
}

const rh_harness_output *rh_harness_output_at(const rh_harness *h, uint32_t i)
{
    return i < h->n_outputs ? &h->outputs[i] : NULL;
}

char *rh_harness_output_json(const rh_harness *h, uint32_t i)
{
    if (i >= h->n_outputs)
        return NULL;
    const rh_harness_output *o = &h->outputs[i];
    json_t *j = h->desc->outputs[o->port].type->encode(o->payload);
    if (!j)
        return NULL;
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

uint32_t rh_harness_failure_count(const rh_harness *h)
{
    return h->n_failures;
}

const rh_harness_failure *rh_harness_failure_at(const rh_harness *h, uint32_t i)
{
    return i < h->n_failures ? &h->failures[i] : NULL;
}

uint32_t rh_harness_api_errors(const rh_harness *h)
{
    return h->api_errors;
}

const char *rh_harness_last_api_error(const rh_harness *h)
{
    return h->last_api_error;
}

uint32_t rh_harness_log_count(const rh_harness *h)
{
    return h->logs;
}

const char *rh_harness_last_log(const rh_harness *h)
{
    return h->last_log;
}

rh_ctx *rh_harness_ctx(rh_harness *h)
{
    return &h->ctx;
}

void *rh_harness_state(const rh_harness *h)
{
    return h->state;
}
