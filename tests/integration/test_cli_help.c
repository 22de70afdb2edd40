/*
 * test_cli_help.c — help as a user expects it: `ringhost --version` says
 * the project's version; `ringhost --help`, `-h` and `help` list every verb
 * on stdout and exit 0; `ringhost VERB --help`, `VERB -h` and `ringhost
 * help VERB` print that verb's usage on stdout and exit 0, whatever else
 * the line holds (nothing is launched or sent); `help` of a verb that does
 * not exist exits 2 naming it.  The man page and the bash completion the
 * build installs are what `help --man` / `help --bash-completion` print
 * from the same table: every verb is in both, the completion completes
 * verbs and a verb's options in a real bash, and the files the build wrote
 * are those texts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *text = calloc(1, 1 << 20);
    if (text && fread(text, 1, (1 << 20) - 1, f) == 0)
        text[0] = 0;
    fclose(f);
    return text;
}

static void test_the_man_page_names_every_verb_and_is_the_built_one(void **state)
{
    (void)state;
    cli_out o;
    cli_exec(&o, NULL, "help", "--man", NULL);
    cli_expect_exit(&o, 0);
    CLI_CHECK(&o, strncmp(o.r.out, ".TH RINGHOST 1 ", 15) == 0, "expected a roff man page");
    CLI_CHECK(&o, strstr(o.r.out, "\"ringhost " RH_TEST_VERSION "\""),
              "expected the version in its .TH line");
    for (size_t v = 0; v < N_VERBS; v++) {
        char want[64] = ".B ringhost\n"; /* roff writes '-' as "\-" */
        for (const char *c = verbs[v]; *c; c++)
            strcat(want, *c == '-' ? "\\-" : (char[]){*c, 0});
        CLI_CHECK(&o, strstr(o.r.out, want), "expected verb %s in SYNOPSIS", verbs[v]);
    }
    CLI_CHECK(&o, strstr(o.r.out, ".SH EXIT STATUS") && strstr(o.r.out, ".SH ENVIRONMENT"),
              "expected EXIT STATUS and ENVIRONMENT sections");
    char *built = slurp(RH_TEST_BUILD_DIR "/share/ringhost.1");
    CLI_CHECK(&o, built && strcmp(built, o.r.out) == 0,
              "expected the build's share/ringhost.1 to be what help --man prints");
    free(built);
    cli_free(&o);
}

/* COMPREPLY of _ringhost for the words given, in a real bash. */
static void complete(cli_out *o, const char *script, const char *words, int cword)
{
    const char *cmd = cli_keep("source '%s'; COMP_WORDS=(%s); COMP_CWORD=%d; _ringhost; "
                               "printf '%%s\\n' \"${COMPREPLY[@]}\"", script, words, cword);
    const char *argv[] = {"/bin/bash", "-c", cmd, NULL};
    memset(o, 0, sizeof *o);
    snprintf(o->cmd, sizeof o->cmd, "bash -c \"%s\"", cmd);
    EXPECT(proc_run((char *const *)argv, NULL, CLI_KILL_AFTER_S, &o->r) == 0, "cannot run bash");
}

static void test_the_bash_completion_completes_verbs_and_options(void **state)
{
    (void)state;
    if (access("/bin/bash", X_OK) != 0)
        skip();
    cli_out o;
    cli_exec(&o, NULL, "help", "--bash-completion", NULL);
    cli_expect_exit(&o, 0);
    const char *script = cli_write("ringhost.bash", o.r.out);
    char *built = slurp(RH_TEST_BUILD_DIR "/share/ringhost.bash");
    CLI_CHECK(&o, built && strcmp(built, o.r.out) == 0,
              "expected the build's share/ringhost.bash to be what help --bash-completion prints");
    free(built);
    cli_free(&o);
    complete(&o, script, "ringhost wa", 1);
    CLI_CHECK(&o, o.r.exit_code == 0 && strcmp(o.r.out, "wait\n") == 0,
              "expected \"wa\" to complete to wait");
    cli_free(&o);
    complete(&o, script, "ringhost run m.json --se", 3);
    CLI_CHECK(&o, o.r.exit_code == 0 && strcmp(o.r.out, "--send\n") == 0,
              "expected run's \"--se\" to complete to --send");
    cli_free(&o);
    complete(&o, script, "ringhost recv q -", 3);
    CLI_CHECK(&o, strstr(o.r.out, "-n\n") && strstr(o.r.out, "--peek\n") &&
                      strstr(o.r.out, "--help\n"),
              "expected recv's options (-n, --peek, --help)");
    cli_free(&o);
    complete(&o, script, "ringhost help st", 2);
    CLI_CHECK(&o, strcmp(o.r.out, "stat\n") == 0, "expected help's verb completed");
    cli_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_prints_the_project_version),
        cmocka_unit_test(test_help_lists_every_verb_and_exits_0),
        cmocka_unit_test(test_each_verb_help_prints_its_usage_and_exits_0),
        cmocka_unit_test(test_help_of_an_unknown_verb_exits_2_naming_it),
        cmocka_unit_test(test_the_man_page_names_every_verb_and_is_the_built_one),
        cmocka_unit_test(test_the_bash_completion_completes_verbs_and_options),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
