/* liar_*.so: a plugin that lies to the plugin scanner.  While the scanner
 * child loads it (its stdout is /dev/null there) it is a valid plugin; in
 * any other process its constructor (or, built with LIAR_IN_DTOR, its
 * destructor) does what LIAR_ACTION says:
 *   1  liar_segv   stores through NULL (SIGSEGV)
 *   2  liar_exit   calls exit(0)
 *   3  liar_hang   waits for a signal forever (pause)
 *   1  liar_dtor_segv  the NULL store, in its destructor
 * Before misbehaving it appends "pid=P" to the file $RH_TEST_LIAR_MARK
 * (when set), so a test knows the host is inside it now. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bad_plugin.h"

#ifndef LIAR_ACTION
#error "LIAR_ACTION: 1 segv, 2 exit, 3 hang"
#endif
#ifndef LIAR_NAME
#error "LIAR_NAME: the kernel's name"
#endif

/* The scanner puts stdout on /dev/null (plugin_scanner.c): the tell. */
static int in_the_scanner(void)
{
    struct stat out, null;
    return fstat(STDOUT_FILENO, &out) == 0 && stat("/dev/null", &null) == 0 &&
           S_ISCHR(out.st_mode) && out.st_rdev == null.st_rdev;
}

static void leave_a_mark(void)
{
    const char *mark = getenv("RH_TEST_LIAR_MARK");
    if (!mark)
        return;
    int fd = open(mark, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    char line[32];
    int n = snprintf(line, sizeof line, "pid=%d\n", (int)getpid());
    if (write(fd, line, (size_t)n) != n)
        n = 0;
    close(fd);
}

static void misbehave(void)
{
    if (in_the_scanner())
        return;
    leave_a_mark();
#if LIAR_ACTION == 1
    volatile int *volatile nowhere = 0; /* volatile: the compiler may not drop it */
    *nowhere = 1;
#elif LIAR_ACTION == 2
    exit(0);
#else
    for (;;)
        pause();
#endif
}

#ifdef LIAR_IN_DTOR
static void __attribute__((destructor)) on_unload(void)
{
    misbehave();
}
#else
static void __attribute__((constructor)) on_load(void)
{
    misbehave();
}
#endif

static const rh_kernel_desc desc = {RH_KERNEL_ABI, BAD_PLUGIN_BODY(LIAR_NAME),
                                    .process = bad_process};

RH_KERNEL_EXPORT(desc)
