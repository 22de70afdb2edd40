/*
 * rh_cases.c — registers ringhost's cases, named so that bench/targets.c can
 * find them:
 *
 *   rh.echo.<inline|thread>.<spin|adaptive>.b<B>.p<N>   echo pipeline throughput
 *   rh.echo.inline.<workers2|persist>.adaptive.b32.p64  the same, other kinds
 *   rh.echo.thread.isolated.adaptive.b32.p64            (group "kinds")
 *   rh.echo.inline.nolatency.adaptive.b32.p64           the echo, RINGHOST_LATENCY=0
 *   rh.rtt.<inline|thread>.<spin|adaptive>.p64          echo round trip
 *   rh.depth.d<D>                                       D echo kernels in a row
 *   rh.kernels.<K>                                      K echo kernels on 2 cores
 *   rh.cores.echo.w<W>.b32.p64                          one echo, "workers": W, over W cpus
 *   rh.cores.chain.d<D>.b32.p64                         D echo kernels in a row, a cpu each
 *                                                       (group "cores", with base_cores.c)
 *   rh.queue.hop.b<B>.p64                               one named queue, no kernel
 *   rh.send.p64, rh.idle                                the host by itself
 *   rh.gpu.rtt.thread.<spin|adaptive>.p64               the echo on the GPU ("isolation":
 *   rh.gpu.echo.thread.w<W>.b32.p64, rh.gpu.idle        "cuda"; group "gpu")
 *   rh.remote.pipe.p64, rh.remote.rtt.p64               two hosts through nats-server
 *                                                       (rh_remote.c; BENCH_RH_REMOTE)
 *   rh.xproc.rtt.inline.<spin|adaptive>.p<N>            round trip, client in another process
 *   rh.xproc.echo.inline.adaptive.b32.p<N>              echo throughput, the same
 *
 * Group "p64" is shared with the baselines it is compared against, so
 * their repetitions interleave; --quick keeps the points the targets need
 * and a few of each sweep.
 */
#include <stdio.h>

#include "rh_cases.h"

static const uint32_t batches[] = {1, 8, 32, 256};
static const uint32_t payloads[] = {16, 64, 256, 1024, 4096, 16384, 65536};
static const uint32_t depths[] = {1, 2, 4, 8};
static const uint32_t kernel_counts[] = {1, 4, 16, 64, 256};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *mode_name(int inline_) { return inline_ ? "inline" : "thread"; }
static const char *wait_name(int spin) { return spin ? "spin" : "adaptive"; }

static void add_echo(bench_suite *s, const char *group, int inline_, int spin, uint32_t batch,
                     uint32_t payload)
{
    char name[BENCH_NAME_MAX];
    snprintf(name, sizeof name, "rh.echo.%s.%s.b%u.p%u", mode_name(inline_), wait_name(spin),
             batch, payload);
    bench_params p = {.payload = payload, .batch = batch, .bridge_inline = inline_,
                      .wait_spin = spin, .depth = 1};
    bench_add(s, group, name, rhb_echo_throughput, &p);
}

/* The same echo with a zero-copy client (rh_send_reserve/commit,
 * rh_recv_peek/release): with the inline bridge reading and writing the
 * queues' cells in place, no copy of a payload is left on the path. */
static void add_echo_loans(bench_suite *s, const char *group, uint32_t payload)
{
    char name[BENCH_NAME_MAX];
    snprintf(name, sizeof name, "rh.echo.inline.loans.adaptive.b32.p%u", payload);
    bench_params p = {.payload = payload, .batch = 32, .bridge_inline = 1, .depth = 1,
                      .loans = 1};
    bench_add(s, group, name, rhb_echo_throughput, &p);
}

/* The echo of the kinds of kernel and queue the in-place path leaves to
 * the copying one or shares with others (which must be "nothing slower
 * elsewhere"): inline workers sharing their queues, persist queues (acks
 * after processing), a process-isolated kernel (thread bridge, shared
 * rings).  Group "kinds": compared with earlier builds of the same cases,
 * not with a baseline. */
static void add_echo_kinds(bench_suite *s)
{
    bench_params workers = {.payload = 64, .batch = 32, .bridge_inline = 1, .depth = 1,
                            .workers = 2};
    bench_add(s, "kinds", "rh.echo.inline.workers2.adaptive.b32.p64", rhb_echo_throughput,
              &workers);
    bench_params persist = {.payload = 64, .batch = 32, .bridge_inline = 1, .depth = 1,
                            .persist = 1};
    bench_add(s, "kinds", "rh.echo.inline.persist.adaptive.b32.p64", rhb_echo_throughput,
              &persist);
    bench_params isolated = {.payload = 64, .batch = 32, .bridge_inline = 0, .depth = 1,
                             .isolated = 1};
    bench_add(s, "kinds", "rh.echo.thread.isolated.adaptive.b32.p64", rhb_echo_throughput,
              &isolated);
}

/* The echo without latency recording (RINGHOST_LATENCY=0): in group
 * "p64", so its repetitions interleave with rh.echo.inline.adaptive.b32.p64
 * (the same echo, recording), and the two compare on one machine state. */
static void add_echo_no_latency(bench_suite *s)
{
    bench_params p = {.payload = 64, .batch = 32, .bridge_inline = 1, .depth = 1,
                      .no_latency = 1};
    bench_add(s, "p64", "rh.echo.inline.nolatency.adaptive.b32.p64", rhb_echo_throughput, &p);
}

void bench_register_ringhost(bench_suite *s, const bench_env *env)
{
    int quick = env->quick;
    char name[BENCH_NAME_MAX];

    /* p64: the batch sweep in both bridge modes and both waits, and the
     * round trips.  --quick: burst 32 in every mode, plus bursts 1 and 256
     * inline. */
    for (int inl = 1; inl >= 0; inl--)
        for (int spin = 0; spin <= 1; spin++)
            for (uint32_t i = 0; i < COUNT(batches); i++) {
                int extra = inl && !spin && (batches[i] == 1 || batches[i] == 256);
                if (quick && batches[i] != 32 && !extra)
                    continue;
                add_echo(s, "p64", inl, spin, batches[i], 64);
            }
    add_echo_loans(s, "p64", 64);
    add_echo_loans(s, "payload", 65536);
    add_echo_kinds(s);
    add_echo_no_latency(s);
    for (uint32_t i = 0; i < COUNT(batches); i++) {
        if (quick && batches[i] != 32)
            continue;
        snprintf(name, sizeof name, "rh.queue.hop.b%u.p64", batches[i]);
        bench_params p = {.payload = 64, .batch = batches[i]};
        bench_add(s, "p64", name, rhb_queue_hop, &p);
    }
    const struct { int inl, spin; } rtts[] = {{1, 1}, {1, 0}, {0, 1}, {0, 0}};
    for (uint32_t i = 0; i < COUNT(rtts); i++) {
        if (quick && !rtts[i].inl && rtts[i].spin)
            continue;
        snprintf(name, sizeof name, "rh.rtt.%s.%s.p64", mode_name(rtts[i].inl),
                 wait_name(rtts[i].spin));
        bench_params p = {.payload = 64, .bridge_inline = rtts[i].inl,
                          .wait_spin = rtts[i].spin, .depth = 1};
        bench_add(s, "p64", name, rhb_echo_rtt, &p);
    }

    /* Payload sweep, burst 32, both bridge modes (p64 is in its group). */
    for (uint32_t i = 0; i < COUNT(payloads); i++) {
        if (payloads[i] == 64)
            continue;
        if (quick && payloads[i] != 16 && payloads[i] != 1024 && payloads[i] != 65536)
            continue;
        add_echo(s, "payload", 1, 0, 32, payloads[i]);
        if (!quick)
            add_echo(s, "payload", 0, 0, 32, payloads[i]);
    }

    for (uint32_t i = 0; i < COUNT(depths); i++) {
        if (quick && depths[i] != 1 && depths[i] != 4)
            continue;
        snprintf(name, sizeof name, "rh.depth.d%u", depths[i]);
        bench_params p = {.payload = 64, .batch = 32, .bridge_inline = 1, .depth = depths[i]};
        bench_add(s, "depth", name, rhb_echo_throughput, &p);
    }

    for (uint32_t i = 0; i < COUNT(kernel_counts); i++) {
        if (quick && kernel_counts[i] != 1 && kernel_counts[i] != 256)
            continue;
        snprintf(name, sizeof name, "rh.kernels.%u", kernel_counts[i]);
        bench_params p = {.payload = 64, .batch = 32, .depth = 1, .kernels = kernel_counts[i]};
        bench_add(s, "scale", name, rhb_kernels, &p);
    }

    /* Scaling with cores (group "cores", beside base_cores.c's bare rte_ring
     * shapes): one client on cpus[0]; the echo with 1, 2, 4, 8 inline workers
     * on threads of their own over cpus[1..W], and chains of 2 and 4 inline
     * kernels pinned one per cpu; fewer cpus wrap round, and each
     * repetition says how many it had ("cpus").  Every size even with
     * --quick: the group is for the machine with the cores. */
    static const uint32_t core_workers[] = {1, 2, 4, 8};
    static const uint32_t core_depths[] = {2, 4};
    for (uint32_t i = 0; i < COUNT(core_workers); i++) {
        snprintf(name, sizeof name, "rh.cores.echo.w%u.b32.p64", core_workers[i]);
        bench_params p = {.payload = 64, .batch = 32, .bridge_inline = 1, .depth = 1,
                          .workers = core_workers[i], .cores = 1};
        bench_add(s, "cores", name, rhb_echo_throughput, &p);
    }
    for (uint32_t i = 0; i < COUNT(core_depths); i++) {
        snprintf(name, sizeof name, "rh.cores.chain.d%u.b32.p64", core_depths[i]);
        bench_params p = {.payload = 64, .batch = 32, .bridge_inline = 1,
                          .depth = core_depths[i], .cores = 1};
        bench_add(s, "cores", name, rhb_echo_throughput, &p);
    }

    /* Across processes (group xproc, with iceoryx's cases): spin at every
     * size, the default wait at 64 B (--quick) or every size. */
    static const uint32_t xproc_payloads[] = {64, 1024, 65536, 1048576};
    for (int spin = 1; spin >= 0; spin--)
        for (uint32_t i = 0; i < COUNT(xproc_payloads); i++) {
            if (quick && !spin && xproc_payloads[i] != 64)
                continue;
            snprintf(name, sizeof name, "rh.xproc.rtt.inline.%s.p%u", wait_name(spin),
                     xproc_payloads[i]);
            bench_params p = {.payload = xproc_payloads[i], .bridge_inline = 1,
                              .wait_spin = spin, .depth = 1};
            bench_add(s, "xproc", name, rhb_xproc_rtt, &p);
        }
    static const uint32_t xproc_echo_payloads[] = {64, 65536};
    for (uint32_t i = 0; i < COUNT(xproc_echo_payloads); i++) {
        snprintf(name, sizeof name, "rh.xproc.echo.inline.adaptive.b32.p%u",
                 xproc_echo_payloads[i]);
        bench_params p = {.payload = xproc_echo_payloads[i], .batch = 32, .bridge_inline = 1,
                          .depth = 1};
        bench_add(s, "xproc", name, rhb_xproc_echo, &p);
    }

    /* The echo on the GPU (group "gpu", with the bare GPU baselines of
     * base_gpu.c): round trip, and throughput with 1, 2 and 4 workers
     * (one block each), thread bridges. */
    static const uint32_t gpu_workers[] = {1, 2, 4};
    for (int spin = 1; spin >= 0; spin--) {
        snprintf(name, sizeof name, "rh.gpu.rtt.thread.%s.p64", wait_name(spin));
        bench_params p = {.payload = 64, .wait_spin = spin, .depth = 1, .isolated = 2};
        bench_add(s, "gpu", name, rhb_echo_rtt, &p);
    }
    for (uint32_t i = 0; i < COUNT(gpu_workers); i++) {
        if (quick && gpu_workers[i] == 2)
            continue;
        snprintf(name, sizeof name, "rh.gpu.echo.thread.w%u.b32.p64", gpu_workers[i]);
        bench_params p = {.payload = 64, .batch = 32, .depth = 1, .isolated = 2,
                          .workers = gpu_workers[i]};
        bench_add(s, "gpu", name, rhb_echo_throughput, &p);
    }

    /* The host's cpu while a GPU kernel is active and nothing comes: the
     * bridges poll the device's rings (no bell). */
    bench_params gpu_idle = {.payload = 64, .depth = 1, .isolated = 2};
    bench_add(s, "gpu", "rh.gpu.idle", rhb_idle, &gpu_idle);

    bench_params p64 = {.payload = 64};
    bench_add(s, "host", "rh.send.p64", rhb_send_latency, &p64);
    bench_add(s, "host", "rh.idle", rhb_idle, &p64);

#ifdef BENCH_RH_REMOTE
    /* Group "remote", with the bare client's nats.remote.* (base_nats.c), so
     * their repetitions interleave and share a tag. */
    bench_add(s, "remote", "rh.remote.pipe.p64", rhb_remote_throughput, &p64);
    bench_add(s, "remote", "rh.remote.rtt.p64", rhb_remote_rtt, &p64);
#endif
}
