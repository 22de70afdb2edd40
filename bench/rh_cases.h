/*
 * rh_cases.h — ringhost's benchmark cases (rh_echo.c, rh_host.c); rh_cases.c
 * registers them under their names (see bench_register_ringhost).
 */
#ifndef RH_BENCH_CASES_H
#define RH_BENCH_CASES_H

#include "bench.h"

/* Echo pipeline throughput: msgs_per_s, gb_per_s. */
int rhb_echo_throughput(const bench_env *env, const bench_params *p, bench_result *out);
/* Echo round trip, one message at a time: rtt_p50_ns, rtt_p99_ns, rtt_p999_ns. */
int rhb_echo_rtt(const bench_env *env, const bench_params *p, bench_result *out);
/* p->kernels echo kernels on the two cores: launch_ms, threads, answered_pct,
 * msgs_per_s (all kernels at once), terminate_ms. */
int rhb_kernels(const bench_env *env, const bench_params *p, bench_result *out);
/* rh_send alone, 64 B, no contention: send_p50_ns, send_p99_ns, and
 * send_burst_p50_ns (per message, rh_send_burst of 32). */
int rhb_send_latency(const bench_env *env, const bench_params *p, bench_result *out);
/* One named queue, producer thread to consumer thread, bursts of p->batch
 * 64-byte messages (the rte_ring.hop of ringhost): msgs_per_s. */
int rhb_queue_hop(const bench_env *env, const bench_params *p, bench_result *out);
/* The same round trip with the client in another process attached by
 * instance (rh_xproc.c), through bench_pong: rtt_p50_ns, rtt_p99_ns,
 * rtt_p999_ns. */
int rhb_xproc_rtt(const bench_env *env, const bench_params *p, bench_result *out);
/* Echo throughput from a client in another process: msgs_per_s, gb_per_s. */
int rhb_xproc_echo(const bench_env *env, const bench_params *p, bench_result *out);
/* CPU the process uses over 2 s with an idle echo host: cpu_pct. */
int rhb_idle(const bench_env *env, const bench_params *p, bench_result *out);

#ifdef BENCH_RH_REMOTE
/* The hook for ringhost's remote cases, compiled in once
 * bench/rh_remote.c exists (bench/CMakeLists.txt defines BENCH_RH_REMOTE).
 * Each repetition starts its own nats-server with bench_nats_start()
 * (base_nats.h), as the bare cases do, and two ringhost hosts linked
 * through it (one exporting, one importing), 64-byte messages:
 *  rhb_remote_throughput  N messages (BENCH_NATS_PIPE_MSGS[_QUICK]) sent
 *                         into the exporting host, received from the
 *                         importing one, as a pipeline: msgs_per_s;
 *  rhb_remote_rtt         request through JetStream to a kernel host and its
 *                         answer back: rtt_p50_ns, rtt_p99_ns.
 * bench/targets.c compares them with nats.remote.pipe.p64 and
 * nats.remote.rtt.p64. */
int rhb_remote_throughput(const bench_env *env, const bench_params *p, bench_result *out);
int rhb_remote_rtt(const bench_env *env, const bench_params *p, bench_result *out);
#endif

#endif /* RH_BENCH_CASES_H */
