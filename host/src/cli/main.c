/* main.c — `ringhost VERB ...`: picks the verb and prints usage. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "plugin/plugin_guard.h"

static const struct {
    const char *verb;
    int (*fn)(int, char **);
    const char *usage;
} verbs[] = {
    {"run", rh__cmd_run,
     "run MANIFEST [--send FILE.jsonl] [--timeout S] [--report-bindings] [--instance I] "
     "[--plugins DIR] [--allow-plugin PATH]... [--no-watch] [--ready-fd N] "
     "[--metrics-listen [ADDR:]PORT [--metrics-token-file FILE]] [--summary FILE]"},
    {"wait", rh__cmd_wait, "wait [--instance I] [--timeout S]   (until the host serves; exit 1 if not within S, default 30)"},
    {"send", rh__cmd_send, "send [--instance I] [--id ID] QUEUE JSON..."},
    {"recv", rh__cmd_recv,
     "recv [--instance I] QUEUE [-n N] [--timeout S] [--peek] [--reason STAGE]"},
    {"stat", rh__cmd_stat, "stat [--instance I] [--json | --prom | --once | --watch [S]]"},
    {"ps", rh__cmd_ps, "ps [--instance I] [--json]"},
    {"launch", rh__cmd_launch,
     "launch MANIFEST [--instance I] [--activate] [--plugins DIR] [--allow-plugin PATH]... "
     "[--json]"},
    {"activate", rh__cmd_kernel_verb, "activate KERNEL [--instance I]"},
    {"deactivate", rh__cmd_kernel_verb, "deactivate KERNEL [--instance I]"},
    {"terminate", rh__cmd_kernel_verb, "terminate KERNEL [--instance I] [--timeout-ms T]"},
    {"reload", rh__cmd_kernel_verb, "reload KERNEL [--instance I]"},
    {"purge", rh__cmd_purge, "purge [--instance I] QUEUE   (discard a persist queue)"},
    {"methods", rh__cmd_methods, "methods [--instance I] [--json]   (the control requests)"},
    {"save-config", rh__cmd_save_config,
     "save-config [--instance I] [-o FILE]   (the running host as a manifest)"},
    {"plugins", rh__cmd_plugins, "plugins [DIR] [--json]"},
    {"inspect", rh__cmd_inspect, "inspect PLUGIN [--plugins DIR] [--json]   (ports, fields, config keys)"},
    {"validate", rh__cmd_validate, "validate MANIFEST [--plugins DIR] [--allow-plugin PATH]..."},
    {"graph", rh__cmd_graph,
     "graph MANIFEST | --instance I [--plugins DIR] [--allow-plugin PATH]... [-o FILE.svg|.png|.pdf|.dot]"},
    {"topo", rh__cmd_topo, "topo [MANIFEST] [--plugins DIR] [--allow-plugin PATH]..."},
    {"new-kernel", rh__cmd_new_kernel,
     "new-kernel NAME [DIR]   (a kernel folder to build: NAME a C identifier, DIR default ./NAME, "
     "not there yet)"},
    {"bench", rh__cmd_bench,
     "bench [--quick] [--reps N] [--cpus A,B] [--json FILE] [--plots DIR] [--only S] [--list]\n"
     "  ringhost bench --pin-sweep MANIFEST [--send FILE.jsonl]"},
};

static int verb_index(const char *verb);

int rh__cli_verb_at(int i, const char **verb, const char **usage)
{
    if (i < 0 || (size_t)i >= sizeof verbs / sizeof verbs[0])
        return 0;
    *verb = verbs[i].verb;
    *usage = verbs[i].usage;
    return 1;
}

void rh__cli_usage_hint(const char *verb)
{
    int i = verb_index(verb);
    if (i >= 0)
        fprintf(stderr, "usage: ringhost %s\n", verbs[i].usage);
}

static int verb_index(const char *verb)
{
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(verbs[i].verb, verb) == 0)
            return (int)i;
    return -1;
}

static int usage(FILE *out)
{
    fprintf(out, "usage: ringhost VERB ...\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(out, "  ringhost %s\n", verbs[i].usage);
    fprintf(out, "  ringhost help [VERB] | VERB --help   (this list, or one verb's usage)\n"
                 "  ringhost --version\n");
    fprintf(out, "exit codes: 0 success, 1 runtime failure, 2 bad input or a name (instance, "
                 "queue, kernel, file) that names nothing (docs/OPERATIONS.md, \"Exit codes\")\n"
                 "environment: RINGHOST_INSTANCE (default --instance), "
                 "RINGHOST_PLUGIN_PATH (default plugins folder), RINGHOST_RUNTIME_DIR "
                 "(control sockets' folder), RINGHOST_LOG (log level)\n");
    return out == stdout ? RH_EXIT_OK : RH_EXIT_BADINPUT;
}

/* One verb's usage, asked for (`help VERB`, `VERB --help`): stdout, exit 0. */
static int verb_help(const char *verb)
{
    int i = verb_index(verb);
    if (i < 0) {
        fprintf(stderr, "ringhost help: unknown verb \"%s\"\n", verb);
        return usage(stderr);
    }
    printf("usage: ringhost %s\n", verbs[i].usage);
    return RH_EXIT_OK;
}

/* Whether the verb's arguments ask for its usage: "--help" or "-h" before
 * a "--" (no verb takes either as a value). */
static int asks_help(int argc, char **argv)
{
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

/*
 * A closed stdout or stderr (`| head`, a tee killed by Ctrl-C, a terminal
 * gone) must not kill the host before it writes its accounting and removes
 * its queues: SIGPIPE is caught by a handler that does nothing, so the
 * write returns EPIPE and the log treats that stream as gone (base/log.c).
 * A handler rather than SIG_IGN: an ignored signal stays ignored across
 * exec, and the programs we start (dot, kernel processes) should get the
 * default back.
 */
static void on_sigpipe(int sig)
{
    (void)sig;
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigpipe;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPIPE, &sa, NULL);
    if (argc < 2)
        return usage(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        (!strcmp(argv[1], "help") && argc < 3))
        return usage(stdout);
    /* what the build installs: written from the verb table (help_docs.c) */
    if (!strcmp(argv[1], "help") && !strcmp(argv[2], "--man")) {
        rh__cli_print_man(stdout, RINGHOST_VERSION);
        return RH_EXIT_OK;
    }
    if (!strcmp(argv[1], "help") && !strcmp(argv[2], "--bash-completion")) {
        rh__cli_print_bash_completion(stdout);
        return RH_EXIT_OK;
    }
    if (!strcmp(argv[1], "help"))
        return verb_help(argv[2]);
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("ringhost %s\n", RINGHOST_VERSION);
        return RH_EXIT_OK;
    }
    if (verb_index(argv[1]) >= 0 && asks_help(argc, argv))
        return verb_help(argv[1]);
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        if (strcmp(argv[1], verbs[i].verb) == 0) {
            int code = verbs[i].fn(argc - 1, argv + 1);
            /* A plugin keeps the dynamic loader for good (plugin_guard.h):
             * exit() would wait for it (_dl_fini takes its lock), and where
             * exit() is serialised (glibc 2.41, musl) a plugin parked inside
             * its own exit() holds that too.  So the command ends here. */
            if (rh__plugin_guard_wedged(NULL, 0)) {
                fflush(stdout);
                fflush(stderr);
                _exit(code);
            }
            return code;
        }
    fprintf(stderr, "ringhost: unknown verb \"%s\"\n", argv[1]);
    return usage(stderr);
}
