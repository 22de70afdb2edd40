/*
 * testing.c — the harness API of ringhost/testing.h: create and load,
 * push inputs, run process() or run(), read what the kernel emitted and
 * failed.  The host services the kernel calls meanwhile are fake_host.c;
 * who owns what is harness_pvt.h.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ringhost/ringhost.h"
#include "ringhost/testing.h"
#include "base/grow.h"
#include "plugin/plugin.h"
#include "testing/harness_pvt.h"

rh_harness *rh_harness_new(const rh_kernel_desc *desc)
{
    rh_harness *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->desc = desc;
    h->api = rh__harness_host_api;
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
    if (!so_path || rh__plugin_open(so_path, p, &err) != 0) {
        snprintf(why, why_len, "%s", so_path ? err.msg : "(null): no plugin path given");
        free(p);
        return NULL;
    }
    rh_harness *h = rh_harness_new(p->desc);
    if (!h) {
        snprintf(why, why_len, "%s: out of memory", so_path);
        rh__plugin_close(p);
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
        rh__harness_api_error(h, "rh_harness_init called twice");
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
    rh__harness_free_inputs(h->inputs, h->n_inputs);
    rh__harness_free_inputs(h->polled, h->n_polled);
    for (int i = 0; i < 16; i++)
        free(h->reserved[i]);
    if (h->plugin) {
        rh__plugin_close(h->plugin);
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
        rh__harness_api_error(h, "push: input port %u, but kernel \"%s\" has %u inputs", port,
                              h->desc->name, h->desc->n_inputs);
        return none;
    }
    const rh_type *t = h->desc->inputs[port].type;
    if (len > t->size || (!payload && len)) {
        rh__harness_api_error(h, "push: %u bytes for input port %u (%s), the type holds %u", len,
                              port, t->name, t->size);
        return none;
    }
    if (rh_grow(&h->inputs, &h->cap_inputs, h->n_inputs + 1, sizeof *h->inputs))
        return none;
    input *in = calloc(1, sizeof *in);
    if (!in)
        return none;
    in->payload = rh__harness_slot_alloc(t);
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
    in->env.enqueue_ns = rh_now_ns();
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
    void *msg = rh__harness_slot_alloc(t);
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
    return rh__harness_make_batch(h, h->inputs, h->n_inputs);
}

/* A reserved slot left uncommitted when the kernel returns would be a lost
 * message in a real host. */
static void check_uncommitted(rh_harness *h, const char *fn)
{
    for (uint32_t p = 0; p < 16; p++) {
        if (!h->reserved[p])
            continue;
        rh__harness_api_error(h, "%s returned with a reserved, uncommitted slot on output port %u",
                              fn, p);
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
        rh__harness_api_error(h, "rh_harness_process: kernel \"%s\" has no process()",
                              h->desc->name);
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
        const rh_batch *b = rh__harness_make_batch(h, h->inputs + done, n);
        int r = h->desc->process(&h->ctx, h->state, b);
        check_uncommitted(h, "process");
        if (r < 0) {
            for (uint32_t i = 0; i < b->count; i++)
                rh__harness_record_failure(h, &b->msgs[i], "batch failed: process returned %d", r);
            if (!rc)
                rc = r;
        }
        done += n;
    }
    rh__harness_free_inputs(h->inputs, h->n_inputs);
    h->n_inputs = 0;
    return rc;
}

int rh_harness_run(rh_harness *h)
{
    if (!h->desc->run) {
        rh__harness_api_error(h, "rh_harness_run: kernel \"%s\" has no run()", h->desc->name);
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
    rh__harness_free_inputs(h->polled, h->n_polled);
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
