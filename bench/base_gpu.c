/*
 * base_gpu.c — the bare GPU baselines as ringhost-bench cases, so that
 * `ringhost bench --only gpu` reports them in the same tables, JSON and
 * targets as every other case.
 *
 * The measuring is done by ringhost-bench-gpu (bench/gpu/bench_gpu.cu), a
 * program of its own built by nvcc: this binary never links CUDA.  Each
 * repetition of a case runs it once for that case, from the folder of this
 * binary, and takes its JSON line (msg/s) or its latency samples
 * (--samples: pooled over repetitions like every other latency case).
 *
 * Cases (group gpu): gpu.pingpong.mapped, gpu.pingpong.ll64.mapped,
 * gpu.stream.mapped, gpu.copy_launch_sync, gpu.graph_replay.  Skipped,
 * with the reason, when the program was not built (no nvcc) or finds no
 * CUDA device; each reason is found once and then reused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_pvt.h"

/* One run of ringhost-bench-gpu is bounded by its own deadlines and
 * watchdog (30 s); this is the bound on top of them. */
#define GPU_RUN_TIMEOUT_MS 120000
#define GPU_OUT_MAX (64u << 10)

extern char **environ;

/* Why every GPU case is skipped in this run, once known. */
static char g_skip[256];
static int g_header_logged;

/* Runs argv with stdout into buf (at most cap - 1 bytes, NUL-ended);
 * stderr is inherited.  Returns the exit status, or -1 with why[] set. */
static int run_capture(char *const argv[], char *buf, size_t cap, char *why, size_t why_len)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        snprintf(why, why_len, "pipe: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        snprintf(why, why_len, "cannot run %s: %s", argv[0], strerror(rc));
        return -1;
    }
    size_t len = 0;
    uint64_t deadline = bench_now_ns() + (uint64_t)GPU_RUN_TIMEOUT_MS * 1000000u;
    int timed_out = 0;
    for (;;) {
        uint64_t now = bench_now_ns();
        if (now >= deadline) {
            timed_out = 1;
            break;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int n = poll(&p, 1, (int)((deadline - now) / 1000000u) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue; /* the deadline check above ends it */
        char tmp[4096];
        ssize_t r = read(fds[0], tmp, sizeof tmp);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break; /* end of file: the program closed its stdout */
        size_t take = (size_t)r < cap - 1 - len ? (size_t)r : cap - 1 - len;
        memcpy(buf + len, tmp, take);
        len += take;
    }
    buf[len] = '\0';
    close(fds[0]);
    if (timed_out)
        kill(pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (timed_out) {
        snprintf(why, why_len, "%s ran past %d s: killed", argv[0], GPU_RUN_TIMEOUT_MS / 1000);
        return -1;
    }
    if (!WIFEXITED(st)) {
        snprintf(why, why_len, "%s ended by signal %d", argv[0], WTERMSIG(st));
        return -1;
    }
    return WEXITSTATUS(st);
}

/* The latency samples the program wrote (uint64 ns, raw), malloc'd. */
static uint64_t *read_samples(const char *path, uint32_t *n)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    uint64_t *v = NULL;
    *n = 0;
    if (f && fstat(fileno(f), &sb) == 0 && sb.st_size > 0 && sb.st_size % 8 == 0 &&
        (v = malloc((size_t)sb.st_size)) != NULL) {
        size_t want = (size_t)sb.st_size / 8;
        if (fread(v, 8, want, f) == want) {
            *n = (uint32_t)want;
        } else {
            free(v);
            v = NULL;
        }
    }
    if (f)
        fclose(f);
    unlink(path);
    return v;
}

/* One line of the program's output: the header (logged once), an error,
 * or this case's figures. */
static void take_line(const bench_env *env, const char *name, const char *line, bench_result *out,
                      int *found)
{
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    const char *lname = o ? json_string_value(json_object_get(o, "name")) : NULL;
    if (!lname) {
        fprintf(env->log, "         %s: unexpected output: %s\n", name, line);
    } else if (strcmp(lname, "gpu.header") == 0) {
        if (!g_header_logged++)
            fprintf(env->log, "         gpu: %s\n", line);
    } else if (strcmp(lname, name) == 0) {
        const char *e = json_string_value(json_object_get(o, "error"));
        json_t *mps = json_object_get(o, "msg_per_s");
        if (e)
            bench_fail(out, "%s", e);
        else if (json_is_number(mps))
            bench_put(out, "msgs_per_s", "msg/s", json_number_value(mps));
        *found = 1;
    }
    json_decref(o);
}

static int run_gpu_case(const bench_env *env, const char *name, int latency, bench_result *out)
{
    if (g_skip[0])
        return bench_skip(out, "%s", g_skip);
    char bin[4096], samples[4096], iters[32], secs[32], cpus[32];
    snprintf(bin, sizeof bin, "%s/ringhost-bench-gpu", env->bench_dir);
    snprintf(samples, sizeof samples, "%s/%s.lat", env->work_dir, name);
    snprintf(iters, sizeof iters, "%u", env->rtt_samples);
    snprintf(secs, sizeof secs, "%g", env->rep_seconds);
    snprintf(cpus, sizeof cpus, "%d,%d", env->cpu[0], env->cpu[1]);
    if (access(bin, X_OK) != 0) {
#ifdef BENCH_GPU_CONFIGURED
        snprintf(g_skip, sizeof g_skip,
                 "ringhost-bench-gpu not built yet (cmake --build <build> --target rh_bench_gpu)");
#else
        snprintf(g_skip, sizeof g_skip,
                 "ringhost-bench-gpu not built: no nvcc when this build was configured");
#endif
        return bench_skip(out, "%s", g_skip);
    }
    /* The host side on the run's cpus: the same host threads as the
     * ringhost GPU cases it is compared with. */
    char *argv[] = {bin,       "--only",  (char *)name, "--iters", iters, "--seconds", secs,
                    "--samples", samples, "--cpus",     cpus,      NULL};
    char *buf = malloc(GPU_OUT_MAX), why[512];
    if (!buf)
        return bench_fail(out, "out of memory");
    int rc = run_capture(argv, buf, GPU_OUT_MAX, why, sizeof why);
    if (rc < 0) {
        free(buf);
        return bench_fail(out, "%s", why);
    }
    if (strncmp(buf, "skipped: ", 9) == 0) {
        snprintf(g_skip, sizeof g_skip, "%.*s", (int)strcspn(buf + 9, "\n"), buf + 9);
        free(buf);
        return bench_skip(out, "%s", g_skip);
    }
    int found = 0;
    for (char *save = NULL, *line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        take_line(env, name, line, out, &found);
    free(buf);
    if (out->error[0]) {
        unlink(samples);
        return -1;
    }
    if (rc != 0 || !found) {
        unlink(samples);
        return bench_fail(out, "ringhost-bench-gpu exited %d%s", rc,
                          found ? "" : " without this case's line");
    }
    if (latency) {
        uint32_t n;
        uint64_t *lat = read_samples(samples, &n);
        if (!lat)
            return bench_fail(out, "no latency samples in %s", samples);
        bench_put_latencies(out, lat, n);
    }
    return 0;
}

/* The case's name is its params' only distinction: one function per case. */
#define GPU_CASE(fn, name, latency)                                                   \
    static int fn(const bench_env *env, const bench_params *p, bench_result *out)     \
    {                                                                                 \
        (void)p;                                                                      \
        return run_gpu_case(env, name, latency, out);                                 \
    }
GPU_CASE(gpu_pingpong, "gpu.pingpong.mapped", 1)
GPU_CASE(gpu_pingpong_ll, "gpu.pingpong.ll64.mapped", 1)
GPU_CASE(gpu_stream, "gpu.stream.mapped", 0)
GPU_CASE(gpu_copy_launch, "gpu.copy_launch_sync", 1)
GPU_CASE(gpu_graph, "gpu.graph_replay", 1)

void bench_register_gpu(bench_suite *s, const bench_env *env)
{
    (void)env;
    bench_params p8 = {.payload = 8}, p64 = {.payload = 64};
    bench_add(s, "gpu", "gpu.pingpong.mapped", gpu_pingpong, &p8);
    bench_add(s, "gpu", "gpu.pingpong.ll64.mapped", gpu_pingpong_ll, &p64);
    bench_add(s, "gpu", "gpu.stream.mapped", gpu_stream, &p64);
    bench_add(s, "gpu", "gpu.copy_launch_sync", gpu_copy_launch, &p64);
    bench_add(s, "gpu", "gpu.graph_replay", gpu_graph, &p64);
}
