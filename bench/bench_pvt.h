/*
 * bench_pvt.h — framework internals shared by main.c, framework.c and
 * report.c.  Scenario files (base_*.c, rh_*.c) use bench.h only.
 *
 * The suite owns every case and every check (ratio or absolute target).
 * bench_suite_run() fills each case's repetitions (metrics, probes, tag) and
 * its latency samples; bench_suite_figures() then turns them into figures,
 * the medians the report prints and the checks compare.
 */
#ifndef RH_BENCH_PVT_H
#define RH_BENCH_PVT_H

#include "bench.h"

/* A probe median below this is a "near" placement.  A survey saw ~130 ns
 * near and ~500 ns far on these 2-vCPU machines; 300 ns sits between. */
#define BENCH_PROBE_NEAR_NS 300.0
/* Round trips per probe (after a warm-up): ~0.3-1 ms, small next to a case. */
#define BENCH_PROBE_ROUND_TRIPS 2000u

/* One repetition of one case, as the run loop saw it. */
typedef struct bench_rep {
    bench_tag tag;
    double probe_before_ns;  /* negative: the probe could not run */
    double probe_after_ns;
    int ok;                  /* 0: failed (or skipped), error[] says why */
    int skipped;             /* not run: error[] is the reason */
    char error[256];
    bench_metric m[BENCH_MAX_METRICS];
    uint32_t n;
} bench_rep;

/* Every latency sample one case handed over in one tag, concatenated. */
typedef struct bench_samples {
    uint64_t *v;
    uint32_t n, cap;
    int sorted;
} bench_samples;

/* The median of one metric over one tag's successful repetitions. */
typedef struct bench_figure {
    char metric[32];
    char unit[16];
    bench_tag tag;
    double median, min, max;
    uint32_t n;              /* repetitions it is the median of */
} bench_figure;

typedef struct bench_case {
    char name[BENCH_NAME_MAX];
    char group[32];
    bench_fn fn;
    bench_params p;
    int selected;            /* matches --only */
    bench_rep *reps;         /* n_reps of them after a run */
    uint32_t n_reps;
    bench_samples lat[BENCH_TAGS];
    bench_figure *fig;
    uint32_t n_fig;
} bench_case;

/* A ratio num.metric / den.metric, or (den_case empty) an absolute target
 * on num.metric. */
typedef struct bench_check {
    char name[BENCH_NAME_MAX];
    char num_case[BENCH_NAME_MAX], num_metric[32];
    char den_case[BENCH_NAME_MAX], den_metric[32];
    bench_cmp cmp;
    double target;           /* 0: reported without a target */
} bench_check;

/* One check evaluated in one tag. */
typedef struct bench_verdict {
    int measured;            /* 0: a side has no figure in this tag */
    double num, den, value;  /* value = num / den, or num for a target */
    int met;                 /* meaningful when measured and target != 0 */
} bench_verdict;

struct bench_suite {
    bench_case *cases;
    uint32_t n_cases, cap_cases;
    bench_check *checks;
    uint32_t n_checks, cap_checks;
};

/* How this run was invoked, for the report's header and the JSON file. */
typedef struct bench_run_info {
    const char *command;     /* the command line, space-joined */
    char date[40];           /* ISO 8601, local time with offset */
    uint32_t reps;
} bench_run_info;

bench_suite *bench_suite_new(void);
void bench_suite_free(bench_suite *s);

/* Marks the cases whose name contains only, or one of its comma-separated
 * parts (NULL: all); returns how many. */
uint32_t bench_suite_select(bench_suite *s, const char *only);

/* Runs every selected case reps times (see bench.h for the order), printing
 * progress on env->log, then computes the figures.  Returns the number of
 * selected cases that failed in every repetition. */
uint32_t bench_suite_run(bench_suite *s, const bench_env *env, uint32_t reps);

const bench_case *bench_case_find(const bench_suite *s, const char *name);
const bench_figure *bench_figure_find(const bench_case *c, const char *metric, bench_tag t);

/* Evaluates one check in one tag. */
void bench_check_eval(const bench_suite *s, const bench_check *k, bench_tag t, bench_verdict *v);

/* "361.2 M msg/s": value with an SI prefix for rates, plain for ns/ms/%. */
void bench_format(char *buf, size_t len, double value, const char *unit);

/* Scenario registration, one per baseline file. */
void bench_register_rte_ring(bench_suite *s, const bench_env *env);
void bench_register_mutex(bench_suite *s, const bench_env *env);
void bench_register_zmq(bench_suite *s, const bench_env *env);
void bench_register_memcpy(bench_suite *s, const bench_env *env);
void bench_register_nats(bench_suite *s, const bench_env *env); /* base_nats.c: group "remote" */
void bench_register_iceoryx(bench_suite *s, const bench_env *env);
/* base_gpu.c: group "gpu", run by ringhost-bench-gpu (skipped without it or a device) */
void bench_register_gpu(bench_suite *s, const bench_env *env);
/* base_cores.c: group "cores", the bare rte_ring shapes of ringhost's scaling cases */
void bench_register_cores(bench_suite *s, const bench_env *env);
void bench_register_targets(bench_suite *s);

/* report.c.  The machine header and the settings (stdout, before the run). */
void bench_report_machine(FILE *out, const bench_env *env, const bench_run_info *run);
/* Figures, pooled latency percentiles, ratios and targets per tag, and one
 * verdict line per check (stdout, after the run). */
void bench_report_tables(FILE *out, const bench_suite *s);
/* --json: 0, or -1 when the file cannot be written. */
int bench_report_json(const char *path, const bench_suite *s, const bench_env *env,
                      const bench_run_info *run);
/* --plots: writes the data files and bench.gp into dir (created if needed),
 * then runs gnuplot there for SVG and PNG.  -1 only when dir or the script
 * cannot be written; a missing or failing gnuplot is reported on log. */
int bench_report_plots(const char *dir, const bench_suite *s, FILE *log);

/* --ab OTHER (ab.c): every selected case measured on this build (A) and on
 * OTHER (B, another build's ringhost or ringhost-bench), each repetition a
 * child process of its side, in ABBA order; a table per case, metric and
 * tag on out, and o->json when set.  Returns the exit code: 0, 1 (a side
 * failed a case in every repetition, or json could not be written), 2
 * (OTHER cannot be run). */
typedef struct bench_ab_opts {
    const char *other;       /* the other build's ringhost or ringhost-bench */
    const char *json;        /* --json FILE, or NULL */
    const char *cpus_arg;    /* --cpus as given (forwarded to both sides), or NULL */
} bench_ab_opts;
int bench_ab(const bench_suite *s, const bench_env *env, const bench_ab_opts *o,
             const bench_run_info *run, FILE *out);

#endif /* RH_BENCH_PVT_H */
