/* cmd_info.c — `ringhost plugins|validate|topo`: what is there, checked. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/placement.h"
#include "cli.h"
#include "plugin/plugin.h"
#include "runtime/runtime.h"

static void print_ports(const char *dir, const rh_port *ports, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        printf("    %s %-12s %-24s fingerprint %016llx, %u bytes\n", dir, ports[i].name,
               ports[i].type->name, (unsigned long long)ports[i].type->fingerprint,
               ports[i].type->size);
}

int rh__cmd_plugins(int argc, char **argv)
{
    const char *dir = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json") && !as_json) {
            as_json = 1;
            continue;
        }
        if (argv[i][0] == '-' || dir)
            return rh__cli_bad_arg("plugins", argv[i]);
        dir = argv[i];
    }
    if (!dir)
        dir = getenv("RINGHOST_PLUGIN_PATH");
    if (!dir || !dir[0])
        dir = "plugins";
    if (as_json)
        return rh__cli_plugins_json(dir);
    rh_plugin_set set = {0};
    rh_error err = {0};
    int n = rh__plugin_scan(&set, dir, &err);
    if (n < 0) {
        fprintf(stderr, "ringhost plugins: %s\n", err.msg);
        return RH_EXIT_BADINPUT;
    }
    int bad = 0;
    printf("%s: %d plugin file(s)\n", dir, n);
    for (uint32_t i = 0; i < set.n; i++) {
        const rh_plugin *p = &set.items[i];
        if (!p->desc) {
            printf("  %s: error: %s\n", p->path, p->why);
            bad++;
            continue;
        }
        printf("  %s: kernel %s %s (ABI %u.%u)%s%s\n", p->path, p->desc->name,
               p->desc->version ? p->desc->version : "", p->desc->abi_major, p->desc->abi_minor,
               p->desc->description ? " - " : "", p->desc->description ? p->desc->description : "");
        print_ports("in ", p->desc->inputs, p->desc->n_inputs);
        print_ports("out", p->desc->outputs, p->desc->n_outputs);
    }
    printf("%d loaded, %d failed\n", n - bad, bad);
    rh__plugin_set_free(&set);
    /* The listing is complete either way; a plugin that does not load is a
     * failure a script must see (docs/OPERATIONS.md, "Exit codes"). */
    if (bad)
        fprintf(stderr, "ringhost plugins: %d of %d plugin file(s) in %s failed to load (the "
                        "error of each is listed above)\n", bad, n, dir);
    return bad ? RH_EXIT_FAIL : RH_EXIT_OK;
}

/* MANIFEST [--plugins DIR] [--allow-plugin PATH]...; allowed has room for
 * argc / 2 + 1 entries and is NULL-filled by the caller. */
static int parse_manifest_args(int argc, char **argv, const char *verb, int need,
                               const char **manifest, rh_launch_opts *opts, const char **allowed)
{
    size_t n_allowed = 0;
    opts->allow_plugins = allowed;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--plugins")) {
            if (rh__cli_value(verb, argc, argv, &i, &opts->extra_plugins))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--allow-plugin")) {
            if (rh__cli_value(verb, argc, argv, &i, &v) ||
                rh__cli_allow_plugin(verb, v, allowed, &n_allowed) != 0)
                return RH_EXIT_BADINPUT;
        } else if (argv[i][0] != '-' && !*manifest) {
            *manifest = argv[i];
        } else {
            return rh__cli_bad_arg(verb, argv[i]);
        }
    }
    if (need && !*manifest) {
        fprintf(stderr, "ringhost %s: expected a manifest file\n", verb);
        return RH_EXIT_BADINPUT;
    }
    return 0;
}

int rh__cmd_validate(int argc, char **argv)
{
    const char *manifest = NULL;
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT();
    const char *allowed[argc / 2 + 1];
    memset(allowed, 0, sizeof allowed);
    /* --json: {"manifest": PATH, "ok": true} or {"manifest": PATH, "ok":
     * false, "error": TEXT} (also on stderr, same exit code); no plan */
    int as_json = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--json")) {
            as_json = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof *argv);
            argc--;
            i--;
        }
    if (parse_manifest_args(argc, argv, "validate", 1, &manifest, &opts,
                            allowed))
        return RH_EXIT_BADINPUT;
    rh_error err = {0};
    int rc = rh_runtime_validate(manifest, &opts, as_json ? NULL : stdout, &err);
    if (as_json)
        rh__cli_print_json_line(rc ? json_pack("{s:s, s:b, s:s}", "manifest", manifest, "ok", 0,
                                               "error", err.msg)
                                   : json_pack("{s:s, s:b}", "manifest", manifest, "ok", 1));
    if (rc) {
        fprintf(stderr, "ringhost: %s\n", err.msg);
        return rh__cli_exit_code(rc);
    }
    if (!as_json)
        printf("%s: ok\n", manifest);
    return RH_EXIT_OK;
}

int rh__cmd_topo(int argc, char **argv)
{
    const char *manifest = NULL;
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT();
    const char *allowed[argc / 2 + 1];
    memset(allowed, 0, sizeof allowed);
    if (parse_manifest_args(argc, argv, "topo", 0, &manifest, &opts,
                            allowed))
        return RH_EXIT_BADINPUT;
    rh_error err = {0};
    if (rh__topo_init(&err) != 0) {
        fprintf(stderr, "ringhost topo: %s\n", err.msg);
        return RH_EXIT_FAIL;
    }
    rh__topo_print(stdout);
    if (!manifest)
        return RH_EXIT_OK;
    printf("\nplanned threads for %s:\n", manifest);
    /* Planned as launch places them, without launching: no queue, thread
     * or init() (a topo must not touch a live instance of that name). */
    char inst[64];
    snprintf(inst, sizeof inst, "topo-%d", (int)getpid());
    opts.instance = inst;
    int rc = rh__runtime_plan_threads(manifest, &opts, stdout, &err);
    if (rc) {
        fprintf(stderr, "ringhost: %s\n", err.msg);
        return rh__cli_exit_code(rc);
    }
    return RH_EXIT_OK;
}
