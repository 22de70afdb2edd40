/*
 * cmd_run.c — `ringhost run MANIFEST`: launch, activate, and either feed a
 * JSON-lines file and print every output, or serve until SIGINT/SIGTERM.
 *
 * With --send, a printer thread drains the output queues (those no kernel
 * reads) while the main thread sends, so a long request file never stalls
 * on a full output queue.  When everything is sent, we wait until the host
 * is idle (nothing queued, in a bridge, ring or kernel), let the printer
 * drain, then terminate.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "base/clock.h"
#include "base/log.h"
#include "cli.h"
#include "control/control.h"
#include "manifest/manifest.h"
#include "plugin/plugin_guard.h"
#include "queue/queue_pvt.h"

typedef struct printer {
    rh_runtime *rt;
    rh_queue **sinks; /* every queue no kernel reads */
    uint32_t n_sinks;
    _Atomic int finish; /* set once the host is idle: drain and return */
    uint64_t printed;
    void *buf;
    uint32_t buf_len;
} printer;

/* Messages taken from one sink before the next gets its turn: a sink its
 * producer keeps full (a block output queue) must not starve the others,
 * a dead-letter queue that drops its oldest above all. */
#define DRAIN_TURN 64

/* Print one message read in place: from its cell, or, when it is shorter
 * than its type (the codec reads a whole struct), from p->buf with the
 * rest zeroed, as rh_recv would have given it. */
static void print_view(printer *p, rh_queue *q, const rh_msg_view *v)
{
    const rh_type *t = rh_queue_type(q);
    const void *payload = v->payload;
    if (v->len < t->size && t->size <= p->buf_len) {
        memcpy(p->buf, v->payload, v->len);
        memset((char *)p->buf + v->len, 0, t->size - v->len);
        payload = p->buf;
    }
    rh__cli_print_message(stdout, rh_queue_name(q), t, v->env, payload);
}

/* Each sink's messages are printed where they lie (rh_recv_peek,
 * zero copy): a turn is one peek of up to DRAIN_TURN, released once printed. */
static uint32_t drain_once(printer *p)
{
    uint32_t got = 0;
    for (uint32_t i = 0; i < p->n_sinks; i++) {
        rh_msg_view v[DRAIN_TURN];
        int n = rh_recv_peek(p->sinks[i], DRAIN_TURN, 0, v);
        if (n <= 0)
            continue;
        for (int k = 0; k < n; k++)
            print_view(p, p->sinks[i], &v[k]);
        rh_recv_release(p->sinks[i]);
        got += (uint32_t)n;
    }
    if (got)
        fflush(stdout);
    p->printed += got;
    return got;
}

static void *printer_main(void *arg)
{
    printer *p = arg;
    /* One futex_waitv watches at most RH_WAIT_MAX_BELLS bells: with more
     * sinks than that, the rest are polled every ms while idle. */
    rh_bell *bells[RH_WAIT_MAX_BELLS];
    uint32_t n_bells = p->n_sinks < RH_WAIT_MAX_BELLS ? p->n_sinks : RH_WAIT_MAX_BELLS;
    for (uint32_t i = 0; i < n_bells; i++)
        bells[i] = rh__queue_not_empty_bell(p->sinks[i]);
    /* finish: polled every 5 ms */
    uint64_t nap_ns = n_bells < p->n_sinks ? RH_NS_PER_MS : 5 * RH_NS_PER_MS;
    while (!atomic_load(&p->finish)) {
        if (drain_once(p))
            continue;
        rh_sleep s;
        rh__sleep_prepare(&s, bells, n_bells);
        if (drain_once(p) || atomic_load(&p->finish)) {
            rh__sleep_cancel(&s);
            continue;
        }
        rh__sleep_commit(&s, nap_ns);
    }
    while (drain_once(p))
        ;
    return NULL;
}

/*
 * Terminate rt and return the run's exit code: exit_code, or RH_EXIT_FAIL
 * (when it was OK) if terminate failed or an accounting line terminate
 * printed does not balance: a message accepted and then not accounted for
 * is a runtime failure, whatever else went right.
 */
static int terminate_checked(rh_runtime *rt, int exit_code)
{
    rh_error err = {0};
    int failed = 0;
    if (rh_runtime_terminate(rt, 5000, &err) != 0) {
        fprintf(stderr, "ringhost: %s\n", err.msg);
        failed = 1;
    }
    rh__cli_summary_add(rt);
    if (rh_runtime_unbalanced(rt)) {
        fprintf(stderr, "ringhost: the accounting of %d queue(s) does not balance (see the "
                        "\"accounting:\" lines above)\n", rh_runtime_unbalanced(rt));
        failed = 1;
    }
    return failed && exit_code == RH_EXIT_OK ? RH_EXIT_FAIL : exit_code;
}

/* Set by the signal watcher while --send runs: stop sending, shut down. */
static _Atomic int interrupted;

static void *signal_watcher(void *arg)
{
    sigset_t *set = arg;
    int sig;
    if (sigwait(set, &sig) == 0) {
        atomic_store(&interrupted, sig);
        fprintf(stderr, "ringhost: %s received, stopping the send\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
    }
    return NULL;
}

/*
 * A plugin crashed, exited or hung while the host itself loaded or
 * unloaded it (plugin/plugin_guard.h): its thread keeps the dynamic
 * loader's lock for good.  Called once, on the thread that waited for it
 * (the control thread's launch, the plugin watcher's swap): the host shuts
 * down as at SIGTERM (every runtime terminated, its accounting lines
 * written) and exits 1.  If that shutdown has not ended the process within
 * WEDGE_BACKSTOP_S (the plugin's thread was parked holding a lock the
 * shutdown needs: the allocator's, a stdio stream's), the backstop ends it
 * with status 1 and a line saying so, written with write(2).
 */
#define WEDGE_BACKSTOP_S 30

static void *wedge_backstop(void *arg)
{
    (void)arg;
    struct timespec ts = {WEDGE_BACKSTOP_S, 0};
    while (nanosleep(&ts, &ts) != 0)
        ;
    static const char msg[] = "ringhost: the shutdown after a plugin took the host's loader did "
                              "not end within 30 s; exiting without it\n";
    ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)w;
    _exit(RH_EXIT_FAIL);
}

static void on_plugin_wedge(const char *why)
{
    (void)why; /* logged as plugin.load_fatal by the guard */
    pthread_t th;
    if (pthread_create(&th, NULL, wedge_backstop, NULL) == 0)
        pthread_detach(th);
    kill(getpid(), SIGTERM); /* blocked in every thread: the main thread's sigwait takes it */
}

/*
 * Wait for SIGINT or SIGTERM.  Under a systemd watchdog, ping it every
 * half WATCHDOG_USEC while the control thread's heartbeat (its sampling
 * turn, every RH_CONTROL_SAMPLE_MS) is younger than two turns: a host whose
 * control thread stopped turning (ps, stat and stop would no longer be
 * answered) stops pinging, and systemd restarts it (Restart=on-failure).
 */
static int wait_for_stop(const sigset_t *set, const rh_control *ctl)
{
    uint64_t every = rh__cli_watchdog_interval_ns();
    int sig = 0, silent = 0;
    if (!every) {
        sigwait(set, &sig);
        return sig;
    }
    const uint64_t fresh_ns = 2 * RH_CONTROL_SAMPLE_MS * RH_NS_PER_MS;
    for (;;) {
        uint64_t beat = rh__control_heartbeat_ns(ctl), age = beat ? rh_now_ns() - beat : 0;
        if (age < fresh_ns) { /* 0: the thread has not turned yet, it was just started */
            rh__cli_watchdog_ping();
            silent = 0;
        } else if (!silent++) {
            rh__log_event(NULL, RH_LOG_ERROR, "watchdog.silent",
                          "heartbeat_age_ms=%llu reason=\"the control thread stopped turning; "
                          "systemd's watchdog is no longer pinged\"",
                          (unsigned long long)(age / RH_NS_PER_MS));
        }
        struct timespec ts = {(time_t)(every / RH_NS_PER_S), (long)(every % RH_NS_PER_S)};
        sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            return sig;
    }
}

static void serve(rh_runtime *rt, const char *instance, int ready_fd, const rh_control *ctl)
{
    fprintf(stderr, "ringhost: serving instance \"%s\"; queues:", instance);
    for (uint32_t i = 0; rh_runtime_queue_name(rt, i); i++) {
        rh_queue *q = rh_runtime_queue(rt, rh_runtime_queue_name(rt, i));
        fprintf(stderr, "%s %s (%s%s)", i ? "," : "", rh_queue_name(q), rh_queue_type_name(q),
                rh_runtime_queue_consumed(rt, i) ? ", input" : "");
    }
    fprintf(stderr, "\n");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int sig = 0;
    fprintf(stderr, "ringhost: serving; send SIGINT or SIGTERM (Ctrl-C) to stop\n");
    /* Queues, dead-letter queues and the control socket all exist now. */
    rh__cli_ready(ready_fd, instance);
    sig = wait_for_stop(&set, ctl);
    rh__cli_stopping();
    char why[1024];
    if (rh__plugin_guard_wedged(why, sizeof why))
        fprintf(stderr, "ringhost: plugin %s; the host's plugin loader is lost, shutting down\n",
                why);
    else
        fprintf(stderr, "ringhost: %s received, shutting down\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM");
}

int rh__cli_allow_plugin(const char *verb, const char *path, const char **allowed,
                         size_t *n_allowed)
{
    /* The one way a manifest's "plugin" may name a file outside the plugin
     * folders: this exact absolute path (wiring.c). */
    if (path[0] != '/') {
        fprintf(stderr, "ringhost %s: --allow-plugin: expected the absolute path of a plugin "
                        "file (as the manifest's \"plugin\" writes it), got \"%s\"\n",
                verb, path);
        return RH_EXIT_BADINPUT;
    }
    allowed[(*n_allowed)++] = path;
    return 0;
}

/* Bind the control socket of the instance the host will serve: --instance,
 * else the manifest's name (a manifest that does not load is left to the
 * launch to report, with its path and line). */
static int open_control(const char *manifest, const char *instance, rh_control **ctl,
                        rh_error *err)
{
    char name[64] = "";
    if (instance) {
        snprintf(name, sizeof name, "%s", instance);
    } else {
        rh_manifest *m;
        if (rh__manifest_load(manifest, &m, NULL) != 0)
            return 0;
        snprintf(name, sizeof name, "%s", m->name);
        rh__manifest_free(m);
    }
    return rh__control_open(name, NULL, ctl, err);
}

/*
 * A serving host stops: no more requests, then every runtime (the first
 * from `run`, one per `ringhost launch`) is terminated in reverse launch
 * order — a later one may read queues an earlier one writes, and shares
 * them — each printing its summary and accounting lines.  Exit 1 when any
 * does not stop cleanly or does not balance.
 */
static int stop_host(rh_control *ctl, int exit_code)
{
    rh__control_stop(ctl);
    unsigned n = rh__control_runtime_count(ctl);
    for (unsigned i = n; i-- > 0;) {
        rh_runtime *rt = rh__control_runtime(ctl, i);
        if (rh_runtime_state(rt) == RH_STATE_TERMINATED && i > 0) {
            /* released after its terminate (control.h), kept for its queues */
            rh__cli_summary_add(rt);
            if (rh_runtime_unbalanced(rt) && exit_code == RH_EXIT_OK)
                exit_code = RH_EXIT_FAIL;
            continue;
        }
        exit_code = terminate_checked(rt, exit_code);
    }
    int released_unbalanced = rh__control_released_unbalanced(ctl);
    if (released_unbalanced) {
        fprintf(stderr, "ringhost: the accounting of %d queue(s) of released runtimes did not "
                        "balance (see the \"accounting:\" lines above)\n", released_unbalanced);
        if (exit_code == RH_EXIT_OK)
            exit_code = RH_EXIT_FAIL;
    }
    for (unsigned i = n; i-- > 0;)
        rh_runtime_destroy(rh__control_runtime(ctl, i));
    rh__control_close(ctl);
    return exit_code;
}

/*
 * The queues of this instance that a host now gone left and this manifest
 * does not declare (a manifest `launch`ed into it): `stat` and `ps` say the
 * next `run` replaces them, and it does: unlinked, with a queue.removed
 * line each (what they held is lost, as queue.replaced says of a declared
 * one).  Persist queues stay for the launch that recovers them.  Before
 * the control socket answers, so no `launch` can be creating one now.
 */
struct leftovers {
    rh_runtime *rt;
    const char *instance;
};

static void remove_leftover(const char *name, void *arg)
{
    struct leftovers *l = arg;
    uint64_t queued = 0;
    int pid = 0;
    if (rh_runtime_queue(l->rt, name) ||
        rh__queue_remove_leftover(l->instance, name, &queued, &pid) != 0)
        return;
    rh__log_event(NULL, RH_LOG_WARN, "queue.removed",
                  "instance=%s queue=%s pid=%d queued_discarded=%llu why=%s", l->instance, name,
                  pid, (unsigned long long)queued,
                  "its host is gone and this host's manifest does not declare it");
}

/*
 * A serving host's connections (control socket, /metrics) are polled, never
 * select()ed, so the soft limit on descriptors (often 1024, the default
 * systemd gives services) can rise to the hard one: a thousand idle clients
 * then cost descriptors, not service.  Past the limit the servers close the
 * longest idle connection to make room (server.c, metrics_http.c).
 */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int rh__cmd_run(int argc, char **argv)
{
    const char *manifest = NULL, *send = NULL;
    double timeout_s = 30;
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT();
    int no_watch = 0;
    int ready_fd = -1; /* --ready-fd N: closed unwritten when the host fails first */
    struct sockaddr_in metrics_at;
    int metrics = 0; /* --metrics-listen [ADDR:]PORT */
    const char *token_file = NULL; /* --metrics-token-file FILE */
    const char *summary = NULL; /* --summary FILE */
    /* --allow-plugin PATH, repeatable: at most one per argument pair, and
     * NULL-terminated; argv outlives the runtime. */
    const char *allowed[argc / 2 + 1];
    size_t n_allowed = 0;
    memset(allowed, 0, sizeof allowed);
    opts.allow_plugins = allowed;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--send")) {
            if (rh__cli_value("run", argc, argv, &i, &send))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--timeout")) {
            if (rh__cli_value("run", argc, argv, &i, &v) ||
                rh__cli_seconds("run", "--timeout", v, 0.001, 86400, &timeout_s))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--report-bindings")) {
            opts.report_bindings = 1;
        } else if (!strcmp(argv[i], "--no-watch")) {
            no_watch = 1;
        } else if (!strcmp(argv[i], "--json")) {
            /* stdout carries the answers as JSON lines already (the
             * summary is stderr's); accepted as every verb that prints
             * accepts it */
        } else if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("run", argc, argv, &i, &opts.instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--plugins")) {
            if (rh__cli_value("run", argc, argv, &i, &opts.extra_plugins))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--ready-fd")) {
            if (rh__cli_value("run", argc, argv, &i, &v) || rh__cli_ready_fd_parse(v, &ready_fd))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--metrics-listen")) {
            if (rh__cli_value("run", argc, argv, &i, &v) ||
                rh__metrics_http_parse(v, &metrics_at))
                return RH_EXIT_BADINPUT;
            metrics = 1;
        } else if (!strcmp(argv[i], "--metrics-token-file")) {
            if (rh__cli_value("run", argc, argv, &i, &token_file))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--summary")) {
            if (rh__cli_value("run", argc, argv, &i, &summary))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--allow-plugin")) {
            if (rh__cli_value("run", argc, argv, &i, &v) ||
                rh__cli_allow_plugin("run", v, allowed, &n_allowed) != 0)
                return RH_EXIT_BADINPUT;
        } else if (argv[i][0] != '-' && !manifest) {
            manifest = argv[i];
        } else {
            return rh__cli_bad_arg("run", argv[i]);
        }
    }
    if (!manifest) {
        fprintf(stderr, "ringhost run: expected a manifest file\n");
        rh__cli_usage_hint("run");
        return RH_EXIT_BADINPUT;
    }
    if (send && (ready_fd >= 0 || metrics)) {
        fprintf(stderr, "ringhost run: %s is for a serving host (run without --send); a --send "
                        "run ends when its file is answered\n",
                ready_fd >= 0 ? "--ready-fd" : "--metrics-listen");
        return RH_EXIT_BADINPUT;
    }
    if (token_file && !metrics) {
        fprintf(stderr, "ringhost run: --metrics-token-file is the token of --metrics-listen; "
                        "give both\n");
        return RH_EXIT_BADINPUT;
    }
    char *token = NULL; /* read now: a bad token file stops the host before it launches */
    int token_rc = token_file ? rh__metrics_token_read(token_file, &token) : 0;
    if (token_rc != 0)
        return token_rc;
    if (summary && rh__cli_summary_open(summary) != 0) {
        free(token);
        return RH_EXIT_BADINPUT;
    }
    if (!send)
        raise_fd_limit();
    opts.instance = rh__cli_instance(opts.instance);
    /* Serving, the plugin folders are watched: a new build of a running
     * kernel dropped in is swapped in (docs/OPERATIONS.md). */
    opts.watch_plugins = !send && !no_watch;
    /* Serve mode waits for these with sigwait: block them in every thread. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    rh__plugin_guard_on_wedge(on_plugin_wedge);

    rh_runtime *rt;
    rh_error err = {0};
    /* A serving host takes its instance's control socket first, so a
     * second host of a live instance stops here, before touching its
     * queues (control.h). */
    rh_control *ctl = NULL;
    int rc = send ? 0 : open_control(manifest, opts.instance, &ctl, &err);
    if (rc == 0)
        rc = rh_runtime_launch(manifest, &opts, &rt, &err);
    if (rc != 0) {
        fprintf(stderr, "ringhost: %s\n", err.msg);
        rh__control_close(ctl);
        free(token);
        if (ready_fd >= 0)
            close(ready_fd); /* end-of-file, no READY line: it failed */
        rh__cli_summary_line(err.msg);
        /* a plugin that took the loader failed the launch, not the manifest */
        return rh__cli_summary_close(rh__plugin_guard_wedged(NULL, 0) ? RH_EXIT_FAIL
                                                              : rh__cli_exit_code(rc));
    }
    rh_runtime_activate(rt, NULL);
    int exit_code = RH_EXIT_OK;
    if (!send) {
        struct leftovers l = {rt, rh_runtime_instance(rt)};
        rh_queue_list(l.instance, remove_leftover, &l);
        if (rh__control_add_runtime(ctl, rt, manifest) != 0) {
            fprintf(stderr, "ringhost: out of memory\n");
            rh_runtime_destroy(rt);
            rh__control_close(ctl);
            free(token);
            return rh__cli_summary_close(RH_EXIT_FAIL);
        }
        if (rh__control_start(ctl, &err) != 0) {
            fprintf(stderr, "ringhost: %s\n", err.msg);
            free(token);
            exit_code = RH_EXIT_FAIL;
        } else {
            /* The metrics listener before the ready signal: a host that
             * says it is ready answers its scrapes. */
            struct rh_metrics_http *mh = NULL;
            if (metrics && rh__metrics_http_start(&metrics_at, rh_runtime_instance(rt), token,
                                              &mh) != 0)
                exit_code = RH_EXIT_FAIL;
            else {
                serve(rt, rh_runtime_instance(rt), ready_fd, ctl);
                ready_fd = -1; /* serve closed it */
            }
            rh__metrics_http_stop(mh);
        }
        if (ready_fd >= 0)
            close(ready_fd);
        exit_code = stop_host(ctl, exit_code);
        return rh__cli_summary_close(rh__plugin_guard_wedged(NULL, 0) ? RH_EXIT_FAIL : exit_code);
    } else {
        printer p = {.rt = rt};
        uint32_t n_queues = 0;
        while (rh_runtime_queue_name(rt, n_queues))
            n_queues++;
        p.sinks = calloc(n_queues ? n_queues : 1, sizeof *p.sinks);
        if (!p.sinks) {
            fprintf(stderr, "ringhost: out of memory\n");
            rh_runtime_destroy(rt);
            return rh__cli_summary_close(RH_EXIT_FAIL);
        }
        for (uint32_t i = 0; i < n_queues; i++)
            if (!rh_runtime_queue_consumed(rt, i)) {
                rh_queue *q = rh_runtime_queue(rt, rh_runtime_queue_name(rt, i));
                p.sinks[p.n_sinks++] = q;
                if (rh_queue_payload_size(q) > p.buf_len)
                    p.buf_len = rh_queue_payload_size(q);
            }
        p.buf = malloc(p.buf_len ? p.buf_len : 1);
        pthread_t th, watcher;
        pthread_create(&th, NULL, printer_main, &p);
        pthread_create(&watcher, NULL, signal_watcher, &sigs);
        int bad = 0;
        uint64_t sent = 0;
        uint64_t t0 = rh_now_ns();
        rh__cli_send_file(rt, send, &interrupted, &bad, &sent);
        uint64_t deadline = t0 + (uint64_t)(timeout_s * (double)RH_NS_PER_S);
        /* A bridge polling an empty queue looks busy for an instant, so the
         * answer is kept from the check that ended the wait. */
        int idle = 0;
        while (!atomic_load(&interrupted) && !(idle = rh_runtime_is_idle(rt)) &&
               rh_now_ns() < deadline) {
            struct timespec ts = rh_timespec_of_ns(500 * RH_NS_PER_US);
            nanosleep(&ts, NULL);
        }
        atomic_store(&p.finish, 1);
        pthread_join(th, NULL);
        pthread_cancel(watcher); /* sigwait is a cancellation point */
        pthread_join(watcher, NULL);
        double secs = (double)(rh_now_ns() - t0) / (double)RH_NS_PER_S;
        fprintf(stderr, "ringhost: sent %llu message(s), printed %llu output(s) in %.3f s\n",
                (unsigned long long)sent, (unsigned long long)p.printed, secs);
        if (atomic_load(&interrupted)) {
            exit_code = RH_EXIT_FAIL;
        } else if (!idle) {
            fprintf(stderr, "ringhost: timed out after %.1f s with messages still in flight "
                            "(see the summary)\n", timeout_s);
            exit_code = RH_EXIT_FAIL;
        }
        if (bad)
            exit_code = RH_EXIT_BADINPUT;
        free(p.buf);
        free(p.sinks);
    }
    exit_code = terminate_checked(rt, exit_code);
    rh_runtime_destroy(rt);
    return rh__cli_summary_close(exit_code);
}
