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
    int e = errno;
    fprintf(stderr, "ringhost bench: cannot run %s: %s\n", path, strerror(e));
    if (e != ENOENT)
        return RH_EXIT_FAIL;
    if (strcmp(exe, RH_BUILD_DIR) != 0) /* exe is this executable's folder now */
        fprintf(stderr, "  (this ringhost was installed from the build %s: ringhost-bench is "
                        "installed beside it once built there)\n", RH_BUILD_DIR);
#ifdef RH_BENCH_CONFIGURED
    /* The build has the target: it was only not built (`make run` builds
     * the host and the kernels alone). */
    fprintf(stderr, "  this build has the benchmark but did not build it yet: run\n"
                    "    cmake --build %s --target ringhost-bench\n"
                    "  (or make build), then ringhost bench again\n", RH_BUILD_DIR);
#else
    fprintf(stderr, "  this build was configured without the benchmark: cmake found no DPDK or "
                    "no ZeroMQ\n  (pkg-config libdpdk, libzmq; its \"ringhost-bench skipped\" "
                    "line says which).\n  Install them (apt-get install libdpdk-dev "
                    "libzmq3-dev, or bash .ci/deps.sh), then configure\n  and build again: "
                    "cmake -S . -B %s && cmake --build %s --target ringhost-bench\n",
            RH_BUILD_DIR, RH_BUILD_DIR);
#endif
    return RH_EXIT_FAIL;
}
