/*
 * run_ledger.h — the instances a test run used, for the leftover check
 * (tests/check_leftovers.sh, the last test of every ctest run).
 *
 * Queues live in /dev/shm, which other test runs and real hosts share: the
 * check may only look at names tied to this run.  Every instance name the
 * test helpers hand out (cli_instance, rt_write_manifest) is appended, one
 * line each, to $RH_TEST_LEDGER (CTest sets it for each test; unset: no
 * ledger, nothing written).  O_APPEND writes of one short line do not
 * interleave between the tests running in parallel.
 */
#ifndef RH_TEST_RUN_LEDGER_H
#define RH_TEST_RUN_LEDGER_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline void rh_test_ledger_add(const char *instance)
{
    const char *path = getenv("RH_TEST_LEDGER");
    if (!path || !path[0])
        return;
    char line[256];
    int n = snprintf(line, sizeof line, "%s\n", instance);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (n > 0 && (size_t)n < sizeof line && write(fd, line, (size_t)n) != n)
        fprintf(stderr, "test ledger %s: short write\n", path);
    close(fd);
}

#endif
