/*
 * manifest.c — load a manifest file (JSON, via jansson) into rh_manifest.
 *
 * The loader checks everything that can be checked without the plugins and
 * stops at the first problem, with one message of the form
 *     <file>: <json.path>: expected <what>, got <value>
 * where <value> is the offending JSON value written compactly, or "nothing"
 * when a required key is missing.  Unknown keys are errors too (a typo in a
 * manifest must never be silently ignored):
 *     <file>: <json.path>: unknown key "capactiy"; did you mean "capacity"?
 * JSON paths use dots and [i]; a key holding anything but [A-Za-z0-9_-] is
 * written as ["key"] (queues["vadd.in"].capacity), see rh__manifest_path_key().
 *
 * This file is the manifest schema: which keys each object holds, what each
 * value must be, the defaults, and how the pieces refer to each other
 * (the "kernels" array is manifest_kernels.c, a kernel's fault keys
 * manifest_faults.c).  The
 * generic part (checking one value, writing paths and messages, suggesting
 * the nearest key) is json_check.c.
 *
 * Decisions written down here:
 *  - "plugins" folders are relative to the manifest's own folder (default
 *    "../plugins": the drop-in folder next to manifests/); they are stored
 *    absolute and canonical when the folder exists, joined as written when
 *    it does not (the runtime then reports the missing folder).
 *  - A kernel's "plugin" is a name found in those folders, or an absolute
 *    path that only the command line can allow (parse_plugin_ref); never
 *    a relative path or a name with "..".
 *  - A kernel port must name a queue declared in "queues".  A port left out
 *    of "inputs"/"outputs" is fine: the runtime creates "<kernel>.<port>"
 *    with defaults.queue (the loader does not know the ports).
 *  - A queue's dedup_window must fit its capacity after defaults are
 *    applied; the key the queue itself set is the one blamed.
 *  - Policy and wait names are matched against tables of our own instead of
 *    rh_backpressure_parse()/rh__wait_parse(), so that the manifest library
 *    links against rh_base only; the tables follow the enums' order.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "base/json_check.h"
#include "manifest/manifest_pvt.h"

/* Built-in defaults, used where the manifest's "defaults" says nothing. */
static const rh_queue_config builtin_queue = {
    .capacity = 4096,
    .backpressure = RH_BP_BLOCK,
    .block_timeout_ms = 5000,
    .dedup_window = 0,
    .ttl_ms = 0,
    .shared = 1,
};
#define BUILTIN_BATCH 32
#define BUILTIN_RING_CAPACITY 0 /* auto: sized by the port's type (launch/kernel_build.c) */
#define MS_MAX 2147483647 /* timeouts in ms fit an int */

/* Names as written in manifests, indexed by the enum value. */
static const char *const backpressure_names[] = {"block", "reject", "drop_oldest", "drop_newest"};
static const char *const placement_names[] = {"none", "compact", "scatter"};

/* Known keys per object, in the order the documentation lists them. */
static const char *const top_keys[] = {"ringhost", "name",   "plugins", "defaults",
                                       "placement", "strict", "queues",  "kernels"};
static const char *const defaults_keys[] = {"queue", "wait", "batch", "ring_capacity"};
/* "type" first: defaults.queue takes every key but the first. */
static const char *const queue_keys[] = {"type",   "capacity", "dedup_window", "backpressure",
                                         "block_timeout_ms", "ttl_ms", "shared",
                                         "persist"};

const char *const rh__manifest_wait_names[RH_MANIFEST_WAIT_COUNT] = {"spin", "yield", "park",
                                                                   "adaptive"};

/* -------------------------------------------------------- queues ---- */

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
                   : rh__json_check_keys(L, obj, path, queue_keys + 1, COUNT(queue_keys) - 1)))
        return rc;
    *cfg = *base;

    const json_t *v;
    if (type && (v = json_object_get(obj, "type"))) {
        rh__manifest_path_key(p, sizeof p, path, "type");
        if ((rc = rh__json_get_name(L, v, p, "a message type name", 1, type, type_size)))
            return rc;
    }
    int bp = (int)cfg->backpressure;
    if ((rc = rh__json_opt_uint(L, obj, path, "capacity", 2, RH_QUEUE_CAPACITY_MAX, 1, "slots",
                               &cfg->capacity)) ||
        (rc = rh__json_opt_uint(L, obj, path, "dedup_window", 0, 4LL * RH_QUEUE_CAPACITY_MAX, 0,
                               "message ids", &cfg->dedup_window)) ||
        (rc = rh__json_opt_enum(L, obj, path, "backpressure", backpressure_names,
                               COUNT(backpressure_names), &bp)) ||
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

static int parse_defaults(const rh_json_doc *L, const json_t *d, rh_manifest *m)
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
    if ((q && (rc = parse_queue_cfg(L, q, "defaults.queue", &builtin_queue,
                                    "the built-in defaults", &m->queue_defaults, NULL, 0))) ||
        (rc = rh__json_opt_enum(L, d, "defaults", "wait", rh__manifest_wait_names, RH_MANIFEST_WAIT_COUNT, &wait)) ||
        (rc = rh__json_opt_uint(L, d, "defaults", "batch", 1, RH_BATCH_MAX, 0, "messages",
                               &m->batch_default)) ||
        (rc = rh__json_opt_uint(L, d, "defaults", "ring_capacity", 2, RH_RING_CAPACITY_MAX, 1,
                               "slots", &m->ring_capacity_default)))
        return rc;
    m->wait_default = (rh_wait_kind)wait;
    return 0;
}

static int parse_queues(const rh_json_doc *L, const json_t *qs, rh_manifest *m)
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
        if (rc)
            return rc;
        snprintf(q->name, sizeof q->name, "%s", name);
        rh__manifest_path_key(q->json_path, sizeof q->json_path, "queues", name);
        m->n_queues++;
    }
    return 0;
}

/* ------------------------------------------------------ top level ---- */

/* dir/rel (rel as is when absolute) into plugin_dirs[n_plugin_dirs++],
 * canonical when the folder exists.  path: where rel was written. */
static int add_plugin_dir(const rh_json_doc *L, rh_manifest *m, const char *dir, const char *rel,
                          const char *path)
{
    char *out = m->plugin_dirs[m->n_plugin_dirs];
    size_t size = sizeof m->plugin_dirs[0];
    int n = rel[0] == '/' ? snprintf(out, size, "%s", rel) : snprintf(out, size, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= size)
        return rh__json_fail_str(L, path, rel, "a folder whose path is shorter than %zu bytes",
                                size);
    char *real = realpath(out, NULL);
    if (real && strlen(real) < size)
        memcpy(out, real, strlen(real) + 1);
    free(real);
    m->n_plugin_dirs++;
    return 0;
}

static int parse_plugins(const rh_json_doc *L, const json_t *v, rh_manifest *m)
{
    char dir[sizeof m->path];
    const char *slash = strrchr(m->path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == m->path ? 1 : (int)(slash - m->path), m->path);

    if (!v)
        return add_plugin_dir(L, m, dir, "../plugins", "plugins");
    if (!json_is_array(v) || json_array_size(v) > RH_MAX_PLUGIN_DIRS)
        return rh__json_fail(L, "plugins", v,
                            "an array of at most %d plugin folders (relative to the manifest's "
                            "folder)", RH_MAX_PLUGIN_DIRS);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *item = json_array_get(v, i);
        char p[RH_JSON_PATH_LEN];
        rh__json_path_index(p, sizeof p, "plugins", i);
        if (!json_is_string(item) || json_string_length(item) == 0 ||
            strlen(json_string_value(item)) != json_string_length(item))
            return rh__json_fail(L, p, item, "a folder name (a non-empty string)");
        int rc = add_plugin_dir(L, m, dir, json_string_value(item), p);
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_manifest(const rh_json_doc *L, const json_t *root, rh_manifest *m)
{
    const json_t *v;
    int rc;

    if (!json_is_object(root))
        return rh__json_fail(L, "top level", root, "an object");
    /* The version first: a manifest of another version has other keys. */
    v = json_object_get(root, "ringhost");
    if (!json_is_integer(v) || json_integer_value(v) != RH_MANIFEST_VERSION)
        return rh__json_fail(L, "ringhost", v, "%d (the manifest format version this host reads)",
                            RH_MANIFEST_VERSION);
    if ((rc = rh__json_check_keys(L, root, "", top_keys, COUNT(top_keys))))
        return rc;
    if ((rc = rh__json_get_name(L, json_object_get(root, "name"), "name", "a manifest name", 1,
                               m->name, sizeof m->name)))
        return rc;
    if ((rc = parse_plugins(L, json_object_get(root, "plugins"), m)))
        return rc;

    int placement = 0; /* "none" */
    m->strict = 1;
    if ((rc = rh__json_opt_enum(L, root, "", "placement", placement_names, COUNT(placement_names),
                               &placement)) ||
        (rc = rh__json_opt_bool(L, root, "", "strict", &m->strict)))
        return rc;
    snprintf(m->placement, sizeof m->placement, "%s", placement_names[placement]);

    if ((rc = parse_defaults(L, json_object_get(root, "defaults"), m)))
        return rc;
    if ((rc = parse_queues(L, json_object_get(root, "queues"), m)))
        return rc;
    return rh__manifest_parse_kernels(L, json_object_get(root, "kernels"), m);
}

int rh__manifest_load(const char *path, rh_manifest **out, rh_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        int e = errno;
        return rh_error_set(err, e == ENOENT ? RH_ENOENT : RH_EMANIFEST,
                            "%s: cannot open the manifest: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return rh_error_set(err, RH_EMANIFEST, "%s: cannot open the manifest: %s", path,
                            strerror(EISDIR));
    }
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root)
        return rh_error_set(err, RH_EMANIFEST, "%s:%d:%d: invalid JSON: %s", path, je.line,
                            je.column, je.text);

    int rc;
    rh_manifest *m = calloc(1, sizeof *m);
    if (!m) {
        rc = rh_error_set(err, RH_ENOMEM, "%s: out of memory", path);
    } else if (strlen(path) >= sizeof m->path) {
        rc = rh_error_set(err, RH_EMANIFEST, "%s: path longer than %zu bytes", path,
                          sizeof m->path - 1);
    } else {
        rh_json_doc L = {.file = path, .err = err};
        snprintf(m->path, sizeof m->path, "%s", path);
        rc = parse_manifest(&L, root, m);
    }
    json_decref(root);
    if (rc) {
        rh__manifest_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void rh__manifest_free(rh_manifest *m)
{
    if (!m)
        return;
    for (uint32_t i = 0; i < m->n_kernels; i++)
        free(m->kernels[i].config_json);
    free(m->kernels);
    free(m->queues);
    free(m);
}

rh_queue_decl *rh__manifest_queue(rh_manifest *m, const char *name)
{
    for (uint32_t i = 0; m && name && i < m->n_queues; i++)
        if (strcmp(m->queues[i].name, name) == 0)
            return &m->queues[i];
    return NULL;
}
