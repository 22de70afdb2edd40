/*
 * test_cli_cluster_demo.c — `make run-cluster` (tools/run_cluster.sh):
 * the VectorAdd demo on two real `ringhost run` hosts (a gateway
 * with no kernel, a kernel host) and a real `nats-server -js` that the
 * script starts on a loopback port of its own.
 *
 * The script runs as users run it (bash tools/run_cluster.sh), with
 * RINGHOST and PLUGINS naming this build.  It prints each process it starts
 * as "(pid N)", each host's instance, and the server's store folder; the
 * tests read those back to check that, once the script has exited, none of
 * the processes is left (not even a zombie), no shared-memory object of the
 * two instances remains and the scratch folder is gone — after a full run,
 * and after a run whose last step fails.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"

#define SCRIPT RH_TEST_SOURCE_DIR "/tools/run_cluster.sh"
#define SCRIPT_WITHIN_S 240.0
#define MAX_PIDS 8

typedef struct demo_run {
    cli_out o;
    int pids[MAX_PIDS];
    size_t n_pids;
    char instances[2][128];
    size_t n_instances;
    char store[512];
} demo_run;

static int have_nats_server(void)
{
    const char *env = getenv("RINGHOST_NATS_SERVER");
    if (env && *env)
        return access(env, X_OK) == 0;
    if (access("/usr/sbin/nats-server", X_OK) == 0)
        return 1;
    return system("command -v nats-server >/dev/null 2>&1") == 0;
}

/* Run the script with ringhost binary `ringhost` and read back what it
 * started from its stdout. */
static void run_demo(demo_run *d, const char *ringhost)
{
    memset(d, 0, sizeof *d);
    setenv("RINGHOST", ringhost, 1);
    setenv("PLUGINS", RH_TEST_PLUGIN_DIR, 1);
    unsetenv("RH_CLUSTER_KEEP");
    char *argv[] = {"/bin/bash", SCRIPT, NULL};
    snprintf(d->o.cmd, sizeof d->o.cmd, "RINGHOST=%s PLUGINS=%s bash %s", ringhost,
             RH_TEST_PLUGIN_DIR, SCRIPT);
    if (proc_run(argv, NULL, SCRIPT_WITHIN_S, &d->o.r) != 0)
        fail_msg("expected to start bash %s", SCRIPT);
    CLI_CHECK(&d->o, !d->o.r.timed_out, "expected %s to finish within %.0f s", SCRIPT,
              SCRIPT_WITHIN_S);
    /* "(pid N)" when started, again in "== stopped ... (pid N)": each once */
    for (const char *p = d->o.r.out; p && (p = strstr(p, "(pid ")); p++) {
        int pid = atoi(p + 5), seen = 0;
        for (size_t i = 0; i < d->n_pids; i++)
            seen |= d->pids[i] == pid;
        if (!seen && d->n_pids < MAX_PIDS)
            d->pids[d->n_pids++] = pid;
    }
    for (const char *p = d->o.r.out; p && (p = strstr(p, "serves instance ")); p++) {
        if (d->n_instances < 2)
            sscanf(p + strlen("serves instance "), "%127[A-Za-z0-9._-]",
                   d->instances[d->n_instances++]);
    }
    const char *s = d->o.r.out ? strstr(d->o.r.out, ", store ") : NULL;
    if (s)
        sscanf(s + strlen(", store "), "%511s", d->store);
}

/* Nothing the script started is left: no process, no /dev/shm object of
 * its instances, no scratch folder. */
static void expect_nothing_left(demo_run *d, size_t want_pids)
{
    CLI_CHECK(&d->o, d->n_pids == want_pids,
              "expected the demo to name %zu processes it started as \"(pid N)\", got %zu",
              want_pids, d->n_pids);
    for (size_t i = 0; i < d->n_pids; i++)
        CLI_CHECK(&d->o, d->pids[i] > 0 && proc_gone(d->pids[i]),
                  "expected pid %d (started by the demo) gone after it exited", d->pids[i]);
    DIR *shm = opendir("/dev/shm");
    struct dirent *e;
    while (shm && (e = readdir(shm))) {
        for (size_t i = 0; i < d->n_instances; i++) {
            char prefix[160];
            snprintf(prefix, sizeof prefix, "ringhost.%s:", d->instances[i]);
            CLI_CHECK(&d->o, strncmp(e->d_name, prefix, strlen(prefix)) != 0,
                      "expected no shared memory of instance %s left, found /dev/shm/%s",
                      d->instances[i], e->d_name);
        }
    }
    if (shm)
        closedir(shm);
    CLI_CHECK(&d->o, d->store[0] != '\0', "expected the demo to name its store folder");
    char *slash = strstr(d->store, "/nats/store");
    if (slash)
        *slash = '\0';
    struct stat st;
    CLI_CHECK(&d->o, stat(d->store, &st) != 0 && errno == ENOENT,
              "expected the demo's scratch folder %s removed", d->store);
}

static void test_run_cluster_answers_the_three_vector_add_cases_and_leaves_nothing_running(
    void **state)
{
    (void)state;
    if (!have_nats_server())
        skip();
    demo_run d;
    run_demo(&d, RH_TEST_BINARY);
    cli_expect_exit(&d.o, 0);
    CLI_CHECK(&d.o, d.n_instances == 2, "expected a kernel host and a gateway host serving");
    CLI_CHECK(&d.o, cli_count(d.o.r.out, "== stopped") == 3,
              "expected the demo to say it stopped nats-server and both hosts");

    /* The answers: the JSON lines of stdout, one per request, matched by
     * their size (10 elements b = 2a, 25 with b = 3a, 100 with b = 4a). */
    cli_str json = {0};
    for (const char *p = d.o.r.out; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len && p[0] == '{')
            cli_str_addf(&json, "%.*s\n", (int)len, p);
        p = nl ? nl + 1 : p + len;
    }
    cli_out answers = d.o;
    answers.r.out = json.s ? json.s : "";
    json_t *lines = cli_lines(&answers);
    CLI_CHECK(&d.o, json_array_size(lines) == 3 && cli_count_queue(lines, "vadd.out") == 3,
              "expected 3 answers from vadd.out, got %zu lines", json_array_size(lines));
    const size_t sizes[3] = {10, 25, 100};
    for (size_t c = 0; c < 3; c++) {
        float want[100];
        for (size_t i = 0; i < sizes[c]; i++)
            want[i] = (float)(i + 1) * (float)(c + 3); /* a + b = a + (c+2)a */
        json_t *line = NULL;
        for (size_t k = 0; k < 3 && !line; k++) {
            json_t *body = json_object_get(json_array_get(lines, k), "body");
            json_t *pe = json_object_get(body, "processed_elements");
            if (json_is_integer(pe) && (size_t)json_integer_value(pe) == sizes[c])
                line = json_array_get(lines, k);
        }
        CLI_CHECK(&d.o, line, "expected an answer with processed_elements %zu", sizes[c]);
        cli_check_vadd_result(&d.o, line, want, sizes[c]);
    }
    json_decref(lines);
    cli_str_free(&json);
    expect_nothing_left(&d, 3);
    proc_result_free(&d.o.r);
}

/* A ringhost whose `recv` fails (a wrapper around the real binary): the
 * script dies at its last step, with the server and both hosts running,
 * and must still stop them all. */
static void test_run_cluster_that_fails_midway_still_stops_everything_it_started(void **state)
{
    (void)state;
    if (!have_nats_server())
        skip();
    const char *wrapper = cli_write("ringhost-recv-fails.sh",
                                    "#!/bin/sh\n"
                                    "if [ \"$1\" = recv ]; then echo 'recv: refused (test)' >&2; "
                                    "exit 7; fi\n"
                                    "exec " RH_TEST_BINARY " \"$@\"\n");
    assert_int_equal(chmod(wrapper, 0755), 0);
    demo_run d;
    run_demo(&d, wrapper);
    cli_expect_exit(&d.o, 1);
    CLI_CHECK(&d.o, strstr(d.o.r.err, "fewer than 3 answers"),
              "expected the demo to say the answers did not come");
    CLI_CHECK(&d.o, cli_count(d.o.r.out, "== stopped") == 0,
              "expected no orderly stop lines: the cleanup trap stopped them");
    expect_nothing_left(&d, 3);
    proc_result_free(&d.o.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_run_cluster_answers_the_three_vector_add_cases_and_leaves_nothing_running),
        cmocka_unit_test(test_run_cluster_that_fails_midway_still_stops_everything_it_started),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
