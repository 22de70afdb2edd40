/*
 * cmd_wait.c — `ringhost wait --instance I [--timeout S]`: block until the
 * host serving instance I is ready (ready.c says what that means), exit 0;
 * exit 1 when none is within S seconds (default 30), saying what it saw.
 * Arguments go through args.c (exit 2): a flag without its value, a
 * --timeout that is no number of seconds from 0 to 86400, an unknown
 * option, an instance name no host could serve.  A valid instance that no
 * host serves (yet) is not refused: waiting for it is the point, so it is
 * the timeout, 1.
 *
 * A host binds and listens on its control socket before it launches its
 * manifest, and answers only once it is ready, so "ready" here is: a
 * `ps` request on the control socket gets an answer.  Until then the
 * socket is missing or refuses (retried every 20 ms), or accepts and stays
 * silent (the reply is awaited until the deadline, not longer).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"
#include "control/control.h"

/* One try before deadline_ns: 1 ready, 0 not (yet), with why said in
 * why (the last reason, for the timeout message). */
static int try_ready(const char *instance, uint64_t deadline_ns, char *why, size_t why_len)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    rh_error err = {0};
    if (rh__control_socket_path(instance, 0, path, sizeof path, &err) != 0) {
        snprintf(why, why_len, "%s", err.msg);
        return 0;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(why, why_len, "no control socket answers at %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 0;
    }
    static const char req[] = "{\"cmd\":\"ps\"}\n";
    int ready = 0;
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
        char buf[256];
        uint64_t now;
        while ((now = rh_now_ns()) < deadline_ns) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            int ms = (int)((deadline_ns - now) / RH_NS_PER_MS) + 1;
            int r = poll(&p, 1, ms);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
            if (n <= 0)
                break;
            buf[n] = 0;
            /* the reply begins {"ok": true, ... (one JSON object a line) */
            ready = strstr(buf, "\"ok\"") != NULL;
            break;
        }
    }
    if (!ready)
        snprintf(why, why_len, "the host at %s accepted but did not answer yet (still "
                 "launching its manifest?)", path);
    close(fd);
    return ready;
}

int rh__cmd_wait(int argc, char **argv)
{
    const char *instance = NULL, *v;
    double timeout_s = 30;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("wait", argc, argv, &i, &instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--timeout")) {
            if (rh__cli_value("wait", argc, argv, &i, &v) ||
                rh__cli_seconds("wait", "--timeout", v, 0, 86400, &timeout_s))
                return RH_EXIT_BADINPUT;
        } else {
            return rh__cli_bad_arg("wait", argv[i]);
        }
    }
    if (rh__cli_need_instance("wait", &instance))
        return RH_EXIT_BADINPUT;
    /* A name no host could ever serve is a bad argument (2) at once; a
     * valid one no host serves yet is what wait is for: 1 at the deadline
     * (docs/OPERATIONS.md, "Exit codes"). */
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    rh_error err = {0};
    /* (the folder may not exist yet: only RH_EINVAL, the name, is final) */
    if (rh__control_socket_path(instance, 0, path, sizeof path, &err) == RH_EINVAL) {
        fprintf(stderr, "ringhost wait: --instance: %s\n", err.msg);
        return RH_EXIT_BADINPUT;
    }
    uint64_t deadline = rh_now_ns() + (uint64_t)(timeout_s * (double)RH_NS_PER_S);
    char why[512] = "";
    for (;;) {
        if (try_ready(instance, deadline, why, sizeof why))
            return RH_EXIT_OK;
        if (rh_now_ns() >= deadline)
            break;
        struct timespec ts = {0, 20 * RH_NS_PER_MS};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "ringhost wait: no host of instance \"%s\" became ready within %g s (%s)\n",
            instance, timeout_s, why);
    rh__cli_left_queues_note("wait", instance);
    return RH_EXIT_FAIL;
}
