/*
 * cmd_introspect.c — what a running host says about itself:
 *
 *     ringhost methods [--instance I] [--json]       the control requests and their parameters
 *     ringhost save-config [--instance I] [-o FILE]  the host as a manifest that launches the same
 *
 * Both are one control request (control.h: methods, save_config).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int call(const char *verb, const char *instance, const char *cmd, json_t **reply)
{
    json_t *req = json_pack("{s:s}", "cmd", cmd);
    int rc = rh__cli_control_call(verb, instance, req, reply, 0);
    json_decref(req);
    return rc;
}

int rh__cmd_methods(int argc, char **argv)
{
    const char *instance = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("methods", argc, argv, &i, &instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else {
            return rh__cli_bad_arg("methods", argv[i]);
        }
    }
    if (rh__cli_need_instance("methods", &instance))
        return RH_EXIT_BADINPUT;
    json_t *reply = NULL;
    int rc = call("methods", instance, "methods", &reply);
    if (rc == RH_EXIT_OK) {
        json_t *methods = json_object_get(reply, "methods"), *m, *p;
        size_t i, j;
        if (as_json) {
            char *text = json_dumps(methods, JSON_PRESERVE_ORDER | JSON_INDENT(2));
            printf("%s\n", text ? text : "[]");
            free(text);
        } else {
            json_array_foreach (methods, i, m) {
                char params[512] = "";
                size_t used = 0;
                json_array_foreach (json_object_get(m, "params"), j, p)
                    if (used < sizeof params)
                        used += (size_t)snprintf(
                            params + used, sizeof params - used, "%s%s%s%s", j ? ", " : "",
                            json_is_true(json_object_get(p, "required")) ? "" : "[",
                            json_string_value(json_object_get(p, "name")),
                            json_is_true(json_object_get(p, "required")) ? "" : "]");
                printf("%-12s %-40s %s\n", json_string_value(json_object_get(m, "name")), params,
                       json_string_value(json_object_get(m, "description")));
            }
        }
    }
    json_decref(reply);
    return rc;
}

int rh__cmd_save_config(int argc, char **argv)
{
    const char *instance = NULL, *out_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("save-config", argc, argv, &i, &instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "-o")) {
            if (rh__cli_value("save-config", argc, argv, &i, &out_path))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--json")) {
            /* what it prints is the manifest, JSON already; accepted as
             * every verb that prints accepts it */
        } else {
            return rh__cli_bad_arg("save-config", argv[i]);
        }
    }
    if (rh__cli_need_instance("save-config", &instance))
        return RH_EXIT_BADINPUT;
    json_t *reply = NULL;
    int rc = call("save-config", instance, "save_config", &reply);
    if (rc == RH_EXIT_OK) {
        json_t *m = json_object_get(reply, "manifest");
        if (out_path) {
            if (json_dump_file(m, out_path, JSON_PRESERVE_ORDER | JSON_INDENT(2)) != 0) {
                fprintf(stderr, "ringhost save-config: %s: cannot write: %s\n", out_path,
                        strerror(errno));
                rc = RH_EXIT_FAIL;
            }
        } else {
            char *text = json_dumps(m, JSON_PRESERVE_ORDER | JSON_INDENT(2));
            printf("%s\n", text ? text : "{}");
            free(text);
        }
    }
    json_decref(reply);
    return rc;
}
