/* clock.c — the one clock every timestamp and timeout uses. */
#include <time.h>

#include "base/clock.h"

uint64_t rh_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * RH_NS_PER_S + (uint64_t)ts.tv_nsec;
}

int64_t rh__wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * (int64_t)RH_NS_PER_S + ts.tv_nsec;
}
