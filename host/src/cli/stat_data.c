/*
 * stat_data.c — what `ringhost stat` (and graph, and /metrics) read of an
 * instance: every shared queue's counters and the health of its host from
 * its shared memory, and the kernels from the host's control socket.  The
 * printers (cmd_stat.c's tables, stat_prom.c) only format these objects.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"
#include "queue/queue_pvt.h"

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* The counters of every shared queue of instance, as an array of objects
 * (the --json "queues"). */
typedef struct stat_ctx {
    const char *instance;
    json_t *arr;
} stat_ctx;

/* "2026-12-02T01:02:03Z" of a CLOCK_REALTIME time in ns, into buf[40]. */
static const char *utc_text(int64_t ns, char *buf)
{
    time_t t = (time_t)(ns / 1000000000);
    struct tm tm;
    if (ns <= 0 || !gmtime_r(&t, &tm) || strftime(buf, 40, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, 40, "unknown");
    return buf;
}

/* The side names of rh_queue_health.corrupt_sides (queue_pvt.h). */
static const char *sides_text(unsigned sides, char *buf, size_t len)
{
    static const char *const names[] = {"producers", "consumers", "indices", "header"};
    size_t used = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < 4; i++)
        if (sides & (1u << i))
            used += (size_t)snprintf(buf + used, used < len ? len - used : 0, "%s%s",
                                     used ? "," : "", names[i]);
    return buf;
}

/* Whether the shared-memory object of instance's queue name belongs to
 * this user. */
static int owned_by_us(const char *instance, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "/dev/shm/ringhost.%s:%s", instance, name);
    struct stat st;
    return stat(path, &st) == 0 && st.st_uid == geteuid();
}

/* A queue whose object is there but whose header no longer describes a
 * queue (magic, version, geometry or name rewritten by another process):
 * it cannot be attached, and its counters cannot be trusted, but it is
 * never left out: a row with corrupt 1 and why, so every format (table,
 * --json, --prom) shows it. */
static void stat_unreadable_header(stat_ctx *c, const char *name, const char *why)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                          "s:I, s:I, s:I, s:b, s:i, s:s, s:I}",
                          "queue", name, "type", "?", "capacity", (json_int_t)0, "depth",
                          (json_int_t)0, "high_water", (json_int_t)0, "enqueued", (json_int_t)0,
                          "dequeued", (json_int_t)0, "rejected", (json_int_t)0,
                          "dropped_oldest", (json_int_t)0, "dropped_newest", (json_int_t)0,
                          "duplicates", (json_int_t)0, "expired", (json_int_t)0, "invalid",
                          (json_int_t)0, "failed", (json_int_t)0, "dead_lettered",
                          (json_int_t)0, "ttl_ms", (json_int_t)0, "persist", 0, "host_pid", 0,
                          "host", "unknown", "corrupt", (json_int_t)1);
    json_object_set_new(o, "corrupt_detail",
                        json_pack("{s:s, s:s}", "side", "header", "reason", why));
    json_array_append_new(c->arr, o);
}

static void stat_one(const char *name, void *arg)
{
    stat_ctx *c = arg;
    rh_queue *q;
    rh_error err = {0};
    int rc = rh_queue_attach(c->instance, name, &q, &err);
    if (rc == RH_EINVAL && owned_by_us(c->instance, name)) {
        /* another user's object is refused with RH_EINVAL too: not ours
         * to call corrupt (unreadable_note says it) */
        stat_unreadable_header(c, name, err.msg);
        return;
    }
    if (rc != 0) /* gone since the listing, or another user's (said by unreadable_note) */
        return;
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &s);
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                          "s:I, s:I, s:I}",
                          "queue", name, "type", rh_queue_type_name(q), "capacity",
                          (json_int_t)s.capacity, "depth", (json_int_t)s.depth, "high_water",
                          (json_int_t)s.high_water, "enqueued", (json_int_t)s.enqueued,
                          "dequeued", (json_int_t)s.dequeued, "rejected", (json_int_t)s.rejected,
                          "dropped_oldest", (json_int_t)s.dropped_oldest, "dropped_newest",
                          (json_int_t)s.dropped_newest, "duplicates", (json_int_t)s.duplicates,
                          "expired", (json_int_t)s.expired, "invalid", (json_int_t)s.invalid,
                          "failed", (json_int_t)s.failed, "dead_lettered",
                          (json_int_t)s.dead_lettered, "ttl_ms",
                          (json_int_t)rh_queue_config_of(q)->ttl_ms);
    /* A persist queue's messages taken but not yet acknowledged: what a
     * host killed now would deliver again at its next launch (claimed:
     * a batch a kernel reads in place counts from its claim, before its
     * cells are released, engine/inplace.c). */
    json_object_set_new(o, "persist", json_boolean(rh__queue_is_persist(q)));
    if (rh__queue_is_persist(q))
        json_object_set_new(o, "unacked",
                            json_integer((json_int_t)(rh__queue_claimed(q) - rh__queue_acked(q))));
    /* Whose it is and whether that host still runs: a
     * host killed with SIGKILL leaves its queues behind, and `ringhost ps`
     * (its control socket) says no host; stat must not show them as live. */
    rh_queue_health hl;
    rh__queue_health_get(q, &hl);
    int64_t now = rh__wall_ns();
    json_object_set_new(o, "host_pid", json_integer(hl.host_pid));
    json_object_set_new(o, "host", json_string(hl.host_running ? "running" : "gone"));
    json_object_set_new(o, "created_age_s",
                        json_integer(hl.created_ns > 0 ? (now - hl.created_ns) / 1000000000 : -1));
    json_object_set_new(o, "heartbeat_age_s",
                        json_integer(hl.heartbeat_ns > 0 ? (now - hl.heartbeat_ns) / 1000000000
                                                         : -1));
    if (!hl.host_running && hl.heartbeat_ns > 0) {
        char when[40];
        json_object_set_new(o, "host_gone_since", json_string(utc_text(hl.heartbeat_ns, when)));
    }
    json_object_set_new(o, "corrupt", json_integer((json_int_t)hl.corrupt));
    /* What the death of the previous host of this name lost (queue_shm.c,
     * take_over_dead): in its kernel and bridges, and left queued that no
     * client took back (null while clients of the old object may still). */
    if (hl.replaced_lost_in_host || hl.replaced_discarded)
        json_object_set_new(
            o, "replaced",
            json_pack("{s:I, s:o}", "lost_in_host", (json_int_t)hl.replaced_lost_in_host,
                      "queued_discarded",
                      hl.replaced_discarded == UINT64_MAX
                          ? json_null()
                          : json_integer((json_int_t)hl.replaced_discarded)));
    if (hl.corrupt_sides) {
        char when[40], sides[64];
        /* side: what was found (queue_pvt.h): producers, consumers,
         * indices (both halted), header; several joined by commas */
        json_object_set_new(o, "corrupt_detail",
                            json_pack("{s:s, s:I, s:I, s:s}", "side",
                                      sides_text(hl.corrupt_sides, sides, sizeof sides), "tail",
                                      (json_int_t)hl.corrupt_tail, "claim",
                                      (json_int_t)hl.corrupt_claim, "at",
                                      utc_text(hl.corrupt_ns, when)));
        if (hl.corrupt == 0) /* a mark with a count scribbled to 0 is still a mark */
            json_object_set_new(o, "corrupt", json_integer(1));
    }
    json_array_append_new(c->arr, o);
    rh_queue_close(q);
}

/* The queues of instance by name (the shared-memory folder lists them in
 * no order; a frame that redraws must not reorder its rows). */
json_t *rh__cli_queue_stats(const char *instance)
{
    stat_ctx c = {instance, json_array()};
    rh_queue_list(instance, stat_one, &c);
    size_t n = json_array_size(c.arr);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(str(json_array_get(c.arr, j - 1), "queue"),
                                           str(json_array_get(c.arr, j), "queue")) > 0; j--) {
            json_t *a = json_incref(json_array_get(c.arr, j - 1));
            json_array_set(c.arr, j - 1, json_array_get(c.arr, j));
            json_array_set_new(c.arr, j, a);
        }
    return c.arr;
}

/* The queues of instance this process may not open (a host of another
 * user makes them mode 0600): says why for the first one on stderr and
 * returns how many; 0 when none. */
typedef struct unreadable {
    const char *instance;
    int n;
} unreadable;

static void unreadable_one(const char *name, void *arg)
{
    unreadable *u = arg;
    rh_queue *q;
    rh_error err = {0};
    int rc = rh_queue_attach(u->instance, name, &q, &err);
    if (rc == 0) {
        rh_queue_close(q);
        return;
    }
    if (rc == RH_ENOENT) /* gone since the listing */
        return;
    if (u->n++ == 0)
        fprintf(stderr, "ringhost stat: %s\n", err.msg);
}

int rh__cli_unreadable_note(const char *instance)
{
    unreadable u = {instance, 0};
    rh_queue_list(instance, unreadable_one, &u);
    return u.n;
}

static json_t *ps_member(const char *instance, const char *key)
{
    json_t *req = json_pack("{s:s}", "cmd", "ps"), *reply;
    int rc = rh__cli_control_call("stat", instance, req, &reply, 1);
    json_decref(req);
    json_t *k = rc == RH_EXIT_OK ? json_incref(json_object_get(reply, key)) : NULL;
    json_decref(reply);
    return k;
}

json_t *rh__cli_kernel_stats(const char *instance)
{
    return ps_member(instance, "kernels");
}

json_t *rh__cli_link_stats(const char *instance)
{
    return ps_member(instance, "links");
}

json_t *rh__cli_thread_stats(const char *instance)
{
    return ps_member(instance, "threads");
}
