/*
 * cmd_stat.c — `ringhost stat`: the live counters of a running instance.
 *
 * The queues' counters are read from their shared memory (so stat works
 * with any host, and without its control socket); the kernels' counters
 * come from the host's control socket when it answers (`ringhost ps`):
 * stat_data.c reads both.  One frame is a table, one JSON object (--json) or the Prometheus text
 * exposition format (--prom, stat_prom.c).  On a terminal, stat redraws the table like
 * top every interval (--watch S, default 1 s) with the rates since the
 * previous frame, until Ctrl-C or q; --once prints one frame.
 */
#include <poll.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "cli.h"

/* ", 12 s ago" for an age in seconds (static buffer: one use per call). */
static const char *cli_age_text(long long age_s)
{
    static char buf[48];
    snprintf(buf, sizeof buf, ", %lld s ago", age_s);
    return buf;
}

static long long num(json_t *o, const char *key)
{
    return (long long)json_integer_value(json_object_get(o, key));
}

static const char *str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* ------------------------------------------------------------ table ---- */

/* The enqueued count of queue name in prev, or -1. */
static long long prev_enqueued(json_t *prev, const char *name)
{
    json_t *o;
    size_t i;
    json_array_foreach (prev, i, o)
        if (strcmp(str(o, "queue"), name) == 0)
            return num(o, "enqueued");
    return -1;
}

/* The line that says a host is gone, one per gone pid (a table's first
 * lines; on stderr for --json and --prom), so stat agrees with ps. */
static void print_wrapped(FILE *out, const char *text, int width);

/* width: wrap each note at that many columns (0: one line). */
static void hosts_gone_note_w(FILE *out, const char *verb, json_t *queues, int width)
{
    json_t *o;
    size_t i;
    long long said[8];
    size_t n_said = 0;
    json_array_foreach (queues, i, o) {
        if (strcmp(str(o, "host"), "gone") != 0)
            continue;
        long long pid = num(o, "host_pid");
        size_t k = 0;
        while (k < n_said && said[k] != pid)
            k++;
        if (k < n_said)
            continue;
        if (n_said < sizeof said / sizeof *said)
            said[n_said++] = pid;
        size_t left = 0;
        json_t *x;
        size_t j;
        json_array_foreach (queues, j, x)
            left += strcmp(str(x, "host"), "gone") == 0 && num(x, "host_pid") == pid;
        const char *since = str(o, "host_gone_since");
        char note[1024];
        snprintf(note, sizeof note,
                 "%s: host pid %lld is gone (no such process%s%s%s); its %zu queue(s) "
                     "still in /dev/shm are what it left, not a live host's: the next `ringhost "
                     "run` of this instance replaces them%s",
                verb, pid, since[0] ? "; last heartbeat " : "", since,
                since[0] ? cli_age_text(num(o, "heartbeat_age_s")) : "", left,
                json_is_true(json_object_get(o, "persist")) ? " (persist queues: recovers them)"
                                                           : "");
        print_wrapped(out, note, width);
    }
}

static void hosts_gone_note(FILE *out, const char *verb, json_t *queues)
{
    hosts_gone_note_w(out, verb, queues, 0);
}

/* text and a newline, broken at spaces so no line passes width (0: as is);
 * the lines after the first indented by 4. */
static void print_wrapped(FILE *out, const char *text, int width)
{
    int col = 0;
    while (*text) {
        size_t word = strcspn(text, " ");
        if (width > 0 && col > 4 && col + 1 + (int)word > width) {
            fprintf(out, "\n    ");
            col = 4;
        } else if (col > 0) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int)word, text);
        col += (int)word;
        text += word;
        while (*text == ' ')
            text++;
    }
    fputc('\n', out);
}

static int out_width(void);

/* The one-line-per-queue table with every counter is this wide (its
 * longest line, the header); a terminal narrower gets the two-line layout.
 * test_cli_stat_width checks the table against it. */
#define WIDE_COLUMNS 186

static void print_hosts(json_t *queues)
{
    int w = out_width();
    hosts_gone_note_w(stdout, "host", queues, w > 0 && w < WIDE_COLUMNS ? w - 1 : 0);
}

/* The columns of the terminal stat writes to: the window's width when
 * stdout is a terminal, else $COLUMNS, else 0 (no limit: the wide table,
 * as scripts reading --once have always had it). */
static int out_width(void)
{
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *c = getenv("COLUMNS");
    int n = c ? atoi(c) : 0;
    return n > 0 ? n : 0;
}

/* One queue's derived texts, shared by both layouts. */
typedef struct qrow {
    char rate[32], unacked[32], host[40];
    long long dropped;
} qrow;

static void qrow_fill(qrow *r, json_t *o, json_t *prev, double dt_s)
{
    long long before = prev ? prev_enqueued(prev, str(o, "queue")) : -1;
    snprintf(r->rate, sizeof r->rate, "-");
    if (before >= 0 && dt_s > 0)
        /* unsigned: counters come from shared memory anyone of the
         * user may scribble on, and a signed difference could overflow */
        snprintf(r->rate, sizeof r->rate, "%.1f",
                 (double)(int64_t)((uint64_t)num(o, "enqueued") - (uint64_t)before) / dt_s);
    /* a persist queue's taken-but-unacknowledged messages ("-" for the
     * others): what a host killed now would deliver again */
    snprintf(r->unacked, sizeof r->unacked, "-");
    if (json_is_true(json_object_get(o, "persist")))
        snprintf(r->unacked, sizeof r->unacked, "%lld", num(o, "unacked"));
    snprintf(r->host, sizeof r->host, "%s:%lld", str(o, "host"), num(o, "host_pid"));
    r->dropped = (long long)((unsigned long long)num(o, "dropped_oldest") +
                             (unsigned long long)num(o, "dropped_newest"));
}

static void print_wide(json_t *queues, json_t *kernels, json_t *prev, double dt_s)
{
    printf("%-24s %-22s %17s %10s %10s %8s %8s %8s %6s %6s %6s %6s %7s %13s %10s %8s\n",
           "queue", "type", "depth/capacity", "enqueued", "dequeued", "rejected", "dropped",
           "dups", "expired", "invalid", "failed", "dlq'd", "corrupt", "host", "enq/s",
           "unacked");
    json_t *o;
    size_t i;
    json_array_foreach (queues, i, o) {
        qrow r;
        qrow_fill(&r, o, prev, dt_s);
        printf("%-24s %-22s %8lld/%-8lld %10lld %10lld %8lld %8lld %8lld %6lld %6lld %6lld "
               "%6lld %7lld %13s %10s %8s\n",
               str(o, "queue"), str(o, "type"), num(o, "depth"), num(o, "capacity"),
               num(o, "enqueued"), num(o, "dequeued"), num(o, "rejected"), r.dropped,
               num(o, "duplicates"), num(o, "expired"), num(o, "invalid"), num(o, "failed"),
               num(o, "dead_lettered"), num(o, "corrupt"), r.host, r.rate, r.unacked);
    }
    if (!kernels)
        return;
    printf("\n%-24s %-10s %7s %-24s %12s %10s %8s\n", "kernel", "state", "workers", "threads",
           "processed", "rate/s", "failed");
    json_array_foreach (kernels, i, o)
        printf("%-24s %-10s %7lld %-24s %12lld %10.1f %8lld\n", str(o, "name"), str(o, "state"),
               num(o, "workers"), str(o, "threads"), num(o, "processed"),
               json_number_value(json_object_get(o, "rate")), num(o, "failed"));
}

/* A second line of "key value" pairs under a row, wrapped at width. */
typedef struct line2 {
    int width, used;
} line2;

static void line2_add(line2 *l, const char *key, const char *value)
{
    int n = (int)(strlen(key) + 1 + strlen(value));
    if (l->used > 4 && l->used + 2 + n > l->width) {
        printf("\n");
        l->used = 0;
    }
    if (l->used == 0) {
        printf("    ");
        l->used = 4;
    } else {
        printf("  ");
        l->used += 2;
    }
    printf("%s %s", key, value);
    l->used += n;
}

static void line2_num(line2 *l, const char *key, long long v, int always)
{
    char buf[32];
    if (!v && !always)
        return;
    snprintf(buf, sizeof buf, "%lld", v);
    line2_add(l, key, buf);
}

/* The table in width columns (< WIDE_COLUMNS): per queue a line of the
 * counters that move (depth, enqueued, dequeued, rate; type and host too
 * when there is room) and, under it, the type and host when they did not
 * fit and every other counter that is not zero.  A name longer than its
 * column gets a line of its own, never cut: it is what `send` takes. */
static void print_narrow(json_t *queues, json_t *kernels, json_t *prev, double dt_s, int width)
{
    int with_type = width >= 17 + 1 + 10 + 1 + 10 + 1 + 9 + 1 + 22 + 1 + 13 + 1 + 32;
    int qw = width - (17 + 1 + 10 + 1 + 10 + 1 + 9 + 1) - (with_type ? 22 + 1 + 13 + 1 : 0);
    if (qw > 32)
        qw = 32;
    if (qw < 8)
        qw = 8;
    printf("%-*s %17s %10s %10s %9s", qw, "queue", "depth/capacity", "enqueued", "dequeued",
           "enq/s");
    if (with_type)
        printf(" %-22s %13s", "type", "host");
    printf("\n");
    json_t *o;
    size_t i;
    json_array_foreach (queues, i, o) {
        qrow r;
        qrow_fill(&r, o, prev, dt_s);
        const char *name = str(o, "queue");
        if ((int)strlen(name) > qw)
            printf("%s\n%-*s", name, qw, "");
        else
            printf("%-*s", qw, name);
        printf(" %8lld/%-8lld %10lld %10lld %9s", num(o, "depth"), num(o, "capacity"),
               num(o, "enqueued"), num(o, "dequeued"), r.rate);
        if (with_type)
            printf(" %-22.22s %13s", str(o, "type"), r.host);
        printf("\n");
        line2 l = {width, 0};
        if (!with_type || strlen(str(o, "type")) > 22) {
            line2_add(&l, "type", str(o, "type"));
            line2_add(&l, "host", r.host);
        }
        line2_num(&l, "rejected", num(o, "rejected"), 0);
        line2_num(&l, "dropped", r.dropped, 0);
        line2_num(&l, "dups", num(o, "duplicates"), 0);
        line2_num(&l, "expired", num(o, "expired"), 0);
        line2_num(&l, "invalid", num(o, "invalid"), 0);
        line2_num(&l, "failed", num(o, "failed"), 0);
        line2_num(&l, "dlq'd", num(o, "dead_lettered"), 0);
        line2_num(&l, "corrupt", num(o, "corrupt"), 0);
        if (strcmp(r.unacked, "-") != 0)
            line2_add(&l, "unacked", r.unacked);
        if (l.used)
            printf("\n");
    }
    if (!kernels)
        return;
    int kw = width - (10 + 1 + 7 + 1 + 12 + 1 + 10 + 1 + 8 + 1);
    int with_threads = kw >= 24 + 24 + 1;
    if (kw > 24 + (with_threads ? 25 : 0))
        kw = 24 + (with_threads ? 25 : 0);
    int nw = with_threads ? kw - 25 : kw;
    if (nw < 8)
        nw = 8;
    printf("\n%-*s %-10s %7s", nw, "kernel", "state", "workers");
    if (with_threads)
        printf(" %-24s", "threads");
    printf(" %12s %10s %8s\n", "processed", "rate/s", "failed");
    json_array_foreach (kernels, i, o) {
        const char *name = str(o, "name");
        if ((int)strlen(name) > nw)
            printf("%s\n%-*s", name, nw, "");
        else
            printf("%-*s", nw, name);
        printf(" %-10s %7lld", str(o, "state"), num(o, "workers"));
        if (with_threads)
            printf(" %-24.24s", str(o, "threads"));
        printf(" %12lld %10.1f %8lld\n", num(o, "processed"),
               json_number_value(json_object_get(o, "rate")), num(o, "failed"));
        if (!with_threads || strlen(str(o, "threads")) > 24) {
            line2 l = {width, 0};
            line2_add(&l, "threads", str(o, "threads"));
            printf("\n");
        }
    }
}

/* One frame; with prev and dt_s > 0 each queue's rate since prev.  Then
 * the latency and polls tables (stat_latency.c). */
static void print_table(const char *instance, json_t *queues, json_t *kernels, json_t *prev,
                        double dt_s)
{
    print_hosts(queues);
    int width = out_width();
    if (width == 0 || width >= WIDE_COLUMNS)
        print_wide(queues, kernels, prev, dt_s);
    else
        print_narrow(queues, kernels, prev, dt_s, width - 1); /* never the last column: no terminal wraps */
    json_t *threads = kernels ? rh__cli_thread_stats(instance) : NULL;
    rh__cli_queue_waits(queues, kernels);
    rh__cli_latency_print(queues, kernels, threads,
                          width > 0 && width < WIDE_COLUMNS ? width - 1 : 0);
    json_decref(threads);
}

/* Each link of the host (remote queues), as `stat` and `ps` show
 * them under their tables: 73 columns, so they fit every terminal the
 * tables do.  Nothing when the host has no link. */
void rh__cli_links_print(json_t *links)
{
    if (!links || json_array_size(links) == 0)
        return;
    printf("\n%-12s %3s %10s %10s %8s %8s %8s %6s\n", "LINK", "UP", "PUBLISHED", "ACKED",
           "PENDING", "REDELIV", "LAG", "RECONN");
    size_t i;
    json_t *l;
    json_array_foreach(links, i, l)
    {
        printf("%-12.12s %3s %10lld %10lld %8lld %8lld %8lld %6lld\n",
               json_string_value(json_object_get(l, "link")),
               json_integer_value(json_object_get(l, "connected")) ? "yes" : "no",
               (long long)json_integer_value(json_object_get(l, "published")),
               (long long)json_integer_value(json_object_get(l, "acked")),
               (long long)json_integer_value(json_object_get(l, "pending_acks")),
               (long long)json_integer_value(json_object_get(l, "redeliveries")),
               (long long)json_integer_value(json_object_get(l, "consumer_lag")),
               (long long)json_integer_value(json_object_get(l, "reconnects")));
    }
}

static void print_links(const char *instance)
{
    json_t *links = rh__cli_link_stats(instance);
    rh__cli_links_print(links);
    json_decref(links);
}

/* ------------------------------------------------------------ watch ---- */

static volatile sig_atomic_t stop_watch;

static void on_sigint(int sig)
{
    (void)sig;
    stop_watch = 1;
}

/* Wait interval_s; 1 when the user pressed q (or stdin closed). */
static int wait_or_quit(double interval_s, int keys)
{
    struct pollfd pf = {STDIN_FILENO, POLLIN, 0};
    if (poll(&pf, keys ? 1 : 0, (int)(interval_s * 1000)) > 0) {
        char ch = 0;
        if (read(STDIN_FILENO, &ch, 1) <= 0 || ch == 'q' || ch == 'Q')
            return 1;
    }
    return 0;
}

static int watch(const char *instance, double interval_s)
{
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    /* q without Enter: the terminal in non-canonical mode, restored after */
    struct termios saved, raw;
    int keys = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (keys) {
        raw = saved;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    json_t *prev = NULL;
    uint64_t prev_ns = 0;
    while (!stop_watch) {
        json_t *queues = rh__cli_queue_stats(instance), *kernels = rh__cli_kernel_stats(instance);
        uint64_t now = rh_now_ns();
        printf("\033[H\033[2J"); /* home, clear */
        printf("ringhost stat: instance %s, every %.1f s (q or Ctrl-C to quit)\n\n", instance,
               interval_s);
        if (json_array_size(queues) == 0)
            printf("no shared queues of instance \"%s\" (is it running?)\n", instance);
        else
            print_table(instance, queues, kernels, prev,
                        prev_ns ? (double)(now - prev_ns) / (double)RH_NS_PER_S : 0);
        print_links(instance);
        fflush(stdout);
        json_decref(prev);
        json_decref(kernels);
        prev = queues;
        prev_ns = now;
        if (wait_or_quit(interval_s, keys))
            break;
    }
    json_decref(prev);
    if (keys)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return RH_EXIT_OK;
}

int rh__cli_left_queues_note(const char *verb, const char *instance)
{
    json_t *queues = rh__cli_queue_stats(instance);
    char prefix[64];
    snprintf(prefix, sizeof prefix, "ringhost %s", verb);
    hosts_gone_note(stderr, prefix, queues);
    size_t n = json_array_size(queues);
    json_decref(queues);
    return (int)n;
}

int rh__cmd_stat(int argc, char **argv)
{
    const char *instance = NULL;
    int as_json = 0, prom = 0, once = 0, watch_asked = 0;
    double interval_s = 1.0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--instance")) {
            if (rh__cli_value("stat", argc, argv, &i, &instance))
                return RH_EXIT_BADINPUT;
        } else if (!strcmp(argv[i], "--json")) {
            as_json = 1;
        } else if (!strcmp(argv[i], "--prom")) {
            prom = 1;
        } else if (!strcmp(argv[i], "--once")) {
            once = 1;
        } else if (!strcmp(argv[i], "--watch")) {
            watch_asked = 1;
            /* its interval is optional: a next argument that is not a
             * --option is it ("-1" is refused as an interval) */
            if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0 &&
                rh__cli_seconds("stat", "--watch", argv[++i], 0.1, 86400, &interval_s))
                return RH_EXIT_BADINPUT;
        } else {
            return rh__cli_bad_arg("stat", argv[i]);
        }
    }
    if (as_json + prom + once + watch_asked > 1 || interval_s < 0.1) {
        fprintf(stderr, "ringhost stat: expected at most one of --json, --prom, --once, --watch "
                        "(its interval at least 0.1 s)\n");
        return RH_EXIT_BADINPUT;
    }
    if (rh__cli_need_instance("stat", &instance))
        return RH_EXIT_BADINPUT;
    if (watch_asked || (!as_json && !prom && !once && isatty(STDOUT_FILENO)))
        return watch(instance, interval_s);
    json_t *queues = rh__cli_queue_stats(instance), *kernels = rh__cli_kernel_stats(instance);
    int found = json_array_size(queues) > 0;
    if (as_json) {
        rh__cli_queue_waits(queues, kernels); /* each queue's "wait" */
        json_t *o = json_pack("{s:s, s:O}", "instance", instance, "queues", queues);
        if (kernels)
            json_object_set(o, "kernels", kernels);
        json_t *threads = kernels ? rh__cli_thread_stats(instance) : NULL;
        if (threads) /* busy and idle polls of each host thread */
            json_object_set(o, "threads", threads);
        json_decref(threads);
        json_t *links = rh__cli_link_stats(instance); /* remote queues */
        if (links && json_array_size(links))
            json_object_set(o, "links", links);
        json_decref(links);
        char *text = json_dumps(o, JSON_PRESERVE_ORDER);
        printf("%s\n", text);
        free(text);
        json_decref(o);
        hosts_gone_note(stderr, "ringhost stat", queues);
    } else if (prom) {
        rh__cli_prom_print(stdout, instance, queues, kernels);
        hosts_gone_note(stderr, "ringhost stat", queues);
    } else if (found) {
        print_table(instance, queues, kernels, NULL, 0);
        print_links(instance);
    }
    json_decref(queues);
    json_decref(kernels);
    if (!found) {
        /* Queues of another user's host are there but cannot be read:
         * that is a refusal (1), not a wrong instance name (2). */
        int denied = rh__cli_unreadable_note(instance);
        if (denied) {
            fprintf(stderr, "ringhost stat: %d queue(s) of instance \"%s\" exist but cannot be "
                            "read by this user\n", denied, instance);
            return RH_EXIT_FAIL;
        }
        fprintf(stderr, "ringhost stat: no shared queues of instance \"%s\" (no host serves it: "
                        "check --instance, or start it with ringhost run)\n", instance);
        return RH_EXIT_BADINPUT;
    }
    return RH_EXIT_OK;
}
