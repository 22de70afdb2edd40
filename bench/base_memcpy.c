/*
 * base_memcpy.c — the copy ceiling for large messages: one thread (cpu[1])
 * copying one message after another from a source buffer into a ring of
 * destination buffers.
 *
 * Cases (group payload): memcpy.p{16,64,256,1024,4096,16384,65536}, metrics
 * gb_per_s and msgs_per_s.  The destination spans 4 MiB, so large messages
 * are written to L2/L3 rather than to one hot L1 buffer, as a queue's slots
 * would be.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bench_pvt.h"

#define DEST_BYTES (4u << 20)
/* Bytes copied between two clock reads: the clock costs < 1% of the run. */
#define BYTES_PER_CLOCK (256u << 10)

typedef struct copier {
    uint32_t payload;
    double seconds;
    uint64_t copies, elapsed_ns;
    int error;
} copier;

static void *copy_main(void *arg)
{
    copier *c = arg;
    size_t slots = DEST_BYTES / c->payload ? DEST_BYTES / c->payload : 1;
    uint8_t *src = malloc(c->payload);
    uint8_t *dst = malloc(slots * c->payload);
    if (!src || !dst) {
        c->error = ENOMEM;
        free(src);
        free(dst);
        return NULL;
    }
    memset(src, 0x5a, c->payload);
    memset(dst, 0, slots * c->payload); /* fault the pages in before timing */

    uint32_t per_clock = BYTES_PER_CLOCK / c->payload ? BYTES_PER_CLOCK / c->payload : 1;
    uint64_t deadline = (uint64_t)(c->seconds * 1e9);
    uint64_t t0 = bench_now_ns(), now = t0, copies = 0;
    size_t slot = 0;
    do {
        for (uint32_t i = 0; i < per_clock; i++) {
            memcpy(dst + slot * c->payload, src, c->payload);
            if (++slot == slots)
                slot = 0;
        }
        /* The destination is never read: tell the compiler it may be, so
         * the copies are not optimised away. */
        __asm__ volatile("" : : "r"(dst) : "memory");
        copies += per_clock;
    } while ((now = bench_now_ns()) - t0 < deadline);
    c->copies = copies;
    c->elapsed_ns = now - t0;
    free(src);
    free(dst);
    return NULL;
}

static int run_copy(const bench_env *env, const bench_params *p, bench_result *out)
{
    copier c = {.payload = p->payload, .seconds = env->rep_seconds};
    pthread_t t;
    int rc = bench_thread_start(&t, env->cpu[1], copy_main, &c);
    if (rc)
        return bench_fail(out, "thread start: %s", strerror(-rc));
    pthread_join(t, NULL);
    if (c.error)
        return bench_fail(out, "%s", strerror(c.error));
    double msgs = (double)c.copies * 1e9 / (double)c.elapsed_ns;
    bench_put(out, "gb_per_s", "GB/s", msgs * p->payload / 1e9);
    bench_put(out, "msgs_per_s", "msg/s", msgs);
    return 0;
}

void bench_register_memcpy(bench_suite *s, const bench_env *env)
{
    (void)env;
    static const uint32_t payloads[] = {16, 64, 256, 1024, 4096, 16384, 65536};
    char name[BENCH_NAME_MAX];
    for (size_t i = 0; i < sizeof payloads / sizeof *payloads; i++) {
        snprintf(name, sizeof name, "memcpy.p%u", payloads[i]);
        bench_add(s, "payload", name, run_copy, &(bench_params){.payload = payloads[i]});
    }
}
