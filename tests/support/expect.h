/*
 * expect.h — cmocka with its prerequisites, and EXPECT(cond, fmt, ...): fail
 * the test with a message that says what was expected and what happened,
 * where cmocka's assert_* would only print the two values.
 */
#ifndef RH_TEST_EXPECT_H
#define RH_TEST_EXPECT_H

#include <setjmp.h> /* cmocka needs these three before it */
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg(__VA_ARGS__);                                                                 \
    } while (0)

#endif /* RH_TEST_EXPECT_H */
