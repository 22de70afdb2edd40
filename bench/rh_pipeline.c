/*
 * rh_pipeline.c — write a benchmark manifest, launch it, tear it down.
 * See rh_pipeline.h.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <hwloc.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rh_pipeline.h"

uint32_t rhb_bytes_bound(uint32_t limit, uint32_t payload)
{
    uint32_t n = limit;
    while (n > 64 && (uint64_t)n * (payload + 48u) > BENCH_INFLIGHT_BYTES)
        n /= 2;
    return n;
}

rhb_spec rhb_spec_from(const bench_params *p)
{
    uint32_t payload = p->payload ? p->payload : 64;
    rhb_spec s = {
        .payload = payload,
        .depth = p->depth ? p->depth : 1,
        .chains = p->kernels ? p->kernels : 1,
        .capacity = rhb_bytes_bound(4096, payload),
        .batch = 32,
        .bridge_inline = p->bridge_inline,
        .wait_spin = p->wait_spin,
        .spread = 0,
        .pump_cpu = 1,
        .workers = p->workers,
        .persist = p->persist,
        .isolated = p->isolated,
        .cores = p->cores,
        .no_latency = p->no_latency,
    };
    return s;
}

uint32_t rhb_kernel_cpus(const bench_env *env, const rhb_spec *s)
{
    uint32_t want = s->workers > 1 ? s->workers : s->depth * s->chains;
    uint32_t have = env->n_cpus > 1 ? (uint32_t)env->n_cpus - 1 : 1;
    return want < have ? want : have;
}

/* Pin specs name hwloc logical indexes; the bench speaks OS cpu numbers.
 * The topology is read once (a few ms), not once per manifest. */
#define MAX_CPUS 1024
static int logical_of[MAX_CPUS];
static pthread_once_t logical_once = PTHREAD_ONCE_INIT;

static void read_logical(void)
{
    for (int i = 0; i < MAX_CPUS; i++)
        logical_of[i] = i;
    hwloc_topology_t topo;
    if (hwloc_topology_init(&topo) != 0)
        return;
    if (hwloc_topology_load(topo) == 0) {
        int n = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
        for (int i = 0; i < n; i++) {
            hwloc_obj_t pu = hwloc_get_obj_by_type(topo, HWLOC_OBJ_PU, (unsigned)i);
            if (pu && pu->os_index < MAX_CPUS)
                logical_of[pu->os_index] = (int)pu->logical_index;
        }
    }
    hwloc_topology_destroy(topo);
}

static int pu_logical(int os_cpu)
{
    pthread_once(&logical_once, read_logical);
    return os_cpu >= 0 && os_cpu < MAX_CPUS ? logical_of[os_cpu] : os_cpu;
}

static json_t *pin_os(int os_cpu)
{
    char spec[32];
    snprintf(spec, sizeof spec, "pu:%d", pu_logical(os_cpu));
    return json_string(spec);
}

static json_t *pin_of(const bench_env *env, int cpu_index)
{
    return pin_os(env->cpu[cpu_index]);
}

static json_t *manifest_json(const bench_env *env, const rhb_spec *s, const char *name)
{
    char plugins[PATH_MAX], buf[64];
    snprintf(plugins, sizeof plugins, "%s/bench_plugins", env->bench_dir);
    json_t *m = json_object();
    json_object_set_new(m, "ringhost", json_integer(1));
    json_object_set_new(m, "name", json_string(name));
    json_object_set_new(m, "plugins", json_pack("[s]", plugins));
    json_object_set_new(m, "defaults",
                        json_pack("{s:{s:i, s:s}, s:s, s:i}", "queue", "capacity",
                                  (json_int_t)s->capacity, "backpressure", "block", "wait",
                                  s->wait_spin ? "spin" : "adaptive", "batch",
                                  (json_int_t)s->batch));
    json_t *queues = json_object();
    json_t *kernels = json_array();
    snprintf(buf, sizeof buf, "bench.p%u", s->payload);
    const char *type = buf;
    char plugin[64];
    snprintf(plugin, sizeof plugin, "%s_p%u",
             s->pong ? "bench_pong" : s->isolated == 2 ? "bench_echo_gpu" : "bench_echo",
             s->payload);
    for (uint32_t c = 0; c < s->chains; c++) {
        int cpu = s->spread && (c & 1) ? 0 : 1;
        for (uint32_t d = 0; d <= s->depth; d++) {
            char q[64];
            snprintf(q, sizeof q, "c%u.q%u", c, d);
            json_object_set_new(queues, q, json_pack("{s:s, s:b}", "type", type, "persist",
                                                     s->persist));
        }
        for (uint32_t d = 1; d <= s->depth; d++) {
            char kname[64], qin[64], qout[64];
            snprintf(kname, sizeof kname, "k%u_%u", c, d);
            snprintf(qin, sizeof qin, "c%u.q%u", c, d - 1);
            snprintf(qout, sizeof qout, "c%u.q%u", c, d);
            json_t *pin = json_object();
            if (s->cores) {
                /* workers of one kernel share its pin, and one pin is one
                 * reactor thread: so workers go unpinned, on threads of
                 * their own confined by rhb_launch; a chain's kernels each
                 * get a cpu of their own (wrapping round where short) */
                uint32_t k = rhb_kernel_cpus(env, s), i = c * s->depth + d - 1;
                if (s->workers <= 1)
                    json_object_set_new(pin, "dispatch", pin_os(env->cpus[1 + i % k]));
            } else {
                json_object_set_new(pin, "dispatch", pin_of(env, cpu));
                if (!s->bridge_inline)
                    json_object_set_new(pin, "pump",
                                        pin_of(env, s->spread ? cpu : s->pump_cpu));
            }
            json_t *kj = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}, s:o, s:s}", "name", kname,
                                   "plugin", plugin, "inputs", "in", qin, "outputs", "out", qout,
                                   "pin", pin, "bridge", s->bridge_inline ? "inline" : "thread");
            if (s->workers)
                json_object_set_new(kj, "workers", json_integer((json_int_t)s->workers));
            if (s->isolated)
                json_object_set_new(kj, "isolation",
                                    json_string(s->isolated == 2 ? "cuda" : "process"));
            json_array_append_new(kernels, kj);
        }
    }
    json_object_set_new(m, "queues", queues);
    json_object_set_new(m, "kernels", kernels);
    return m;
}

int rhb_launch(const bench_env *env, const rhb_spec *s, rhb_pipe *p, bench_result *out)
{
    static _Atomic unsigned serial;
    memset(p, 0, sizeof *p);
    char name[64], path[PATH_MAX], logpath[PATH_MAX];
    snprintf(name, sizeof name, "rhbench-%d-%u", (int)getpid(), atomic_fetch_add(&serial, 1));
    snprintf(path, sizeof path, "%s/%s.json", env->work_dir, name);
    snprintf(logpath, sizeof logpath, "%s/%s.log", env->work_dir, name);
    json_t *m = manifest_json(env, s, name);
    int wrc = json_dump_file(m, path, JSON_INDENT(2));
    json_decref(m);
    if (wrc != 0)
        return bench_fail(out, "cannot write %s", path);
    p->log = fopen(logpath, "w+");
    if (!p->log)
        return bench_fail(out, "cannot write %s", logpath);

    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT(.instance = name, .log = p->log);
    rh_error err = {0};
    /* Unpinned workers of a "cores" spec: threads started now inherit this
     * thread's affinity, so it is narrowed to the workers' cpus for the
     * launch and the activation, and given back after. */
    cpu_set_t was;
    int confined = s->cores && s->workers > 1 &&
                   pthread_getaffinity_np(pthread_self(), sizeof was, &was) == 0;
    if (confined) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (uint32_t i = 0; i < rhb_kernel_cpus(env, s); i++)
            CPU_SET(env->cpus[1 + i], &set);
        confined = pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
    }
    uint64_t t0 = bench_now_ns();
    /* The host reads RINGHOST_LATENCY as its workers are made (launch),
     * never after: this thread is the only one, and it sets it back. */
    if (s->no_latency)
        setenv("RINGHOST_LATENCY", "0", 1);
    int launched = rh_runtime_launch(path, &opts, &p->rt, &err) == 0;
    if (s->no_latency)
        unsetenv("RINGHOST_LATENCY");
    int active = launched && rh_runtime_activate(p->rt, &err) == 0;
    if (confined)
        pthread_setaffinity_np(pthread_self(), sizeof was, &was);
    if (launched && !active) {
        rhb_close(p);
        return bench_fail(out, "activate: %s", err.msg);
    }
    if (!launched) {
        fclose(p->log);
        p->log = NULL;
        /* The GPU echo where no GPU can run it (the executor's refusal,
         * RH_EPLACE): not a failure of the case, as the bare GPU cases. */
        if (s->isolated == 2 && err.code == RH_EPLACE)
            return bench_skip(out, "%s", err.msg);
        return bench_fail(out, "launch %s: %s", path, err.msg);
    }
    p->launch_ms = (double)(bench_now_ns() - t0) / 1e6;
    snprintf(p->instance, sizeof p->instance, "%s", name);

    p->chains = s->chains;
    p->in = calloc(s->chains, sizeof *p->in);
    p->out = calloc(s->chains, sizeof *p->out);
    if (!p->in || !p->out) {
        rhb_close(p);
        return bench_fail(out, "out of memory");
    }
    for (uint32_t c = 0; c < s->chains; c++) {
        char q[64];
        snprintf(q, sizeof q, "c%u.q0", c);
        p->in[c] = rh_runtime_queue(p->rt, q);
        snprintf(q, sizeof q, "c%u.q%u", c, s->depth);
        p->out[c] = rh_runtime_queue(p->rt, q);
        if (!p->in[c] || !p->out[c]) {
            rhb_close(p);
            return bench_fail(out, "queue %s missing after launch", q);
        }
    }
    p->stride = rh_queue_payload_size(p->out[0]);
    return 0;
}

int rhb_close(rhb_pipe *p)
{
    int rc = 0;
    if (p->rt) {
        rh_error err = {0};
        if (rh_runtime_state(p->rt) != RH_STATE_TERMINATED &&
            rh_runtime_terminate(p->rt, 5000, &err) != 0)
            rc = -1;
        rh_runtime_destroy(p->rt);
    }
    if (p->log)
        fclose(p->log);
    free(p->in);
    free(p->out);
    memset(p, 0, sizeof *p);
    return rc;
}

uint32_t rhb_thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    uint32_t n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}
