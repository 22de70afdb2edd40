/*
 * stat_latency.c — latency and polls in `ringhost stat`: each queue's wait
 * and each kernel's service time (histograms the host's workers record,
 * engine/latency.c, read through ps), and each reactor thread's busy and
 * idle polls, as a table, as --json fields and as Prometheus histograms.
 */
#include <stdlib.h>
#include <string.h>

#include "base/hist.h"
#include "cli.h"

/* Prometheus buckets: every power of two of ns from 2^7 (128 ns) to 2^36
 * (68.7 s).  Each is an edge of the host's own buckets (base/hist.h), so
 * the cumulative counts are exact, not interpolated: le is the exclusive
 * upper edge (a value of exactly 2^k ns counts in the next one). */
#define PROM_LE_FIRST 7
#define PROM_LE_LAST 36

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

void rh__cli_queue_waits(json_t *queues, json_t *kernels)
{
    json_t *q;
    size_t i;
    json_array_foreach (queues, i, q) {
        rh_hist_snap *s = calloc(1, sizeof *s);
        int read = 0;
        json_t *k, *in;
        size_t j, p;
        json_array_foreach (kernels, j, k)
            json_array_foreach (json_object_get(json_object_get(k, "latency"), "inputs"), p, in)
                if (s && !strcmp(str(in, "queue"), str(q, "queue")) &&
                    rh__hist_add_json(s, json_object_get(in, "wait")) == 0)
                    read = 1;
        /* only a queue some kernel reads waits for one */
        if (read)
            json_object_set_new(q, "wait", rh__hist_to_json(s));
        free(s);
    }
}

/* The name column: 32 wide, less on a narrower terminal (width > 0), never
 * under 8; a longer name gets a line of its own, never cut (cmd_stat.c's
 * rule). */
#define ROW_FIXED (8 + 1 + 1 + 9 + 4 * 8 + 1)
static int name_width(int width)
{
    int w = width > 0 ? width - ROW_FIXED : 32;
    return w > 32 ? 32 : w < 8 ? 8 : w;
}

/* "messages mean p50 p99 p99.9" of one histogram row, or nothing when h is
 * not one. */
static void print_row(const char *what, const char *name, int nw, json_t *h)
{
    rh_hist_snap *s = calloc(1, sizeof *s);
    if (!s || rh__hist_add_json(s, h) != 0) {
        free(s);
        return;
    }
    char a[16], b[16], c[16], mean[16];
    if ((int)strlen(name) > nw)
        printf("%-8s %s\n%-8s %-*s", what, name, "", nw, "");
    else
        printf("%-8s %-*s", what, nw, name);
    printf(" %9llu %7s %7s %7s %7s\n", (unsigned long long)s->count,
           s->count ? rh__hist_ns_text(s->sum_ns / s->count, mean) : "-",
           s->count ? rh__hist_ns_text(rh__hist_quantile(s, 0.5), a) : "-",
           s->count ? rh__hist_ns_text(rh__hist_quantile(s, 0.99), b) : "-",
           s->count ? rh__hist_ns_text(rh__hist_quantile(s, 0.999), c) : "-");
    free(s);
}

void rh__cli_latency_print(json_t *queues, json_t *kernels, json_t *threads, int width)
{
    if (!kernels)
        return;
    int nw = name_width(width);
    printf("\n%-8s %-*s %9s %7s %7s %7s %7s\n", "latency", nw, "of", "messages", "mean", "p50",
           "p99", "p99.9");
    json_t *o;
    size_t i;
    json_array_foreach (queues, i, o)
        if (json_object_get(o, "wait"))
            print_row("wait", str(o, "queue"), nw, json_object_get(o, "wait"));
    json_array_foreach (kernels, i, o)
        print_row("service", str(o, "name"), nw,
                  json_object_get(json_object_get(o, "latency"), "service"));
    if (!json_array_size(threads))
        return;
    /* thread names are at most 63 bytes (rh_reactor.name): as the rows */
    int tw = width > 0 ? width - (1 + 12 + 1 + 12 + 1 + 6 + 1) : 32;
    tw = tw > 32 ? 32 : tw < 8 ? 8 : tw;
    printf("\n%-*s %12s %12s %6s\n", tw, "thread", "busy polls", "idle polls", "busy%");
    json_array_foreach (threads, i, o) {
        long long busy = json_integer_value(json_object_get(o, "busy_polls"));
        long long idle = json_integer_value(json_object_get(o, "idle_polls"));
        const char *name = str(o, "thread");
        if ((int)strlen(name) > tw)
            printf("%s\n%-*s", name, tw, "");
        else
            printf("%-*s", tw, name);
        printf(" %12lld %12lld %6.1f\n", busy, idle,
               busy + idle ? 100.0 * (double)busy / (double)(busy + idle) : 0.0);
    }
}

/* One histogram's _bucket, _sum and _count samples, labelled instance and
 * label=value. */
static void prom_hist(FILE *out, const char *name, const char *instance, const char *label,
                      const char *value, json_t *h)
{
    rh_hist_snap *s = calloc(1, sizeof *s);
    if (!s || rh__hist_add_json(s, h) != 0) {
        free(s);
        return;
    }
    uint64_t below = 0;
    uint32_t b = 0;
    for (int k = PROM_LE_FIRST; k <= PROM_LE_LAST + 1; k++) {
        uint64_t edge = 1ull << k;
        for (; b < RH_HIST_OVERFLOW && rh__hist_upper(b) <= edge; b++)
            below += s->bucket[b];
        fprintf(out, "%s_bucket{instance=\"", name);
        rh__cli_prom_label(out, instance);
        fprintf(out, "\",%s=\"", label);
        rh__cli_prom_label(out, value);
        if (k > PROM_LE_LAST)
            fprintf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)s->count);
        else
            fprintf(out, "\",le=\"%.12g\"} %llu\n", (double)edge / 1e9,
                    (unsigned long long)below);
    }
    for (int sum = 1; sum >= 0; sum--) {
        fprintf(out, "%s_%s{instance=\"", name, sum ? "sum" : "count");
        rh__cli_prom_label(out, instance);
        fprintf(out, "\",%s=\"", label);
        rh__cli_prom_label(out, value);
        if (sum)
            fprintf(out, "\"} %.9f\n", (double)s->sum_ns / 1e9);
        else
            fprintf(out, "\"} %llu\n", (unsigned long long)s->count);
    }
    free(s);
}

void rh__cli_latency_prom(FILE *out, const char *instance, json_t *queues, json_t *kernels,
                          json_t *threads)
{
    json_t *o;
    size_t i;
    fprintf(out, "# HELP ringhost_queue_wait_seconds Time messages waited in the queue, from "
                 "their enqueue to the take of their batch by a kernel.\n"
                 "# TYPE ringhost_queue_wait_seconds histogram\n");
    json_array_foreach (queues, i, o)
        if (json_object_get(o, "wait"))
            prom_hist(out, "ringhost_queue_wait_seconds", instance, "queue", str(o, "queue"),
                      json_object_get(o, "wait"));
    if (!kernels)
        return;
    fprintf(out, "# HELP ringhost_kernel_service_seconds Time each message spent in the kernel: "
                 "the take and process() call of its batch.\n"
                 "# TYPE ringhost_kernel_service_seconds histogram\n");
    json_array_foreach (kernels, i, o)
        prom_hist(out, "ringhost_kernel_service_seconds", instance, "kernel", str(o, "name"),
                  json_object_get(json_object_get(o, "latency"), "service"));
    fprintf(out, "# HELP ringhost_kernel_busy_seconds_total Time the kernel's workers spent on "
                 "batches (once per batch).\n"
                 "# TYPE ringhost_kernel_busy_seconds_total counter\n");
    json_array_foreach (kernels, i, o) {
        json_t *lat = json_object_get(o, "latency");
        if (!lat)
            continue;
        fprintf(out, "ringhost_kernel_busy_seconds_total{instance=\"");
        rh__cli_prom_label(out, instance);
        fprintf(out, "\",kernel=\"");
        rh__cli_prom_label(out, str(o, "name"));
        fprintf(out, "\"} %.9f\n",
                (double)json_integer_value(json_object_get(lat, "busy_ns")) / 1e9);
    }
    fprintf(out, "# HELP ringhost_thread_polls_total Rounds of a host thread over its tasks: "
                 "busy found work, idle found none.\n"
                 "# TYPE ringhost_thread_polls_total counter\n");
    json_array_foreach (threads, i, o)
        for (int busy = 1; busy >= 0; busy--) {
            fprintf(out, "ringhost_thread_polls_total{instance=\"");
            rh__cli_prom_label(out, instance);
            fprintf(out, "\",thread=\"");
            rh__cli_prom_label(out, str(o, "thread"));
            fprintf(out, "\",result=\"%s\"} %lld\n", busy ? "busy" : "idle",
                    (long long)json_integer_value(
                        json_object_get(o, busy ? "busy_polls" : "idle_polls")));
        }
}
