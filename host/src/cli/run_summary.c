/*
 * run_summary.c — `ringhost run --summary FILE`: the summary and accounting
 * lines again, in a file the user can read when stderr is gone (a closed
 * pipe, a terminal that went away).  The file is opened (truncated) before
 * the launch, so a path that cannot be written stops the host at once; each
 * runtime's lines are written once it is terminated, when its counts are
 * exact; the last line says the exit code.
 */
#include <stdio.h>

#include "cli.h"
#include "remote/remote.h"

/* Only the main thread of `run` touches it. */
static FILE *g_summary;

int rh__cli_summary_open(const char *path)
{
    g_summary = fopen(path, "w");
    if (g_summary)
        return 0;
    fprintf(stderr, "ringhost run: --summary %s: cannot open: %m\n", path);
    return -1;
}

void rh__cli_summary_add(rh_runtime *rt)
{
    if (!g_summary || rh_runtime_state(rt) != RH_STATE_TERMINATED)
        return;
    rh_runtime_report_summary(rt, g_summary);
    rh_runtime_report_accounting(rt, g_summary);
    rh__remote_report_accounting(rt, g_summary);
    fflush(g_summary);
}

void rh__cli_summary_line(const char *text)
{
    if (g_summary)
        fprintf(g_summary, "ringhost: %s\n", text);
}

int rh__cli_summary_close(int exit_code)
{
    if (!g_summary)
        return exit_code;
    fprintf(g_summary, "ringhost: exit %d\n", exit_code);
    if (fclose(g_summary) != 0) {
        fprintf(stderr, "ringhost: --summary: cannot write: %m\n");
        if (exit_code == RH_EXIT_OK)
            exit_code = RH_EXIT_FAIL;
    }
    g_summary = NULL;
    return exit_code;
}
