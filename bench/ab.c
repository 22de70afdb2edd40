/*
 * ab.c — `--ab OTHER`: the selected cases measured on this build (A) and on
 * another build (B), repetition by repetition, and compared per case,
 * metric and placement tag.
 *
 * OTHER is the other build's `ringhost` (run as `OTHER bench ...`, which
 * execs the ringhost-bench beside it, as `ringhost bench` always does), or
 * that ringhost-bench itself (a file named ringhost-bench*).  Either way the
 * other build's bench finds its own bench_plugins beside itself: its echo
 * kernels are the other build's, not ours.
 *
 * Each repetition of each side is a process of its own:
 *     <side> --only CASE --reps 1 --json FILE [--quick] [--cpus LIST]
 * flags every build of ringhost-bench has understood, so the other build
 * can be an older one with no notion of --ab.  Side A runs this very binary
 * the same way, so both sides pay the same start-up and see the same fresh
 * process.  Each child runs its own placement probes around its case; the
 * repetition takes the tag the child gave it.  --only matches substrings:
 * where CASE is part of another case's name (rh.kernels.1 of
 * rh.kernels.16) the child runs both and only CASE is read back.
 *
 * Order: ABBA.  Repetition k of case i runs A then B when k + i is even, B
 * then A otherwise.  The second run of a pair finds the machine as the
 * first left it (caches, clock frequency, the hypervisor's placement, a
 * noisy neighbour that just woke): with the order swapped every other pair,
 * that bias falls on A and B alike, and so does a drift that is linear over
 * four runs.  Repetitions go round the cases (rep 1 of every case, then
 * rep 2, ...), as the suite's own run does, so one slow minute of the host
 * touches one repetition of many cases rather than every repetition of one.
 *
 * Comparisons never mix tags: the medians of A and of B in one tag, their
 * ratio B/A, and the spread of the paired ratios B_k/A_k over the pairs
 * whose two repetitions got that same tag (a pair split across tags is
 * counted, not used).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_pvt.h"

extern char **environ;

enum { SIDE_A = 0, SIDE_B = 1 };
static const char *const side_name[2] = {"A", "B"};

typedef struct ab_side {
    char path[PATH_MAX];
    int via_ringhost;        /* 1: `path bench ...`; 0: path is a ringhost-bench */
} ab_side;

typedef struct ab_case {
    const bench_case *c;
    bench_rep *rep[2];       /* [side][k] */
    uint32_t index;          /* its place among the selected cases (the ABBA order) */
    int absent[2];           /* that side's build has no case of this name */
} ab_case;

/* One value's statistics over repetitions or pairs. */
typedef struct ab_stat {
    double median, min, max;
    uint32_t n;
} ab_stat;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static ab_stat stat_of(double *v, uint32_t n)
{
    ab_stat s = {0, 0, 0, n};
    if (!n)
        return s;
    qsort(v, n, sizeof *v, cmp_double);
    s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    s.min = v[0];
    s.max = v[n - 1];
    return s;
}

/* OTHER: a ringhost (run with `bench`) or a ringhost-bench (run as is). */
static int side_from(ab_side *s, const char *other, FILE *log)
{
    memset(s, 0, sizeof *s);
    if (access(other, X_OK) != 0) {
        fprintf(log, "ringhost-bench: --ab %s: %s (expected the other build's ringhost, "
                     "e.g. ../before/build/ringhost)\n", other, strerror(errno));
        return -1;
    }
    snprintf(s->path, sizeof s->path, "%s", other);
    const char *base = strrchr(other, '/');
    base = base ? base + 1 : other;
    s->via_ringhost = strncmp(base, "ringhost-bench", 14) != 0;
    return 0;
}

static const char *metric_unit(json_t *root, const char *name, const char *metric)
{
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(root, "figures"), i, f) {
        const char *c = json_string_value(json_object_get(f, "case"));
        const char *m = json_string_value(json_object_get(f, "metric"));
        if (c && m && strcmp(c, name) == 0 && strcmp(m, metric) == 0)
            return json_string_value(json_object_get(f, "unit"));
    }
    return "";
}

/* The repetition of case `name` in a child's --json file: 0, or -1 when
 * the file does not hold it (r->error says why). */
static int read_rep(const char *path, const char *name, bench_rep *r)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) {
        snprintf(r->error, sizeof r->error, "no --json written (%s)", je.text);
        return -1;
    }
    json_t *rep = NULL, *c;
    size_t i;
    json_array_foreach(json_object_get(root, "cases"), i, c) {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (n && strcmp(n, name) == 0)
            rep = json_array_get(json_object_get(c, "repetitions"), 0);
    }
    if (!rep) {
        snprintf(r->error, sizeof r->error, "its --json has no repetition of %s", name);
        json_decref(root);
        return -1;
    }
    r->probe_before_ns = json_number_value(json_object_get(rep, "probe_before_ns"));
    r->probe_after_ns = json_number_value(json_object_get(rep, "probe_after_ns"));
    const char *tag = json_string_value(json_object_get(rep, "tag"));
    r->tag = BENCH_MIXED; /* a tag this build does not know is no placement it can vouch for */
    for (int t = 0; tag && t < BENCH_TAGS; t++)
        if (strcmp(tag, bench_tag_name((bench_tag)t)) == 0)
            r->tag = (bench_tag)t;
    r->ok = json_is_true(json_object_get(rep, "ok"));
    r->skipped = json_is_true(json_object_get(rep, "skipped"));
    const char *err = json_string_value(json_object_get(rep, "error"));
    if (err)
        snprintf(r->error, sizeof r->error, "%s", err);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(rep, "metrics"), key, v) {
        if (r->n == BENCH_MAX_METRICS)
            break;
        bench_metric *m = &r->m[r->n++];
        snprintf(m->name, sizeof m->name, "%s", key);
        snprintf(m->unit, sizeof m->unit, "%s", metric_unit(root, name, key));
        m->value = json_number_value(v);
    }
    json_decref(root);
    return 0;
}

/* The last non-empty line of a file, for an error message. */
static void last_line(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(buf, len, "%s", line);
    }
    if (f)
        fclose(f);
}

static int file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    char line[512];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    if (f)
        fclose(f);
    return found;
}

typedef struct ab_run {
    const bench_env *env;
    const char *cpus_arg;    /* --cpus as given, forwarded; NULL: each side's default */
    ab_side side[2];
} ab_run;

/* One repetition of one case on one side, in a child process.  Returns
 * 0 when measured (or failed inside the case: r->ok says), 1 when that
 * side's build has no such case, -1 when the child could not run. */
static int run_side(const ab_run *run, int side, const char *name, bench_rep *r)
{
    const bench_env *env = run->env;
    char json[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
    snprintf(json, sizeof json, "%s/ab.json", env->work_dir);
    snprintf(out, sizeof out, "%s/ab.out", env->work_dir);
    snprintf(err, sizeof err, "%s/ab.err", env->work_dir);
    unlink(json);
    const ab_side *s = &run->side[side];
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)s->path;
    if (s->via_ringhost)
        argv[n++] = "bench";
    argv[n++] = "--only";
    argv[n++] = (char *)name;
    argv[n++] = "--reps";
    argv[n++] = "1";
    argv[n++] = "--json";
    argv[n++] = json;
    if (env->quick)
        argv[n++] = "--quick";
    if (run->cpus_arg) {
        argv[n++] = "--cpus";
        argv[n++] = (char *)run->cpus_arg;
    }
    argv[n] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    pid_t pid;
    int rc = posix_spawn(&pid, s->path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    memset(r, 0, sizeof *r);
    r->tag = BENCH_MIXED;
    r->probe_before_ns = r->probe_after_ns = -1;
    if (rc != 0) {
        snprintf(r->error, sizeof r->error, "cannot run %s: %s", s->path, strerror(rc));
        return -1;
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (code == 2 && file_has(err, "no case name contains"))
        return 1;
    if ((code == 0 || code == 1) && read_rep(json, name, r) == 0)
        return 0;
    char why[300];
    last_line(err, why, sizeof why);
    snprintf(r->error, sizeof r->error, "exit %d: %s", code, why[0] ? why : "(no message)");
    return -1;
}

static void progress(const bench_env *env, uint32_t step, uint32_t steps, int width,
                     const char *name, uint32_t k, uint32_t reps, int side, const bench_rep *r)
{
    char fig[64] = "";
    if (r->ok && r->n)
        bench_format(fig, sizeof fig, r->m[0].value, r->m[0].unit);
    fprintf(env->log, "[%3u/%u] %-*s  rep %u/%u  %s  %-5s  %s  (probe %.0f/%.0f ns)\n", step,
            steps, width, name, k + 1, reps, side_name[side], bench_tag_name(r->tag),
            r->ok ? fig : r->skipped ? "SKIPPED" : "FAILED", r->probe_before_ns,
            r->probe_after_ns);
    if (!r->ok)
        fprintf(env->log, "         %s (%s): %s%s\n", name, side_name[side],
                r->skipped ? "skipped: " : "", r->error);
    fflush(env->log);
}

/* Which side runs first in repetition k of a case: A where k + the case's
 * index is even (ABBA, see the top of this file). */
static int ab_first(const ab_case *ac, uint32_t k)
{
    return ((k + ac->index) & 1) ? SIDE_B : SIDE_A;
}

/* ------------------------------------------------------ comparison --- */

static const bench_metric *metric_of(const bench_rep *r, const char *name)
{
    for (uint32_t j = 0; j < r->n; j++)
        if (strcmp(r->m[j].name, name) == 0)
            return &r->m[j];
    return NULL;
}

/* One metric of one case in one tag, both sides and their pairs. */
typedef struct ab_cmp {
    ab_stat side[2];
    ab_stat paired;          /* B_k / A_k over the pairs of this tag */
    double ratio;            /* B median / A median; NAN where a side is missing */
    uint32_t split;          /* pairs with this metric whose two tags differ, one of them t */
} ab_cmp;

static void compare(const ab_case *ac, uint32_t reps, const char *metric, bench_tag t,
                    ab_cmp *out)
{
    double *v = malloc(3 * (size_t)reps * sizeof *v);
    memset(out, 0, sizeof *out);
    out->ratio = NAN;
    if (!v)
        return;
    double *vs[2] = {v, v + reps}, *pr = v + 2 * reps;
    uint32_t ns[2] = {0, 0}, np = 0;
    for (uint32_t k = 0; k < reps; k++) {
        const bench_metric *m[2] = {NULL, NULL};
        for (int s = 0; s < 2; s++) {
            const bench_rep *r = &ac->rep[s][k];
            if (ac->absent[s] || !r->ok || !(m[s] = metric_of(r, metric)))
                continue;
            if (r->tag == t)
                vs[s][ns[s]++] = m[s]->value;
        }
        if (!m[0] || !m[1])
            continue;
        bench_tag ta = ac->rep[0][k].tag, tb = ac->rep[1][k].tag;
        if (ta == t && tb == t && m[0]->value != 0)
            pr[np++] = m[1]->value / m[0]->value;
        else if ((ta == t) != (tb == t))
            out->split++;
    }
    for (int s = 0; s < 2; s++)
        out->side[s] = stat_of(vs[s], ns[s]);
    out->paired = stat_of(pr, np);
    if (ns[0] && ns[1] && out->side[0].median != 0)
        out->ratio = out->side[1].median / out->side[0].median;
    free(v);
}

/* The metrics of a case, in the order its repetitions put them (A's, then
 * any only B has). */
static uint32_t metrics_of(const ab_case *ac, uint32_t reps, bench_metric *names, uint32_t cap)
{
    uint32_t n = 0;
    for (int s = 0; s < 2; s++)
        for (uint32_t k = 0; k < reps; k++) {
            const bench_rep *r = &ac->rep[s][k];
            for (uint32_t j = 0; r->ok && j < r->n; j++) {
                uint32_t i = 0;
                while (i < n && strcmp(names[i].name, r->m[j].name) != 0)
                    i++;
                if (i == n && n < cap)
                    names[n++] = r->m[j];
            }
        }
    return n;
}

/* A value as bench_format writes it, less the unit ("25.6 M" of "25.6 M msg/s"). */
static void fmt_bare(char *buf, size_t len, double v, const char *unit)
{
    bench_format(buf, len, v, unit);
    size_t n = strlen(buf), u = strlen(unit);
    if (u && n > u && strcmp(buf + n - u, unit) == 0)
        buf[n - u - (buf[n - u - 1] == ' ')] = '\0';
}

/* "25.6 M msg/s", "[25.1 M..26.0 M]", n: three columns of the table. */
static void fmt_stat(char *med, char *range, size_t len, const ab_stat *s, const char *unit)
{
    snprintf(med, len, "-");
    snprintf(range, len, "-");
    if (!s->n)
        return;
    char lo[32], hi[32];
    bench_format(med, len, s->median, unit);
    fmt_bare(lo, sizeof lo, s->min, unit);
    fmt_bare(hi, sizeof hi, s->max, unit);
    snprintf(range, len, "[%s..%s]", lo, hi);
}

static void report_table(FILE *out, const ab_run *run, const ab_case *cases, uint32_t n_cases,
                         uint32_t reps)
{
    fprintf(out, "A: %s (this build)\nB: %s%s\norder: ABBA (A first where rep + case index is "
                 "even); B/A > 1: B's figure is larger (faster for msg/s, slower for ns)\n\n",
            run->side[SIDE_A].path, run->side[SIDE_B].path,
            run->side[SIDE_B].via_ringhost ? " bench" : "");
    fprintf(out, "%-36s %-14s %-5s %16s %-20s %3s %16s %-20s %3s %7s  %s\n", "case", "metric",
            "tag", "A median", "A [min..max]", "n", "B median", "B [min..max]", "n", "B/A",
            "paired B/A [min..max] pairs");
    for (uint32_t i = 0; i < n_cases; i++) {
        const ab_case *ac = &cases[i];
        for (int s = 0; s < 2; s++)
            if (ac->absent[s])
                fprintf(out, "%-36s not in %s's build: nothing to compare\n", ac->c->name,
                        side_name[s]);
        bench_metric names[2 * BENCH_MAX_METRICS];
        uint32_t nm = metrics_of(ac, reps, names, 2 * BENCH_MAX_METRICS);
        if (!nm && !ac->absent[0] && !ac->absent[1])
            fprintf(out, "%-36s no repetition measured on either side\n", ac->c->name);
        for (uint32_t j = 0; j < nm; j++)
            for (int t = 0; t < BENCH_TAGS; t++) {
                ab_cmp c;
                compare(ac, reps, names[j].name, (bench_tag)t, &c);
                if (!c.side[0].n && !c.side[1].n)
                    continue;
                char a[32], ar[64], b[32], br[64], ratio[16] = "-", paired[64] = "-";
                fmt_stat(a, ar, sizeof a, &c.side[0], names[j].unit);
                fmt_stat(b, br, sizeof b, &c.side[1], names[j].unit);
                if (!isnan(c.ratio))
                    snprintf(ratio, sizeof ratio, "%.3f", c.ratio);
                if (c.paired.n)
                    snprintf(paired, sizeof paired, "%.3f [%.3f..%.3f] %u", c.paired.median,
                             c.paired.min, c.paired.max, c.paired.n);
                fprintf(out, "%-36s %-14s %-5s %16s %-20s %3u %16s %-20s %3u %7s  %s",
                        ac->c->name, names[j].name, bench_tag_name((bench_tag)t), a, ar,
                        c.side[0].n, b, br, c.side[1].n, ratio, paired);
                if (c.split)
                    fprintf(out, "  (%u pair(s) split across tags)", c.split);
                fprintf(out, "\n");
            }
    }
}

static json_t *stat_json(const ab_stat *s)
{
    if (!s->n)
        return json_pack("{s:i}", "n", 0);
    return json_pack("{s:f, s:f, s:f, s:i}", "median", s->median, "min", s->min, "max", s->max,
                     "n", (json_int_t)s->n);
}

static json_t *side_json(const ab_run *run, const ab_case *ac, int s, uint32_t reps)
{
    json_t *o = json_pack("{s:b}", "absent", ac->absent[s]);
    json_t *arr = json_array();
    for (uint32_t k = 0; !ac->absent[s] && k < reps; k++) {
        const bench_rep *r = &ac->rep[s][k];
        json_t *m = json_object();
        for (uint32_t j = 0; j < r->n; j++)
            json_object_set_new(m, r->m[j].name, json_real(r->m[j].value));
        json_int_t position = ab_first(ac, k) == s ? 1 : 2; /* first or second of its pair */
        json_array_append_new(
            arr, json_pack("{s:i, s:i, s:f, s:f, s:s, s:b, s:b, s:o, s:o}", "rep",
                           (json_int_t)k + 1, "position", position,
                           "probe_before_ns", r->probe_before_ns, "probe_after_ns",
                           r->probe_after_ns, "tag", bench_tag_name(r->tag), "ok", r->ok,
                           "skipped", r->skipped, "error",
                           r->ok ? json_null() : json_string(r->error), "metrics", m));
    }
    json_object_set_new(o, "binary", json_string(run->side[s].path));
    json_object_set_new(o, "repetitions", arr);
    return o;
}

static int report_json(const char *path, const ab_run *run, const ab_case *cases,
                       uint32_t n_cases, uint32_t reps, const bench_run_info *info)
{
    json_t *root = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:b, s:{s:s}, s:{s:s, s:s}}", "command", info->command, "date",
        info->date, "mode", "ab", "order", "ABBA", "reps", (json_int_t)reps, "quick",
        run->env->quick, "a", "binary", run->side[SIDE_A].path, "b", "binary",
        run->side[SIDE_B].path, "run_as",
        run->side[SIDE_B].via_ringhost ? "ringhost bench" : "ringhost-bench");
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n_cases; i++) {
        const ab_case *ac = &cases[i];
        json_t *cmps = json_array();
        bench_metric names[2 * BENCH_MAX_METRICS];
        uint32_t nm = metrics_of(ac, reps, names, 2 * BENCH_MAX_METRICS);
        for (uint32_t j = 0; j < nm; j++)
            for (int t = 0; t < BENCH_TAGS; t++) {
                ab_cmp c;
                compare(ac, reps, names[j].name, (bench_tag)t, &c);
                if (!c.side[0].n && !c.side[1].n)
                    continue;
                json_array_append_new(
                    cmps, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:i}", "metric",
                                    names[j].name, "unit", names[j].unit, "tag",
                                    bench_tag_name((bench_tag)t), "a", stat_json(&c.side[0]),
                                    "b", stat_json(&c.side[1]), "ratio_b_over_a",
                                    isnan(c.ratio) ? json_null() : json_real(c.ratio),
                                    "paired_b_over_a", stat_json(&c.paired), "split_pairs",
                                    (json_int_t)c.split));
            }
        json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", ac->c->name,
                                             "group", ac->c->group, "a",
                                             side_json(run, ac, SIDE_A, reps), "b",
                                             side_json(run, ac, SIDE_B, reps), "comparisons",
                                             cmps));
    }
    json_object_set_new(root, "cases", arr);
    int rc = json_dump_file(root, path,
                            JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(root);
    return rc == 0 ? 0 : -1;
}

int bench_ab(const bench_suite *s, const bench_env *env, const bench_ab_opts *o,
             const bench_run_info *info, FILE *out)
{
    ab_run run = {.env = env, .cpus_arg = o->cpus_arg};
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) {
        fprintf(env->log, "ringhost-bench: --ab: cannot find this executable: %s\n",
                strerror(errno));
        return 1;
    }
    self[len] = '\0';
    if (side_from(&run.side[SIDE_A], self, env->log) != 0 ||
        side_from(&run.side[SIDE_B], o->other, env->log) != 0)
        return 2;

    uint32_t n = 0, reps = info->reps;
    ab_case *cases = calloc(s->n_cases, sizeof *cases);
    bench_rep *store = calloc(2 * (size_t)s->n_cases * reps, sizeof *store);
    if (!cases || !store) {
        fprintf(env->log, "ringhost-bench: out of memory\n");
        free(cases);
        free(store);
        return 1;
    }
    int width = 0;
    for (uint32_t i = 0; i < s->n_cases; i++) {
        if (!s->cases[i].selected)
            continue;
        ab_case *ac = &cases[n];
        ac->c = &s->cases[i];
        ac->index = n;
        ac->rep[SIDE_A] = store + (size_t)2 * n * reps;
        ac->rep[SIDE_B] = ac->rep[SIDE_A] + reps;
        if ((int)strlen(ac->c->name) > width)
            width = (int)strlen(ac->c->name);
        n++;
    }

    uint32_t steps = 2 * n * reps, step = 0;
    for (uint32_t k = 0; k < reps; k++)
        for (uint32_t i = 0; i < n; i++) {
            ab_case *ac = &cases[i];
            int first = ab_first(ac, k);
            for (int j = 0; j < 2; j++) {
                int side = j == 0 ? first : !first;
                bench_rep *r = &ac->rep[side][k];
                step++;
                if (ac->absent[side])
                    continue;
                if (run_side(&run, side, ac->c->name, r) == 1) {
                    ac->absent[side] = 1;
                    fprintf(env->log, "[%3u/%u] %-*s  %s: that build has no such case\n", step,
                            steps, width, ac->c->name, side_name[side]);
                    continue;
                }
                progress(env, step, steps, width, ac->c->name, k, reps, side, r);
            }
        }

    fprintf(out, "\n");
    report_table(out, &run, cases, n, reps);
    fflush(out);
    int rc = 0;
    if (o->json && report_json(o->json, &run, cases, n, reps, info) != 0) {
        fprintf(env->log, "ringhost-bench: cannot write %s\n", o->json);
        rc = 1;
    }
    /* A side that ran a case and never measured it failed; a case one
     * build does not have is said in the table, not a failure. */
    for (uint32_t i = 0; i < n; i++)
        for (int side = 0; side < 2; side++) {
            uint32_t ok = 0, skipped = 0;
            for (uint32_t k = 0; k < reps; k++) {
                ok += (uint32_t)cases[i].rep[side][k].ok;
                skipped += (uint32_t)cases[i].rep[side][k].skipped;
            }
            if (!cases[i].absent[side] && ok == 0 && skipped < reps) {
                fprintf(env->log, "ringhost-bench: %s failed in every repetition on %s\n",
                        cases[i].c->name, side_name[side]);
                rc = 1;
            }
        }
    free(store);
    free(cases);
    return rc;
}
