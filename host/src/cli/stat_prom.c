/*
 * stat_prom.c — the Prometheus text exposition of an instance's counters:
 * what `ringhost stat --prom` prints and `run --metrics-listen` serves at
 * /metrics (metrics_http.c).  One metric table per object kind, so a new
 * counter is one line here and the same in both.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static long long num(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static const struct metric {
    const char *key, *name, *type, *help;
} queue_metrics[] = {
    {"enqueued", "ringhost_queue_enqueued_total", "counter", "Messages the queue accepted."},
    {"dequeued", "ringhost_queue_dequeued_total", "counter", "Messages taken out of the queue."},
    {"rejected", "ringhost_queue_rejected_total", "counter",
     "Sends refused: full with reject, or a block that timed out."},
    {"dropped_oldest", "ringhost_queue_dropped_oldest_total", "counter",
     "Messages evicted by drop_oldest."},
    {"dropped_newest", "ringhost_queue_dropped_newest_total", "counter",
     "Messages discarded by drop_newest."},
    {"duplicates", "ringhost_queue_duplicates_total", "counter",
     "Messages dropped by the dedup window."},
    {"expired", "ringhost_queue_expired_total", "counter", "Messages older than ttl_ms."},
    {"invalid", "ringhost_queue_invalid_total", "counter", "Messages that failed validation."},
    {"failed", "ringhost_queue_failed_total", "counter", "Messages failed by their kernel."},
    {"dead_lettered", "ringhost_queue_dead_lettered_total", "counter",
     "Messages sent to a dead-letter queue."},
    {"corrupt", "ringhost_queue_corrupt_total", "counter",
     "Waits on a queue index that stalled for good (queue.corrupt): a dead claim holder or a "
     "scribbled index."},
    {"depth", "ringhost_queue_depth", "gauge", "Messages in the queue now."},
    {"high_water", "ringhost_queue_high_water", "gauge", "Highest depth seen."},
    {"capacity", "ringhost_queue_capacity", "gauge", "Slots of the queue."},
}, kernel_metrics[] = {
    {"processed", "ringhost_kernel_processed_total", "counter",
     "Messages handed to the kernel, all workers."},
    {"failed", "ringhost_kernel_failed_total", "counter", "Messages the kernel failed."},
    {"emitted", "ringhost_kernel_emitted_total", "counter", "Outputs the kernel committed."},
    {"batches", "ringhost_kernel_batches_total", "counter", "Batches the kernel processed."},
    {"restarts", "ringhost_kernel_restarts_total", "counter", "init() run again after a fault."},
    {"swaps", "ringhost_kernel_swaps_total", "counter", "Plugin replaced while running."},
    {"swaps_refused", "ringhost_kernel_swaps_refused_total", "counter",
     "Replacement plugins refused (the running one kept)."},
    {"stalls", "ringhost_kernel_stalls_total", "counter",
     "process() calls that ran past the kernel's watchdog_ms."},
    {"workers", "ringhost_kernel_workers", "gauge", "Workers of the kernel."},
}, link_metrics[] = {
    {"connected", "ringhost_link_connected", "gauge", "1 while the link's NATS connection is up."},
    {"published", "ringhost_link_published_total", "counter",
     "Messages the exports published (republishes included)."},
    {"acked", "ringhost_link_acked_total", "counter", "Exported messages JetStream acked."},
    {"pending_acks", "ringhost_link_pending_acks", "gauge",
     "Exported messages taken from their queue and not yet acked by JetStream."},
    {"redeliveries", "ringhost_link_redeliveries_total", "counter",
     "Imported messages JetStream delivered more than once."},
    {"consumer_lag", "ringhost_link_consumer_lag", "gauge",
     "Messages the import consumers have not fetched yet (at the last fetch)."},
    {"reconnects", "ringhost_link_reconnects_total", "counter", "Reconnects of the link."},
};

/* One metric's HELP, TYPE and a sample per object of arr, labelled
 * instance and `label` (the object's `field`). */
static void print_metric(FILE *out, const struct metric *mt, const char *instance, json_t *arr,
                         const char *label, const char *field)
{
    json_t *o;
    size_t i;
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", mt->name, mt->help, mt->name, mt->type);
    json_array_foreach (arr, i, o) {
        fprintf(out, "%s{instance=\"", mt->name);
        rh__cli_prom_label(out, instance);
        fprintf(out, "\",%s=\"", label);
        rh__cli_prom_label(out, str(o, field));
        fprintf(out, "\"} %lld\n", num(o, mt->key));
    }
}

void rh__cli_prom_print(FILE *out, const char *instance, json_t *queues, json_t *kernels)
{
    json_t *o;
    size_t i;
    /* Which build answers, as Prometheus exporters say it: a gauge of 1
     * whose label is the version (`ringhost --version`); the instance label
     * as on every other series. */
    fprintf(out, "# HELP ringhost_build_info The ringhost version serving these metrics; always 1.\n"
                 "# TYPE ringhost_build_info gauge\n"
                 "ringhost_build_info{instance=\"");
    rh__cli_prom_label(out, instance);
    fprintf(out, "\",version=\"%s\"} 1\n", RINGHOST_VERSION);
    for (size_t m = 0; m < sizeof queue_metrics / sizeof *queue_metrics; m++)
        print_metric(out, &queue_metrics[m], instance, queues, "queue", "queue");
    json_t *links = rh__cli_link_stats(instance); /* remote queues */
    for (size_t m = 0; links && json_array_size(links) && m < sizeof link_metrics /
                                                                 sizeof *link_metrics; m++)
        print_metric(out, &link_metrics[m], instance, links, "link", "link");
    json_decref(links);
    /* latency (stat_latency.c): each queue's wait, each kernel's service */
    rh__cli_queue_waits(queues, kernels);
    json_t *threads = kernels ? rh__cli_thread_stats(instance) : NULL;
    rh__cli_latency_prom(out, instance, queues, kernels, threads);
    json_decref(threads);
    if (!kernels)
        return;
    for (size_t m = 0; m < sizeof kernel_metrics / sizeof *kernel_metrics; m++)
        print_metric(out, &kernel_metrics[m], instance, kernels, "kernel", "name");
    fprintf(out, "# HELP ringhost_kernel_state 1 for the state the kernel is in.\n"
           "# TYPE ringhost_kernel_state gauge\n");
    json_array_foreach (kernels, i, o) {
        static const char *states[] = {"launched", "active", "inactive", "terminated"};
        for (int s = 0; s < 4; s++) {
            fprintf(out, "ringhost_kernel_state{instance=\"");
            rh__cli_prom_label(out, instance);
            fprintf(out, "\",kernel=\"");
            rh__cli_prom_label(out, str(o, "name"));
            fprintf(out, "\",state=\"%s\"} %d\n", states[s],
                    strcmp(str(o, "state"), states[s]) == 0);
        }
    }
}

void rh__cli_stat_prom(FILE *out, const char *instance)
{
    json_t *queues = rh__cli_queue_stats(instance), *kernels = rh__cli_kernel_stats(instance);
    rh__cli_prom_print(out, instance, queues, kernels);
    json_decref(queues);
    json_decref(kernels);
}
