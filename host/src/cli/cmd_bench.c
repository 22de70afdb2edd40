/*
 * cmd_bench.c — `ringhost bench ...`: runs ringhost-bench, the benchmark
 * built from bench/, with the same arguments.
 *
 * Why a separate binary: the benchmark links its baselines (DPDK's
 * rte_ring, ZeroMQ), and the host must not depend on either.  It is looked
 * up beside this executable (the build folder, or the install's bin/), so
 * `ringhost bench` always runs the benchmark of the same build.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

int rh__cmd_bench(int argc, char **argv)
{
    (void)argc; /* argv is NULL-terminated: execv takes it as it is */
    char exe[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "ringhost bench: cannot find this executable: %s\n", strerror(errno));
        return RH_EXIT_FAIL;
    }
    exe[n] = '\0';
    snprintf(path, sizeof path, "%s/ringhost-bench", dirname(exe));
    argv[0] = path;
    execv(path, argv);
    fprintf(stderr,
            "ringhost bench: cannot run %s: %s\n"
            "  it is built with the host when DPDK and ZeroMQ are installed\n"
            "  (apt-get install libdpdk-dev libzmq3-dev, then build again)\n",
            path, strerror(errno));
    return RH_EXIT_FAIL;
}
