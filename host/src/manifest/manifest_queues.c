/*
 * manifest_queues.c — the "defaults" and "queues" of a manifest: each
 * queue's capacity, backpressure, timeouts, dedup window, ttl, sharing and
 * persistence, defaults applied, and the names a manifest writes for the
 * policies and waits.  The errors and decisions are those of
 * manifest_load.c (its header comment).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest/manifest_pvt.h"

/* Built-in defaults, used where the manifest's "defaults" says nothing. */
static const rh_queue_config builtin_queue = RH_QUEUE_CONFIG_INIT(
    .capacity = 4096,
    .backpressure = RH_BP_BLOCK,
    .block_timeout_ms = 5000,
    .dedup_window = 0,
    .ttl_ms = 0,
    .shared = 1);
#define BUILTIN_BATCH 32
#define BUILTIN_RING_CAPACITY 0 /* auto: sized by the port's type (launch/kernel_build.c) */
#define MS_MAX 2147483647 /* timeouts in ms fit an int */

/* The policies' names are the queue's (rh_backpressure_name, one table
 * guarded by a static assert there), read in policy order. */
#define N_BACKPRESSURE (RH_BP_DROP_NEWEST + 1)
static const char *const defaults_keys[] = {"queue", "wait", "batch", "ring_capacity"};
/* "type" first: defaults.queue takes every key but the first. */
static const char *const queue_keys[] = {"type",   "capacity", "dedup_window", "backpressure",
                                         "block_timeout_ms", "ttl_ms", "shared",
                                         "persist", "export", "import"};
#define QUEUE_REMOTE_KEYS 2 /* "export" and "import" last: a queue's own, not defaults' */

const char *const rh__manifest_wait_names[RH_MANIFEST_WAIT_COUNT] = {"spin", "yield", "park",
                                                                   "adaptive"};

/*
 * A persist queue outlives the host in /dev/shm, so it must be shared; and
 * it may not be drop_oldest, which would evict a message a kernel has taken
 * but not finished (docs/RELIABILITY.md, Shutdown and restart).  The error
 * points at the key this object set (both inherited cannot happen: the
 * base they came from was checked the same way).
 */
static int check_persist(const rh_json_doc *L, const json_t *obj, const char *path,
                         const rh_queue_config *cfg)
{
    if (!cfg->persist)
        return 0;
    char p[RH_JSON_PATH_LEN];
    const char *key = NULL, *expected = NULL;
    if (!cfg->shared) {
        key = json_object_get(obj, "shared") ? "shared" : "persist";
        expected = key[0] == 's' ? "true (\"persist\": true needs a shared queue: it lives in "
                                   "/dev/shm)"
                                 : "false, or \"shared\": true (a persist queue lives in "
                                   "/dev/shm)";
    } else if (cfg->backpressure == RH_BP_DROP_OLDEST) {
        key = json_object_get(obj, "backpressure") ? "backpressure" : "persist";
        expected = key[0] == 'b' ? "block, reject or drop_newest (\"persist\": true keeps "
                                   "messages a kernel has taken until it is done with them, so "
                                   "it cannot evict the oldest)"
                                 : "false, or a backpressure other than drop_oldest";
    }
    if (!key)
        return 0;
    rh__manifest_path_key(p, sizeof p, path, key);
    return rh__json_fail(L, p, json_object_get(obj, key), "%s", expected);
}

/*
 * One queue's settings over base.  type (if not NULL) receives "type";
 * base_from names where base came from, for the dedup_window message.
 */
static int parse_queue_cfg(const rh_json_doc *L, const json_t *obj, const char *path,
                           const rh_queue_config *base, const char *base_from,
                           rh_queue_config *cfg, char *type, size_t type_size)
{
    char p[RH_JSON_PATH_LEN];
    int rc;
    if (!json_is_object(obj))
        return rh__json_fail(L, path, obj, "an object of queue settings");
    if ((rc = type ? rh__json_check_keys(L, obj, path, queue_keys, COUNT(queue_keys))
                   : rh__json_check_keys(L, obj, path, queue_keys + 1,
                                         COUNT(queue_keys) - 1 - QUEUE_REMOTE_KEYS)))
        return rc;
    *cfg = *base;

    const json_t *v;
    if (type && (v = json_object_get(obj, "type"))) {
        rh__manifest_path_key(p, sizeof p, path, "type");
        if ((rc = rh__json_get_name(L, v, p, "a message type name", 1, type, type_size)))
            return rc;
    }
    int bp = (int)cfg->backpressure;
    const char *backpressure_names[N_BACKPRESSURE];
    for (int i = 0; i < N_BACKPRESSURE; i++)
        backpressure_names[i] = rh_backpressure_name((rh_backpressure)i);
    if ((rc = rh__json_opt_uint(L, obj, path, "capacity", 2, RH_QUEUE_CAPACITY_MAX, 1, "slots",
                                &cfg->capacity)) ||
        (rc = rh__json_opt_uint(L, obj, path, "dedup_window", 0, 4LL * RH_QUEUE_CAPACITY_MAX, 0,
                                "message ids", &cfg->dedup_window)) ||
        (rc = rh__json_opt_enum(L, obj, path, "backpressure", backpressure_names,
                                N_BACKPRESSURE, &bp)) ||
        (rc = rh__json_opt_uint(L, obj, path, "block_timeout_ms", 0, MS_MAX, 0, "milliseconds",
                                &cfg->block_timeout_ms)) ||
        (rc = rh__json_opt_uint(L, obj, path, "ttl_ms", 0, MS_MAX, 0, "milliseconds, 0 = no expiry",
                                &cfg->ttl_ms)) ||
        (rc = rh__json_opt_bool(L, obj, path, "shared", &cfg->shared)) ||
        (rc = rh__json_opt_bool(L, obj, path, "persist", &cfg->persist)))
        return rc;
    cfg->backpressure = (rh_backpressure)bp;
    if ((rc = check_persist(L, obj, path, cfg)))
        return rc;

    /* The dedup window remembers ids the bridge accepted: at most 4 queues' worth. */
    if ((uint64_t)cfg->dedup_window > 4ull * cfg->capacity) {
        if ((v = json_object_get(obj, "dedup_window"))) {
            rh__manifest_path_key(p, sizeof p, path, "dedup_window");
            return rh__json_fail(L, p, v,
                                 "an integer between 0 and 4 * capacity = %llu (message ids)",
                                 4ull * cfg->capacity);
        }
        rh__manifest_path_key(p, sizeof p, path, "capacity");
        return rh__json_fail(L, p, json_object_get(obj, "capacity"),
                             "a power of two between %u and %u (slots; dedup_window %u from %s "
                             "needs at least dedup_window / 4)",
                            (cfg->dedup_window + 3) / 4, RH_QUEUE_CAPACITY_MAX, cfg->dedup_window,
                            base_from);
    }
    return 0;
}

int rh__manifest_parse_defaults(const rh_json_doc *L, const json_t *d, rh_manifest *m)
{
    int rc;
    m->queue_defaults = builtin_queue;
    m->wait_default = RH_WAIT_ADAPTIVE;
    m->batch_default = BUILTIN_BATCH;
    m->ring_capacity_default = BUILTIN_RING_CAPACITY;
    if (!d)
        return 0;
    if (!json_is_object(d))
        return rh__json_fail(L, "defaults", d,
                             "an object with \"queue\", \"wait\", \"batch\" or \"ring_capacity\"");
    if ((rc = rh__json_check_keys(L, d, "defaults", defaults_keys, COUNT(defaults_keys))))
        return rc;

    const json_t *q = json_object_get(d, "queue");
    int wait = (int)m->wait_default;
    if ((q && (rc = parse_queue_cfg(L, q, "defaults.queue", &builtin_queue, "the built-in defaults",
                                    &m->queue_defaults, NULL, 0))) ||
        (rc = rh__json_opt_enum(L, d, "defaults", "wait", rh__manifest_wait_names,
                                RH_MANIFEST_WAIT_COUNT, &wait)) ||
        (rc = rh__json_opt_uint(L, d, "defaults", "batch", 1, RH_BATCH_MAX, 0, "messages",
                                &m->batch_default)) ||
        (rc = rh__json_opt_uint(L, d, "defaults", "ring_capacity", 2, RH_RING_CAPACITY_MAX, 1,
                                "slots", &m->ring_capacity_default)))
        return rc;
    m->wait_default = (rh_wait_kind)wait;
    return 0;
}

int rh__manifest_parse_queues(const rh_json_doc *L, const json_t *qs, rh_manifest *m)
{
    if (!qs)
        return 0;
    if (!json_is_object(qs))
        return rh__json_fail(L, "queues", qs, "an object mapping queue names to queue settings");
    m->queues = calloc(json_object_size(qs) + 1, sizeof *m->queues);
    if (!m->queues)
        return rh_error_set(L->err, RH_ENOMEM, "%s: out of memory", L->file);

    const char *name;
    json_t *v;
    json_object_foreach ((json_t *)qs, name, v) {
        rh_queue_decl *q = &m->queues[m->n_queues];
        char p[RH_JSON_PATH_LEN];
        rh__manifest_path_key(p, sizeof p, "queues", name);
        if (!rh__json_name_ok(name, RH_QUEUE_NAME_MAX, 1))
            return rh__json_fail_str(L, p, name,
                                     "a queue name of 1 to %d characters from [A-Za-z0-9._-]",
                                     RH_QUEUE_NAME_MAX);
        int rc = parse_queue_cfg(L, v, p, &m->queue_defaults, "defaults.queue", &q->cfg, q->type,
                                 sizeof q->type);
        if (rc || (rc = rh__manifest_parse_queue_remote(L, v, p, m, q)))
            return rc;
        snprintf(q->name, sizeof q->name, "%s", name);
        rh__manifest_path_key(q->json_path, sizeof q->json_path, "queues", name);
        m->n_queues++;
    }
    return 0;
}

rh_queue_decl *rh__manifest_queue(rh_manifest *m, const char *name)
{
    for (uint32_t i = 0; m && name && i < m->n_queues; i++)
        if (strcmp(m->queues[i].name, name) == 0)
            return &m->queues[i];
    return NULL;
}
