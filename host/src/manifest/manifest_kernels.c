/*
 * manifest_kernels.c — the "kernels" array of a manifest: each kernel's
 * name, plugin, workers, ports, pins, bridge, wait, batch and ring size,
 * with what manifest_faults.c reads of it.  The errors and decisions are
 * those of manifest_load.c (its header comment), which loads the rest.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "manifest/manifest_pvt.h"

static const char *const bridge_names[] = {"thread", "inline"};
static const char *const kernel_keys[] = {"name", "plugin", "workers", "inputs", "outputs", "pin",
                                          "bridge", "wait", "batch", "ring_capacity", "config",
                                          "watchdog_ms", "restart", "isolation"};
static const char *const pin_keys[] = {"dispatch", "pump"};
#define PIN_INDEX_DIGITS 7

/* One "kind:N" placement; kind is core, pu or numa and N a non-negative
 * integer.  len bytes of s, not NUL-terminated. */
static int pin_item_ok(const char *s, size_t len)
{
    static const char *const kinds[] = {"core:", "pu:", "numa:"};
    for (size_t k = 0; k < COUNT(kinds); k++) {
        size_t kl = strlen(kinds[k]);
        if (len <= kl || strncmp(s, kinds[k], kl) != 0 || len - kl > PIN_INDEX_DIGITS)
            continue;
        for (size_t i = kl; i < len; i++)
            if (!isdigit((unsigned char)s[i]))
                return 0;
        return 1;
    }
    return 0;
}

/* A comma-separated list of placements, none empty. */
static int pin_text_ok(const char *s)
{
    for (;;) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        if (!pin_item_ok(s, len))
            return 0;
        if (!comma)
            return 1;
        s = comma + 1;
    }
}

#define PIN_WHAT "a placement \"core:N\", \"pu:N\" or \"numa:N\" (N a non-negative integer)"

/* "core:1" or ["core:0", "core:1"] -> "core:0,core:1". */
static int parse_pin(const rh_json_doc *L, const json_t *v, const char *path, rh_pin_spec *out)
{
    size_t w = 0;
    out->text[0] = '\0';
    if (json_is_string(v)) {
        if (!pin_text_ok(json_string_value(v)) ||
            json_string_length(v) >= sizeof out->text)
            return rh__json_fail(L, path, v, PIN_WHAT " or a list of them");
        snprintf(out->text, sizeof out->text, "%s", json_string_value(v));
        return 0;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return rh__json_fail(L, path, v, PIN_WHAT " or a non-empty list of them");
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *item = json_array_get(v, i);
        char p[RH_JSON_PATH_LEN];
        rh__json_path_index(p, sizeof p, path, i);
        if (!json_is_string(item) || !pin_text_ok(json_string_value(item)))
            return rh__json_fail(L, p, item, PIN_WHAT);
        size_t len = json_string_length(item);
        if (w + len + 2 > sizeof out->text)
            return rh__json_fail(L, path, v, "a list of placements shorter than %zu characters",
                                 sizeof out->text);
        if (w)
            out->text[w++] = ',';
        memcpy(out->text + w, json_string_value(item), len + 1);
        w += len;
    }
    return 0;
}

/* inputs/outputs: port name -> declared queue name.  other (may be NULL):
 * the ports of the other direction, which must not repeat. */
static int parse_ports(const rh_json_doc *L, rh_manifest *m, const json_t *obj, const char *path,
                       const char *other_path, const rh_port_binding *other, uint32_t n_other,
                       rh_port_binding *out, uint32_t *n_out)
{
    *n_out = 0;
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return rh__json_fail(L, path, obj, "an object mapping port names to queue names");
    if (json_object_size(obj) > RH_MAX_PORTS)
        return rh__json_fail(L, path, obj, "at most %d ports", RH_MAX_PORTS);

    const char *port;
    json_t *v;
    json_object_foreach ((json_t *)obj, port, v) {
        char p[RH_JSON_PATH_LEN];
        rh__manifest_path_key(p, sizeof p, path, port);
        if (!rh__json_name_ok(port, sizeof out->port - 1, 0))
            return rh__json_fail_str(L, p, port,
                                     "a port name of 1 to %zu characters from [A-Za-z0-9_-]",
                                     sizeof out->port - 1);
        for (uint32_t i = 0; i < n_other; i++)
            if (strcmp(other[i].port, port) == 0)
                return rh__json_fail_str(L, p, port, "a port name not already bound in %s",
                                         other_path);
        if (!json_is_string(v) || !rh__manifest_queue(m, json_string_value(v)))
            return rh__json_fail(L, p, v, "the name of a queue declared in \"queues\"");
        rh_port_binding *b = &out[(*n_out)++];
        snprintf(b->port, sizeof b->port, "%s", port);
        snprintf(b->queue, sizeof b->queue, "%s", json_string_value(v));
    }
    return 0;
}

#define PLUGIN_NAME_MAX 127

/*
 * A kernel's "plugin": a name, looked up among the plugins of the plugin
 * folders ([A-Za-z0-9._-], no ".."), or the absolute path of a .so file,
 * which the runtime loads only when the command line allows that exact
 * path (ringhost run --allow-plugin PATH; rh_launch_opts.allow_plugins).
 * A relative path, or a name with "..", could only be a way out of the
 * plugin folders: refused here, whatever the command line says.
 */
static int parse_plugin_ref(const rh_json_doc *L, const json_t *v, const char *path, char *out,
                            size_t size)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    if (s && s[0] == '/' && strlen(s) == json_string_length(v) && strlen(s) < size) {
        int printable = 1;
        for (const char *c = s; *c; c++)
            printable &= (unsigned char)*c >= 0x20 && *c != 0x7f;
        if (printable) {
            snprintf(out, size, "%s", s);
            return 0;
        }
    }
    if (s && !strstr(s, "..") && rh__json_name_ok(s, PLUGIN_NAME_MAX, 1)) {
        snprintf(out, size, "%s", s);
        return 0;
    }
    return rh__json_fail(L, path, v,
                         "a plugin name of 1 to %d characters from [A-Za-z0-9._-] without \"..\" "
                         "(found in the \"plugins\" folders), or the absolute path of a plugin "
                         "file shorter than %zu bytes, allowed with ringhost run --allow-plugin "
                         "PATH", PLUGIN_NAME_MAX, size);
}

static int parse_kernel(const rh_json_doc *L, rh_manifest *m, const json_t *kv, size_t index,
                        rh_kernel_decl *k)
{
    char kp[RH_JSON_PATH_LEN], p[RH_JSON_PATH_LEN], p2[RH_JSON_PATH_LEN];
    const json_t *v;
    int rc;

    rh__json_path_index(kp, sizeof kp, "kernels", index);
    if (!json_is_object(kv))
        return rh__json_fail(L, kp, kv, "an object describing a kernel");
    if ((rc = rh__json_check_keys(L, kv, kp, kernel_keys, COUNT(kernel_keys))))
        return rc;

    rh__manifest_path_key(p, sizeof p, kp, "name");
    v = json_object_get(kv, "name");
    if ((rc = rh__json_get_name(L, v, p, "a kernel name", 0, k->name, sizeof k->name)))
        return rc;
    for (size_t i = 0; i < index; i++)
        if (strcmp(m->kernels[i].name, k->name) == 0)
            return rh__json_fail(L, p, v, "a kernel name not already used by kernels[%zu]", i);

    rh__manifest_path_key(p, sizeof p, kp, "plugin");
    if ((rc = parse_plugin_ref(L, json_object_get(kv, "plugin"), p, k->plugin, sizeof k->plugin)))
        return rc;

    k->workers = 1;
    if ((rc = rh__json_opt_uint(L, kv, kp, "workers", 1, RH_MAX_WORKERS, 0, "instances",
                                &k->workers)))
        return rc;

    rh__manifest_path_key(p, sizeof p, kp, "inputs");
    if ((rc = parse_ports(L, m, json_object_get(kv, "inputs"), p, NULL, NULL, 0, k->inputs,
                          &k->n_inputs)))
        return rc;
    rh__manifest_path_key(p2, sizeof p2, kp, "outputs");
    if ((rc = parse_ports(L, m, json_object_get(kv, "outputs"), p2, p, k->inputs, k->n_inputs,
                          k->outputs, &k->n_outputs)))
        return rc;

    if ((v = json_object_get(kv, "pin"))) {
        rh__manifest_path_key(p, sizeof p, kp, "pin");
        if (!json_is_object(v))
            return rh__json_fail(L, p, v, "an object with \"dispatch\" and/or \"pump\" placements");
        if ((rc = rh__json_check_keys(L, v, p, pin_keys, COUNT(pin_keys))))
            return rc;
        const json_t *spec;
        rh__manifest_path_key(p2, sizeof p2, p, "dispatch");
        if ((spec = json_object_get(v, "dispatch")) &&
            (rc = parse_pin(L, spec, p2, &k->pin_dispatch)))
            return rc;
        rh__manifest_path_key(p2, sizeof p2, p, "pump");
        if ((spec = json_object_get(v, "pump")) && (rc = parse_pin(L, spec, p2, &k->pin_pump)))
            return rc;
    }

    int bridge = RH_BRIDGE_THREAD, wait = (int)m->wait_default;
    k->batch = m->batch_default;
    k->ring_capacity = m->ring_capacity_default;
    if ((rc = rh__json_opt_enum(L, kv, kp, "bridge", bridge_names, COUNT(bridge_names), &bridge)) ||
        (rc = rh__json_opt_enum(L, kv, kp, "wait", rh__manifest_wait_names, RH_MANIFEST_WAIT_COUNT,
                                &wait)) ||
        (rc = rh__json_opt_uint(L, kv, kp, "batch", 1, RH_BATCH_MAX, 0, "messages", &k->batch)) ||
        (rc = rh__json_opt_uint(L, kv, kp, "ring_capacity", 2, RH_RING_CAPACITY_MAX, 1, "slots",
                                &k->ring_capacity)))
        return rc;
    k->bridge = (rh_bridge_mode)bridge;
    k->wait = (rh_wait_kind)wait;
    if ((rc = rh__manifest_parse_faults(L, kv, kp, k)))
        return rc;

    rh__manifest_path_key(p, sizeof p, kp, "config");
    v = json_object_get(kv, "config");
    if (v && !json_is_object(v))
        return rh__json_fail(L, p, v, "an object (handed to the kernel's init as JSON text)");
    k->config_json = v ? json_dumps(v, JSON_COMPACT) : strdup("{}");
    if (!k->config_json)
        return rh_error_set(L->err, RH_ENOMEM, "%s: %s: out of memory", L->file, p);
    return 0;
}

int rh__manifest_parse_kernels(const rh_json_doc *L, const json_t *ks, rh_manifest *m)
{
    /* "kernels": [] is a gateway: queues that only export and import
     * (remote queues), which clients on this machine talk to. */
    if (json_is_array(ks) && json_array_size(ks) == 0 && m->n_remote)
        return 0;
    if (!json_is_array(ks) || json_array_size(ks) == 0)
        return rh__json_fail(L, "kernels", ks,
                             "a non-empty array of kernels (an empty one only in a gateway, "
                             "whose queues export or import through \"links\")");
    m->kernels = calloc(json_array_size(ks), sizeof *m->kernels);
    if (!m->kernels)
        return rh_error_set(L->err, RH_ENOMEM, "%s: out of memory", L->file);
    for (size_t i = 0; i < json_array_size(ks); i++) {
        m->n_kernels = (uint32_t)i + 1; /* so rh__manifest_free sees a half-parsed kernel */
        int rc = parse_kernel(L, m, json_array_get(ks, i), i, &m->kernels[i]);
        if (rc)
            return rc;
    }
    return 0;
}
