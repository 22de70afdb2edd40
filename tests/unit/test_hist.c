/*
 * test_hist.c — the latency histogram (base/hist.h): bucket edges,
 * quantiles, overflow, the JSON the control socket carries, and one writer
 * thread read by another while it writes.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "expect.h"

#include "base/hist.h"

static rh_hist *new_hist(void)
{
    rh_hist *h = calloc(1, sizeof *h);
    EXPECT(h, "out of memory");
    return h;
}

static void test_values_below_4_ns_have_a_bucket_each(void **state)
{
    (void)state;
    for (uint64_t v = 0; v < 4; v++) {
        EXPECT(rh__hist_index(v) == v, "expected value %llu in bucket %llu, got %u",
               (unsigned long long)v, (unsigned long long)v, rh__hist_index(v));
        EXPECT(rh__hist_lower((uint32_t)v) == v && rh__hist_upper((uint32_t)v) == v + 1,
               "expected bucket %llu to be [%llu, %llu)", (unsigned long long)v,
               (unsigned long long)v, (unsigned long long)v + 1);
    }
}

static void test_every_power_of_two_is_cut_into_4_buckets_whose_edges_hold_their_values(
    void **state)
{
    (void)state;
    /* each bucket holds exactly [lower, upper): its edges and their
     * neighbours land where they should */
    for (uint32_t i = 0; i < RH_HIST_OVERFLOW; i++) {
        uint64_t lo = rh__hist_lower(i), hi = rh__hist_upper(i);
        EXPECT(lo < hi, "bucket %u: expected lower %llu < upper %llu", i,
               (unsigned long long)lo, (unsigned long long)hi);
        EXPECT(rh__hist_index(lo) == i, "bucket %u: its lower edge %llu went to bucket %u", i,
               (unsigned long long)lo, rh__hist_index(lo));
        EXPECT(rh__hist_index(hi - 1) == i, "bucket %u: %llu (upper - 1) went to bucket %u", i,
               (unsigned long long)(hi - 1), rh__hist_index(hi - 1));
        if (i + 1 < RH_HIST_OVERFLOW)
            EXPECT(rh__hist_lower(i + 1) == hi, "bucket %u's upper edge must be the next's lower",
                   i);
        /* at most 25% wide from 4 ns up: the error bound hist.h promises */
        if (lo >= 4)
            EXPECT((hi - lo) * 4 <= lo, "bucket %u [%llu, %llu) is wider than 25%% of its lower "
                   "edge", i, (unsigned long long)lo, (unsigned long long)hi);
    }
    EXPECT(rh__hist_index(1024) == rh__hist_index(1279) && rh__hist_index(1280) ==
           rh__hist_index(1024) + 1, "expected [1024, 1280) as one bucket, 1280 the next's");
    EXPECT(rh__hist_upper(RH_HIST_OVERFLOW - 1) == RH_HIST_MAX_NS,
           "the last bucket must end at RH_HIST_MAX_NS");
}

static void test_values_from_2_to_the_40_ns_land_in_the_overflow_bucket(void **state)
{
    (void)state;
    EXPECT(rh__hist_index(RH_HIST_MAX_NS - 1) == RH_HIST_OVERFLOW - 1,
           "expected 2^40 - 1 in the last bucket");
    EXPECT(rh__hist_index(RH_HIST_MAX_NS) == RH_HIST_OVERFLOW, "expected 2^40 to overflow");
    EXPECT(rh__hist_index(UINT64_MAX) == RH_HIST_OVERFLOW, "expected UINT64_MAX to overflow");
    rh_hist *h = new_hist();
    rh__hist_add(h, 5, 1);
    rh__hist_add(h, RH_HIST_MAX_NS * 3, 1);
    rh_hist_snap s;
    rh__hist_read(h, &s);
    EXPECT(s.count == 2 && s.bucket[RH_HIST_OVERFLOW] == 1,
           "expected 2 counts, 1 in overflow, got %llu and %llu", (unsigned long long)s.count,
           (unsigned long long)s.bucket[RH_HIST_OVERFLOW]);
    EXPECT(rh__hist_quantile(&s, 0.5) == 6, "p50 must be 5's bucket's upper edge 6, got %llu",
           (unsigned long long)rh__hist_quantile(&s, 0.5));
    EXPECT(rh__hist_quantile(&s, 0.99) == RH_HIST_MAX_NS,
           "a quantile in the overflow bucket reads RH_HIST_MAX_NS (at least that), got %llu",
           (unsigned long long)rh__hist_quantile(&s, 0.99));
    free(h);
}

static void test_quantiles_are_the_upper_edge_of_the_bucket_reaching_their_rank(void **state)
{
    (void)state;
    rh_hist *h = new_hist();
    /* 1000 values: 990 of 1 us, 9 of 1 ms, 1 of 1 s */
    rh__hist_add(h, 1000, 990);
    rh__hist_add(h, 1000000, 9);
    rh__hist_add(h, 1000000000, 1);
    rh_hist_snap s;
    rh__hist_read(h, &s);
    uint64_t us = rh__hist_upper(rh__hist_index(1000));
    uint64_t ms = rh__hist_upper(rh__hist_index(1000000));
    uint64_t sec = rh__hist_upper(rh__hist_index(1000000000));
    EXPECT(rh__hist_quantile(&s, 0.5) == us, "p50: expected %llu, got %llu",
           (unsigned long long)us, (unsigned long long)rh__hist_quantile(&s, 0.5));
    EXPECT(rh__hist_quantile(&s, 0.99) == us, "p99 (rank 990): expected %llu, got %llu",
           (unsigned long long)us, (unsigned long long)rh__hist_quantile(&s, 0.99));
    EXPECT(rh__hist_quantile(&s, 0.999) == ms, "p99.9 (rank 999): expected %llu, got %llu",
           (unsigned long long)ms, (unsigned long long)rh__hist_quantile(&s, 0.999));
    EXPECT(rh__hist_quantile(&s, 1.0) == sec, "p100: expected %llu, got %llu",
           (unsigned long long)sec, (unsigned long long)rh__hist_quantile(&s, 1.0));
    EXPECT(s.sum_ns == 990ull * 1000 + 9ull * 1000000 + 1000000000ull,
           "sum: expected every value times its weight, got %llu",
           (unsigned long long)s.sum_ns);
    /* within 25% above the true value */
    EXPECT(us >= 1000 && us <= 1250, "p50 %llu must be within [1000, 1250]",
           (unsigned long long)us);
    rh_hist_snap empty;
    memset(&empty, 0, sizeof empty);
    EXPECT(rh__hist_quantile(&empty, 0.5) == 0, "an empty histogram's p50 is 0");
    free(h);
}

static void test_json_round_trip_and_merge_keep_every_count(void **state)
{
    (void)state;
    rh_hist *a = new_hist(), *b = new_hist();
    rh__hist_add(a, 3, 2);
    rh__hist_add(a, 5000000, 7);
    rh__hist_add(b, 5000000, 1);
    rh__hist_add(b, RH_HIST_MAX_NS, 4);
    rh_hist_snap sa, sb, merged;
    rh__hist_read(a, &sa);
    rh__hist_read(b, &sb);
    memset(&merged, 0, sizeof merged);
    json_t *ja = rh__hist_to_json(&sa), *jb = rh__hist_to_json(&sb);
    EXPECT(ja && jb, "rh__hist_to_json returned NULL");
    EXPECT(json_integer_value(json_object_get(ja, "count")) == 9 &&
           json_integer_value(json_object_get(jb, "overflow")) == 4,
           "expected count 9 and overflow 4 in the JSON");
    EXPECT(rh__hist_add_json(&merged, ja) == 0 && rh__hist_add_json(&merged, jb) == 0,
           "rh__hist_add_json refused rh__hist_to_json's own output");
    EXPECT(merged.count == 14, "merged: expected 14 counts, got %llu",
           (unsigned long long)merged.count);
    EXPECT(merged.bucket[rh__hist_index(5000000)] == 8 && merged.bucket[3] == 2 &&
           merged.bucket[RH_HIST_OVERFLOW] == 4,
           "merged: every count must land in the bucket it came from");
    EXPECT(merged.sum_ns == sa.sum_ns + sb.sum_ns, "merged: sums must add");
    json_t *bad = json_pack("{s:[[i,i]], s:i, s:i}", "buckets", 0, 1, "sum_ns", 0, "overflow",
                            0);
    EXPECT(rh__hist_add_json(&merged, bad) == -1, "an upper edge of 0 must be refused");
    EXPECT(rh__hist_add_json(&merged, NULL) == -1, "NULL must be refused");
    json_decref(ja);
    json_decref(jb);
    json_decref(bad);
    free(a);
    free(b);
}

static void test_ns_text_keeps_3_significant_digits(void **state)
{
    (void)state;
    char buf[16];
    EXPECT(!strcmp(rh__hist_ns_text(850, buf), "850ns"), "850 ns: got %s", buf);
    EXPECT(!strcmp(rh__hist_ns_text(12345, buf), "12.3us"), "12345 ns: got %s", buf);
    EXPECT(!strcmp(rh__hist_ns_text(5242880, buf), "5.24ms"), "5242880 ns: got %s", buf);
    EXPECT(!strcmp(rh__hist_ns_text(1500000000, buf), "1.50s"), "1.5 s: got %s", buf);
}

/* One writer, as a worker: the reader's copies only ever grow, and the
 * count it derives always equals the sum of the buckets it read. */
#define WRITES 200000
static void *writer(void *arg)
{
    rh_hist *h = arg;
    for (uint64_t i = 0; i < WRITES; i++)
        rh__hist_add(h, (i * 2654435761u) % 100000000, 1);
    return NULL;
}

static void test_a_reader_sees_counts_that_only_grow_while_one_thread_writes(void **state)
{
    (void)state;
    rh_hist *h = new_hist();
    pthread_t t;
    EXPECT(pthread_create(&t, NULL, writer, h) == 0, "pthread_create failed");
    rh_hist_snap s;
    uint64_t last = 0;
    do {
        rh__hist_read(h, &s);
        EXPECT(s.count >= last, "count went back from %llu to %llu", (unsigned long long)last,
               (unsigned long long)s.count);
        last = s.count;
    } while (s.count < WRITES);
    pthread_join(t, NULL);
    rh__hist_read(h, &s);
    EXPECT(s.count == WRITES, "expected %d counts once the writer is joined, got %llu", WRITES,
           (unsigned long long)s.count);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_below_4_ns_have_a_bucket_each),
        cmocka_unit_test(
            test_every_power_of_two_is_cut_into_4_buckets_whose_edges_hold_their_values),
        cmocka_unit_test(test_values_from_2_to_the_40_ns_land_in_the_overflow_bucket),
        cmocka_unit_test(test_quantiles_are_the_upper_edge_of_the_bucket_reaching_their_rank),
        cmocka_unit_test(test_json_round_trip_and_merge_keep_every_count),
        cmocka_unit_test(test_ns_text_keeps_3_significant_digits),
        cmocka_unit_test(test_a_reader_sees_counts_that_only_grow_while_one_thread_writes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
