/*
 * bench.h — the benchmark framework shared by every scenario in bench/.
 *
 * A *case* is one measurement with fixed parameters (say, "one rte_ring hop,
 * burst 32, 64-byte payload").  Cases are registered in *groups*; in each
 * repetition the framework runs every case of a group back to back, with a
 * placement probe (a shared-cache-line ping-pong between the two cores)
 * before and after each case, and tags that case's repetition near / far /
 * mixed.  A figure is
 * the median of one metric over the repetitions of one tag, and a ratio is
 * computed only between two figures of the same tag — these 2-vCPU machines
 * switch between near and far placements during a run, and busy-poll figures
 * differ 4-9x between the two.
 *
 * A case function runs one repetition and reports its metrics with
 * bench_put(); it may also hand over latency samples (for the percentiles
 * and the distribution plot).  It pins its threads to env->cpu[0] (the
 * client / producer side) and env->cpu[1] (the consumer / kernel side).
 */
#ifndef RH_BENCH_H
#define RH_BENCH_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_MAX_METRICS 8
#define BENCH_NAME_MAX 80
#define BENCH_MAX_CPUS 256     /* cpus a run may spread over (--cpus, the "cores" cases) */

/* In-flight window of every echo pipeline's client (messages sent and not
 * yet received back): the same for ringhost and every baseline. */
#define BENCH_ECHO_WINDOW 1024u

typedef enum bench_tag { BENCH_NEAR = 0, BENCH_FAR = 1, BENCH_MIXED = 2, BENCH_TAGS = 3 } bench_tag;
const char *bench_tag_name(bench_tag t);

/* What a case is asked to measure.  Fields a case does not use stay 0. */
typedef struct bench_params {
    uint32_t payload;      /* bytes per message */
    uint32_t batch;        /* burst size: messages per send / receive call */
    int bridge_inline;     /* ringhost: 1 = bridge "inline", 0 = "thread" */
    int wait_spin;         /* ringhost: 1 = wait "spin", 0 = "adaptive" */
    uint32_t depth;        /* ringhost: kernels in the pipeline (1 = one echo) */
    uint32_t kernels;      /* ringhost: kernels launched on the two cores */
    int loans;             /* ringhost echo: the client loans and peeks (zero copy) */
    uint32_t workers;      /* ringhost echo: the kernel's "workers" (0: the default, 1) */
    int persist;           /* ringhost echo: the queues are "persist": true */
    int isolated;          /* ringhost echo: the kernel's "isolation": 1 "process", 2 "cuda"
                            * (the GPU echo, bench_echo_gpu_pN) */
    int cores;             /* the "cores" cases: kernel threads spread over env->cpus[1..]
                            * (rh_cases.c, base_cores.c) */
    int no_latency;        /* ringhost echo: launched with RINGHOST_LATENCY=0 (no wait or
                            * service histograms): the cost of recording them */
} bench_params;

/* The run's settings, the same for every case. */
typedef struct bench_env {
    int quick;             /* --quick: shorter repetitions, fewer points */
    int cpu[2];            /* OS cpu numbers: [0] client/producer, [1] consumer/kernel */
    int cpus[BENCH_MAX_CPUS]; /* every cpu of the run (--cpus, or every allowed one):
                            * cpus[0] and cpus[1] are cpu[0] and cpu[1]; the "cores"
                            * cases spread their threads over all n_cpus */
    int n_cpus;
    double rep_seconds;    /* how long one throughput repetition should run */
    uint32_t rtt_samples;  /* round trips per latency repetition */
    const char *bench_dir; /* folder of the ringhost-bench binary (bench kernels are in
                            * <bench_dir>/bench_plugins, manifests go to work_dir) */
    const char *work_dir;  /* a private scratch folder, removed at exit */
    FILE *log;             /* progress and diagnostics (stderr) */
} bench_env;

typedef struct bench_metric {
    char name[32];         /* "msgs_per_s", "gb_per_s", "rtt_p50_ns", ... */
    char unit[16];         /* "msg/s", "GB/s", "ns", "ms", "threads", "%" */
    double value;
} bench_metric;

/* What one repetition of a case produced. */
typedef struct bench_result {
    bench_metric m[BENCH_MAX_METRICS];
    uint32_t n;
    uint64_t *lat_ns;      /* optional: malloc'd RTT samples; the framework frees them */
    uint32_t n_lat;
    char error[256];       /* non-empty: the repetition failed (printed, not counted) */
    int skipped;           /* with error[]: not run, for a reason outside the case
                            * (bench_skip: a daemon or library missing); not a failure */
} bench_result;

/* Add (or overwrite) one metric of a result. */
void bench_put(bench_result *r, const char *name, const char *unit, double value);
/* The round-trip metrics of n samples lat (ns, malloc'd): rtt_p50_ns,
 * rtt_p99_ns and rtt_p999_ns, and the samples handed to r (the framework
 * frees them; they end sorted).  The one place a case reports latencies. */
void bench_put_latencies(bench_result *r, uint64_t *lat, uint32_t n);
/* Mark a repetition failed, printf-style; returns -1 for `return bench_fail(...)`. */
int bench_fail(bench_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Mark a repetition skipped, printf-style (the reason is printed as
 * "skipped: <reason>"); returns -1.  A case skipped in every repetition is
 * not a failed case: the run still exits 0. */
int bench_skip(bench_result *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Runs one repetition.  0 on success, -1 after bench_fail(). */
typedef int (*bench_fn)(const bench_env *env, const bench_params *p, bench_result *out);

typedef struct bench_suite bench_suite;

/* Register a case.  name is unique in the suite ("rte_ring.hop.b32.p64");
 * cases of one group run interleaved in each repetition. */
void bench_add(bench_suite *s, const char *group, const char *name, bench_fn fn,
               const bench_params *p);

typedef enum bench_cmp { BENCH_AT_LEAST, BENCH_AT_MOST } bench_cmp;

/* Register a ratio num.metric / den.metric, computed per tag, with a target
 * (e.g. >= 0.25).  target 0: reported without a target.  Both cases must be
 * in the same group so their repetitions share a tag. */
void bench_add_ratio(bench_suite *s, const char *name, const char *num_case,
                     const char *num_metric, const char *den_case, const char *den_metric,
                     bench_cmp cmp, double target);

/* Register an absolute target on one case's metric (e.g. rh_send p50 <= 100 ns). */
void bench_add_target(bench_suite *s, const char *name, const char *case_name,
                      const char *metric, bench_cmp cmp, double target);

/* ---------------------------------------------------- shared helpers --- */

uint64_t bench_now_ns(void);                     /* CLOCK_MONOTONIC */
int bench_pin_self(int cpu);                     /* 0 or -errno */
/* pthread_create, with the new thread pinned to cpu before fn runs.
 * 0 or -errno (a cpu outside the allowed set gives -EINVAL). */
int bench_thread_start(pthread_t *t, int cpu, void *(*fn)(void *), void *arg);
/* q-quantile (0..1) of n samples; sorts them in place. */
uint64_t bench_quantile(uint64_t *v, uint32_t n, double q);
/* Reads a thread's consumed CPU time. */
uint64_t bench_thread_cpu_ns(pthread_t t);

/* The body of every busy-poll loop: tells the core it is spinning (x86
 * `pause`), which frees the sibling hyperthread and avoids the memory-order
 * flush when the awaited store arrives. */
static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

/* Placement probe: median round trip (ns) of one cache line bounced between
 * two threads pinned to cpu[0] and cpu[1], after a warm-up; the framework
 * runs it around every case.  Negative -errno if a thread cannot start. */
double bench_probe_rtt_ns(const int cpu[2], uint32_t round_trips);

/* Scenario modules: each registers its cases (and ratios) in one call. */
void bench_register_baselines(bench_suite *s, const bench_env *env);  /* base_*.c */
void bench_register_ringhost(bench_suite *s, const bench_env *env);   /* rh_*.c */

/* `--pin-sweep MANIFEST [--send FILE]` (pin_sweep.c): run the manifest's
 * traffic under every placement the topology allows, reps times each, print
 * a table and the best "pin" block to `out`.  Returns the exit code: 0, 1
 * (nothing could run), 2 (bad manifest). */
int bench_pin_sweep(const bench_env *env, const char *manifest_path, const char *send_path,
                    int reps, FILE *out);

#endif /* RH_BENCH_H */
