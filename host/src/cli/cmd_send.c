/*
 * cmd_send.c — `ringhost send`: messages to a running host's shared queue,
 * from the command line's arguments or, with "-", from stdin as JSON lines.
 *
 * Arguments are checked all before any is sent (a command with one bad
 * message sends none).  Stdin cannot be: it may never end (a producer
 * piped in for hours), and holding it whole to check it first would send
 * nothing until it ends.  So each line is checked and sent on its own, in
 * order: a good line is sent at once, a bad one is reported as
 * "<stdin>:LINE: reason" and skipped, and the command exits 2 at the end
 * when any was bad.  A check per chunk would make what is sent depend on
 * how the producer's writes happened to be cut; per line, the outcome of
 * each line is the same whatever the timing, and its id (stdout) or its
 * error (stderr) names it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "queue/queue_pvt.h"

/*
 * The sends of this process that landed in a queue no host will read
 * (RH_ESTALE is checked on slow paths only, so up to a queue's worth may
 * succeed into a dead mapping).  Take them back out: rh_recv on a stale
 * handle gives back exactly what no host will take (ringhost.h, rh_send),
 * so resend_stranded hands them to the new host's queue with their
 * envelopes and ids, and a dedup window drops a copy the old host did
 * take.  On a persist queue that is nothing, unless its next host moved
 * it from under this command (then what reached it after the move): the
 * queue outlives its host, and the next one delivers what is in it.  At
 * most the old queue's capacity, s->n of them, each payload at
 * bufs + i * stride.
 */
typedef struct stranded {
    rh_envelope *envs;
    unsigned char *bufs;
    uint32_t n, stride;
} stranded;

static void take_stranded(rh_queue *q, stranded *s)
{
    rh_queue_stats st = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(q, &st);
    s->n = 0;
    s->stride = rh_queue_payload_size(q);
    uint32_t room = st.depth < st.capacity ? (uint32_t)st.depth : st.capacity;
    if (room == 0 || s->stride == 0)
        return;
    s->envs = calloc(room, sizeof *s->envs);
    s->bufs = calloc(room, s->stride);
    if (!s->envs || !s->bufs) {
        fprintf(stderr, "ringhost send: out of memory taking back %u stranded messages\n", room);
        return;
    }
    while (s->n < room) {
        int got = rh_recv_burst(q, s->envs + s->n, s->bufs + (size_t)s->n * s->stride, s->stride,
                                room - s->n, 0);
        if (got <= 0)
            break;
        s->n += (uint32_t)got;
    }
}

/* Send what take_stranded took back to the new queue q; 0, or the first
 * refusal (said on stderr with how many stayed unsent). */
static int resend_stranded(rh_queue *q, const char *qname, stranded *s)
{
    uint32_t len = rh_queue_payload_size(q);
    if (len > s->stride)
        len = s->stride;
    for (uint32_t i = 0; i < s->n; i++) {
        int rc = rh_send(q, &s->envs[i], s->bufs + (size_t)i * s->stride, len, NULL);
        if (rc) {
            fprintf(stderr, "ringhost send: queue %s refused %u message(s) this command had "
                            "sent to the host that went: %s\n", qname, s->n - i, rh_strerror(rc));
            return rc;
        }
    }
    if (s->n)
        fprintf(stderr, "ringhost send: queue %s: sent again the %u message(s) the host that "
                        "went never took\n", qname, s->n);
    else if (rh_queue_config_of(q)->persist)
        fprintf(stderr, "ringhost send: queue %s is persist: what this command sent before is "
                        "in it for the new host\n", qname);
    return 0;
}

/*
 * Send one decoded body as `ringhost send` does, zero copy: the
 * body is decoded straight into a loaned cell of q and committed, with
 * `given` as its id when not zero.  Returns 0 (*id_out set), RH_EINVALMSG
 * (why says what; the loan is cancelled: a void cell nobody receives),
 * or the reservation's refusal (RH_ESTALE: the caller reattaches).
 */
static int send_in_place(rh_queue *q, const rh_type *t, json_t *body, rh_id given,
                         rh_id *id_out, char *why, size_t why_len)
{
    rh_loan loan;
    int rc = rh_send_reserve(q, 1, &loan);
    if (rc < 0)
        return rc;
    if (t->decode(body, loan.payload, why, why_len) != 0) {
        (void)rh_send_commit(q, 0, NULL, NULL);
        return RH_EINVALMSG;
    }
    loan.env->id = given;
    uint32_t len = t->size;
    rc = rh_send_commit(q, 1, &len, id_out);
    return rc < 0 ? rc : 0;
}

/* One `send` command: its queue (reattached when its host is replaced),
 * the message type and a scratch message of it, and what it printed. */
typedef struct sender {
    const char *instance, *qname;
    rh_queue *q;
    const rh_type *t;
    void *buf;     /* t->size bytes: the check of a body decodes into it */
    rh_id given;   /* --id: the first message only */
    int json;      /* --json: one object per message sent */
    int out_gone;  /* stdout was closed: ids are no longer printed */
    uint64_t sent;
} sender;

/* The id of a message sent, on stdout: the id alone, or with --json
 * {"queue": Q, "id": ID, KEY: N} (KEY "argument" or "line", N from 1).
 * Flushed, so a pipeline sees each as it is sent.  Once stdout is gone
 * (EPIPE: `| head -1`, a reader that died), nothing more is printed and
 * sending goes on: the ids are a receipt, the messages are what was asked
 * for, and the count sent is still said on stderr at the end. */
static void print_sent(sender *s, rh_id id, const char *key, unsigned long n)
{
    if (s->out_gone)
        return;
    char text[37];
    rh_id_format(id, text);
    if (s->json) {
        rh__cli_print_json_line(json_pack("{s:s, s:s, s:I}", "queue", s->qname, "id", text, key,
                                          (json_int_t)n));
    } else {
        printf("%s\n", text);
    }
    if (fflush(stdout) != 0) {
        s->out_gone = 1;
        fprintf(stderr, "ringhost send: stdout: %s; ids are no longer printed, messages still "
                        "sent\n", strerror(errno));
        clearerr(stdout);
    }
}

/*
 * Send one body (checked by the caller) to s->q; where names it in errors
 * ("argument 3", "<stdin>:7").  RH_EXIT_OK (its id printed), RH_EXIT_FAIL
 * when the queue refused it (said on stderr), RH_EXIT_BADINPUT when it
 * does not decode; *fatal set when its host went and no new one took the
 * queue over: nothing more can be sent.
 */
static int send_one(sender *s, json_t *body, const char *where, const char *key,
                    unsigned long n, int *fatal)
{
    rh_id id = {0, 0};
    char why[512] = "";
    int rc = send_in_place(s->q, s->t, body, s->given, &id, why, sizeof why);
    if (rc == RH_EINVALMSG) {
        fprintf(stderr, "ringhost send: %s: %s (type %s)\n", where, why, s->t->name);
        return RH_EXIT_BADINPUT;
    }
    rh_envelope env = {.id = s->given};
    s->given = (rh_id){0, 0}; /* --id applies to the first message only */
    if (rc == RH_ESTALE) {
        /* The reservation found the host gone, so this message is in no
         * queue: it goes to the new host's (given id, or a fresh one),
         * after what this command stranded in the old queue, which keeps
         * its ids so the new host's dedup window drops a copy the old one
         * did deliver. */
        stranded st = {0};
        rh_error err = {0};
        take_stranded(s->q, &st);
        rc = rh__cli_reattach("send", s->instance, s->qname, &s->q, &err);
        if (rc) {
            fprintf(stderr, "ringhost send: %s\n", err.msg);
            if (st.n)
                fprintf(stderr, "ringhost send: %u message(s) this command sent were never "
                                "taken by a host and are not sent\n", st.n);
            s->sent -= st.n < s->sent ? st.n : s->sent;
            free(st.envs);
            free(st.bufs);
            *fatal = 1;
            return rh__cli_exit_code(rc);
        }
        s->t = rh_queue_type(s->q);
        free(s->buf); /* decoded for the new host's type, which may differ */
        s->buf = calloc(1, s->t->size);
        rc = s->buf ? resend_stranded(s->q, s->qname, &st) : RH_ENOMEM;
        free(st.envs);
        free(st.bufs);
        if (rc == 0 && s->t->decode(body, s->buf, why, sizeof why) != 0) {
            fprintf(stderr, "ringhost send: %s: %s (type %s)\n", where, why, s->t->name);
            return RH_EXIT_BADINPUT;
        }
        if (rc == 0)
            rc = rh_send(s->q, &env, s->buf, s->t->size, &id);
    }
    if (rc) {
        fprintf(stderr, "ringhost send: %s: queue %s refused the message: %s\n", where, s->qname,
                rh_strerror(rc));
        return RH_EXIT_FAIL;
    }
    s->sent++;
    print_sent(s, id, key, n);
    return RH_EXIT_OK;
}

/* A JSON text that must be a message body (an object), or NULL after
 * saying why, prefixed with where ("argument 2", "<stdin>:5"). */
static json_t *body_parse(const char *text, const char *where)
{
    json_error_t je;
    json_t *body = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (body && json_is_object(body))
        return body;
    if (body)
        fprintf(stderr, "ringhost send: %s: expected a JSON object (the message body), got %s\n",
                where, json_is_array(body) ? "an array" : json_is_string(body) ? "a string"
                       : json_is_number(body) ? "a number" : "another value");
    else
        fprintf(stderr, "ringhost send: %s: expected a JSON object (the message body), column "
                        "%d: %s\n", where, je.column, je.text);
    json_decref(body);
    return NULL;
}

/* Whether body decodes as s->t (said on stderr when not). */
static int body_ok(sender *s, json_t *body, const char *where)
{
    char why[512] = "";
    if (s->t->decode(body, s->buf, why, sizeof why) == 0)
        return 1;
    fprintf(stderr, "ringhost send: %s: %s (type %s)\n", where, why, s->t->name);
    return 0;
}

/* SIGINT/SIGTERM while reading stdin: stop after the line being sent.  The
 * handler also points descriptor 0 at /dev/null (open and dup2 are
 * async-signal-safe), so a read that starts after the flag was checked
 * ends at once instead of waiting for a line that may never come. */
static volatile sig_atomic_t send_stop;

static void on_stop(int sig)
{
    (void)sig;
    int saved = errno;
    send_stop = 1;
    int fd = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
        dup2(fd, STDIN_FILENO);
        close(fd);
    }
    errno = saved;
}

/* `send QUEUE -`: every line of stdin, checked and sent one by one (see
 * the top of this file); blank lines and lines starting with '#' are
 * skipped.  Ends at end of input or SIGINT/SIGTERM, then says on stderr
 * how many were sent and how many lines were bad. */
static int send_stdin(sender *s)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop; /* no SA_RESTART: a read waiting for input returns */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    char *text = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned long lineno = 0, bad = 0, refused = 0;
    int fatal = 0;
    while (!fatal && !send_stop && (len = getline(&text, &cap, stdin)) >= 0) {
        if (send_stop) /* the line was read from /dev/null or cut short */
            break;
        lineno++;
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
            text[--len] = 0;
        size_t lead = strspn(text, " \t");
        if (text[lead] == 0 || text[lead] == '#')
            continue;
        char where[48];
        snprintf(where, sizeof where, "<stdin>:%lu", lineno);
        json_t *body = body_parse(text, where);
        int code = !body ? RH_EXIT_BADINPUT
                 : body_ok(s, body, where) ? send_one(s, body, where, "line", lineno, &fatal)
                 : RH_EXIT_BADINPUT;
        json_decref(body);
        bad += code == RH_EXIT_BADINPUT;
        refused += code == RH_EXIT_FAIL;
    }
    int read_error = !send_stop && ferror(stdin);
    if (read_error)
        fprintf(stderr, "ringhost send: <stdin>: cannot read: %s\n", strerror(errno));
    free(text);
    fprintf(stderr, "ringhost send: <stdin>: %llu sent to %s, %lu bad line(s), %lu refused "
                    "of %lu line(s) read%s\n", (unsigned long long)s->sent, s->qname, bad,
            refused, lineno, send_stop ? " (interrupted)" : fatal ? " (stopped: no host)" : "");
    if (fatal || refused || read_error)
        return RH_EXIT_FAIL;
    return bad ? RH_EXIT_BADINPUT : RH_EXIT_OK;
}

int rh__cmd_send(int argc, char **argv)
{
    const char *idtext = NULL;
    sender s = {0};
    /* Options go anywhere: a message body is a JSON object, never "-x". */
    const char *bodies[argc > 0 ? argc : 1];
    int n_bodies = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("send", argc, argv, &i, &s.instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--id")) {
            if (rh__cli_value("send", argc, argv, &i, &idtext))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--json")) {
            s.json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return rh__cli_bad_arg("send", argv[i]);
        } else if (!s.qname) {
            s.qname = argv[i];
        } else {
            bodies[n_bodies++] = argv[i];
        }
    }
    if (!s.qname || !n_bodies) {
        fprintf(stderr, "ringhost send: expected %s\n", s.qname ? "a JSON message body (or - "
                "for JSON lines on stdin) after the queue" : "a queue name and a JSON message "
                "body");
        rh__cli_usage_hint("send");
        return RH_EXIT_BADINPUT;
    }
    int from_stdin = 0;
    for (int i = 0; i < n_bodies; i++)
        from_stdin |= !strcmp(bodies[i], "-");
    if (from_stdin && n_bodies > 1) {
        fprintf(stderr, "ringhost send: \"-\" (JSON lines on stdin) must be the only message "
                        "argument, got %d\n", n_bodies);
        return RH_EXIT_BADINPUT;
    }
    if (rh__cli_need_instance("send", &s.instance))
        return RH_EXIT_BADINPUT;
    if (idtext && rh_id_parse(idtext, &s.given) != 0) {
        fprintf(stderr, "ringhost send: --id: expected a UUID or 32 hex digits, got \"%s\"\n",
                idtext);
        return RH_EXIT_BADINPUT;
    }
    rh_error err = {0};
    int rc = rh__cli_client_attach("send", s.instance, s.qname, &s.q, &err);
    if (rc) {
        fprintf(stderr, "ringhost send: %s\n", err.msg);
        if (rc == RH_ENOENT)
            rh__cli_queues_note("send", s.instance);
        return rh__cli_exit_code(rc);
    }
    s.t = rh_queue_type(s.q);
    s.buf = malloc(s.t->size ? s.t->size : 1);
    if (!s.buf) {
        rh_queue_close(s.q);
        return RH_EXIT_FAIL;
    }
    int exit_code = RH_EXIT_OK;
    if (from_stdin) {
        exit_code = send_stdin(&s);
    } else {
        /* Every body is checked before any is sent, as run --send checks
         * its file: a command with one bad message sends none, so nobody
         * has to work out which of its messages went. */
        int bad = 0;
        for (int i = 0; i < n_bodies; i++) {
            char where[32];
            snprintf(where, sizeof where, "argument %d", i + 1);
            json_t *body = body_parse(bodies[i], where);
            bad += !body || !body_ok(&s, body, where);
            json_decref(body);
        }
        if (bad)
            fprintf(stderr, "ringhost send: %d bad message(s); nothing sent\n", bad);
        int fatal = 0;
        for (int i = 0; !bad && !fatal && i < n_bodies; i++) {
            char where[32];
            snprintf(where, sizeof where, "argument %d", i + 1);
            json_t *body = body_parse(bodies[i], where); /* checked above */
            int code = body ? send_one(&s, body, where, "argument", (unsigned long)(i + 1), &fatal)
                            : RH_EXIT_BADINPUT;
            if (code != RH_EXIT_OK)
                exit_code = code;
            json_decref(body);
        }
        if (bad)
            exit_code = RH_EXIT_BADINPUT;
    }
    free(s.buf);
    if (s.q)
        rh_queue_close(s.q);
    return exit_code;
}
