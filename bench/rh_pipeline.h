/*
 * rh_pipeline.h — launching ringhost echo pipelines for the benchmark.
 *
 * A pipeline is `chains` independent chains of `depth` bench_echo kernels:
 *     c<i>.q0 -> k<i>_1 -> c<i>.q1 -> ... -> k<i>_<depth> -> c<i>.q<depth>
 * written as a real manifest into the bench's scratch folder and launched
 * through the embedding API (rh_runtime_launch), exactly as `ringhost run`
 * would.  The client side of a chain is its first and last queue.
 */
#ifndef RH_BENCH_PIPELINE_H
#define RH_BENCH_PIPELINE_H

#include <stdint.h>

#include "bench.h"
#include "ringhost/ringhost.h"

typedef struct rhb_spec {
    uint32_t payload;   /* bytes: picks the plugin bench_echo_p<payload> */
    uint32_t depth;     /* kernels per chain, >= 1 */
    uint32_t chains;    /* independent chains, >= 1 */
    uint32_t capacity;  /* slots per named queue */
    uint32_t batch;     /* the kernels' batch */
    int bridge_inline;  /* "inline" or "thread" */
    int wait_spin;      /* "spin" or "adaptive" */
    int spread;         /* 0: every kernel on cpu[1]; 1: chains alternate cpu[1], cpu[0] */
    int pump_cpu;       /* thread mode: the env->cpu[] index the pumps are pinned to */
    int pong;           /* 1: the kernels are bench_pong_p<payload> (answer the header
                         * in a reserved slot) instead of bench_echo_p<payload> */
    uint32_t workers;   /* each kernel's "workers" (0: left out, the default 1) */
    int persist;        /* every queue "persist": true */
    int isolated;       /* each kernel "isolation": "process" (a thread bridge) */
    int cores;          /* spread over env->cpus[1..] (see rhb_kernel_cpus): kernel d of a
                         * chain pinned to the d-th of them; with workers, no pin, and the
                         * workers' threads confined to the first `workers` of them */
    int no_latency;     /* launched with RINGHOST_LATENCY=0: nothing recorded */
} rhb_spec;

typedef struct rhb_pipe {
    rh_runtime *rt;
    char instance[64];  /* the instance name: other processes attach its queues by it */
    uint32_t chains;
    rh_queue **in;      /* per chain: where the client sends */
    rh_queue **out;     /* per chain: where the answers come back */
    uint32_t stride;    /* bytes of one receive buffer (the slot's payload size) */
    double launch_ms;   /* rh_runtime_launch + rh_runtime_activate */
    FILE *log;          /* the runtime's log (a scratch file) */
} rhb_pipe;

/* At most this many bytes of messages in one queue or in flight, as the
 * rte_ring baseline caps its rings (so large payloads are not measured
 * against main memory while the baselines run in cache). */
#define BENCH_INFLIGHT_BYTES (4u << 20)

/* limit halved (not below 64) until limit messages of payload bytes (plus
 * their envelopes) fit in BENCH_INFLIGHT_BYTES. */
uint32_t rhb_bytes_bound(uint32_t limit, uint32_t payload);

/* A spec with the defaults of the benchmark: 64 B, depth 1, one chain,
 * 4096 slots (fewer for large payloads, see rhb_bytes_bound), batch 32,
 * thread bridges on cpu[1], adaptive waiting; kernel rings sized by the
 * host's default. */
rhb_spec rhb_spec_from(const bench_params *p);

/* Write the manifest, launch and activate.  0, or -1 after bench_fail(out). */
int rhb_launch(const bench_env *env, const rhb_spec *spec, rhb_pipe *pipe, bench_result *out);

/* Terminate (draining) and destroy.  Returns 0, or -1 when terminate
 * reported a problem. */
int rhb_close(rhb_pipe *pipe);

/* How many of env->cpus[1..] the kernel threads of a "cores" spec use:
 * one per worker or per kernel of the chain, at most n_cpus - 1. */
uint32_t rhb_kernel_cpus(const bench_env *env, const rhb_spec *spec);

/* Threads in this process now (from /proc/self/task). */
uint32_t rhb_thread_count(void);

#endif /* RH_BENCH_PIPELINE_H */
