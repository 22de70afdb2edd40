/*
 * cmd_inspect.c — what a plugin offers, field by field: `ringhost inspect
 * PLUGIN` (like gst-inspect) and `ringhost plugins --json`.
 *
 * Both read the loaded descriptor only: each port's message fields come
 * from its type's canonical schema text (rh_type.schema, written by
 * ringhost-gen, so every plugin ever built has them), the config keys from
 * the kernel's optional config_schema (kernel.h; NULL for a plugin built
 * before it existed, shown as "not declared").
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plugin/plugin.h"

/* The "fields" array of a type's canonical schema (a new reference), or
 * NULL when the text is missing or not a schema. */
static json_t *type_fields(const rh_type *t)
{
    json_t *root = t->schema ? json_loads(t->schema, 0, NULL) : NULL;
    json_t *f = json_incref(json_object_get(root, "fields"));
    json_decref(root);
    return json_is_array(f) ? f : (json_decref(f), NULL);
}

static json_t *ports_json(const rh_port *ports, uint32_t n)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n; i++) {
        char fp[24];
        snprintf(fp, sizeof fp, "%016llx", (unsigned long long)ports[i].type->fingerprint);
        json_t *fields = type_fields(ports[i].type);
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, s:i, s:o}", "name",
                                             ports[i].name, "type", ports[i].type->name,
                                             "fingerprint", fp, "size",
                                             (int)ports[i].type->size, "align",
                                             (int)ports[i].type->align, "fields",
                                             fields ? fields : json_null()));
    }
    return arr;
}

/* The config declaration as JSON: an object, or null when the kernel
 * declares none; *bad is set when it declares text that is not an object. */
static json_t *config_json(const rh_kernel_desc *d, int *bad)
{
    const char *text = rh__plugin_config_schema(d);
    *bad = 0;
    if (!text)
        return json_null();
    json_t *o = json_loads(text, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        *bad = 1;
        return json_null();
    }
    return o;
}

static json_t *plugin_json(const rh_plugin *p)
{
    if (!p->desc)
        return json_pack("{s:s, s:s}", "path", p->path, "error", p->why);
    const rh_kernel_desc *d = p->desc;
    char abi[16];
    snprintf(abi, sizeof abi, "%u.%u", d->abi_major, d->abi_minor);
    int bad;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "path", p->path,
                          "kernel", d->name, "version", d->version ? d->version : "",
                          "description", d->description ? d->description : "", "abi", abi,
                          "entry", d->run ? "run" : "process", "inputs",
                          ports_json(d->inputs, d->n_inputs), "outputs",
                          ports_json(d->outputs, d->n_outputs), "config", config_json(d, &bad));
    if (bad)
        json_object_set_new(o, "config_error",
                            json_string("config_schema is not a JSON object"));
    return o;
}

int rh__cli_plugins_json(const char *dir)
{
    rh_plugin_set set = {0};
    rh_error err = {0};
    int n = rh__plugin_scan(&set, dir, &err);
    if (n < 0) {
        fprintf(stderr, "ringhost plugins: %s\n", err.msg);
        return RH_EXIT_BADINPUT;
    }
    json_t *arr = json_array();
    for (uint32_t i = 0; i < set.n; i++)
        json_array_append_new(arr, plugin_json(&set.items[i]));
    json_t *o = json_pack("{s:s, s:o}", "dir", dir, "plugins", arr);
    char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2));
    printf("%s\n", text ? text : "{}");
    free(text);
    json_decref(o);
    rh__plugin_set_free(&set);
    return RH_EXIT_OK;
}

/* ---------------------------------------------------------- inspect ---- */

/* "f32[] max 1024", "enum add|sub", "string max 128" for one schema field. */
static void field_type_text(json_t *f, char *buf, size_t len)
{
    const char *type = json_string_value(json_object_get(f, "type"));
    json_t *max = json_object_get(f, "max"), *values = json_object_get(f, "values");
    int n = snprintf(buf, len, "%s", type ? type : "?");
    if (max && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " max %lld %s", (long long)json_integer_value(max),
                      type && strcmp(type, "string") == 0 ? "bytes" : "elements");
    size_t i;
    json_t *v;
    json_array_foreach (values, i, v)
        if (n >= 0 && (size_t)n < len)
            n += snprintf(buf + n, len - (size_t)n, "%s%s", i ? "|" : " ", json_string_value(v));
}

static void print_ports(const char *title, const rh_port *ports, uint32_t n)
{
    printf("\n%s:\n", title);
    if (n == 0)
        printf("  (none)\n");
    for (uint32_t i = 0; i < n; i++) {
        const rh_type *t = ports[i].type;
        printf("  %s: %s (fingerprint %016llx, %u bytes)\n", ports[i].name, t->name,
               (unsigned long long)t->fingerprint, t->size);
        json_t *fields = type_fields(t), *f;
        size_t j;
        if (!fields)
            printf("    (no schema text in the type descriptor)\n");
        json_array_foreach (fields, j, f) {
            char type[512];
            field_type_text(f, type, sizeof type);
            printf("    %-20s %s\n", json_string_value(json_object_get(f, "name")), type);
        }
        json_decref(fields);
    }
}

static void print_config(const rh_kernel_desc *d)
{
    int bad;
    json_t *cfg = config_json(d, &bad);
    printf("\nConfig keys (the manifest's \"config\" object):\n");
    if (bad)
        printf("  (the plugin's config_schema is not a JSON object: %s)\n",
               rh__plugin_config_schema(d));
    else if (json_is_null(cfg))
        printf("  (not declared: the plugin sets no config_schema; see its documentation)\n");
    else if (json_object_size(cfg) == 0)
        printf("  (none: the kernel takes no config)\n");
    const char *key;
    json_t *v;
    json_object_foreach (cfg, key, v) {
        const char *type = json_string_value(json_object_get(v, "type"));
        printf("  %-20s %-8s", key, type ? type : "");
        json_t *def = json_object_get(v, "default"), *lo = json_object_get(v, "minimum"),
               *hi = json_object_get(v, "maximum");
        char *t;
        if (def && (t = json_dumps(def, JSON_ENCODE_ANY | JSON_COMPACT))) {
            printf(" default %s", t);
            free(t);
        }
        if (lo || hi) {
            char *a = lo ? json_dumps(lo, JSON_ENCODE_ANY) : NULL;
            char *b = hi ? json_dumps(hi, JSON_ENCODE_ANY) : NULL;
            printf(" range %s..%s", a ? a : "", b ? b : "");
            free(a);
            free(b);
        }
        const char *desc = json_string_value(json_object_get(v, "description"));
        if (desc)
            printf("  %s", desc);
        printf("\n");
    }
    json_decref(cfg);
}

static void print_inspect(const rh_plugin *p)
{
    const rh_kernel_desc *d = p->desc;
    printf("Kernel %s %s (ABI %u.%u)\n", d->name, d->version ? d->version : "", d->abi_major,
           d->abi_minor);
    if (d->description)
        printf("  %s\n", d->description);
    printf("  file:  %s\n", p->path);
    printf("  entry: %s%s%s\n",
           d->run ? "run (owns its loop, rh_poll)" : "process (called per batch)",
           d->init ? ", init" : "", d->fini ? ", fini" : "");
    print_ports("Input ports", d->inputs, d->n_inputs);
    print_ports("Output ports", d->outputs, d->n_outputs);
    print_config(d);
}

int rh__cmd_inspect(int argc, char **argv)
{
    const char *what = NULL, *dir = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--plugins")) {
            if (rh__cli_value("inspect", argc, argv, &i, &dir))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (argv[i][0] != '-' && !what) {
            what = argv[i];
        } else {
            return rh__cli_bad_arg("inspect", argv[i]);
        }
    }
    if (!what) {
        fprintf(stderr, "ringhost inspect: expected a plugin (a kernel name such as scale, or a "
                        "path to its .so)\nusage: ringhost inspect PLUGIN [--plugins DIR] "
                        "[--json]\n");
        return RH_EXIT_BADINPUT;
    }
    if (!dir)
        dir = getenv("RINGHOST_PLUGIN_PATH");
    if (!dir || !dir[0])
        dir = "plugins";
    rh_plugin_set set = {0};
    rh_error err = {0};
    const rh_plugin *p = NULL;
    int is_path = strchr(what, '/') != NULL || (strlen(what) > 3 && !strcmp(what + strlen(what) - 3, ".so"));
    if (is_path) {
        if (rh__plugin_add(&set, what, &err) == RH_ENOMEM) {
            fprintf(stderr, "ringhost inspect: %s\n", err.msg);
            return RH_EXIT_FAIL;
        }
        p = set.n ? &set.items[0] : NULL;
    } else {
        int n = rh__plugin_scan(&set, dir, &err);
        if (n < 0) {
            fprintf(stderr, "ringhost inspect: %s\n", err.msg);
            return RH_EXIT_BADINPUT;
        }
        p = rh__plugin_find(&set, what);
        if (!p) {
            fprintf(stderr, "ringhost inspect: no plugin \"%s\" in %s; it has:", what, dir);
            int any = 0;
            for (uint32_t i = 0; i < set.n; i++)
                if (set.items[i].desc) {
                    fprintf(stderr, " %s", set.items[i].desc->name);
                    any = 1;
                }
            fprintf(stderr, "%s (`ringhost plugins %s` lists them, and those that failed)\n",
                    any ? "" : " no loadable plugin", dir);
            rh__plugin_set_free(&set);
            return RH_EXIT_BADINPUT;
        }
    }
    if (!p || !p->desc) {
        fprintf(stderr, "ringhost inspect: %s\n", p ? p->why : err.msg);
        rh__plugin_set_free(&set);
        return RH_EXIT_BADINPUT;
    }
    if (as_json) {
        json_t *o = plugin_json(p);
        char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2));
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(o);
    } else {
        print_inspect(p);
    }
    rh__plugin_set_free(&set);
    return RH_EXIT_OK;
}
