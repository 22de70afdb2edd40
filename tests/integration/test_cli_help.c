/*
 * test_cli_help.c — help as a user expects it: `ringhost --version` says
 * the project's version; `ringhost --help`, `-h` and `help` list every verb
 * on stdout and exit 0; `ringhost VERB --help`, `VERB -h` and `ringhost
 * help VERB` print that verb's usage on stdout and exit 0, whatever else
 * the line holds (nothing is launched or sent); `help` of a verb that does
 * not exist exits 2 naming it.
 */
#include <stdio.h>
#include <string.h>

#include "cli_common.h"

/* Every verb of the table in host/src/cli/main.c. */
static const char *const verbs[] = {
    "run",        "wait",     "send",    "recv",  "stat",     "ps",       "launch",
    "activate",   "deactivate", "terminate", "reload", "purge", "methods", "save-config",
    "plugins",    "inspect",  "validate", "graph", "topo",     "new-kernel", "bench",
};
#define N_VERBS (sizeof verbs / sizeof *verbs)

static void test_version_prints_the_project_version(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "--version", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strcmp(o.r.out, "ringhost " RH_TEST_VERSION "\n") == 0,
              "expected stdout \"ringhost %s\"", RH_TEST_VERSION);
    cli_free(&o);
}

static void test_help_lists_every_verb_and_exits_0(void **state)
{
    (void)state;
    static const char *const asks[] = {"--help", "-h", "help"};
    for (size_t a = 0; a < sizeof asks / sizeof *asks; a++) {
        cli_out o;
        cli_exec(&o, NULL, asks[a], NULL);
        cli_expect_exit(&o, 0);
        for (size_t v = 0; v < N_VERBS; v++) {
            char want[64];
            snprintf(want, sizeof want, "\n  ringhost %s ", verbs[v]);
            CLI_CHECK(&o, strstr(o.r.out, want), "expected `ringhost %s` to list verb %s",
                      asks[a], verbs[v]);
        }
        CLI_CHECK(&o, strstr(o.r.out, "ringhost --version"), "expected --version listed");
        cli_free(&o);
    }
}

static void test_each_verb_help_prints_its_usage_and_exits_0(void **state)
{
    (void)state;
    for (size_t v = 0; v < N_VERBS; v++) {
        char want[64];
        snprintf(want, sizeof want, "usage: ringhost %s ", verbs[v]);
        cli_out by_help, by_h, by_flag;
        cli_exec(&by_help, NULL, "help", verbs[v], NULL);
        cli_expect_exit(&by_help, 0);
        CLI_CHECK(&by_help, strncmp(by_help.r.out, want, strlen(want)) == 0,
                  "expected `ringhost help %s` to print \"%s...\"", verbs[v], want);
        /* a flag after others, as a user types it on a line that failed */
        cli_exec(&by_flag, NULL, verbs[v], "x", "--help", NULL);
        cli_expect_exit(&by_flag, 0);
        CLI_CHECK(&by_flag, strcmp(by_flag.r.out, by_help.r.out) == 0 && !by_flag.r.err[0],
                  "expected `ringhost %s x --help` to print what `help %s` does, nothing on "
                  "stderr", verbs[v], verbs[v]);
        cli_exec(&by_h, NULL, verbs[v], "-h", NULL);
        cli_expect_exit(&by_h, 0);
        CLI_CHECK(&by_h, strcmp(by_h.r.out, by_help.r.out) == 0,
                  "expected `ringhost %s -h` to print what `help %s` does", verbs[v], verbs[v]);
        cli_free(&by_help);
        cli_free(&by_flag);
        cli_free(&by_h);
    }
}

static void test_help_of_an_unknown_verb_exits_2_naming_it(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "help", "frobnicate", NULL);
    cli_expect_exit(&o, 2);
    CLI_CHECK(&o, strstr(o.r.err, "\"frobnicate\""), "expected stderr to name the verb");
    cli_free(&o);
    cli_exec(&o, NULL, NULL);
    cli_expect_exit(&o, 2); /* no verb at all: the list, on stderr */
    CLI_CHECK(&o, strstr(o.r.err, "usage: ringhost VERB"), "expected the usage on stderr");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_prints_the_project_version),
        cmocka_unit_test(test_help_lists_every_verb_and_exits_0),
        cmocka_unit_test(test_each_verb_help_prints_its_usage_and_exits_0),
        cmocka_unit_test(test_help_of_an_unknown_verb_exits_2_naming_it),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
