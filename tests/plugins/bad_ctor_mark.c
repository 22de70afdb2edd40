/* bad_ctor_mark.so: a valid plugin whose constructor writes the uid it runs
 * as to the file named by RH_TEST_CTOR_MARK (appending), so a test can tell
 * whether a refused file's code ever ran, and in which process.  Its
 * "defect" is only that: it leaves a trace. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bad_plugin.h"

static void __attribute__((constructor)) leave_a_mark(void)
{
    const char *mark = getenv("RH_TEST_CTOR_MARK");
    if (!mark)
        return;
    int fd = open(mark, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0)
        return;
    char line[64];
    int n = snprintf(line, sizeof line, "uid=%u pid=%d\n", (unsigned)geteuid(), (int)getpid());
    if (write(fd, line, (size_t)n) != n)
        n = 0;
    close(fd);
}

static const rh_kernel_desc desc = {RH_KERNEL_ABI, BAD_PLUGIN_BODY("bad_ctor_mark"),
                                    .process = bad_process};

RH_KERNEL_EXPORT(desc)
