/*
 * control_common.h — a serving host for the control-socket tests
 * (test_cli_control.c, test_cli_control_socket.c): started in the
 * background with `ringhost run MANIFEST`, ready once `ringhost ps`
 * answers, stopped with SIGTERM (or killed by the group teardown).
 */
#ifndef RH_TEST_CONTROL_COMMON_H
#define RH_TEST_CONTROL_COMMON_H

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli_common.h"

#define HOST_READY_WITHIN_S 20.0

/* `ringhost ps --instance instance` exits 0. */
static inline int ctl_ps_answers(const char *instance)
{
    char *argv[] = {RH_TEST_BINARY, "ps", "--instance", (char *)instance, NULL};
    proc_result r;
    int ok = proc_run(argv, NULL, 10, &r) == 0 && r.exit_code == 0;
    proc_result_free(&r);
    return ok;
}

/* Start `ringhost run manifest` and wait until `ringhost ps --instance
 * instance` answers.  0, or -1 after printing why (its stderr when it
 * exited). */
static inline int ctl_start_host(proc *host, const char *manifest, const char *instance)
{
    char *argv[] = {RH_TEST_BINARY, "run", (char *)manifest, NULL};
    if (proc_start(host, argv) != 0) {
        print_error("cannot start %s run %s\n", RH_TEST_BINARY, manifest);
        return -1;
    }
    int up = WAIT_UNTIL_EVERY(HOST_READY_WITHIN_S, CLI_POLL_MS,
                              !proc_running(host) || ctl_ps_answers(instance));
    if (!proc_running(host)) {
        proc_result r;
        proc_wait(host, 1, &r);
        print_error("expected `ringhost run %s` to keep serving; it exited %d with "
                    "stderr:\n%s\n", manifest, r.exit_code, r.err);
        proc_result_free(&r);
        return -1;
    }
    if (up)
        return 0;
    print_error("expected `ringhost ps --instance %s` to answer within %.0f s of starting the "
                "host\n", instance, HOST_READY_WITHIN_S);
    return -1;
}

/* Kill the host if it still runs. */
static inline void ctl_kill_host(proc *host)
{
    if (host->pid) {
        proc_signal(host, SIGKILL);
        proc_result r;
        proc_wait(host, 10, &r);
        proc_result_free(&r);
    }
}

#endif /* RH_TEST_CONTROL_COMMON_H */
