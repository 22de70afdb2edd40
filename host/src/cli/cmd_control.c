/*
 * cmd_control.c — `ringhost ps|launch|activate|deactivate|terminate|reload`:
 * clients of a serving host's control socket (host/src/control/control.h says where
 * it is and what the lines mean).  Each sends one request line and prints
 * the reply: a table or a sentence, or the reply itself with --json.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void print_json(json_t *o)
{
    char *text = json_dumps(o, JSON_PRESERVE_ORDER | JSON_INDENT(2));
    printf("%s\n", text ? text : "{}");
    free(text);
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static long long num(json_t *o, const char *key)
{
    return (long long)json_number_value(json_object_get(o, key));
}

/* ------------------------------------------------------------- ps ---- */

static void print_ps(json_t *reply)
{
    printf("%-16s %-24s %-10s %7s %-24s %-8s %12s %10s %8s %8s %5s\n", "KERNEL",
           "PLUGIN@VERSION", "STATE", "WORKERS", "THREADS", "CPUS", "PROCESSED", "RATE/S",
           "FAILED", "RESTARTS", "SWAPS");
    json_t *k;
    size_t i;
    json_array_foreach (json_object_get(reply, "kernels"), i, k) {
        char pv[64];
        snprintf(pv, sizeof pv, "%s@%s", str(k, "plugin"), str(k, "version"));
        printf("%-16s %-24s %-10s %7lld %-24s %-8s %12lld %10.1f %8lld %8lld %5lld\n",
               str(k, "name"), pv, str(k, "state"), num(k, "workers"), str(k, "threads"),
               str(k, "cpus"), num(k, "processed"),
               json_number_value(json_object_get(k, "rate")), num(k, "failed"),
               num(k, "restarts"), num(k, "swaps"));
    }
    rh__cli_links_print(json_object_get(reply, "links"));
}

int rh__cmd_ps(int argc, char **argv)
{
    const char *instance = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("ps", argc, argv, &i, &instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else {
            return rh__cli_bad_arg("ps", argv[i]);
        }
    }
    if (rh__cli_need_instance("ps", &instance))
        return RH_EXIT_BADINPUT;
    json_t *req = json_pack("{s:s}", "cmd", "ps"), *reply;
    int rc = rh__cli_control_call("ps", instance, req, &reply, 0);
    json_decref(req);
    if (rc != RH_EXIT_OK)
        rh__cli_left_queues_note("ps", instance); /* a host killed: whose queues are left */
    if (rc == RH_EXIT_OK) {
        if (as_json)
            print_json(reply);
        else
            print_ps(reply);
    }
    json_decref(reply);
    return rc;
}

/* ------------------------------------------------------------ verbs ---- */

/* activate|deactivate|terminate|reload KERNEL [--instance I] [--timeout-ms T] [--json]
 * (--json: the protocol's reply, {"ok": true, "kernel", "state", ...}) */
int rh__cmd_kernel_verb(int argc, char **argv)
{
    const char *verb = argv[0], *instance = NULL, *kernel = NULL;
    long timeout_ms = -1;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value(verb, argc, argv, &i, &instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!strcmp(verb, "terminate") && !strcmp(argv[i], "--timeout-ms")) {
            if (rh__cli_value(verb, argc, argv, &i, &v) ||
                rh__cli_long(verb, "--timeout-ms", v, 0, 3600000L, &timeout_ms))
                return RH_EXIT_BADINPUT;
        } else if (!kernel && argv[i][0] != '-') {
            kernel = argv[i];
        } else {
            return rh__cli_bad_arg(verb, argv[i]);
        }
    }
    if (!kernel) {
        fprintf(stderr, "ringhost %s: expected the name of a kernel (ringhost ps lists them)\n",
                verb);
        rh__cli_usage_hint(verb);
        return RH_EXIT_BADINPUT;
    }
    if (rh__cli_need_instance(verb, &instance))
        return RH_EXIT_BADINPUT;
    json_t *req = json_pack("{s:s, s:s}", "cmd", verb, "kernel", kernel), *reply;
    if (timeout_ms >= 0)
        json_object_set_new(req, "timeout_ms", json_integer(timeout_ms));
    int rc = rh__cli_control_call(verb, instance, req, &reply, 0);
    json_decref(req);
    if (rc == RH_EXIT_OK && as_json)
        print_json(reply);
    else if (rc == RH_EXIT_OK)
        printf("kernel %s: %s%s\n", kernel, str(reply, "state"),
               json_is_true(json_object_get(reply, "already")) ? " (already; nothing changed)"
                                                               : "");
    json_decref(reply);
    return rc;
}

/* ----------------------------------------------------------- launch ---- */

static void print_names(const char *what, json_t *arr)
{
    json_t *v;
    size_t i;
    printf("  %s:", what);
    json_array_foreach (arr, i, v)
        printf("%s %s", i ? "," : "", json_string_value(v));
    printf("%s\n", json_array_size(arr) ? "" : " none");
}

int rh__cmd_launch(int argc, char **argv)
{
    const char *instance = NULL, *manifest = NULL, *plugins = NULL;
    int activate = 0, as_json = 0;
    json_t *allow = json_array();
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("launch", argc, argv, &i, &instance)) {
                json_decref(allow);
                return RH_EXIT_BADINPUT;
            }
        } else if (!strcmp(argv[i], "--activate")) {
            activate = 1;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!strcmp(argv[i], "--plugins")) {
            if (rh__cli_value("launch", argc, argv, &i, &plugins)) {
                json_decref(allow);
                return RH_EXIT_BADINPUT;
            }
        } else if (!strcmp(argv[i], "--allow-plugin")) {
            const char *one[2] = {0}, *v;
            size_t n = 0;
            if (rh__cli_value("launch", argc, argv, &i, &v) ||
                rh__cli_allow_plugin("launch", v, one, &n) != 0) {
                json_decref(allow);
                return RH_EXIT_BADINPUT;
            }
            json_array_append_new(allow, json_string(one[0]));
        } else if (!manifest && argv[i][0] != '-') {
            manifest = argv[i];
        } else {
            json_decref(allow);
            return rh__cli_bad_arg("launch", argv[i]);
        }
    }
    /* The host resolves paths from its own folder: send absolute ones. */
    char abs[PATH_MAX], abs_plugins[PATH_MAX];
    if (!manifest || !realpath(manifest, abs) || (plugins && !realpath(plugins, abs_plugins))) {
        if (!manifest)
            fprintf(stderr, "ringhost launch: expected a manifest file\n");
        else
            fprintf(stderr, "ringhost launch: %s: %s\n", plugins && realpath(manifest, abs)
                    ? plugins : manifest, strerror(errno));
        json_decref(allow);
        return RH_EXIT_BADINPUT;
    }
    if (rh__cli_need_instance("launch", &instance)) {
        json_decref(allow);
        return RH_EXIT_BADINPUT;
    }
    json_t *req = json_pack("{s:s, s:s, s:b, s:o}", "cmd", "launch", "manifest", abs, "activate",
                            activate, "allow_plugins", allow), *reply;
    if (plugins)
        json_object_set_new(req, "plugins", json_string(abs_plugins));
    int rc = rh__cli_control_call("launch", instance, req, &reply, 0);
    json_decref(req);
    if (rc == RH_EXIT_OK && as_json) {
        print_json(reply);
    } else if (rc == RH_EXIT_OK) {
        printf("launched %s into instance %s (kernels %s)\n", abs, instance,
               activate ? "active" : "inactive: ringhost activate KERNEL");
        print_names("kernels", json_object_get(reply, "kernels"));
        print_names("queues created", json_object_get(reply, "created"));
        print_names("queues shared with the host", json_object_get(reply, "shared"));
    }
    json_decref(reply);
    return rc;
}
