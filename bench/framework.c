/*
 * framework.c — the suite: registration of cases and checks, the run loop
 * (repetitions, probes, tags), and the figures (medians per tag) the checks
 * compare.  The report (tables, JSON, plots) is in report.c.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench_pvt.h"

const char *bench_tag_name(bench_tag t)
{
    switch (t) {
    case BENCH_NEAR: return "near";
    case BENCH_FAR: return "far";
    case BENCH_MIXED: return "mixed";
    default: return "?";
    }
}

/* ------------------------------------------------------- results --- */

void bench_put(bench_result *r, const char *name, const char *unit, double value)
{
    uint32_t i = 0;
    while (i < r->n && strcmp(r->m[i].name, name) != 0)
        i++;
    if (i == BENCH_MAX_METRICS)
        return; /* full: a case with more metrics is a bug caught in review */
    snprintf(r->m[i].name, sizeof r->m[i].name, "%s", name);
    snprintf(r->m[i].unit, sizeof r->m[i].unit, "%s", unit);
    r->m[i].value = value;
    if (i == r->n)
        r->n++;
}

void bench_put_latencies(bench_result *r, uint64_t *lat, uint32_t n)
{
    bench_put(r, "rtt_p50_ns", "ns", (double)bench_quantile(lat, n, 0.50));
    bench_put(r, "rtt_p99_ns", "ns", (double)bench_quantile(lat, n, 0.99));
    bench_put(r, "rtt_p999_ns", "ns", (double)bench_quantile(lat, n, 0.999));
    r->lat_ns = lat;
    r->n_lat = n;
}

int bench_fail(bench_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    if (!r->error[0])
        snprintf(r->error, sizeof r->error, "failed");
    return -1;
}

int bench_skip(bench_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    if (!r->error[0])
        snprintf(r->error, sizeof r->error, "not available");
    r->skipped = 1;
    return -1;
}

/* -------------------------------------------------- registration --- */

bench_suite *bench_suite_new(void)
{
    return calloc(1, sizeof(bench_suite));
}

void bench_suite_free(bench_suite *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n_cases; i++) {
        bench_case *c = &s->cases[i];
        free(c->reps);
        free(c->fig);
        for (int t = 0; t < BENCH_TAGS; t++)
            free(c->lat[t].v);
    }
    free(s->cases);
    free(s->checks);
    free(s);
}

/* Registration runs once at start-up; running out of memory there leaves
 * nothing to measure with, so it ends the program. */
static void *grow(void *p, uint32_t *cap, size_t elem)
{
    uint32_t n = *cap ? *cap * 2 : 16;
    void *q = realloc(p, n * elem);
    if (!q) {
        fprintf(stderr, "ringhost-bench: out of memory\n");
        exit(1);
    }
    *cap = n;
    return q;
}

void bench_add(bench_suite *s, const char *group, const char *name, bench_fn fn,
               const bench_params *p)
{
    if (bench_case_find(s, name)) {
        fprintf(stderr, "ringhost-bench: case %s registered twice; the second is ignored\n", name);
        return;
    }
    if (s->n_cases == s->cap_cases)
        s->cases = grow(s->cases, &s->cap_cases, sizeof *s->cases);
    bench_case *c = &s->cases[s->n_cases++];
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->group, sizeof c->group, "%s", group);
    c->fn = fn;
    if (p)
        c->p = *p;
    c->selected = 1;
}

static bench_check *add_check(bench_suite *s, const char *name, const char *num_case,
                              const char *num_metric, bench_cmp cmp, double target)
{
    if (s->n_checks == s->cap_checks)
        s->checks = grow(s->checks, &s->cap_checks, sizeof *s->checks);
    bench_check *k = &s->checks[s->n_checks++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", name);
    snprintf(k->num_case, sizeof k->num_case, "%s", num_case);
    snprintf(k->num_metric, sizeof k->num_metric, "%s", num_metric);
    k->cmp = cmp;
    k->target = target;
    return k;
}

void bench_add_ratio(bench_suite *s, const char *name, const char *num_case,
                     const char *num_metric, const char *den_case, const char *den_metric,
                     bench_cmp cmp, double target)
{
    bench_check *k = add_check(s, name, num_case, num_metric, cmp, target);
    snprintf(k->den_case, sizeof k->den_case, "%s", den_case);
    snprintf(k->den_metric, sizeof k->den_metric, "%s", den_metric);
}

void bench_add_target(bench_suite *s, const char *name, const char *case_name,
                      const char *metric, bench_cmp cmp, double target)
{
    add_check(s, name, case_name, metric, cmp, target);
}

/* Whether name contains one of the comma-separated substrings of only. */
static int name_matches(const char *name, const char *only)
{
    while (*only) {
        size_t len = strcspn(only, ",");
        char part[BENCH_NAME_MAX];
        if (len && len < sizeof part) {
            memcpy(part, only, len);
            part[len] = '\0';
            if (strstr(name, part))
                return 1;
        }
        only += len + (only[len] == ',');
    }
    return 0;
}

uint32_t bench_suite_select(bench_suite *s, const char *only)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_cases; i++) {
        s->cases[i].selected = !only || name_matches(s->cases[i].name, only);
        n += (uint32_t)s->cases[i].selected;
    }
    return n;
}

const bench_case *bench_case_find(const bench_suite *s, const char *name)
{
    for (uint32_t i = 0; i < s->n_cases; i++)
        if (strcmp(s->cases[i].name, name) == 0)
            return &s->cases[i];
    return NULL;
}

/* ------------------------------------------------------ run loop --- */

static bench_tag tag_of(double before, double after)
{
    if (before < 0 || after < 0)
        return BENCH_MIXED;
    int near_before = before < BENCH_PROBE_NEAR_NS, near_after = after < BENCH_PROBE_NEAR_NS;
    if (near_before && near_after)
        return BENCH_NEAR;
    if (!near_before && !near_after)
        return BENCH_FAR;
    return BENCH_MIXED;
}

/* Takes over the case's samples (appended to its tag's pool). */
static void keep_samples(bench_case *c, bench_tag t, bench_result *r)
{
    bench_samples *pool = &c->lat[t];
    if (r->n_lat && r->lat_ns) {
        if (pool->n + r->n_lat > pool->cap) {
            uint32_t cap = pool->cap ? pool->cap : 4096;
            while (cap < pool->n + r->n_lat)
                cap *= 2;
            uint64_t *v = realloc(pool->v, cap * sizeof *v);
            if (v) {
                pool->v = v;
                pool->cap = cap;
            }
        }
        if (pool->n + r->n_lat <= pool->cap) {
            memcpy(pool->v + pool->n, r->lat_ns, r->n_lat * sizeof *r->lat_ns);
            pool->n += r->n_lat;
            pool->sorted = 0;
        }
    }
    free(r->lat_ns);
    r->lat_ns = NULL;
}

static uint32_t name_width(const bench_suite *s)
{
    size_t w = 0;
    for (uint32_t i = 0; i < s->n_cases; i++)
        if (s->cases[i].selected && strlen(s->cases[i].name) > w)
            w = strlen(s->cases[i].name);
    return (uint32_t)w;
}

static void run_one(bench_case *c, const bench_env *env, uint32_t rep, uint32_t reps,
                    uint32_t step, uint32_t steps, int width)
{
    bench_rep *r = &c->reps[rep];
    bench_result res;
    memset(&res, 0, sizeof res);

    r->probe_before_ns = bench_probe_rtt_ns(env->cpu, BENCH_PROBE_ROUND_TRIPS);
    int rc = c->fn(env, &c->p, &res);
    r->probe_after_ns = bench_probe_rtt_ns(env->cpu, BENCH_PROBE_ROUND_TRIPS);
    r->tag = tag_of(r->probe_before_ns, r->probe_after_ns);

    r->ok = rc == 0 && res.error[0] == '\0';
    r->skipped = res.skipped;
    if (!r->ok)
        snprintf(r->error, sizeof r->error, "%s", res.error[0] ? res.error : "failed");
    memcpy(r->m, res.m, sizeof r->m);
    r->n = res.n;
    if (r->ok)
        keep_samples(c, r->tag, &res);
    free(res.lat_ns);
    c->n_reps = rep + 1;

    char fig[64] = "";
    if (r->ok && r->n)
        bench_format(fig, sizeof fig, r->m[0].value, r->m[0].unit);
    fprintf(env->log, "[%3u/%u] %-*s  rep %u/%u  %-5s  %s  (probe %.0f/%.0f ns)\n", step, steps,
            width, c->name, rep + 1, reps, bench_tag_name(r->tag),
            r->ok ? fig : r->skipped ? "SKIPPED" : "FAILED", r->probe_before_ns,
            r->probe_after_ns);
    if (r->skipped)
        fprintf(env->log, "         %s: skipped: %s\n", c->name, r->error);
    else if (!r->ok)
        fprintf(env->log, "         %s: %s\n", c->name, r->error);
    fflush(env->log);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of an even count is the mean of the two middle values. */
static double median_of(double *v, uint32_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void add_figure(bench_case *c, const bench_metric *m, bench_tag t)
{
    for (uint32_t i = 0; i < c->n_fig; i++)
        if (c->fig[i].tag == t && strcmp(c->fig[i].metric, m->name) == 0)
            return;
    double *v = malloc(c->n_reps * sizeof *v);
    if (!v)
        return;
    uint32_t n = 0;
    for (uint32_t r = 0; r < c->n_reps; r++) {
        const bench_rep *rep = &c->reps[r];
        if (!rep->ok || rep->tag != t)
            continue;
        for (uint32_t j = 0; j < rep->n; j++)
            if (strcmp(rep->m[j].name, m->name) == 0)
                v[n++] = rep->m[j].value;
    }
    bench_figure *f = realloc(c->fig, (c->n_fig + 1) * sizeof *f);
    if (!f) {
        free(v);
        return;
    }
    c->fig = f;
    f = &c->fig[c->n_fig++];
    memset(f, 0, sizeof *f);
    snprintf(f->metric, sizeof f->metric, "%s", m->name);
    snprintf(f->unit, sizeof f->unit, "%s", m->unit);
    f->tag = t;
    f->n = n;
    f->median = median_of(v, n);
    f->min = v[0];
    f->max = v[n - 1];
    free(v);
}

/* Figures in the order: tag, then the metrics in the order the case put
 * them in its first repetition of that tag. */
static void compute_figures(bench_case *c)
{
    for (int t = 0; t < BENCH_TAGS; t++)
        for (uint32_t r = 0; r < c->n_reps; r++) {
            const bench_rep *rep = &c->reps[r];
            if (!rep->ok || rep->tag != (bench_tag)t)
                continue;
            for (uint32_t j = 0; j < rep->n; j++)
                add_figure(c, &rep->m[j], (bench_tag)t);
        }
}

uint32_t bench_suite_run(bench_suite *s, const bench_env *env, uint32_t reps)
{
    uint32_t steps = 0;
    for (uint32_t i = 0; i < s->n_cases; i++) {
        bench_case *c = &s->cases[i];
        if (!c->selected)
            continue;
        c->reps = calloc(reps, sizeof *c->reps);
        if (!c->reps) {
            fprintf(env->log, "ringhost-bench: out of memory\n");
            exit(1);
        }
        steps += reps;
    }
    int width = (int)name_width(s);

    /* Groups in the order they were first named; within a group each
     * repetition runs every case once, so neighbouring cases see the same
     * placement as often as the hypervisor allows. */
    uint32_t step = 0;
    for (uint32_t g = 0; g < s->n_cases; g++) {
        const char *group = s->cases[g].group;
        int first = 1;
        for (uint32_t e = 0; e < g; e++)
            if (strcmp(s->cases[e].group, group) == 0)
                first = 0;
        if (!first)
            continue;
        for (uint32_t rep = 0; rep < reps; rep++)
            for (uint32_t i = g; i < s->n_cases; i++) {
                bench_case *c = &s->cases[i];
                if (c->selected && strcmp(c->group, group) == 0)
                    run_one(c, env, rep, reps, ++step, steps, width);
            }
    }

    uint32_t failed = 0;
    for (uint32_t i = 0; i < s->n_cases; i++) {
        bench_case *c = &s->cases[i];
        if (!c->selected)
            continue;
        compute_figures(c);
        uint32_t ok = 0, skipped = 0;
        for (uint32_t r = 0; r < c->n_reps; r++) {
            ok += (uint32_t)c->reps[r].ok;
            skipped += (uint32_t)c->reps[r].skipped;
        }
        failed += ok == 0 && skipped < c->n_reps;
    }
    return failed;
}

/* ------------------------------------------------------- figures --- */

const bench_figure *bench_figure_find(const bench_case *c, const char *metric, bench_tag t)
{
    if (!c)
        return NULL;
    for (uint32_t i = 0; i < c->n_fig; i++)
        if (c->fig[i].tag == t && strcmp(c->fig[i].metric, metric) == 0)
            return &c->fig[i];
    return NULL;
}

void bench_check_eval(const bench_suite *s, const bench_check *k, bench_tag t, bench_verdict *v)
{
    memset(v, 0, sizeof *v);
    const bench_figure *num = bench_figure_find(bench_case_find(s, k->num_case), k->num_metric, t);
    if (!num)
        return;
    v->num = num->median;
    if (k->den_case[0]) {
        const bench_figure *den =
            bench_figure_find(bench_case_find(s, k->den_case), k->den_metric, t);
        if (!den || den->median == 0)
            return;
        v->den = den->median;
        v->value = v->num / v->den;
    } else {
        v->value = v->num;
    }
    if (!isfinite(v->value))
        return;
    v->measured = 1;
    v->met = k->cmp == BENCH_AT_LEAST ? v->value >= k->target : v->value <= k->target;
}
