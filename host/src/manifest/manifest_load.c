/*
 * manifest_load.c — load a manifest file (JSON, via jansson) into rh_manifest.
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
 * (the top level and "plugins" here; "defaults" and "queues" in
 * manifest_queues.c, the "kernels" array in manifest_kernels.c, a kernel's
 * fault keys in manifest_faults.c).  The
 * generic part (checking one value, writing paths and messages, suggesting
 * the nearest key) is json_check.c.
 *
 * Decisions written down here:
 *  - "plugins" folders are relative to the manifest's own folder (default
 *    "../plugins": the drop-in folder next to manifests/); they are stored
 *    absolute and canonical when the folder exists, joined as written when
 *    it does not (the runtime then reports the missing folder).  A manifest
 *    launched into a running host (RH_MANIFEST_LAUNCHED) may leave out
 *    "name", and plugins_default tells the wiring to search the host's
 *    folders instead of the default (rh_launch_opts.host_plugin_dirs).
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
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "base/json_check.h"
#include "manifest/manifest_pvt.h"

/* Names as written in manifests, indexed by the enum value. */
static const char *const placement_names[] = {"none", "compact", "scatter"};

/* Known keys per object, in the order the documentation lists them. */
static const char *const top_keys[] = {"ringhost",  "name",   "plugins", "defaults",
                                       "placement", "strict", "links",   "queues",
                                       "kernels"};


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

    if (!v) {
        m->plugins_default = 1;
        return add_plugin_dir(L, m, dir, "../plugins", "plugins");
    }
    /* An empty list would leave the kernels no folder to be found in (and
     * a launched manifest that wants the host's folders leaves the key
     * out): refused here, by name, not at each kernel's lookup. */
    if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > RH_MAX_PLUGIN_DIRS)
        return rh__json_fail(L, "plugins", v,
                             "an array of 1 to %d plugin folders (relative to the manifest's "
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

static int parse_manifest(const rh_json_doc *L, const json_t *root, int flags, rh_manifest *m)
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
    /* Launched into a running host, the host names the instance. */
    v = json_object_get(root, "name");
    if ((v || !(flags & RH_MANIFEST_LAUNCHED)) &&
        (rc = rh__json_get_name(L, v, "name", "a manifest name", 1, m->name, sizeof m->name))) {
        if (!v && L->err) { /* a manifest written for `ringhost launch`, run or validated */
            size_t n = strlen(L->err->msg);
            snprintf(L->err->msg + n, sizeof L->err->msg - n,
                     " (only a manifest launched into a running host, `ringhost launch "
                     "--instance I`, may leave it out: the host names it)");
        }
        return rc;
    }
    if ((rc = parse_plugins(L, json_object_get(root, "plugins"), m)))
        return rc;

    int placement = 0; /* "none" */
    m->strict = 1;
    if ((rc = rh__json_opt_enum(L, root, "", "placement", placement_names, COUNT(placement_names),
                                &placement)) ||
        (rc = rh__json_opt_bool(L, root, "", "strict", &m->strict)))
        return rc;
    snprintf(m->placement, sizeof m->placement, "%s", placement_names[placement]);

    if ((rc = rh__manifest_parse_defaults(L, json_object_get(root, "defaults"), m)))
        return rc;
    if ((rc = rh__manifest_parse_links(L, json_object_get(root, "links"), m)) ||
        (rc = rh__manifest_parse_queues(L, json_object_get(root, "queues"), m)))
        return rc;
    return rh__manifest_parse_kernels(L, json_object_get(root, "kernels"), m);
}

int rh__manifest_load(const char *path, rh_manifest **out, rh_error *err)
{
    return rh__manifest_load_as(path, 0, out, err);
}

int rh__manifest_load_as(const char *path, int flags, rh_manifest **out, rh_error *err)
{
    *out = NULL;
    /* O_NONBLOCK: a FIFO (or a device) named as the manifest must be
     * refused, not waited on until someone writes to it. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return rh_error_set(err, e == ENOENT ? RH_ENOENT : RH_EMANIFEST,
                            "%s: cannot open the manifest: %s", path, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return rh_error_set(err, RH_EMANIFEST, "%s: cannot stat the manifest: %s", path,
                            strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        const char *what = S_ISDIR(st.st_mode)    ? NULL
                           : S_ISFIFO(st.st_mode) ? "a FIFO"
                           : S_ISCHR(st.st_mode)  ? "a character device"
                           : S_ISBLK(st.st_mode)  ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "not a regular file";
        close(fd);
        if (!what) /* the words tests and users already know */
            return rh_error_set(err, RH_EMANIFEST, "%s: cannot open the manifest: %s", path,
                                strerror(EISDIR));
        return rh_error_set(err, RH_EMANIFEST,
                            "%s: cannot open the manifest: expected a regular JSON file, got %s; "
                            "write the manifest to a file and name that file",
                            path, what);
    }
    int fl = fcntl(fd, F_GETFL);
    FILE *f = fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ? NULL : fdopen(fd, "r");
    if (!f) {
        int e = errno;
        close(fd);
        return rh_error_set(err, RH_EMANIFEST, "%s: cannot open the manifest: %s", path,
                            strerror(e));
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
        rc = parse_manifest(&L, root, flags, m);
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
