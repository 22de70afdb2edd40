/* verbs.c — the one table of `ringhost` verbs: each verb's function and
 * usage line.  main.c dispatches through it; help, the man page and the
 * bash completion (help_docs.c) are printed from it, so none can drift. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
    const char *verb;
    int (*fn)(int, char **);
    const char *usage;
} verbs[] = {
    {"run", rh__cmd_run,
     "run MANIFEST [--send FILE.jsonl] [--timeout S] [--report-bindings] [--instance I] "
     "[--plugins DIR] [--allow-plugin PATH]... [--no-watch] [--ready-fd N] "
     "[--metrics-listen [ADDR:]PORT [--metrics-token-file FILE]] [--summary FILE] [--json]"},
    {"wait", rh__cmd_wait, "wait [--instance I] [--timeout S]   (until the host serves; exit 1 if not within S, default 30)"},
    {"send", rh__cmd_send,
     "send [--instance I] [--id ID] [--json] QUEUE JSON... | QUEUE -   (-: JSON lines on stdin)"},
    {"recv", rh__cmd_recv,
     "recv [--instance I] QUEUE [-n N] [--timeout S | --follow] [--peek] [--reason STAGE] "
     "[--json]"},
    {"stat", rh__cmd_stat, "stat [--instance I] [--json | --prom | --once | --watch [S]]"},
    {"ps", rh__cmd_ps, "ps [--instance I] [--json]"},
    {"launch", rh__cmd_launch,
     "launch MANIFEST [--instance I] [--activate] [--plugins DIR] [--allow-plugin PATH]... "
     "[--json]"},
    {"activate", rh__cmd_kernel_verb, "activate KERNEL [--instance I] [--json]"},
    {"deactivate", rh__cmd_kernel_verb, "deactivate KERNEL [--instance I] [--json]"},
    {"terminate", rh__cmd_kernel_verb,
     "terminate KERNEL [--instance I] [--timeout-ms T] [--json]"},
    {"reload", rh__cmd_kernel_verb, "reload KERNEL [--instance I] [--json]"},
    {"purge", rh__cmd_purge, "purge [--instance I] QUEUE [--json]   (discard a persist queue)"},
    {"methods", rh__cmd_methods, "methods [--instance I] [--json]   (the control requests)"},
    {"save-config", rh__cmd_save_config,
     "save-config [--instance I] [-o FILE] [--json]   (the running host as a manifest)"},
    {"plugins", rh__cmd_plugins, "plugins [DIR] [--json]"},
    {"inspect", rh__cmd_inspect, "inspect PLUGIN [--plugins DIR] [--json]   (ports, fields, config keys)"},
    {"validate", rh__cmd_validate,
     "validate MANIFEST [--plugins DIR] [--allow-plugin PATH]... [--json]"},
    {"graph", rh__cmd_graph,
     "graph MANIFEST | --instance I [--plugins DIR] [--allow-plugin PATH]... [-o FILE.svg|.png|.pdf|.dot]"},
    {"topo", rh__cmd_topo, "topo [MANIFEST] [--plugins DIR] [--allow-plugin PATH]..."},
    {"new-kernel", rh__cmd_new_kernel,
     "new-kernel [--cuda] NAME [DIR] [--json]   (a kernel folder to build: NAME a C identifier, DIR "
     "default ./NAME, not there yet; --cuda: a GPU kernel)"},
    {"bench", rh__cmd_bench,
     "bench [--quick] [--reps N] [--cpus A,B[,C...]] [--json FILE] [--plots DIR] [--only S] [--list]\n"
     "  ringhost bench --ab OTHER [--only S] [--quick] [--reps N] [--json FILE]   (OTHER: another "
     "build's ringhost; A/B per case and tag)\n"
     "  ringhost bench --pin-sweep MANIFEST [--send FILE.jsonl]"},
};

#define N_VERBS (sizeof verbs / sizeof verbs[0])

int rh__cli_verb_at(int i, const char **verb, const char **usage)
{
    if (i < 0 || (size_t)i >= N_VERBS)
        return 0;
    *verb = verbs[i].verb;
    *usage = verbs[i].usage;
    return 1;
}

int rh__cli_verb_find(const char *verb, int (**fn)(int, char **), const char **usage)
{
    for (size_t i = 0; verb && i < N_VERBS; i++)
        if (strcmp(verbs[i].verb, verb) == 0) {
            if (fn)
                *fn = verbs[i].fn;
            if (usage)
                *usage = verbs[i].usage;
            return 1;
        }
    return 0;
}

void rh__cli_usage_hint(const char *verb)
{
    const char *use;
    if (rh__cli_verb_find(verb, NULL, &use))
        fprintf(stderr, "usage: ringhost %s\n", use);
}
