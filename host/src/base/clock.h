/*
 * clock.h — the units of time inside the host.  Every timestamp is
 * rh_now_ns() (CLOCK_MONOTONIC, ns; declared in ringhost.h); manifests and
 * the API speak milliseconds.  One constant per conversion, so no file
 * writes 1000000 by hand.
 */
#ifndef RH_BASE_CLOCK_H
#define RH_BASE_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "ringhost/ringhost.h"

#define RH_NS_PER_US 1000ull
#define RH_NS_PER_MS 1000000ull
#define RH_NS_PER_S 1000000000ull

/* CLOCK_REALTIME in ns since the epoch: for times a person reads, or that
 * another process compares across hosts' lifetimes (a queue's created_ns
 * and heartbeat_ns); never for a timeout or a duration (rh_now_ns). */
int64_t rh__wall_ns(void);

/* The rh_now_ns() time ms milliseconds from now; a negative ms means no
 * deadline (UINT64_MAX). */
static inline uint64_t rh_deadline_after_ms(int64_t ms)
{
    return ms < 0 ? UINT64_MAX : rh_now_ns() + (uint64_t)ms * RH_NS_PER_MS;
}

/* A duration or a CLOCK_MONOTONIC time in ns, as a struct timespec. */
static inline struct timespec rh_timespec_of_ns(uint64_t ns)
{
    struct timespec ts = {(time_t)(ns / RH_NS_PER_S), (long)(ns % RH_NS_PER_S)};
    return ts;
}

#endif /* RH_BASE_CLOCK_H */
