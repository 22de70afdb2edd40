/*
 * config_check.c — a kernel's "config" checked against what its plugin
 * declares (rh_kernel_desc.config_schema), for `ringhost validate`: every
 * key declared, each value of its declared type and within its declared
 * minimum/maximum.  Without starting the kernel: no init() is called (a
 * kernel's init() may start threads or open devices; validating must not).
 *
 * A plugin that declares nothing (NULL) has nothing checked; one whose
 * declaration is not a JSON object is a plugin bug, said as a warning and
 * otherwise ignored, so a user is not blocked by a plugin's text.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "runtime/runtime.h"

/* "a number", "an integer", ...: how a declared type reads in a message;
 * NULL for a type this host does not know (not checked). */
static const char *type_words(const char *type)
{
    static const char *const pairs[][2] = {
        {"number", "a number"}, {"integer", "an integer"}, {"string", "a string"},
        {"boolean", "true or false"}, {"object", "an object"}, {"array", "an array"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
        if (strcmp(type, pairs[i][0]) == 0)
            return pairs[i][1];
    return NULL;
}

static int has_type(const json_t *v, const char *type)
{
    if (!strcmp(type, "number"))
        return json_is_number(v);
    if (!strcmp(type, "integer"))
        return json_is_integer(v);
    if (!strcmp(type, "string"))
        return json_is_string(v);
    if (!strcmp(type, "boolean"))
        return json_is_boolean(v);
    if (!strcmp(type, "object"))
        return json_is_object(v);
    return json_is_array(v);
}

/* v as a message shows it: compact, cut at 60 bytes. */
static void show(const json_t *v, char *buf, size_t len)
{
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, len, "%.60s%s", text ? text : "?", text && strlen(text) > 60 ? "..." : "");
    free(text);
}

/* The declared keys, ", "-separated, for an unknown key's message. */
static void key_list(const json_t *schema, char *out, size_t len)
{
    const char *key;
    json_t *v;
    size_t used = 0;
    out[0] = '\0';
    json_object_foreach((json_t *)schema, key, v)
        used += (size_t)snprintf(out + used, used < len ? len - used : 0, "%s%s",
                                 used ? ", " : "", key);
}

static int check_value(const json_t *decl, const json_t *v, const char *at, rh_error *err)
{
    const json_t *jt = json_object_get(decl, "type");
    const char *type = json_is_string(jt) ? json_string_value(jt) : NULL;
    const char *words = type ? type_words(type) : NULL;
    char got[80];
    if (!words)
        return 0; /* a type this host does not know: the kernel's init() decides */
    const json_t *lo = json_object_get(decl, "minimum"), *hi = json_object_get(decl, "maximum");
    int numeric = !strcmp(type, "number") || !strcmp(type, "integer");
    int ok = has_type(v, type);
    if (ok && numeric && json_is_number(lo) && json_number_value(v) < json_number_value(lo))
        ok = 0;
    if (ok && numeric && json_is_number(hi) && json_number_value(v) > json_number_value(hi))
        ok = 0;
    if (ok)
        return 0;
    char range[96] = "";
    if (numeric && (json_is_number(lo) || json_is_number(hi))) {
        char a[40] = "", b[40] = "";
        if (json_is_number(lo))
            show(lo, a, sizeof a);
        if (json_is_number(hi))
            show(hi, b, sizeof b);
        if (a[0] && b[0])
            snprintf(range, sizeof range, " in %s..%s", a, b);
        else if (a[0])
            snprintf(range, sizeof range, " of at least %s", a);
        else
            snprintf(range, sizeof range, " of at most %s", b);
    }
    show(v, got, sizeof got);
    return rh_error_set(err, RH_EMANIFEST, "%s: expected %s%s, got %s", at, words, range, got);
}

int rh__config_check(const char *declared, const char *config_json, const char *path,
                     uint32_t index, const char *kernel_plugin, FILE *warn, rh_error *err)
{
    if (!declared)
        return 0;
    json_t *schema = json_loads(declared, 0, NULL);
    if (!json_is_object(schema)) {
        fprintf(warn, "ringhost: warning: %s: kernels[%u].config: plugin %s declares a "
                      "config_schema that is not a JSON object; its config is not checked\n",
                path, index, kernel_plugin);
        json_decref(schema);
        return 0;
    }
    json_t *config = json_loads(config_json, 0, NULL);
    int rc = 0;
    const char *key;
    json_t *v;
    json_object_foreach(config, key, v) {
        char at[512];
        snprintf(at, sizeof at, "%s: kernels[%u].config.%s", path, index, key);
        const json_t *decl = json_object_get(schema, key);
        if (!decl) {
            char keys[256];
            key_list(schema, keys, sizeof keys);
            rc = rh_error_set(err, RH_EMANIFEST, "%s: unknown key; plugin %s declares %s%s",
                              at, kernel_plugin, keys[0] ? "the keys " : "no config keys", keys);
            break;
        }
        if ((rc = check_value(decl, v, at, err)) != 0)
            break;
    }
    json_decref(config);
    json_decref(schema);
    return rc;
}
