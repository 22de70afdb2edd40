/*
 * base_nats.h — what the remote cases share: a nats-server of the
 * repetition's own, and the message counts.
 *
 * The bare C client cases (base_nats.c) and ringhost's remote cases (two
 * ringhost hosts linked through the same kind of server, rh_remote.c once the
 * remote layer lands) start their server the same way, so that their figures
 * compare: `nats-server -js` on a free loopback port, its folder under the
 * bench's work_dir, JetStream file storage, default settings otherwise;
 * one server per repetition, stopped by pid (and its folder removed) before
 * the repetition returns.
 */
#ifndef RH_BENCH_BASE_NATS_H
#define RH_BENCH_BASE_NATS_H

#include <stddef.h>

#include "bench.h"
#include "natsd.h"

/* Messages per throughput repetition: a fixed count (the pipeline is timed
 * from the first publish to the last message fetched and acked). */
#define BENCH_NATS_PIPE_MSGS 50000u
#define BENCH_NATS_PIPE_MSGS_QUICK 5000u
/* Round trips per latency repetition (after BENCH_NATS_RTT_WARMUP): far
 * fewer than env->rtt_samples, a JetStream round trip is ~1000x a ring's. */
#define BENCH_NATS_RTT_SAMPLES 2000u
#define BENCH_NATS_RTT_SAMPLES_QUICK 300u
#define BENCH_NATS_RTT_WARMUP 50u
/* A repetition that has not finished by then failed (a stalled server). */
#define BENCH_NATS_DEADLINE_S 60.0

/* Start a server for one repetition in a fresh folder under env->work_dir.
 * 0; or -1 with the reason (naming the binary or quoting the server's log)
 * in err, nothing left running. */
int bench_nats_start(const bench_env *env, natsd *d, char *err, size_t len);

/* Stop it (SIGTERM, SIGKILL after 10 s) and remove its folder. */
void bench_nats_stop(natsd *d);

#endif /* RH_BENCH_BASE_NATS_H */
