/*
 * test_id.c — message ids: unique, UUID-shaped, and their two text forms.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "expect.h"

#include "ringhost/ringhost.h"

/* Fail with a sentence saying what was expected. */

static int cmp_id(const void *a, const void *b)
{
    const rh_id *x = a, *y = b;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return 0;
}

static void expect_all_distinct(rh_id *ids, size_t n)
{
    qsort(ids, n, sizeof ids[0], cmp_id);
    for (size_t i = 0; i < n; i++) {
        EXPECT(!rh_id_is_zero(ids[i]), "rh_id_new must never return the all-zero id");
        if (i > 0)
            EXPECT(!rh_id_eq(ids[i - 1], ids[i]),
                   "expected %zu distinct ids, found a duplicate %016llx%016llx", n,
                   (unsigned long long)ids[i].hi, (unsigned long long)ids[i].lo);
    }
}

static void test_new_ids_are_unique_over_100k(void **state)
{
    (void)state;
    enum { N = 100000 };
    rh_id *ids = malloc(N * sizeof *ids);
    assert_non_null(ids);
    for (size_t i = 0; i < N; i++)
        ids[i] = rh_id_new();
    expect_all_distinct(ids, N);
    free(ids);
}

enum { PER_THREAD = 20000 };

static void *make_ids(void *arg)
{
    rh_id *out = arg;
    for (size_t i = 0; i < PER_THREAD; i++)
        out[i] = rh_id_new();
    return NULL;
}

static void test_ids_from_different_threads_are_unique(void **state)
{
    (void)state;
    rh_id *ids = malloc(4 * PER_THREAD * sizeof *ids);
    assert_non_null(ids);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, make_ids, ids + i * PER_THREAD), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    expect_all_distinct(ids, 4 * PER_THREAD);
    free(ids);
}

static void test_new_id_has_uuid_v8_version_and_variant_bits(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        rh_id id = rh_id_new();
        EXPECT(((id.hi >> 12) & 0xf) == 8, "expected version nibble 8, got %llx",
               (unsigned long long)((id.hi >> 12) & 0xf));
        EXPECT((id.lo >> 62) == 2, "expected RFC 4122 variant bits 10, got %llx",
               (unsigned long long)(id.lo >> 62));
    }
}

/* A child inherits the parent thread's id state; without the fork handler
 * its next id would be exactly the parent's next id. */
static void test_a_forked_child_never_repeats_the_parents_next_ids(void **state)
{
    (void)state;
    (void)rh_id_new(); /* the parent's stream exists before the fork */
    int fds[2];
    EXPECT(pipe(fds) == 0, "pipe failed");
    pid_t pid = fork();
    EXPECT(pid >= 0, "fork failed");
    if (pid == 0) {
        rh_id child[64];
        for (int i = 0; i < 64; i++)
            child[i] = rh_id_new();
        ssize_t w = write(fds[1], child, sizeof child);
        _exit(w == (ssize_t)sizeof child ? 0 : 1);
    }
    rh_id parent[64], child[64];
    for (int i = 0; i < 64; i++)
        parent[i] = rh_id_new();
    ssize_t got = 0;
    while (got < (ssize_t)sizeof child) {
        ssize_t r = read(fds[0], (char *)child + got, sizeof child - (size_t)got);
        EXPECT(r > 0, "the child sent %zd of %zu bytes", got, sizeof child);
        got += r;
    }
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    close(fds[1]);
    for (int i = 0; i < 64; i++)
        for (int j = 0; j < 64; j++)
            EXPECT(!rh_id_eq(parent[i], child[j]),
                   "parent id %d equals child id %d: the child repeated the parent's ids", i, j);
}

static void test_format_writes_8_4_4_4_12_lowercase_hex(void **state)
{
    (void)state;
    rh_id id = {0x0123456789abcdefull, 0xfedcba9876543210ull};
    char buf[37];
    rh_id_format(id, buf);
    EXPECT(strcmp(buf, "01234567-89ab-cdef-fedc-ba9876543210") == 0,
           "expected 01234567-89ab-cdef-fedc-ba9876543210, got %s", buf);
}

static void test_parse_round_trips_the_dashed_form(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        rh_id id = rh_id_new(), back = {0, 0};
        char buf[37];
        rh_id_format(id, buf);
        EXPECT(strlen(buf) == 36, "expected 36 characters, got \"%s\"", buf);
        EXPECT(rh_id_parse(buf, &back) == 0, "expected \"%s\" to parse", buf);
        EXPECT(rh_id_eq(id, back), "expected \"%s\" to parse back to the same id", buf);
    }
}

static void test_parse_round_trips_the_32_hex_digit_form(void **state)
{
    (void)state;
    for (int i = 0; i < 1000; i++) {
        rh_id id = rh_id_new(), back = {0, 0};
        char dashed[37], plain[33];
        rh_id_format(id, dashed);
        size_t k = 0;
        for (const char *p = dashed; *p; p++)
            if (*p != '-')
                plain[k++] = *p;
        plain[k] = '\0';
        EXPECT(rh_id_parse(plain, &back) == 0, "expected 32 hex digits \"%s\" to parse", plain);
        EXPECT(rh_id_eq(id, back), "expected \"%s\" to equal the dashed form %s", plain, dashed);
    }
}

static void test_parse_accepts_uppercase_hex(void **state)
{
    (void)state;
    rh_id id;
    EXPECT(rh_id_parse("01234567-89AB-CDEF-FEDC-BA9876543210", &id) == 0,
           "expected uppercase hex to parse");
    EXPECT(id.hi == 0x0123456789abcdefull && id.lo == 0xfedcba9876543210ull,
           "expected the uppercase text to give the same id as lowercase");
}

static void test_parse_rejects_bad_input(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "0123",
        "01234567-89ab-cdef-fedc-ba987654321",   /* 35 */
        "01234567-89ab-cdef-fedc-ba98765432100", /* 37 */
        "01234567-89ab-cdef-fedc-ba987654321g",  /* non-hex */
        "0123456789-ab-cdef-fedc-ba9876543210",  /* dash misplaced */
        "01234567089ab0cdef0fedc0ba9876543210",  /* 36 chars, no dashes */
        "0123456789abcdeffedcba987654321",       /* 31 digits */
        "0123456789abcdeffedcba98765432100",     /* 33 digits */
        "0123456789abcdeffedcba987654321 ",      /* trailing space */
        "{0123456789abcdeffedcba9876543210}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rh_id id = {7, 7};
        int rc = rh_id_parse(bad[i], &id);
        EXPECT(rc == RH_EINVAL, "expected RH_EINVAL for \"%s\", got %d", bad[i], rc);
        EXPECT(id.hi == 7 && id.lo == 7, "a failed parse of \"%s\" must leave *out alone",
               bad[i]);
    }
    rh_id id;
    EXPECT(rh_id_parse(NULL, &id) == RH_EINVAL, "expected RH_EINVAL for NULL text");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_ids_are_unique_over_100k),
        cmocka_unit_test(test_ids_from_different_threads_are_unique),
        cmocka_unit_test(test_new_id_has_uuid_v8_version_and_variant_bits),
        cmocka_unit_test(test_a_forked_child_never_repeats_the_parents_next_ids),
        cmocka_unit_test(test_format_writes_8_4_4_4_12_lowercase_hex),
        cmocka_unit_test(test_parse_round_trips_the_dashed_form),
        cmocka_unit_test(test_parse_round_trips_the_32_hex_digit_form),
        cmocka_unit_test(test_parse_accepts_uppercase_hex),
        cmocka_unit_test(test_parse_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
