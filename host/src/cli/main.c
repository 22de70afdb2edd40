/* main.c — `ringhost VERB ...`: picks the verb and prints usage. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "plugin/plugin_guard.h"

static int print_verbs(FILE *out)
{
    fprintf(out, "usage: ringhost VERB ...\n");
    const char *verb, *use;
    for (int i = 0; rh__cli_verb_at(i, &verb, &use); i++)
        fprintf(out, "  ringhost %s\n", use);
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
    const char *use;
    if (!rh__cli_verb_find(verb, NULL, &use)) {
        fprintf(stderr, "ringhost help: unknown verb \"%s\"\n", verb);
        return print_verbs(stderr);
    }
    printf("usage: ringhost %s\n", use);
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
        return print_verbs(stderr);
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        (!strcmp(argv[1], "help") && argc < 3))
        return print_verbs(stdout);
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
    int (*fn)(int, char **) = NULL;
    if (rh__cli_verb_find(argv[1], &fn, NULL) && asks_help(argc, argv))
        return verb_help(argv[1]);
    if (fn) {
        int code = fn(argc - 1, argv + 1);
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
    return print_verbs(stderr);
}
