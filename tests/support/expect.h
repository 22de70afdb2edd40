/*
 * expect.h — cmocka with its prerequisites, and
 *
 *  - EXPECT(cond, fmt, ...): fail the test with a message that says what
 *    was expected and what happened, where cmocka's assert_* would only
 *    print the two values;
 *  - WAIT_UNTIL(within_s, cond) / EXPECT_WITHIN(within_s, cond, fmt, ...):
 *    wait for a condition with a deadline.  cond is re-evaluated every
 *    WAIT_POLL_MS (WAIT_UNTIL_EVERY: every poll_ms) until it holds or
 *    within_s seconds have passed;
 *    WAIT_UNTIL yields whether it held, EXPECT_WITHIN fails the test with
 *    the message when it did not.  The deadline only bounds a failing test
 *    (a passing one goes on as soon as cond holds), so make it generous:
 *    sanitizer builds on a loaded machine are slow;
 *  - sleep_ms(ms): for the few waits that are the behaviour under test
 *    ("nothing arrives within 200 ms", "stall for longer than watchdog_ms"),
 *    where there is no condition to wait for.  Say why at each call.
 */
#ifndef RH_TEST_EXPECT_H
#define RH_TEST_EXPECT_H

#include <setjmp.h> /* cmocka needs these three before it */
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <time.h>

#include <cmocka.h>

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg(__VA_ARGS__);                                                                 \
    } while (0)

/* How often WAIT_UNTIL re-evaluates its condition. */
#define WAIT_POLL_MS 5

/* Seconds on CLOCK_MONOTONIC. */
static inline double expect_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* a signal: sleep the rest */
    }
}

/* 1 as soon as cond holds, 0 when it still does not after within_s s;
 * cond is evaluated every poll_ms (WAIT_UNTIL: every WAIT_POLL_MS; a cond
 * that runs a command deserves a slower pace, one racing a fast producer a
 * faster one). */
#define WAIT_UNTIL_EVERY(within_s, poll_ms, cond)                                                  \
    ({                                                                                             \
        double wait_until_end_ = expect_now_s() + (within_s);                                      \
        int wait_until_ok_;                                                                        \
        while (!(wait_until_ok_ = !!(cond)) && expect_now_s() < wait_until_end_)                   \
            sleep_ms(poll_ms);                                                                     \
        wait_until_ok_;                                                                            \
    })
#define WAIT_UNTIL(within_s, cond) WAIT_UNTIL_EVERY(within_s, WAIT_POLL_MS, cond)

#define EXPECT_WITHIN(within_s, cond, ...)                                                         \
    do {                                                                                           \
        if (!WAIT_UNTIL(within_s, cond))                                                           \
            fail_msg(__VA_ARGS__);                                                                 \
    } while (0)

#endif /* RH_TEST_EXPECT_H */
