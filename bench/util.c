/* util.c — the small helpers every scenario shares: clock, pinning, thread
 * start, quantiles, per-thread CPU time, and how a figure is printed. */
#define _GNU_SOURCE /* CPU_SET, pthread_*affinity_np */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "bench_pvt.h"

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int bench_pin_self(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    return rc ? -rc : 0;
}

/* The affinity goes into the attributes, so the thread is on its cpu from
 * its first instruction: no case code ever runs on the wrong core. */
int bench_thread_start(pthread_t *t, int cpu, void *(*fn)(void *), void *arg)
{
    pthread_attr_t attr;
    int rc = pthread_attr_init(&attr);
    if (rc)
        return -rc;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    rc = pthread_attr_setaffinity_np(&attr, sizeof set, &set);
    if (!rc)
        rc = pthread_create(t, &attr, fn, arg);
    pthread_attr_destroy(&attr);
    return rc ? -rc : 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest rank on the sorted samples: q = 0.5 of 4 samples is the 3rd
 * (index round(0.5 * 3) = 2), q = 1 is the largest. */
uint64_t bench_quantile(uint64_t *v, uint32_t n, double q)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_u64);
    if (q <= 0)
        return v[0];
    if (q >= 1)
        return v[n - 1];
    return v[(uint32_t)(q * (double)(n - 1) + 0.5)];
}

uint64_t bench_thread_cpu_ns(pthread_t t)
{
    clockid_t id;
    struct timespec ts;
    if (pthread_getcpuclockid(t, &id) != 0 || clock_gettime(id, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Rates ("msg/s", "B/s"...) get an SI prefix; everything else (ns, ms,
 * GB/s, %, threads) is already in a readable unit. */
void bench_format(char *buf, size_t len, double value, const char *unit)
{
    size_t ul = strlen(unit);
    int rate = ul > 2 && strcmp(unit + ul - 2, "/s") == 0 && strcmp(unit, "GB/s") != 0;
    double a = fabs(value);
    if (rate && a >= 1e9)
        snprintf(buf, len, "%.2f G %s", value / 1e9, unit);
    else if (rate && a >= 1e6)
        snprintf(buf, len, "%.1f M %s", value / 1e6, unit);
    else if (rate && a >= 1e4)
        snprintf(buf, len, "%.1f k %s", value / 1e3, unit);
    else if (a != 0 && a < 10)
        snprintf(buf, len, "%.3g %s", value, unit);
    else if (a < 100)
        snprintf(buf, len, "%.1f %s", value, unit);
    else
        snprintf(buf, len, "%.0f %s", value, unit);
}
