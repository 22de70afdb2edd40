/*
 * hist.h — a latency histogram: counters only, written by one thread,
 * read by any.
 *
 * Buckets are log-linear, as HdrHistogram's with two bits of sub-bucket
 * precision: values 0..3 ns have a bucket each, and every power of two
 * [2^e, 2^(e+1)) above is cut into 4 equal buckets, so a bucket is at most
 * 25% as wide as its lower edge (a percentile read from it is within 25%
 * above the true value, 12.5% either side of its middle).  Values from
 * RH_HIST_MAX_NS (2^40 ns, about 18 minutes) up land in one overflow
 * bucket.  157 counters, 1.3 KB: small enough to sit in every worker (a
 * child process's workers are shared memory, exec_process.c, so its
 * counters are the host's to read with no copy).
 *
 * Writing (rh__hist_add) is one thread's only — the worker's — so a bucket
 * is a relaxed load and store, no locked instruction.  A reader copies the
 * counters with relaxed loads (rh__hist_read): each bucket it reads is a
 * count that was true at some moment, never torn; the copy is not one
 * instant (a record may land in the buckets read after it and not those
 * before), so a reader derives count from the buckets it read, never from
 * a separate counter: percentiles and a Prometheus _count always agree
 * with the buckets shown.  sum_ns may be ahead or behind by the records
 * made during the copy (a few per copy, out of a total that only grows).
 */
#ifndef RH_BASE_HIST_H
#define RH_BASE_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define RH_HIST_SUB_BITS 2
#define RH_HIST_SUB (1u << RH_HIST_SUB_BITS)        /* buckets per power of two */
#define RH_HIST_MAX_EXP 40                          /* values < 2^40 ns are bucketed */
#define RH_HIST_MAX_NS (1ull << RH_HIST_MAX_EXP)
#define RH_HIST_OVERFLOW (RH_HIST_SUB * (RH_HIST_MAX_EXP - RH_HIST_SUB_BITS + 1))
#define RH_HIST_BUCKETS (RH_HIST_OVERFLOW + 1)      /* 157 */

typedef struct rh_hist {
    _Atomic uint64_t bucket[RH_HIST_BUCKETS];
    _Atomic uint64_t sum_ns;                        /* sum of every value, times its weight */
} rh_hist;

/* A reader's copy (rh__hist_read), or the sum of several (rh__hist_merge). */
typedef struct rh_hist_snap {
    uint64_t bucket[RH_HIST_BUCKETS];
    uint64_t count;                                 /* sum of bucket[] */
    uint64_t sum_ns;
} rh_hist_snap;

/* The bucket of a value in ns. */
static inline uint32_t rh__hist_index(uint64_t v)
{
    if (v < RH_HIST_SUB)
        return (uint32_t)v;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(v); /* >= RH_HIST_SUB_BITS */
    if (e >= RH_HIST_MAX_EXP)
        return RH_HIST_OVERFLOW;
    return RH_HIST_SUB * (e - RH_HIST_SUB_BITS + 1) +
           (uint32_t)((v >> (e - RH_HIST_SUB_BITS)) & (RH_HIST_SUB - 1));
}

/*
 * Record value v (ns) n times: rh__hist_count (its bucket) and rh__hist_sum
 * (v * n, or the sum of several counts at once), or rh__hist_add (both).
 * The owner thread's only: a relaxed load and store per counter (no RMW:
 * nobody else writes them), read by rh__hist_read's relaxed loads; no
 * ordering with anything else is needed, each counter stands alone.
 */
static inline void rh__hist_count(rh_hist *h, uint64_t v, uint64_t n)
{
    _Atomic uint64_t *b = &h->bucket[rh__hist_index(v)];
    atomic_store_explicit(b, atomic_load_explicit(b, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void rh__hist_sum(rh_hist *h, uint64_t sum_ns)
{
    atomic_store_explicit(&h->sum_ns,
                          atomic_load_explicit(&h->sum_ns, memory_order_relaxed) + sum_ns,
                          memory_order_relaxed);
}

static inline void rh__hist_add(rh_hist *h, uint64_t v, uint64_t n)
{
    rh__hist_count(h, v, n);
    rh__hist_sum(h, v * n);
}

/* The lower (inclusive) and upper (exclusive) edges of bucket i in ns; the
 * overflow bucket's upper edge is UINT64_MAX. */
uint64_t rh__hist_lower(uint32_t i);
uint64_t rh__hist_upper(uint32_t i);

/* A copy of h's counters, count derived from the buckets (see above). */
void rh__hist_read(const rh_hist *h, rh_hist_snap *out);

/* into += from. */
void rh__hist_merge(rh_hist_snap *into, const rh_hist_snap *from);

/*
 * The q-quantile (0 < q <= 1, e.g. 0.5, 0.99, 0.999) in ns: the upper
 * edge of the first bucket whose cumulative count reaches ceil(q * count),
 * so the true value is at most the one returned, and more than 80% of it.
 * 0 for an empty histogram; RH_HIST_MAX_NS when the quantile lies in the
 * overflow bucket (the value is at least that).
 */
uint64_t rh__hist_quantile(const rh_hist_snap *s, double q);

/* ns as a person reads a latency, 3 significant digits: "850ns",
 * "12.3us", "5.24ms", "1.50s"; into buf[16]. */
const char *rh__hist_ns_text(uint64_t ns, char *buf);

/*
 * As JSON: {"count", "sum_ns", "p50_ns", "p99_ns", "p999_ns", "overflow",
 * "buckets": [[upper_ns, count], ...]} with the non-empty buckets below
 * the overflow only, in order (upper_ns exclusive).  NULL without memory.
 */
struct json_t *rh__hist_to_json(const rh_hist_snap *s);

/* Add what rh__hist_to_json wrote to s (merging several edges' into one);
 * 0, or -1 when o is not such an object. */
int rh__hist_add_json(rh_hist_snap *s, const struct json_t *o);

#endif /* RH_BASE_HIST_H */
