/*
 * hist.c — the latency histogram's readers (hist.h): bucket edges, a
 * copy, merging, quantiles and the JSON the control socket carries.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "base/hist.h"

uint64_t rh__hist_lower(uint32_t i)
{
    if (i < RH_HIST_SUB)
        return i;
    if (i >= RH_HIST_OVERFLOW)
        return RH_HIST_MAX_NS;
    uint32_t e = i / RH_HIST_SUB + RH_HIST_SUB_BITS - 1, sub = i % RH_HIST_SUB;
    return (uint64_t)(RH_HIST_SUB + sub) << (e - RH_HIST_SUB_BITS);
}

uint64_t rh__hist_upper(uint32_t i)
{
    return i >= RH_HIST_OVERFLOW ? UINT64_MAX : rh__hist_lower(i + 1);
}

void rh__hist_read(const rh_hist *h, rh_hist_snap *out)
{
    out->count = 0;
    for (uint32_t i = 0; i < RH_HIST_BUCKETS; i++) {
        /* relaxed, paired with rh__hist_add's relaxed stores: each counter
         * alone is what matters (hist.h) */
        out->bucket[i] = atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
        out->count += out->bucket[i];
    }
    out->sum_ns = atomic_load_explicit(&h->sum_ns, memory_order_relaxed);
}

void rh__hist_merge(rh_hist_snap *into, const rh_hist_snap *from)
{
    for (uint32_t i = 0; i < RH_HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
    into->count += from->count;
    into->sum_ns += from->sum_ns;
}

uint64_t rh__hist_quantile(const rh_hist_snap *s, double q)
{
    if (s->count == 0)
        return 0;
    double want = ceil(q * (double)s->count);
    uint64_t rank = want < 1 ? 1 : want > (double)s->count ? s->count : (uint64_t)want;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < RH_HIST_OVERFLOW; i++) {
        seen += s->bucket[i];
        if (seen >= rank)
            return rh__hist_upper(i);
    }
    return RH_HIST_MAX_NS;
}

const char *rh__hist_ns_text(uint64_t ns, char *buf)
{
    static const struct {
        double div;
        const char *unit;
    } units[] = {{1e9, "s"}, {1e6, "ms"}, {1e3, "us"}};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if ((double)ns >= units[i].div) {
            double v = (double)ns / units[i].div;
            snprintf(buf, 16, v >= 100 ? "%.0f%s" : v >= 10 ? "%.1f%s" : "%.2f%s", v,
                     units[i].unit);
            return buf;
        }
    snprintf(buf, 16, "%lluns", (unsigned long long)ns);
    return buf;
}

json_t *rh__hist_to_json(const rh_hist_snap *s)
{
    json_t *b = json_array();
    for (uint32_t i = 0; b && i < RH_HIST_OVERFLOW; i++)
        if (s->bucket[i])
            json_array_append_new(b, json_pack("[I, I]", (json_int_t)rh__hist_upper(i),
                                               (json_int_t)s->bucket[i]));
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o*}", "count", (json_int_t)s->count,
                     "sum_ns", (json_int_t)s->sum_ns, "p50_ns",
                     (json_int_t)rh__hist_quantile(s, 0.5), "p99_ns",
                     (json_int_t)rh__hist_quantile(s, 0.99), "p999_ns",
                     (json_int_t)rh__hist_quantile(s, 0.999), "overflow",
                     (json_int_t)s->bucket[RH_HIST_OVERFLOW], "buckets", b);
}

int rh__hist_add_json(rh_hist_snap *s, const json_t *o)
{
    json_t *b = json_object_get(o, "buckets");
    json_t *sum = json_object_get(o, "sum_ns"), *over = json_object_get(o, "overflow");
    if (!json_is_array(b) || !json_is_integer(sum) || !json_is_integer(over))
        return -1;
    size_t i;
    json_t *pair;
    json_array_foreach (b, i, pair) {
        json_int_t upper = json_integer_value(json_array_get(pair, 0));
        json_int_t n = json_integer_value(json_array_get(pair, 1));
        if (upper <= 0 || n < 0)
            return -1;
        /* upper is exclusive: its bucket is the one holding upper - 1 */
        uint32_t at = rh__hist_index((uint64_t)upper - 1);
        s->bucket[at] += (uint64_t)n;
        s->count += (uint64_t)n;
    }
    json_int_t n = json_integer_value(over);
    s->bucket[RH_HIST_OVERFLOW] += n > 0 ? (uint64_t)n : 0;
    s->count += n > 0 ? (uint64_t)n : 0;
    s->sum_ns += (uint64_t)json_integer_value(sum);
    return 0;
}
