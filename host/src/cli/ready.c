/*
 * ready.c — a serving host says it is ready.
 *
 * "Ready" means: every queue and dead-letter queue of the manifest exists,
 * its kernels are activated, and the control socket answers (so `ringhost
 * send|recv|stat|ps` work).  cmd_run.c calls rh__cli_ready() once, right
 * after the control socket started answering, and rh__cli_stopping() when
 * a signal asks it to stop.  Two signals, both optional:
 *
 *   --ready-fd N   the line "READY=1\n" is written to descriptor N, which is
 *                  then closed.  A host that fails before it is ready closes
 *                  N without writing: the reader sees end-of-file and no line.
 *   NOTIFY_SOCKET  (set by systemd for a Type=notify unit) one datagram
 *                  "READY=1\nMAINPID=<pid>\nSTATUS=..." to that unix socket,
 *                  an abstract one when the name starts with '@'; later
 *                  "STOPPING=1".  With WatchdogSec= (WATCHDOG_USEC, and
 *                  WATCHDOG_PID naming this process when set), "WATCHDOG=1"
 *                  every half of that while the control thread's heartbeat
 *                  is fresh (cmd_run.c: wait_for_stop).  Written here
 *                  rather than with libsystemd (sd_notify): the protocol is
 *                  one sendto, and the host keeps its dependencies to what
 *                  Debian's base packages have.
 *
 * Neither is fatal: a reader that went away, or a notify socket that does
 * not answer, is said on stderr and the host serves on.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"

int rh__cli_ready_fd_parse(const char *text, int *fd)
{
    long v;
    /* the one number parser (args.c): "3x", "-1", "" refused */
    if (rh__cli_long("run", "--ready-fd", text, 0, 1 << 20, &v))
        return RH_EXIT_BADINPUT;
    if (v <= 2 || fcntl((int)v, F_GETFD) < 0) {
        fprintf(stderr, "ringhost run: --ready-fd %ld: %s; open it for writing in the shell "
                        "that starts the host (e.g. `ringhost run M --ready-fd 3 3>FIFO`)\n",
                v, v <= 2 ? "expected a descriptor other than stdin, stdout and stderr"
                          : "not an open file descriptor");
        return RH_EXIT_BADINPUT;
    }
    /* Not inherited by what the host starts (plugin scanners): the reader
     * sees end-of-file as soon as this process closes it. */
    fcntl((int)v, F_SETFD, FD_CLOEXEC);
    *fd = (int)v;
    return 0;
}

/* One datagram to $NOTIFY_SOCKET; 0 when it is unset, -1 after saying on
 * stderr why it could not be sent. */
static int sd_notify_send(const char *text)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || !path[0])
        return 0;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t n = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || n >= sizeof sa.sun_path) {
        fprintf(stderr, "ringhost: NOTIFY_SOCKET=\"%s\": expected an absolute path or an "
                        "abstract name starting with '@' (at most %zu bytes); not notified\n",
                path, sizeof sa.sun_path - 1);
        return -1;
    }
    memcpy(sa.sun_path, path, n);
    if (path[0] == '@')
        sa.sun_path[0] = 0; /* abstract: the length below names it, no terminator */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ssize_t sent = fd < 0 ? -1
                          : sendto(fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&sa,
                                   len);
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (sent != (ssize_t)strlen(text)) {
        fprintf(stderr, "ringhost: NOTIFY_SOCKET=%s: cannot notify: %s\n", path, strerror(e));
        return -1;
    }
    return 0;
}

void rh__cli_ready(int ready_fd, const char *instance)
{
    if (ready_fd >= 0) {
        static const char line[] = "READY=1\n";
        if (write(ready_fd, line, sizeof line - 1) != (ssize_t)(sizeof line - 1))
            fprintf(stderr, "ringhost: --ready-fd %d: cannot write: %m (serving anyway)\n",
                    ready_fd);
        close(ready_fd);
    }
    char text[256];
    snprintf(text, sizeof text, "READY=1\nMAINPID=%ld\nSTATUS=serving instance %s\n",
             (long)getpid(), instance);
    sd_notify_send(text);
}

void rh__cli_stopping(void)
{
    sd_notify_send("STOPPING=1\nSTATUS=shutting down\n");
}

uint64_t rh__cli_watchdog_interval_ns(void)
{
    const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
    if (!usec || !usec[0] || !getenv("NOTIFY_SOCKET"))
        return 0;
    char *end;
    errno = 0;
    unsigned long long us = strtoull(usec, &end, 10);
    if (errno || *end || us == 0) {
        fprintf(stderr, "ringhost: WATCHDOG_USEC=\"%s\": expected a positive number of "
                        "microseconds; no watchdog pings\n", usec);
        return 0;
    }
    if (pid && pid[0] && strtol(pid, NULL, 10) != (long)getpid())
        return 0; /* the watchdog is another process's */
    return us * 1000ull / 2;
}

void rh__cli_watchdog_ping(void)
{
    sd_notify_send("WATCHDOG=1\n");
}
