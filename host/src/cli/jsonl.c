/* jsonl.c — the JSON-lines format of the command line, typed attach, and
 * the list of an instance's queues for a name that names none. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plugin/plugin.h"

int rh__cli_exit_code(int rc)
{
    switch (rc) {
    case 0: return RH_EXIT_OK;
    case RH_EINVAL: case RH_EMANIFEST: case RH_ETYPE: case RH_EPLUGIN: case RH_EPLACE:
    case RH_ENOENT: case RH_EINVALMSG: case RH_ETOOBIG:
    case RH_ESTATE: /* a transition the lifecycle refuses: the request must change */
        return RH_EXIT_BADINPUT;
    default: return RH_EXIT_FAIL;
    }
}

const char *rh__cli_instance(const char *given)
{
    if (given)
        return given;
    const char *env = getenv("RINGHOST_INSTANCE");
    return env && env[0] ? env : NULL;
}

int rh__cli_need_instance(const char *verb, const char **instance)
{
    *instance = rh__cli_instance(*instance);
    if (!*instance) {
        fprintf(stderr, "ringhost %s: expected --instance I (or RINGHOST_INSTANCE); the instance "
                        "is the manifest's \"name\" unless run with --instance\n", verb);
        return RH_EXIT_BADINPUT;
    }
    return 0;
}

int rh__cli_parse_line(const char *line, json_t **root, const char **queue, rh_id *id,
                       json_t **body, rh_error *err)
{
    json_error_t je;
    *root = json_loads(line, JSON_REJECT_DUPLICATES, &je);
    if (!*root)
        return rh_error_set(err, RH_EINVAL, "column %d: %s", je.column, je.text);
    if (!json_is_object(*root))
        return rh_error_set(err, RH_EINVAL, "expected a JSON object {\"queue\": ..., \"body\": "
                            "...}");
    const char *key;
    json_t *v;
    *queue = NULL;
    *body = NULL;
    memset(id, 0, sizeof *id);
    json_object_foreach(*root, key, v) {
        if (!strcmp(key, "queue")) {
            if (!json_is_string(v))
                return rh_error_set(err, RH_EINVAL, "queue: expected a queue name string");
            *queue = json_string_value(v);
        } else if (!strcmp(key, "id")) {
            if (!json_is_string(v) || rh_id_parse(json_string_value(v), id) != 0)
                return rh_error_set(err, RH_EINVAL, "id: expected a UUID or 32 hex digits");
        } else if (!strcmp(key, "body")) {
            *body = v;
        } else {
            return rh_error_set(err, RH_EINVAL, "unknown key \"%s\"; expected queue, id, body",
                                key);
        }
    }
    if (!*queue)
        return rh_error_set(err, RH_EINVAL, "queue: expected a queue name, got nothing");
    if (!*body || !json_is_object(*body))
        return rh_error_set(err, RH_EINVAL, "body: expected a JSON object");
    return 0;
}

void rh__cli_print_json_line(json_t *o)
{
    char *text = o ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
    if (text)
        printf("%s\n", text);
    free(text);
    json_decref(o);
}

void rh__cli_print_message(FILE *out, const char *qname, const rh_type *type,
                           const rh_envelope *env, const void *payload)
{
    char id[37], corr[37];
    rh_id_format(env->id, id);
    json_t *o = json_object();
    json_object_set_new(o, "queue", json_string(qname));
    json_object_set_new(o, "id", json_string(id));
    if (env->flags & RH_ENV_HAS_CORRELATION) {
        rh_id_format(env->correlation_id, corr);
        json_object_set_new(o, "correlation_id", json_string(corr));
    }
    json_t *body = type && type->encode ? type->encode(payload) : NULL;
    json_object_set_new(o, "body", body ? body : json_null());
    char *text = json_dumps(o, JSON_PRESERVE_ORDER);
    if (text) {
        fprintf(out, "%s\n", text);
        free(text);
    }
    json_decref(o);
}

int rh__cli_attach_typed(const char *instance, const char *qname, rh_queue **q, rh_error *err)
{
    int rc = rh_queue_attach(instance, qname, q, err);
    if (rc)
        return rc;
    const char *origin = rh_queue_type_origin(*q);
    /* The plugin stays loaded for the life of the process: the type's
     * functions live in it. */
    static rh_plugin plugin;
    if (!origin || !origin[0] || rh__plugin_open(origin, &plugin, err) != 0) {
        rh_error_set(err, RH_ETYPE, "queue %s: cannot load the plugin defining its type %s (%s)",
                     qname, rh_queue_type_name(*q), origin && origin[0] ? origin : "unknown");
        rh_queue_close(*q);
        return RH_ETYPE;
    }
    const rh_plugin_set one = {.items = &plugin, .n = 1};
    const rh_type *t = rh__plugin_find_type(&one, rh_queue_type_name(*q), NULL);
    if (!t || (rc = rh_queue_bind_type(*q, t, err)) != 0) {
        if (!t)
            rh_error_set(err, RH_ETYPE, "queue %s: plugin %s does not define type %s", qname,
                         origin, rh_queue_type_name(*q));
        rh_queue_close(*q);
        return RH_ETYPE;
    }
    return 0;
}

/* A queue name that names nothing: list what instance has (sorted), so the
 * user sees the right name or learns that no host serves the instance. */
typedef struct names {
    char text[1024];
    size_t len;
    int n;
} names;

static void add_name(const char *name, void *arg)
{
    names *ns = arg;
    ns->n++;
    if (ns->len < sizeof ns->text)
        ns->len += (size_t)snprintf(ns->text + ns->len, sizeof ns->text - ns->len, "%s%s",
                                    ns->len ? " " : "", name);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void rh__cli_queues_note(const char *verb, const char *instance)
{
    names ns = {.len = 0};
    rh_queue_list(instance, add_name, &ns);
    if (ns.n == 0) {
        fprintf(stderr, "ringhost %s: instance \"%s\" has no queues: no host serves it (check "
                        "--instance or RINGHOST_INSTANCE, or start it with ringhost run)\n",
                verb, instance);
        return;
    }
    char *words[256];
    int n = 0;
    for (char *tok = strtok(ns.text, " "); tok && n < 256; tok = strtok(NULL, " "))
        words[n++] = tok;
    qsort(words, (size_t)n, sizeof *words, cmp_name);
    fprintf(stderr, "ringhost %s: the queues of instance \"%s\" are:", verb, instance);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "%s %s", i ? "," : "", words[i]);
    fprintf(stderr, "%s\n", n < ns.n ? ", ..." : "");
}
