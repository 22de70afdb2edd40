/*
 * control_call.c — the CLI's client of a serving host's control socket:
 * one request line, one reply line (host/src/control/control.h says where the
 * socket is and what the lines mean).  Every verb that asks the host
 * (ps, launch, activate..., stat's kernel rows, wait, graph --instance)
 * goes through rh__cli_control_call, so each says "no host running" and
 * exits by the same rule.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/grow.h"
#include "cli.h"
#include "control/control.h"

/* How long a client waits for its reply: a launch loads plugins and starts
 * threads, a terminate drains (5 s by default). */
#define REPLY_WAIT_MS 60000

/* Read one '\n'-terminated line from fd within REPLY_WAIT_MS: malloc'ed,
 * or NULL. */
static char *read_line(int fd)
{
    uint32_t cap = 4096;
    size_t len = 0;
    char *buf = malloc(cap);
    while (buf) {
        struct pollfd pf = {fd, POLLIN, 0};
        if (poll(&pf, 1, REPLY_WAIT_MS) <= 0)
            break;
        if (len + 1 == cap && rh_grow(&buf, &cap, cap + 1, 1))
            break;
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        char *nl = memchr(buf, '\n', len);
        if (nl) {
            *nl = 0;
            return buf;
        }
    }
    free(buf);
    return NULL;
}

int rh__cli_control_call(const char *verb, const char *instance, json_t *req, json_t **reply,
                         int quiet)
{
    *reply = NULL;
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    rh_error err = {0};
    int rc = rh__control_socket_path(instance, 0, path, sizeof path, &err);
    if (rc == RH_ENOENT) {
        if (!quiet)
            fprintf(stderr, "ringhost %s: no host running for instance \"%s\" (%s)\n", verb,
                    instance, err.msg);
        return RH_EXIT_BADINPUT; /* names nothing: docs/OPERATIONS.md, "Exit codes" */
    }
    if (rc) {
        if (!quiet)
            fprintf(stderr, "ringhost %s: %s\n", verb, err.msg);
        return rh__cli_exit_code(rc);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (!quiet)
            fprintf(stderr, "ringhost %s: no host running for instance \"%s\" (no control "
                            "socket answers at %s: %s)\n", verb, instance, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return RH_EXIT_BADINPUT;
    }
    char *text = json_dumps(req, JSON_COMPACT);
    size_t n = text ? strlen(text) : 0;
    int ok = text && send(fd, text, n, MSG_NOSIGNAL) == (ssize_t)n &&
             send(fd, "\n", 1, MSG_NOSIGNAL) == 1;
    free(text);
    char *line = ok ? read_line(fd) : NULL;
    close(fd);
    json_error_t je;
    *reply = line ? json_loads(line, 0, &je) : NULL;
    free(line);
    if (!json_is_object(*reply)) {
        json_decref(*reply);
        *reply = NULL;
        if (!quiet)
            fprintf(stderr, "ringhost %s: the host of instance \"%s\" did not answer within "
                            "%d s\n", verb, instance, REPLY_WAIT_MS / 1000);
        return RH_EXIT_FAIL;
    }
    if (!json_is_true(json_object_get(*reply, "ok"))) {
        json_int_t code = json_integer_value(json_object_get(*reply, "code"));
        if (!quiet)
            fprintf(stderr, "ringhost %s: %s\n", verb,
                    json_string_value(json_object_get(*reply, "error")));
        return rh__cli_exit_code((int)code);
    }
    return RH_EXIT_OK;
}
