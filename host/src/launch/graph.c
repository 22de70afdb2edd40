/*
 * graph.c — a wiring plan as a picture: the kernels, their ports, the
 * queues, the bridges that pump between them and the threads each kernel
 * gets, as Graphviz DOT statements (`ringhost graph`; DPDK's
 * rte_graph_export and GStreamer's pipeline dumps are the models).
 *
 * Node ids are "q:<queue>" and "k:<kernel>", so the statements of several
 * plans (the manifests launched into one host) can go into one digraph:
 * Graphviz merges the queue nodes they share.  With live counters (the
 * host's ps and its queues' shared memory, gathered by the caller) the
 * queues say their depth and the edges their rates.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "launch/launch.h"
#include "base/hist.h"
#include "base/wait.h"

/* A DOT string body: '"' and '\' escaped, nothing else touched. */
static void put_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
}

/* A record label field: the record syntax characters escaped too. */
static void put_record(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (strchr("\"\\{}|<> ", *s))
            fputc('\\', out);
        fputc(*s, out);
    }
}

static json_t *live_of(const json_t *live, const char *group, const char *name)
{
    return live ? json_object_get(json_object_get(live, group), name) : NULL;
}

static void print_queue(FILE *out, const rh_qplan *q, const json_t *live)
{
    int is_dlq = strlen(q->name) > 4 && !strcmp(q->name + strlen(q->name) - 4, ".dlq");
    fprintf(out, "  \"q:");
    put_escaped(out, q->name);
    fprintf(out, "\" [shape=box, style=\"rounded,filled\", fillcolor=\"%s\", label=\"",
            is_dlq ? "#fde2e1" : "#e3eefc");
    put_escaped(out, q->name);
    fprintf(out, "\\n");
    put_escaped(out, q->type ? q->type->name : "?");
    json_t *l = live_of(live, "queues", q->name);
    if (l)
        fprintf(out, "\\ndepth %lld/%u", (long long)json_integer_value(json_object_get(l, "depth")),
                q->cfg.capacity);
    else
        fprintf(out, "\\n%u slots", q->cfg.capacity);
    fprintf(out, ", %s%s\"];\n", rh_backpressure_name(q->cfg.backpressure),
            q->cfg.persist ? ", persist" : "");
}

/* The threads of kernel k as the plan (and, live, the host) has them. */
static void print_threads(FILE *out, const rh_kinst *k, const json_t *kl)
{
    const rh_kernel_decl *d = k->decl;
    fprintf(out, "    \"t:");
    put_escaped(out, d->name);
    fprintf(out, "\" [shape=note, fontsize=10, label=\"");
    const char *threads = kl ? json_string_value(json_object_get(kl, "threads")) : NULL;
    const char *cpus = kl ? json_string_value(json_object_get(kl, "cpus")) : NULL;
    if (threads) {
        fprintf(out, "threads ");
        put_escaped(out, threads);
        if (cpus) {
            fprintf(out, "\\ncpus ");
            put_escaped(out, cpus);
        }
        fprintf(out, "\\n");
    }
    fprintf(out, "dispatch x%u", d->workers);
    if (d->pin_dispatch.text[0]) {
        fprintf(out, " on ");
        put_escaped(out, d->pin_dispatch.text);
    }
    if (d->bridge == RH_BRIDGE_THREAD) {
        fprintf(out, "\\npump thread");
        if (d->pin_pump.text[0]) {
            fprintf(out, " on ");
            put_escaped(out, d->pin_pump.text);
        }
    } else {
        fprintf(out, "\\nbridges inline");
    }
    fprintf(out, "\\nwait %s, batch %u\"];\n", rh__wait_name(d->wait), d->batch);
    fprintf(out, "    \"k:");
    put_escaped(out, d->name);
    fprintf(out, "\" -> \"t:");
    put_escaped(out, d->name);
    fprintf(out, "\" [style=invis];\n");
}

static void print_kernel(FILE *out, const rh_kinst *k, const json_t *live)
{
    const rh_kernel_decl *d = k->decl;
    const rh_kernel_desc *kd = k->desc;
    json_t *kl = live_of(live, "kernels", d->name);
    fprintf(out, "  subgraph \"cluster_");
    put_escaped(out, d->name);
    fprintf(out, "\" {\n    style=rounded; color=\"#888888\"; label=\"kernel ");
    put_escaped(out, d->name);
    if (kl && json_string_value(json_object_get(kl, "state"))) {
        fprintf(out, " (");
        put_escaped(out, json_string_value(json_object_get(kl, "state")));
        fprintf(out, ")");
    }
    fprintf(out, "\";\n    \"k:");
    put_escaped(out, d->name);
    fprintf(out, "\" [shape=record, style=filled, fillcolor=\"#fff4d6\", label=\"{{");
    for (uint32_t p = 0; p < kd->n_inputs; p++) {
        fprintf(out, "%s<i%u> ", p ? "|" : "", p);
        put_record(out, kd->inputs[p].name);
    }
    fprintf(out, "}|");
    put_record(out, kd->name);
    if (kd->version && kd->version[0]) {
        fprintf(out, "\\ ");
        put_record(out, kd->version);
    }
    if (kl)
        fprintf(out, "\\n%.1f\\ msg/s", json_number_value(json_object_get(kl, "rate")));
    fprintf(out, "|{");
    for (uint32_t p = 0; p < kd->n_outputs; p++) {
        fprintf(out, "%s<o%u> ", p ? "|" : "", p);
        put_record(out, kd->outputs[p].name);
    }
    fprintf(out, "}}\"];\n");
    print_threads(out, k, kl);
    fprintf(out, "  }\n");
}

/* One bridge: queue -> input port, or output port -> queue. */
static void print_edge(FILE *out, const rh_runtime *rt, const rh_kinst *k, uint32_t p, int output,
                       const json_t *live)
{
    const rh_qplan *q = &rt->qplan[output ? k->out_plan[p] : k->in_plan[p]];
    const char *bridge = k->decl->bridge == RH_BRIDGE_THREAD ? "pump" : "inline";
    json_t *ql = live_of(live, "queues", q->name);
    char label[192];
    if (ql && json_object_get(ql, output ? "enq_rate" : "deq_rate"))
        snprintf(label, sizeof label, "%s %.1f/s", bridge,
                 json_number_value(json_object_get(ql, output ? "enq_rate" : "deq_rate")));
    else
        snprintf(label, sizeof label, "%s", bridge);
    /* Latency (engine/latency.c): an input edge, how long its messages
     * waited in the queue; an output edge, how long the kernel held them
     * before its answers left (its service time). */
    json_t *lat = json_object_get(live_of(live, "kernels", k->decl->name), "latency");
    json_t *h = output ? json_object_get(lat, "service")
                       : json_object_get(json_array_get(json_object_get(lat, "inputs"), p),
                                         "wait");
    if (json_integer_value(json_object_get(h, "count")) > 0) {
        char p50[16], p99[16];
        size_t used = strlen(label);
        snprintf(label + used, sizeof label - used, "\\n%s p50 %s p99 %s",
                 output ? "service" : "wait",
                 rh__hist_ns_text((uint64_t)json_integer_value(json_object_get(h, "p50_ns")), p50),
                 rh__hist_ns_text((uint64_t)json_integer_value(json_object_get(h, "p99_ns")), p99));
    }
    if (output) {
        fprintf(out, "  \"k:");
        put_escaped(out, k->decl->name);
        fprintf(out, "\":o%u -> \"q:", p);
        put_escaped(out, q->name);
        fputc('"', out);
    } else {
        fprintf(out, "  \"q:");
        put_escaped(out, q->name);
        fprintf(out, "\" -> \"k:");
        put_escaped(out, k->decl->name);
        fprintf(out, "\":i%u", p);
    }
    fprintf(out, " [label=\"%s\"];\n", label);
}

void rh__graph_print(rh_runtime *rt, FILE *out, const json_t *live)
{
    fprintf(out, "  /* manifest ");
    for (const char *s = rt->m->path; *s; s++)
        fputc(*s == '*' ? '_' : *s, out); /* never end the comment */
    fprintf(out, " */\n");
    for (uint32_t i = 0; i < rt->n_qplan; i++)
        print_queue(out, &rt->qplan[i], live);
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        const rh_kinst *k = &rt->kernels[i];
        print_kernel(out, k, live);
        for (uint32_t p = 0; p < k->desc->n_inputs; p++)
            print_edge(out, rt, k, p, 0, live);
        for (uint32_t p = 0; p < k->desc->n_outputs; p++)
            print_edge(out, rt, k, p, 1, live);
        const rh_qplan *dlq = &rt->qplan[k->dlq_plan];
        fprintf(out, "  \"k:");
        put_escaped(out, k->decl->name);
        fprintf(out, "\" -> \"q:");
        put_escaped(out, dlq->name);
        fprintf(out, "\" [style=dashed, color=\"#c0392b\", label=\"dead letters\"];\n");
    }
}
