/*
 * report.c — what a run prints and writes: the machine header, the figure,
 * latency and ratio tables with one verdict per target (stdout), the --json
 * file, and the --plots folder (gnuplot data, script, SVG and PNG).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_pvt.h"

static const char *cmp_sign(bench_cmp c)
{
    return c == BENCH_AT_LEAST ? ">=" : "<=";
}

/* ------------------------------------------------------ machine --- */

typedef struct machine {
    char cpu_model[128];
    char kernel[160];
    char host[64];
} machine;

static void read_machine(machine *m)
{
    memset(m, 0, sizeof *m);
    snprintf(m->cpu_model, sizeof m->cpu_model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (strncmp(line, "model name", 10) != 0 || !colon)
                continue;
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            v[strcspn(v, "\n")] = '\0';
            snprintf(m->cpu_model, sizeof m->cpu_model, "%s", v);
            break;
        }
        fclose(f);
    }
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
        snprintf(m->host, sizeof m->host, "%s", u.nodename);
    }
}

void bench_report_machine(FILE *out, const bench_env *env, const bench_run_info *run)
{
    machine m;
    read_machine(&m);
    fprintf(out, "ringhost-bench  %s\n", run->date);
    fprintf(out, "machine: %s; %s; %ld cpus online\n", m.cpu_model, m.kernel,
            sysconf(_SC_NPROCESSORS_ONLN));
    fprintf(out, "cpus: %d (client/producer), %d (consumer/kernel); the cores cases: %d cpu(s)",
            env->cpu[0], env->cpu[1], env->n_cpus);
    for (int i = 0; i < env->n_cpus; i++)
        fprintf(out, "%s%d", i ? "," : " (", env->cpus[i]);
    fprintf(out, ")\n");
    fprintf(out, "reps %u, %.2f s per throughput rep, %u round trips per latency rep; "
                 "tag near: probe < %.0f ns before and after\n\n",
            run->reps, env->rep_seconds, env->rtt_samples, BENCH_PROBE_NEAR_NS);
    fflush(out);
}

/* ------------------------------------------------------- tables --- */

static const uint64_t *sorted_samples(const bench_case *c, bench_tag t)
{
    bench_samples *pool = (bench_samples *)&c->lat[t];
    if (!pool->sorted && pool->n) {
        bench_quantile(pool->v, pool->n, 0.5); /* sorts in place */
        pool->sorted = 1;
    }
    return pool->v;
}

static uint64_t pct(const uint64_t *sorted, uint32_t n, double q)
{
    return sorted[(uint32_t)(q * (double)(n - 1) + 0.5)];
}

/* Why a check has no value in any tag: the first side without a figure,
 * or NULL when both have figures but never in the same tag. */
static const char *missing_side(const bench_suite *s, const bench_check *k)
{
    const char *sides[2][2] = {{k->num_case, k->num_metric}, {k->den_case, k->den_metric}};
    for (int i = 0; i < (k->den_case[0] ? 2 : 1); i++) {
        const bench_case *c = bench_case_find(s, sides[i][0]);
        int any = 0;
        for (int t = 0; t < BENCH_TAGS; t++)
            any |= bench_figure_find(c, sides[i][1], (bench_tag)t) != NULL;
        if (!any)
            return sides[i][0];
    }
    return NULL;
}

static void not_measured(char *buf, size_t len, const bench_suite *s, const bench_check *k)
{
    const char *side = missing_side(s, k);
    if (side)
        snprintf(buf, len, "not measured (no %s)", side);
    else
        snprintf(buf, len, "not measured (no tag in common)");
}

/* "met in near; MISSED in far", one line per check. */
static void verdict_line(FILE *out, const bench_suite *s, const bench_check *k)
{
    char met[64] = "", missed[64] = "", target[32] = "(no target)", what[BENCH_NAME_MAX + 64];
    for (int t = 0; t < BENCH_TAGS; t++) {
        bench_verdict v;
        bench_check_eval(s, k, (bench_tag)t, &v);
        if (!v.measured)
            continue;
        char *to = v.met || k->target == 0 ? met : missed;
        size_t l = strlen(to);
        snprintf(to + l, sizeof met - l, "%s%s", l ? ", " : "", bench_tag_name((bench_tag)t));
    }
    if (k->target != 0)
        snprintf(target, sizeof target, "%s %g", cmp_sign(k->cmp), k->target);
    if (!met[0] && !missed[0])
        not_measured(what, sizeof what, s, k);
    else if (k->target == 0)
        snprintf(what, sizeof what, "measured in %s", met);
    else
        snprintf(what, sizeof what, "%s%s%s%s%s", met[0] ? "met in " : "", met,
                 met[0] && missed[0] ? "; " : "", missed[0] ? "MISSED in " : "", missed);
    fprintf(out, "  %-40s %-11s %s\n", k->name, target, what);
}

void bench_report_tables(FILE *out, const bench_suite *s)
{
    fprintf(out, "%-40s %-5s %-14s %16s %16s %16s %4s\n", "case", "tag", "metric", "median",
            "min", "max", "reps");
    for (uint32_t i = 0; i < s->n_cases; i++) {
        const bench_case *c = &s->cases[i];
        if (!c->selected)
            continue;
        if (c->n_fig == 0)
            fprintf(out, "%-40s %-5s %-14s %16s\n", c->name, "-", "-", "failed");
        for (uint32_t j = 0; j < c->n_fig; j++) {
            const bench_figure *f = &c->fig[j];
            char med[40], lo[40], hi[40];
            bench_format(med, sizeof med, f->median, f->unit);
            bench_format(lo, sizeof lo, f->min, f->unit);
            bench_format(hi, sizeof hi, f->max, f->unit);
            fprintf(out, "%-40s %-5s %-14s %16s %16s %16s %4u\n", c->name,
                    bench_tag_name(f->tag), f->metric, med, lo, hi, f->n);
        }
    }

    int header = 0;
    for (uint32_t i = 0; i < s->n_cases; i++) {
        const bench_case *c = &s->cases[i];
        for (int t = 0; c->selected && t < BENCH_TAGS; t++) {
            uint32_t n = c->lat[t].n;
            if (!n)
                continue;
            if (!header++)
                fprintf(out, "\n%-40s %-5s %9s %10s %10s %10s %10s\n", "latency (all samples)",
                        "tag", "samples", "p50 ns", "p99 ns", "p99.9 ns", "max ns");
            const uint64_t *v = sorted_samples(c, (bench_tag)t);
            fprintf(out, "%-40s %-5s %9u %10llu %10llu %10llu %10llu\n", c->name,
                    bench_tag_name((bench_tag)t), n, (unsigned long long)pct(v, n, 0.5),
                    (unsigned long long)pct(v, n, 0.99), (unsigned long long)pct(v, n, 0.999),
                    (unsigned long long)v[n - 1]);
        }
    }

    if (s->n_checks == 0)
        return;
    fprintf(out, "\n%-40s %-5s %12s %12s  %s\n", "ratio / target", "tag", "value", "target",
            "met?");
    for (uint32_t i = 0; i < s->n_checks; i++) {
        const bench_check *k = &s->checks[i];
        char target[32] = "-";
        if (k->target != 0)
            snprintf(target, sizeof target, "%s %g", cmp_sign(k->cmp), k->target);
        int rows = 0;
        for (int t = 0; t < BENCH_TAGS; t++) {
            bench_verdict v;
            bench_check_eval(s, k, (bench_tag)t, &v);
            if (!v.measured)
                continue;
            rows++;
            fprintf(out, "%-40s %-5s %12.3f %12s  %s\n", k->name, bench_tag_name((bench_tag)t),
                    v.value, target, k->target == 0 ? "-" : v.met ? "met" : "MISSED");
        }
        if (!rows) {
            char why[BENCH_NAME_MAX + 32];
            not_measured(why, sizeof why, s, k);
            fprintf(out, "%-40s %-5s %12s %12s  %s\n", k->name, "-", "-", target, why);
        }
    }
    fprintf(out, "\nverdicts (a ratio compares figures of one tag only):\n");
    for (uint32_t i = 0; i < s->n_checks; i++)
        verdict_line(out, s, &s->checks[i]);
}

/* --------------------------------------------------------- json --- */

/* The fields of bench_params by their names; 0 where a case does not use one. */
static json_t *params_json(const bench_params *p)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "payload", (json_int_t)p->payload,
                     "batch", (json_int_t)p->batch, "bridge_inline", p->bridge_inline,
                     "wait_spin", p->wait_spin, "depth", (json_int_t)p->depth, "kernels",
                     (json_int_t)p->kernels);
}

static json_t *check_json(const bench_suite *s, const bench_check *k)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:f}", "name", k->name, "case", k->num_case,
                          "metric", k->num_metric, "cmp", cmp_sign(k->cmp), "target", k->target);
    if (k->den_case[0]) {
        json_object_set_new(o, "den_case", json_string(k->den_case));
        json_object_set_new(o, "den_metric", json_string(k->den_metric));
    }
    json_t *res = json_array();
    for (int t = 0; t < BENCH_TAGS; t++) {
        bench_verdict v;
        bench_check_eval(s, k, (bench_tag)t, &v);
        if (!v.measured)
            continue;
        json_t *r = json_pack("{s:s, s:f}", "tag", bench_tag_name((bench_tag)t), "value", v.value);
        if (k->den_case[0]) {
            json_object_set_new(r, "num", json_real(v.num));
            json_object_set_new(r, "den", json_real(v.den));
        }
        if (k->target != 0)
            json_object_set_new(r, "met", json_boolean(v.met));
        json_array_append_new(res, r);
    }
    json_object_set_new(o, "measured", json_boolean(json_array_size(res) > 0));
    if (json_array_size(res) == 0 && missing_side(s, k))
        json_object_set_new(o, "missing_case", json_string(missing_side(s, k)));
    json_object_set_new(o, "results", res);
    return o;
}

int bench_report_json(const char *path, const bench_suite *s, const bench_env *env,
                      const bench_run_info *run)
{
    machine m;
    read_machine(&m);
    json_t *root = json_pack(
        "{s:s, s:s, s:{s:s, s:s, s:s, s:i, s:[i,i]}, s:{s:i, s:f, s:i, s:b, s:f, s:i}}",
        "command", run->command, "date", run->date, "machine", "cpu_model", m.cpu_model,
        "kernel", m.kernel, "host", m.host, "cpus_online",
        (json_int_t)sysconf(_SC_NPROCESSORS_ONLN),
        "cpus", env->cpu[0], env->cpu[1], "settings", "reps", (json_int_t)run->reps,
        "rep_seconds", env->rep_seconds, "rtt_samples", (json_int_t)env->rtt_samples, "quick",
        env->quick, "probe_near_below_ns", BENCH_PROBE_NEAR_NS, "probe_round_trips",
        (json_int_t)BENCH_PROBE_ROUND_TRIPS);
    json_t *figures = json_array(), *cases = json_array(), *checks = json_array();

    for (uint32_t i = 0; i < s->n_cases; i++) {
        const bench_case *c = &s->cases[i];
        if (!c->selected)
            continue;
        for (uint32_t j = 0; j < c->n_fig; j++) {
            const bench_figure *f = &c->fig[j];
            json_array_append_new(
                figures, json_pack("{s:s, s:s, s:o, s:s, s:s, s:s, s:f, s:f, s:f, s:i}", "case",
                                   c->name, "group", c->group, "params", params_json(&c->p),
                                   "tag", bench_tag_name(f->tag), "metric", f->metric, "unit",
                                   f->unit, "median", f->median, "min", f->min, "max", f->max,
                                   "n", (json_int_t)f->n));
        }
        json_t *reps = json_array();
        for (uint32_t r = 0; r < c->n_reps; r++) {
            const bench_rep *rep = &c->reps[r];
            json_t *metrics = json_object();
            for (uint32_t j = 0; j < rep->n; j++)
                json_object_set_new(metrics, rep->m[j].name, json_real(rep->m[j].value));
            json_array_append_new(
                reps, json_pack("{s:i, s:f, s:f, s:s, s:b, s:b, s:o, s:o}", "rep", (json_int_t)r + 1,
                                "probe_before_ns", rep->probe_before_ns, "probe_after_ns",
                                rep->probe_after_ns, "tag", bench_tag_name(rep->tag), "ok",
                                rep->ok, "skipped", rep->skipped, "error", rep->ok ? json_null() : json_string(rep->error),
                                "metrics", metrics));
        }
        json_t *lat = json_array();
        for (int t = 0; t < BENCH_TAGS; t++) {
            uint32_t n = c->lat[t].n;
            if (!n)
                continue;
            const uint64_t *v = sorted_samples(c, (bench_tag)t);
            json_array_append_new(
                lat, json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i}", "tag",
                               bench_tag_name((bench_tag)t), "samples", (json_int_t)n, "p50_ns",
                               (json_int_t)pct(v, n, 0.5), "p99_ns", (json_int_t)pct(v, n, 0.99),
                               "p999_ns", (json_int_t)pct(v, n, 0.999), "min_ns",
                               (json_int_t)v[0], "max_ns", (json_int_t)v[n - 1]));
        }
        json_array_append_new(cases, json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", c->name,
                                               "group", c->group, "params", params_json(&c->p),
                                               "repetitions", reps, "latency", lat));
    }
    for (uint32_t i = 0; i < s->n_checks; i++)
        json_array_append_new(checks, check_json(s, &s->checks[i]));

    json_object_set_new(root, "figures", figures);
    json_object_set_new(root, "cases", cases);
    json_object_set_new(root, "checks", checks);
    int rc = json_dump_file(root, path,
                            JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(root);
    return rc == 0 ? 0 : -1;
}

/* -------------------------------------------------------- plots --- */

/* A case name as a file name: letters, digits, '.', '-', '_' only. */
static void file_name(char *buf, size_t len, const char *prefix, const char *name)
{
    snprintf(buf, len, "%s%s.dat", prefix, name);
    for (char *p = buf; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
            *p = '_';
}

/* The tag holding most of a case's latency samples (near on a tie). */
static bench_tag main_tag(const bench_case *c)
{
    bench_tag best = BENCH_NEAR;
    for (int t = 1; t < BENCH_TAGS; t++)
        if (c->lat[t].n > c->lat[best].n)
            best = (bench_tag)t;
    return best;
}

/* CDF points: 500 even steps, then the tail, so p99.9 is still visible. */
static int write_cdf(const char *path, const uint64_t *v, uint32_t n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    static const double tail[] = {0.995, 0.998, 0.999, 0.9995, 0.9999, 1.0};
    fprintf(f, "# ns  fraction_of_round_trips_at_most_ns\n");
    for (uint32_t i = 0; i < 500; i++)
        fprintf(f, "%llu %.6f\n", (unsigned long long)pct(v, n, i / 500.0), i / 500.0);
    for (size_t i = 0; i < sizeof tail / sizeof *tail; i++)
        fprintf(f, "%llu %.6f\n", (unsigned long long)pct(v, n, tail[i]), tail[i]);
    return fclose(f);
}

/* The payload N of a case named "<prefix>.p<N>" (prefix NULL: any), or 0
 * when the case is not in that series.  prefix_len gets the prefix's length. */
static unsigned long series_payload(const bench_case *c, const char *prefix, size_t *prefix_len)
{
    const char *dot = strrchr(c->name, '.');
    if (!c->selected || !dot || dot[1] != 'p' || !isdigit((unsigned char)dot[2]))
        return 0;
    char *end;
    unsigned long payload = strtoul(dot + 2, &end, 10);
    size_t len = (size_t)(dot - c->name);
    if (*end || (prefix && (len != strlen(prefix) || strncmp(c->name, prefix, len) != 0)))
        return 0;
    if (prefix_len)
        *prefix_len = len;
    return payload;
}

typedef struct point {
    unsigned long payload;
    double gb_per_s, msgs_per_s;
} point;

static int cmp_point(const void *a, const void *b)
{
    unsigned long x = ((const point *)a)->payload, y = ((const point *)b)->payload;
    return (x > y) - (x < y);
}

/* Writes the throughput series of one prefix (payload, GB/s, msg/s) in the
 * tag most of its points have; returns that tag, or -1 when it has fewer
 * than 3 points (not a curve). */
static int write_series(const char *path, const bench_suite *s, const char *prefix)
{
    uint32_t in_tag[BENCH_TAGS] = {0};
    for (uint32_t i = 0; i < s->n_cases; i++)
        for (int t = 0; t < BENCH_TAGS && series_payload(&s->cases[i], prefix, NULL); t++)
            in_tag[t] += bench_figure_find(&s->cases[i], "gb_per_s", (bench_tag)t) != NULL;
    bench_tag tag = BENCH_NEAR;
    for (int t = 1; t < BENCH_TAGS; t++)
        if (in_tag[t] > in_tag[tag])
            tag = (bench_tag)t;
    if (in_tag[tag] < 3)
        return -1;

    point *pts = calloc(in_tag[tag], sizeof *pts);
    FILE *f = pts ? fopen(path, "w") : NULL;
    if (!f) {
        free(pts);
        return -1;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_cases; i++) {
        const bench_case *c = &s->cases[i];
        unsigned long payload = series_payload(c, prefix, NULL);
        const bench_figure *gb = bench_figure_find(c, "gb_per_s", tag);
        const bench_figure *msgs = bench_figure_find(c, "msgs_per_s", tag);
        if (payload && gb)
            pts[n++] = (point){payload, gb->median, msgs ? msgs->median : NAN};
    }
    /* Ascending payload: gnuplot draws the line in file order. */
    qsort(pts, n, sizeof *pts, cmp_point);
    fprintf(f, "# payload_bytes gb_per_s msgs_per_s  (%s, tag %s)\n", prefix, bench_tag_name(tag));
    for (uint32_t i = 0; i < n; i++)
        fprintf(f, "%lu %.6g %.6g\n", pts[i].payload, pts[i].gb_per_s, pts[i].msgs_per_s);
    free(pts);
    fclose(f);
    return (int)tag;
}

/* One plot, drawn once per terminal by the script. */
static void plot_body(FILE *gp, const char *title, const char *xlabel, const char *ylabel,
                      const char *scales, const char *plot)
{
    fprintf(gp, "set title \"%s\"\nset xlabel \"%s\"\nset ylabel \"%s\"\n", title, xlabel, ylabel);
    fprintf(gp, "%s\nplot %s\nunset logscale\n", scales, plot);
}

static void plot_both(FILE *gp, const char *out, const char *title, const char *xlabel,
                      const char *ylabel, const char *scales, const char *plot)
{
    fprintf(gp, "set terminal svg size 960,600 dynamic background rgb 'white' font 'sans,11'\n"
                "set termoption noenhanced\n" /* case names have '_' */
                "set output '%s.svg'\n", out);
    plot_body(gp, title, xlabel, ylabel, scales, plot);
    fprintf(gp, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                "  set terminal pngcairo size 960,600 font 'sans,10'\n"
                "} else {\n  set terminal png size 960,600\n}\n"
                "set termoption noenhanced\n"
                "set output '%s.png'\n", out);
    plot_body(gp, title, xlabel, ylabel, scales, plot);
    fprintf(gp, "set output\n\n");
}

/* Appends one `'file' using .. title '..'` item to a plot command. */
static void plot_add(char **plot, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void plot_add(char **plot, const char *fmt, ...)
{
    char item[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(item, sizeof item, fmt, ap);
    va_end(ap);
    size_t l = strlen(item), have = *plot ? strlen(*plot) : 0;
    char *p = realloc(*plot, have + l + 3);
    if (!p)
        return; /* the plot loses one line, the run goes on */
    snprintf(p + have, l + 3, "%s%s", have ? ", " : "", item);
    *plot = p;
}

static int gnuplot_on_path(void)
{
    const char *path = getenv("PATH");
    if (!path)
        return 0;
    char dir[4096];
    for (const char *p = path; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s/gnuplot", (int)n, p);
        if (n && access(dir, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

int bench_report_plots(const char *dir, const bench_suite *s, FILE *log)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(log, "ringhost-bench: cannot create %s: %s\n", dir, strerror(errno));
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/bench.gp", dir);
    FILE *gp = fopen(path, "w");
    if (!gp) {
        fprintf(log, "ringhost-bench: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(gp, "# Written by ringhost-bench: run `gnuplot bench.gp` in this folder.\n"
                "set grid\nset key left top\n\n");

    char *plot = NULL;
    for (uint32_t i = 0; i < s->n_cases; i++) {
        const bench_case *c = &s->cases[i];
        bench_tag t = main_tag(c);
        if (!c->selected || c->lat[t].n == 0)
            continue;
        char file[BENCH_NAME_MAX + 16];
        file_name(file, sizeof file, "lat_", c->name);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        if (write_cdf(path, sorted_samples(c, t), c->lat[t].n) == 0)
            plot_add(&plot, "'%s' using 1:2 with lines lw 2 title '%s (%s, %u)'", file, c->name,
                     bench_tag_name(t), c->lat[t].n);
    }
    if (plot) {
        fprintf(gp, "set key right bottom\n");
        plot_both(gp, "latency", "Round-trip latency (CDF; legend: case, tag, samples)",
                  "round trip (ns)", "fraction of round trips <= x", "set logscale x 10", plot);
        fprintf(gp, "set key left top\n");
    }
    free(plot);

    /* One series per distinct "<prefix>.p<N>" prefix (first case of it). */
    char *gb = NULL, *msgs = NULL;
    for (uint32_t i = 0; i < s->n_cases; i++) {
        size_t len;
        if (!series_payload(&s->cases[i], NULL, &len))
            continue;
        char prefix[BENCH_NAME_MAX], file[BENCH_NAME_MAX + 16];
        snprintf(prefix, sizeof prefix, "%.*s", (int)len, s->cases[i].name);
        int first = 1;
        for (uint32_t e = 0; e < i && first; e++)
            first = !series_payload(&s->cases[e], prefix, NULL);
        file_name(file, sizeof file, "tp_", prefix);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        int tag = first ? write_series(path, s, prefix) : -1;
        if (tag < 0)
            continue;
        plot_add(&gb, "'%s' using 1:2 with linespoints lw 2 title '%s (%s)'", file, prefix,
                 bench_tag_name((bench_tag)tag));
        plot_add(&msgs, "'%s' using 1:($3/1e6) with linespoints lw 2 title '%s (%s)'", file,
                 prefix, bench_tag_name((bench_tag)tag));
    }
    if (gb && msgs) {
        plot_both(gp, "throughput_gbps", "Throughput against payload size (median per tag)",
                  "payload (bytes)", "GB/s", "set logscale x 2", gb);
        plot_both(gp, "throughput_msgs", "Messages per second against payload size",
                  "payload (bytes)", "M msg/s", "set logscale x 2; set logscale y 10", msgs);
    }
    free(gb);
    free(msgs);
    fclose(gp);

    if (!gnuplot_on_path()) {
        fprintf(log, "ringhost-bench: gnuplot not found; plots skipped (data and script in %s)\n",
                dir);
        return 0;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0)
            _exit(127);
        execlp("gnuplot", "gnuplot", "bench.gp", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        /* The data and the script are written; a broken gnuplot is not a
         * failed benchmark. */
        fprintf(log, "ringhost-bench: gnuplot failed on %s/bench.gp; plots may be missing\n", dir);
        return 0;
    }
    fprintf(log, "ringhost-bench: plots written to %s\n", dir);
    return 0;
}
