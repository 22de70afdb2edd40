/* clock.c — the one clock every timestamp and timeout uses. */
#include <time.h>

#include "ringhost/ringhost.h"

uint64_t rh_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
