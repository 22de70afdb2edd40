/*
 * cmd_client.c — `ringhost recv|purge`: a client of a running host's shared
 * queues, attached by instance and queue name (`send` is cmd_send.c, `stat`
 * cmd_stat.c), and the attach both client verbs use.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"
#include "plugin/plugin.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"
#include "queue/type_registry.h"

/*
 * Attach to a queue and give it its type.  A dead-letter queue
 * ("<kernel>.dlq") carries the host's own type, bound by its fingerprint;
 * the plugin named in its header is the kernel's, whose input types are
 * then made known so each dead letter shows its payload as that type's
 * JSON (base64 when the plugin cannot be loaded here).  Any other queue
 * takes its type from the plugin named in its header.
 */
int rh__cli_client_attach(const char *verb, const char *instance, const char *qname,
                          rh_queue **q, rh_error *err)
{
    rh_queue *probe;
    int rc = rh_queue_attach(instance, qname, &probe, err);
    if (rc)
        return rc;
    if (strcmp(rh_queue_type_name(probe), RH_DLQ_TYPE_NAME) != 0) {
        rh_queue_close(probe);
        return rh__cli_attach_typed(instance, qname, q, err);
    }
    const rh_type *t = rh__dlq_type_by_fingerprint(rh_queue_fingerprint(probe));
    if (!t || rh_queue_bind_type(probe, t, NULL) != 0) {
        rh_error_set(err, RH_ETYPE, "queue %s: dead letters of a layout this ringhost does not "
                     "know (fingerprint %016llx, %u bytes); read them with the ringhost of the "
                     "host that wrote them", qname,
                     (unsigned long long)rh_queue_fingerprint(probe),
                     rh_queue_payload_size(probe));
        rh_queue_close(probe);
        return RH_ETYPE;
    }
    /* The plugin stays loaded for the life of the process: the payload
     * types' functions live in it. */
    static rh_plugin plugin;
    const char *origin = rh_queue_type_origin(probe);
    rh_error perr = {0};
    if (origin[0] && rh__plugin_open(origin, &plugin, &perr) == 0) {
        for (uint32_t p = 0; p < plugin.desc->n_inputs; p++)
            rh__type_registry_add(plugin.desc->inputs[p].type);
        for (uint32_t p = 0; p < plugin.desc->n_outputs; p++) /* undeliverable answers */
            rh__type_registry_add(plugin.desc->outputs[p].type);
    } else {
        fprintf(stderr, "ringhost %s: %s: payloads shown as base64: %s\n", verb, qname,
                origin[0] ? perr.msg : "the queue names no plugin");
    }
    *q = probe;
    return 0;
}

/* How long send and recv try to attach again once their queue's host was
 * found gone or replaced (RH_ESTALE): a host restarting takes a moment. */
#define REATTACH_MS 5000

/*
 * The queue *q answered RH_ESTALE: its host is gone or a new host replaced
 * it, so this mapping reaches nobody.  Close it and attach to the queue of
 * that name again, every 50 ms for up to REATTACH_MS, until the object
 * there belongs to a running host (a host restarting takes a moment; until
 * then the name may be missing, or still the dead host's object, or a
 * persist queue that host has not recovered yet).  0 with *q the new
 * handle, else the last error (and *q NULL).  Says so on stderr.
 */
int rh__cli_reattach(const char *verb, const char *instance, const char *qname, rh_queue **q,
                     rh_error *err)
{
    rh_queue_close(*q);
    *q = NULL;
    fprintf(stderr, "ringhost %s: queue %s: its host is gone or was replaced; attaching "
                    "again\n", verb, qname);
    uint64_t until = rh_now_ns() + (uint64_t)REATTACH_MS * RH_NS_PER_MS;
    for (;;) {
        int rc = rh__cli_client_attach(verb, instance, qname, q, err);
        if (rc == 0) {
            rh_queue_health hl;
            rh__queue_health_get(*q, &hl);
            if (hl.host_running)
                return 0;
            rh_queue_close(*q);
            *q = NULL;
            rc = rh_error_set(err, RH_ESTALE,
                              "queue %s: its host (pid %d) is gone and no new host of instance "
                              "%s took it over within %d s; start one (ringhost run) and try "
                              "again", qname, hl.host_pid, instance, REATTACH_MS / 1000);
        }
        if (rh_now_ns() >= until)
            return rc;
        struct timespec ts = {0, 50 * RH_NS_PER_MS};
        nanosleep(&ts, NULL);
    }
}

/* `recv --reason STAGE` of a dead-letter queue: the stage names of dlq.h
 * (rh_dlq_stage), index = stage. */
static const char *const dlq_stages[] = {"", "invalid", "expired", "failed", "undeliverable"};
#define N_DLQ_STAGES (sizeof dlq_stages / sizeof *dlq_stages)

/* The stage of the dead letter in buf (a "ringhost.dead_letter" payload),
 * or 0 when q is not a dead-letter queue. */
static uint32_t dlq_stage_of(rh_queue *q, const void *buf)
{
    if (strcmp(rh_queue_type_name(q), RH_DLQ_TYPE_NAME) != 0)
        return 0;
    uint32_t stage;
    memcpy(&stage, buf, sizeof stage); /* rh_dead_letter.stage comes first */
    return stage;
}

static const char *stage_text(uint32_t stage)
{
    return stage < N_DLQ_STAGES ? dlq_stages[stage] : "unknown";
}

/*
 * `recv --peek`: print the messages waiting in q now, oldest first, without
 * taking any (rh_queue_peek: a snapshot; consumers are not disturbed),
 * at most want of them (0: all), only dead letters of stage `reason` when
 * reason > 0.  Says on stderr how many it showed.
 */
static int peek_queue(rh_queue *q, const char *qname, long want, uint32_t reason)
{
    uint32_t len = rh_queue_payload_size(q);
    void *buf = malloc(len ? len : 1);
    uint64_t cursor = 0;
    long shown = 0;
    rh_envelope env;
    int n;
    while ((!want || shown < want) && (n = rh_queue_peek(q, &cursor, &env, buf, len)) >= 0) {
        if (reason && dlq_stage_of(q, buf) != reason)
            continue;
        rh__cli_print_message(stdout, qname, rh_queue_type(q), &env, buf);
        shown++;
    }
    fflush(stdout);
    free(buf);
    fprintf(stderr, "ringhost recv: queue %s: %ld message(s) shown%s%s, left in the queue\n",
            qname, shown, reason ? " of reason " : "", reason ? stage_text(reason) : "");
    return RH_EXIT_OK;
}

/* `recv --follow`: SIGINT/SIGTERM ask it to stop.  The flag is read
 * between messages only, so a message taken when it arrives is printed and
 * released first: none is taken and left unprinted. */
static volatile sig_atomic_t recv_stop; /* the signal, 0 until one came */

static void on_recv_stop(int sig)
{
    recv_stop = sig;
}

/* Whether stdout is a pipe or terminal nobody reads any more (`| head -n
 * 3` exited, a hangup).  A file or an open pipe is never gone. */
static int stdout_gone(void)
{
    struct pollfd pfd = {.fd = STDOUT_FILENO, .events = 0};
    return poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLERR | POLLHUP | POLLNVAL));
}

/*
 * Before each take: 1 when stdout's reader is gone (take nothing more),
 * else 0 once it is ready.  On a pipe, ready means its reader has read
 * everything printed so far (FIONREAD, which Linux answers on either end):
 * a message printed into a pipe's buffer is taken from the queue, and lost
 * if the reader then exits without reading it (`| head -n 3` would cost a
 * whole buffer's worth).  Waiting keeps recv in step with its reader, so a
 * reader that leaves costs at most the one message written as it left;
 * the price is a round trip to the reader per message, nothing for a file
 * or a terminal.  Naps 20 us doubling to 1 ms; a stop request ends the
 * wait (the loop then stops before taking).
 */
static int stdout_wait_ready(void)
{
    static int is_pipe = -1;
    if (is_pipe < 0) {
        struct stat st;
        is_pipe = fstat(STDOUT_FILENO, &st) == 0 && S_ISFIFO(st.st_mode);
    }
    long nap_ns = 20000;
    for (;;) {
        if (stdout_gone())
            return 1;
        int unread = 0;
        if (!is_pipe || recv_stop || ioctl(STDOUT_FILENO, FIONREAD, &unread) != 0 || unread <= 0)
            return 0;
        struct timespec ts = {0, nap_ns};
        nanosleep(&ts, NULL);
        nap_ns = nap_ns < 500000 ? nap_ns * 2 : 1000000;
    }
}

int rh__cmd_recv(int argc, char **argv)
{
    const char *instance = NULL, *qname = NULL, *reason_name = NULL;
    long want = 0;
    double timeout_s = 1;
    int peek = 0, follow = 0, timeout_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("recv", argc, argv, &i, &instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f")) {
            follow = 1;
        } else if (!strcmp(argv[i], "--json")) {
            /* its output is JSON lines already; accepted as every verb
             * that prints accepts it */
        } else if (!strcmp(argv[i], "--peek")) {
            peek = 1;
        } else if (!strcmp(argv[i], "--reason")) {
            if (rh__cli_value("recv", argc, argv, &i, &reason_name))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "-n")) {
            if (rh__cli_value("recv", argc, argv, &i, &v) ||
                rh__cli_long("recv", "-n", v, 1, 1000000000L, &want))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--timeout")) {
            if (rh__cli_value("recv", argc, argv, &i, &v) ||
                rh__cli_seconds("recv", "--timeout", v, 0, 86400, &timeout_s))
                return RH_EXIT_BADINPUT;
            timeout_given = 1;
        } else if (!qname && argv[i][0] != '-') {
            qname = argv[i];
        } else {
            return rh__cli_bad_arg("recv", argv[i]);
        }
    }
    uint32_t reason = 0;
    if (reason_name) {
        for (uint32_t s = 1; s < N_DLQ_STAGES; s++)
            if (!strcmp(reason_name, dlq_stages[s]))
                reason = s;
        if (!reason) {
            fprintf(stderr, "ringhost recv: --reason: expected one of invalid, expired, failed, "
                            "undeliverable (the stage of a dead letter), got \"%s\"\n",
                    reason_name);
            return RH_EXIT_BADINPUT;
        }
    }
    if (follow && (peek || timeout_given)) {
        fprintf(stderr, "ringhost recv: --follow takes messages until interrupted: it goes "
                        "with neither %s\n", peek ? "--peek" : "--timeout");
        return RH_EXIT_BADINPUT;
    }
    if (!qname) {
        fprintf(stderr, "ringhost recv: expected a queue name\n"
                        "usage: ringhost recv [--instance I] QUEUE [-n N] [--timeout S | "
                        "--follow] [--peek] [--reason STAGE] [--json]\n"
                        "  without -n: every message until the queue stays empty for S seconds "
                        "(default 1)\n  with -n: N messages within S seconds, else exit 1\n"
                        "  --follow: every message as it comes (at most N) until SIGINT or "
                        "SIGTERM, then exit 0\n"
                        "  --peek: show the messages waiting now (at most N), take none\n"
                        "  --reason: only dead letters of that stage (invalid, expired, failed, "
                        "undeliverable)\n");
        return RH_EXIT_BADINPUT;
    }
    if (rh__cli_need_instance("recv", &instance))
        return RH_EXIT_BADINPUT;
    rh_queue *q;
    rh_error err = {0};
    int rc = rh__cli_client_attach("recv", instance, qname, &q, &err);
    if (rc) {
        fprintf(stderr, "ringhost recv: %s\n", err.msg);
        if (rc == RH_ENOENT)
            rh__cli_queues_note("recv", instance);
        return rh__cli_exit_code(rc);
    }
    if (reason && strcmp(rh_queue_type_name(q), RH_DLQ_TYPE_NAME) != 0) {
        fprintf(stderr, "ringhost recv: --reason: queue %s is not a dead-letter queue (its type "
                        "is %s); dead-letter queues are named KERNEL.dlq\n", qname,
                rh_queue_type_name(q));
        rh_queue_close(q);
        return RH_EXIT_BADINPUT;
    }
    if (peek) {
        rc = peek_queue(q, qname, want, reason);
        rh_queue_close(q);
        return rc;
    }
    uint32_t len = rh_queue_payload_size(q);
    void *buf = malloc(len);
    long got = 0;
    uint64_t quiet_since = 0; /* --reason without -n: since when the queue is empty */
    uint64_t deadline = rh_now_ns() + (uint64_t)(timeout_s * (double)RH_NS_PER_S);
    if (follow) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_recv_stop;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    int out_gone = 0;
    for (;;) {
        if (recv_stop)
            break;
        if (stdout_wait_ready()) {
            out_gone = 1;
            break;
        }
        if (recv_stop)
            break;
        int wait_ms;
        if (follow) {
            if (want && got >= want)
                break;
            wait_ms = 100; /* a slice: the stop flag and stdout are looked at between */
        } else if (want) {
            uint64_t now = rh_now_ns();
            if (got >= want || now >= deadline)
                break;
            wait_ms = (int)((deadline - now) / RH_NS_PER_MS) + 1;
        } else {
            wait_ms = (int)(timeout_s * 1000);
        }
        rh_envelope env;
        if (reason) {
            /* Take only from the head, while it is of that reason: a dead
             * letter of another stays queued, and the recv stops there.
             * The head is looked at before it is taken, so the wait for
             * one to arrive polls (every 10 ms, a tool's pace). */
            uint64_t cursor = 0;
            int p = rh_queue_peek(q, &cursor, &env, buf, len);
            if (p >= 0 && dlq_stage_of(q, buf) != reason) {
                fprintf(stderr, "ringhost recv: stopped at a dead letter of reason %s (left in "
                                "the queue); `ringhost recv %s --peek --reason %s` shows every "
                                "one of reason %s without taking any\n",
                        stage_text(dlq_stage_of(q, buf)), qname, reason_name, reason_name);
                break;
            }
            if (p < 0) {
                uint64_t now = rh_now_ns();
                if (!want && !quiet_since)
                    quiet_since = now;
                if (!want && !follow &&
                    now - quiet_since >= (uint64_t)(timeout_s * (double)RH_NS_PER_S))
                    break;
                struct timespec ts = {0, 10 * RH_NS_PER_MS};
                nanosleep(&ts, NULL);
                continue;
            }
            quiet_since = 0;
            wait_ms = 0;
        }
        /* Read in place (zero copy) and released once printed: a recv
         * killed before it printed a message leaves it to the next reader
         * (marked redelivered), not lost. */
        rh_msg_view v;
        int n = rh_recv_peek(q, 1, wait_ms, &v);
        if (n == RH_ESTALE) {
            rc = rh__cli_reattach("recv", instance, qname, &q, &err);
            if (rc) {
                fprintf(stderr, "ringhost recv: %s\n", err.msg);
                free(buf);
                return rh__cli_exit_code(rc);
            }
            if (rh_queue_payload_size(q) != len) {
                free(buf);
                len = rh_queue_payload_size(q);
                buf = malloc(len);
            }
            continue;
        }
        if (n == RH_ECORRUPT) {
            fprintf(stderr, "ringhost recv: queue %s: %s; see the host's queue.corrupt log "
                            "line and `ringhost stat`\n", qname, rh_strerror(n));
            free(buf);
            rh_queue_close(q);
            return RH_EXIT_FAIL;
        }
        if (follow && n < 0 && n != RH_ETIMEDOUT && n != RH_EEMPTY) {
            fprintf(stderr, "ringhost recv: queue %s: %s\n", qname, rh_strerror(n));
            free(buf);
            rh_queue_close(q);
            return rh__cli_exit_code(n);
        }
        if (n < 0) {
            if (follow)
                continue;
            break;
        }
        const void *payload = v.payload;
        if (v.len < len) { /* the codec reads a whole struct: zero-extended, as rh_recv does */
            memcpy(buf, v.payload, v.len);
            memset((char *)buf + v.len, 0, len - v.len);
            payload = buf;
        }
        rh__cli_print_message(stdout, qname, rh_queue_type(q), v.env, payload);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            /* The reader went after the check above: the message is not
             * released.  The process ends holding its peek (closing the
             * queue would release it), so the next reader gets the
             * message again, flagged redelivered, instead of its being
             * lost.  Quietly: nobody reads what we would say. */
            free(buf);
            return RH_EXIT_OK;
        }
        rh_recv_release(q);
        got++;
    }
    free(buf);
    rh_queue_close(q);
    if (out_gone)
        return RH_EXIT_OK; /* `| head`: the reader had what it wanted */
    if (follow) {
        fprintf(stderr, "ringhost recv: queue %s: %ld message(s) taken%s\n", qname, got,
                recv_stop == SIGINT ? "; stopped by SIGINT" : recv_stop == SIGTERM
                                    ? "; stopped by SIGTERM" : "");
        return RH_EXIT_OK;
    }
    if (want && got < want) {
        fprintf(stderr, "ringhost recv: %ld of %ld message(s) within %.1f s\n", got, want,
                timeout_s);
        return RH_EXIT_FAIL;
    }
    return RH_EXIT_OK;
}

/* `ringhost purge`: discard a queue a host left in /dev/shm (a persist
 * queue, kept on purpose, with its messages) once it is no longer wanted,
 * e.g. after its type or capacity changed.  A host holding it refuses. */
int rh__cmd_purge(int argc, char **argv)
{
    const char *instance = NULL, *qname = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("purge", argc, argv, &i, &instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!qname && argv[i][0] != '-') {
            qname = argv[i];
        } else {
            return rh__cli_bad_arg("purge", argv[i]);
        }
    }
    if (!qname) {
        fprintf(stderr, "ringhost purge: expected a queue name\n");
        rh__cli_usage_hint("purge");
        return RH_EXIT_BADINPUT;
    }
    if (rh__cli_need_instance("purge", &instance))
        return RH_EXIT_BADINPUT;
    rh_error err = {0};
    int rc = rh__queue_purge(instance, qname, &err);
    if (rc) {
        fprintf(stderr, "ringhost purge: %s\n", err.msg);
        if (rc == RH_ENOENT)
            rh__cli_queues_note("purge", instance);
        return rh__cli_exit_code(rc);
    }
    if (as_json)
        rh__cli_print_json_line(json_pack("{s:s, s:s, s:b}", "queue", qname, "instance",
                                          instance, "purged", 1));
    else
        printf("purged queue %s of instance %s\n", qname, instance);
    return RH_EXIT_OK;
}
