/* cli_common.c — helpers of the command-line integration tests; see cli_common.h. */
#define _GNU_SOURCE
#include "cli_common.h"
#include "expect.h"
#include "run_ledger.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------------------------------------------------- files ---- */

static char tmpdir[256];

/* Strings handed out by cli_keep(), freed by cli_cleanup(). */
static char **kept;
static size_t n_kept, cap_kept;

const char *cli_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/rh-cli-%d-XXXXXX", (int)getpid());
        if (!mkdtemp(tmpdir)) {
            tmpdir[0] = 0;
            fail_msg("cannot create a temporary folder under /tmp");
        }
    }
    return tmpdir;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Shared queues left by a host this process started and had to kill: their
 * names are "ringhost.<tag>-<pid>" followed by '.' or ':' and the queue. */
static void remove_leftover_queues(void)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    char mark_dot[32], mark_colon[32];
    snprintf(mark_dot, sizeof mark_dot, "-%d.", (int)getpid());
    snprintf(mark_colon, sizeof mark_colon, "-%d:", (int)getpid());
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "ringhost.", 9) != 0)
            continue;
        if (strstr(e->d_name, mark_dot) || strstr(e->d_name, mark_colon)) {
            char path[512];
            snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

void cli_cleanup(void)
{
    remove_leftover_queues();
    if (tmpdir[0] && !getenv("RH_TEST_KEEP_TMP"))
        nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    tmpdir[0] = 0;
    for (size_t i = 0; i < n_kept; i++)
        free(kept[i]);
    free(kept);
    kept = NULL;
    n_kept = cap_kept = 0;
}

static const char *keep_owned(char *s)
{
    if (!s)
        fail_msg("out of memory");
    if (n_kept == cap_kept) {
        cap_kept = cap_kept ? cap_kept * 2 : 64;
        kept = realloc(kept, cap_kept * sizeof *kept);
        if (!kept)
            fail_msg("out of memory");
    }
    kept[n_kept++] = s;
    return s;
}

const char *cli_keep(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    return keep_owned(s);
}

void cli_forget_killed_host(const char *instance)
{
    const char *own = getenv("RINGHOST_RUNTIME_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
    struct stat st;
    const char *dir;
    if (own && own[0] == '/')
        dir = own;
    else if (xdg && xdg[0] == '/' && stat(xdg, &st) == 0 && S_ISDIR(st.st_mode))
        dir = cli_keep("%s/ringhost", xdg);
    else
        dir = cli_keep("/tmp/ringhost-%u", (unsigned)geteuid());
    unlink(cli_keep("%s/%s.sock", dir, instance));
    unlink(cli_keep("%s/%s.lock", dir, instance));
}

const char *cli_instance(const char *tag)
{
    const char *name = cli_keep("%s-%d", tag, (int)getpid());
    rh_test_ledger_add(name);
    return name;
}

const char *cli_write(const char *name, const char *text)
{
    const char *path = cli_keep("%s/%s", cli_tmpdir(), name);
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

/* text with every `from` replaced by `to` (a new string). */
static char *replace_all(const char *text, const char *from, const char *to)
{
    cli_str b = {0};
    size_t fl = strlen(from);
    const char *p;
    while ((p = strstr(text, from)) != NULL) {
        cli_str_addf(&b, "%.*s%s", (int)(p - text), text, to);
        text = p + fl;
    }
    cli_str_addf(&b, "%s", text);
    return b.s;
}

const char *cli_manifest(const char *tag, const char *text)
{
    json_t *dir = json_string(RH_TEST_PLUGIN_DIR);
    char *plugins_json = json_dumps(dir, JSON_ENCODE_ANY);
    json_decref(dir);
    char *a = replace_all(text, "@NAME@", cli_instance(tag));
    char *b = replace_all(a, "@PLUGINS@", plugins_json);
    const char *path = cli_write(cli_keep("%s.json", tag), b);
    free(plugins_json);
    free(a);
    free(b);
    return path;
}

void cli_str_addf(cli_str *b, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        fail_msg("bad format");
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        b->s = realloc(b->s, cap);
        if (!b->s)
            fail_msg("out of memory");
        b->cap = cap;
    }
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}

void cli_str_free(cli_str *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

const char *cli_id(unsigned n)
{
    return cli_keep("%08x-0000-4000-8000-%012x", (unsigned)getpid(), n);
}

/* ------------------------------------------------------- commands ---- */

void cli_exec_argv(cli_out *o, const char *stdin_text, const char *const *args)
{
    const char *argv[128];
    size_t n = 0;
    argv[n++] = RH_TEST_BINARY;
    for (; args[n - 1] && n < 127; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;

    memset(o, 0, sizeof *o);
    size_t w = 0;
    for (size_t i = 0; argv[i] && w < sizeof o->cmd; i++) {
        int q = strpbrk(argv[i], " \"{}'") != NULL;
        w += (size_t)snprintf(o->cmd + w, sizeof o->cmd - w, "%s%s%s%s", i ? " " : "",
                              q ? "'" : "", argv[i], q ? "'" : "");
    }
    if (proc_run((char *const *)argv, stdin_text, CLI_KILL_AFTER_S, &o->r) != 0)
        fail_msg("cannot start %s: %m", RH_TEST_BINARY);
    CLI_CHECK(o, !o->r.timed_out, "expected the command to finish within %.0f s; it was killed",
              CLI_KILL_AFTER_S);
}

void cli_exec(cli_out *o, const char *stdin_text, ...)
{
    const char *args[127];
    size_t n = 0;
    va_list ap;
    va_start(ap, stdin_text);
    const char *a;
    while ((a = va_arg(ap, const char *)) != NULL && n < 126)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    cli_exec_argv(o, stdin_text, args);
}

void cli_free(cli_out *o)
{
    proc_result_free(&o->r);
}

static void print_tail(const char *what, const char *text, size_t len)
{
    const size_t shown = 6000;
    if (len > shown)
        print_message("---- %s (last %zu of %zu bytes) ----\n%s\n", what, shown, len,
                      text + len - shown);
    else
        print_message("---- %s ----\n%s%s", what, text, len && text[len - 1] != '\n' ? "\n" : "");
}

void cli_dump(const cli_out *o)
{
    print_message("---- command ----\n%s\n", o->cmd);
    if (o->r.timed_out)
        print_message("killed after %.1f s (timeout)\n", o->r.wall_s);
    else if (o->r.term_signal)
        print_message("ended by signal %d after %.3f s\n", o->r.term_signal, o->r.wall_s);
    else
        print_message("exit %d after %.3f s\n", o->r.exit_code, o->r.wall_s);
    print_tail("stdout", o->r.out ? o->r.out : "", o->r.out_len);
    print_tail("stderr", o->r.err ? o->r.err : "", o->r.err_len);
}

void cli_expect_exit(const cli_out *o, int code)
{
    CLI_CHECK(o, o->r.term_signal == 0, "expected exit %d, the command was killed by signal %d",
              code, o->r.term_signal);
    CLI_CHECK(o, o->r.exit_code == code, "expected exit %d, got exit %d", code, o->r.exit_code);
}

void cli_expect_balanced(const cli_out *o, size_t queues)
{
    size_t lines = cli_count(o->r.err, "accounting: queue ");
    CLI_CHECK(o, lines == queues, "expected %zu accounting lines on stderr, got %zu", queues,
              lines);
    CLI_CHECK(o, cli_count(o->r.err, ": balanced") == queues && !strstr(o->r.err, "UNBALANCED"),
              "expected every accounting line to balance");
}

json_t *cli_lines(const cli_out *o)
{
    json_t *arr = json_array();
    const char *p = o->r.out;
    unsigned lineno = 0;
    while (p && *p) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        if (len) {
            json_error_t je;
            json_t *v = json_loadb(p, len, 0, &je);
            CLI_CHECK(o, v && json_is_object(v),
                      "expected stdout line %u to be a JSON object, got \"%.*s\" (%s)", lineno,
                      (int)(len > 200 ? 200 : len), p, v ? "not an object" : je.text);
            json_array_append_new(arr, v);
        }
        p = nl ? nl + 1 : p + len;
    }
    return arr;
}

size_t cli_count_queue(json_t *lines, const char *qname)
{
    size_t i, n = 0;
    json_t *v;
    json_array_foreach (lines, i, v) {
        const char *q = json_string_value(json_object_get(v, "queue"));
        if (!qname || (q && strcmp(q, qname) == 0))
            n++;
    }
    return n;
}

json_t *cli_find_correlated(json_t *lines, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach (lines, i, v) {
        const char *c = json_string_value(json_object_get(v, "correlation_id"));
        if (c && strcasecmp(c, id) == 0)
            return v;
    }
    return NULL;
}

int cli_summary(const cli_out *o, const char *kind, const char *name, const char *counter,
                long long *value)
{
    char head[256];
    snprintf(head, sizeof head, "summary: %s %s: ", kind, name);
    const char *p = o->r.err;
    while (p && (p = strstr(p, head)) != NULL) {
        if (p != o->r.err && p[-1] != '\n') { /* only at the start of a line */
            p++;
            continue;
        }
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char line[2048];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), p);
        /* counters are written "<name> <N>" after ": " or ", " */
        char want[128];
        snprintf(want, sizeof want, " %s ", counter);
        for (char *c = strstr(line, want); c; c = strstr(c + 1, want)) {
            if (c[-1] != ',' && c[-1] != ':')
                continue;
            char *num = c + strlen(want), *stop;
            long long v = strtoll(num, &stop, 10);
            if (stop != num) {
                *value = v;
                return 0;
            }
        }
        return -1;
    }
    return -1;
}

long long cli_summary_get(const cli_out *o, const char *kind, const char *name,
                          const char *counter)
{
    long long v = 0;
    CLI_CHECK(o, cli_summary(o, kind, name, counter, &v) == 0,
              "expected a line \"summary: %s %s: ... %s N\" on stderr", kind, name, counter);
    return v;
}

long long cli_queue_counter(const char *instance, const char *queue, const char *counter)
{
    cli_out o;
    cli_exec(&o, NULL, "stat", "--instance", instance, "--json", NULL);
    cli_expect_exit(&o, 0);
    json_t *root = json_loads(o.r.out, 0, NULL), *q;
    size_t i;
    long long v = -1;
    json_array_foreach (json_object_get(root, "queues"), i, q)
        if (strcmp(json_string_value(json_object_get(q, "queue")), queue) == 0 &&
            json_is_integer(json_object_get(q, counter)))
            v = (long long)json_integer_value(json_object_get(q, counter));
    CLI_CHECK(&o, v >= 0, "expected queue %s with counter %s in stat --json", queue, counter);
    json_decref(root);
    cli_free(&o);
    return v;
}

size_t cli_count(const char *hay, const char *needle)
{
    size_t n = 0, nl = strlen(needle);
    for (const char *p = hay ? strstr(hay, needle) : NULL; p; p = strstr(p + nl, needle))
        n++;
    return n;
}

size_t cli_file_count(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0)
        n += strstr(line, needle) != NULL;
    free(line);
    fclose(f);
    return n;
}

/* ----------------------------------------------- a serving host ---- */

int cli_host_logged_within(proc *host, const char *needle, size_t count, double within_s)
{
    if (WAIT_UNTIL(within_s, cli_file_count(host->err_path, needle) >= count ||
                                 !proc_running(host)) &&
        cli_file_count(host->err_path, needle) >= count)
        return 0;
    if (!proc_running(host)) {
        proc_result r;
        proc_wait(host, 1, &r);
        print_error("expected the host to log \"%s\" (%zu time(s)); it exited %d (signal %d) "
                    "first, with stderr:\n%s\n", needle, count, r.exit_code, r.term_signal,
                    r.err);
        proc_result_free(&r);
        return -1;
    }
    print_error("expected the host to log \"%s\" (%zu time(s)) within %.0f s; it logged it "
                "%zu time(s), its stderr so far:\n", needle, count, within_s,
                cli_file_count(host->err_path, needle));
    FILE *f = fopen(host->err_path, "r");
    char buf[4096];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0)
        print_error("%.*s", (int)n, buf);
    if (f)
        fclose(f);
    return -1;
}

void cli_await_log(proc *host, const char *needle, size_t count, double within_s)
{
    if (cli_host_logged_within(host, needle, count, within_s) != 0)
        fail_msg("the host did not log \"%s\" (see above)", needle);
}

/* Copies of the hosts cli_start_host() started: copies, since a failed
 * test's own proc structs die with its frame.  A copy whose stderr file is
 * still there was never waited for (proc_wait removes it). */
#define CLI_MAX_HOSTS 16
static struct {
    const proc *key;
    proc copy;
    char instance[128]; /* "" when it runs as the manifest's own instance */
} started[CLI_MAX_HOSTS];

void cli_hosts_stop_left(void (*stop)(proc *left))
{
    for (int i = 0; i < CLI_MAX_HOSTS; i++) {
        proc *h = &started[i].copy;
        if (started[i].key && h->pid > 0 && access(h->err_path, F_OK) == 0)
            stop(h);
    }
    memset(started, 0, sizeof started);
}

/* A host a failed test left running: stopped as on SIGTERM, so it removes
 * what it owns (its queues, socket and lock: the leftovers check at the end
 * of `make test` looks for them); killed past 10 s, and its socket and lock
 * removed then. */
static void kill_left_host(proc *h)
{
    const char *instance = "";
    for (int i = 0; i < CLI_MAX_HOSTS; i++)
        if (&started[i].copy == h)
            instance = started[i].instance;
    kill(h->pid, SIGTERM);
    int stopped = WAIT_UNTIL(10.0, waitpid(h->pid, NULL, WNOHANG) == h->pid);
    print_error("---- a host the test left running (pid %d): %s ----\n", (int)h->pid,
                stopped ? "stopped by SIGTERM" : "killed, 10 s after SIGTERM");
    if (!stopped) {
        kill(h->pid, SIGKILL);
        waitpid(h->pid, NULL, 0);
        if (instance[0])
            cli_forget_killed_host(instance);
    }
    unlink(h->err_path);
    unlink(h->out_path);
}

static void kill_left_hosts(void)
{
    cli_hosts_stop_left(kill_left_host);
}

void cli_start_host_within(proc *host, const char *manifest_path, const char *instance,
                           double within_s)
{
    static int at_exit;
    if (!at_exit)
        at_exit = atexit(kill_left_hosts) == 0;
    char *argv[] = {RH_TEST_BINARY, "run", (char *)manifest_path, "--instance",
                    (char *)instance, NULL};
    if (!instance)
        argv[3] = NULL; /* the manifest's own instance */
    assert_int_equal(proc_start(host, argv), 0);
    for (int i = 0; i < CLI_MAX_HOSTS; i++)
        if (started[i].key == host || !started[i].key) {
            started[i].key = host;
            started[i].copy = *host;
            snprintf(started[i].instance, sizeof started[i].instance, "%s",
                     instance ? instance : "");
            break;
        }
    if (cli_host_logged_within(host, CLI_SERVING, 1, within_s) != 0)
        fail_msg("expected `ringhost run %s` (instance %s) to serve within %.0f s",
                 manifest_path, instance ? instance : "of the manifest", within_s);
}

void cli_start_host(proc *host, const char *manifest_path, const char *instance)
{
    cli_start_host_within(host, manifest_path, instance, CLI_READY_WITHIN_S);
}

int cli_hosts_teardown(void **state)
{
    (void)state;
    kill_left_hosts();
    return 0;
}

/* ------------------------------------------------------- messages ---- */

static void add_floats(cli_str *b, const float *v, size_t n)
{
    cli_str_addf(b, "[");
    for (size_t i = 0; i < n; i++)
        cli_str_addf(b, "%s%.9g", i ? ", " : "", (double)v[i]);
    cli_str_addf(b, "]");
}

void cli_vadd_line(cli_str *b, const char *queue, const char *id, const char *op, const float *a,
                   size_t na, const float *bv, size_t nb)
{
    cli_str_addf(b, "{\"queue\": \"%s\", ", queue);
    if (id)
        cli_str_addf(b, "\"id\": \"%s\", ", id);
    cli_str_addf(b, "\"body\": {\"op\": \"%s\", \"a\": ", op);
    add_floats(b, a, na);
    cli_str_addf(b, ", \"b\": ");
    add_floats(b, bv, nb);
    cli_str_addf(b, "}}\n");
}

double cli_num(const cli_out *o, json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    CLI_CHECK(o, json_is_number(v), "expected a number at key \"%s\"", key);
    return json_number_value(v);
}

void cli_check_vadd_result(const cli_out *o, json_t *line, const float *want, size_t n)
{
    json_t *body = json_object_get(line, "body");
    CLI_CHECK(o, json_is_object(body), "expected a response with a \"body\" object");
    json_t *ok = json_object_get(body, "success");
    const char *error = json_string_value(json_object_get(body, "error"));
    CLI_CHECK(o, json_is_true(ok), "expected success true, got %s (error \"%s\")",
              json_is_false(ok) ? "false" : "no boolean", error ? error : "");
    double pe = cli_num(o, body, "processed_elements");
    CLI_CHECK(o, pe == (double)n, "expected processed_elements %zu, got %g", n, pe);
    json_t *res = json_object_get(body, "result");
    CLI_CHECK(o, json_is_array(res) && json_array_size(res) == n,
              "expected result to be an array of %zu numbers, got %zu elements", n,
              json_is_array(res) ? json_array_size(res) : 0);
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(res, i);
        CLI_CHECK(o, json_is_number(x), "expected result[%zu] to be a number", i);
        double got = json_number_value(x);
        CLI_CHECK(o, fabs(got - (double)want[i]) <= 1e-3,
                  "expected result[%zu] = %g (within 1e-3), got %.9g", i, (double)want[i], got);
    }
}

int cli_group_teardown(void **state)
{
    (void)state;
    cli_cleanup();
    return 0;
}

int cli_copy_file(const char *from, const char *to, unsigned mode)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    if (out < 0) {
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0)
        if (write(out, buf, (size_t)n) != n)
            rc = -1;
    close(in);
    close(out);
    return n < 0 || rc ? -1 : chmod(to, (mode_t)mode);
}
