/*
 * bench_gpu.cu — ringhost-bench-gpu: the bare GPU baselines ringhost's GPU
 * executor is measured against (bench/README.md, "GPU baselines").
 *
 * A standalone program, built by nvcc alone (cudart linked statically), so
 * it runs on a GPU machine that has only the driver.  One JSON line per
 * case on stdout (and appended to --json FILE):
 *   gpu.pingpong.mapped       a flag bounced host <-> one GPU thread of a
 *                             persistent kernel through mapped host memory
 *   gpu.pingpong.ll64.mapped  the same with a 64 B payload, the sequence
 *                             number inside each 8-byte word (NCCL's LL)
 *   gpu.stream.mapped         64 B messages streamed through one persistent
 *                             block of 1024 threads over two SPSC rings in
 *                             mapped host memory, every answer checked
 *   gpu.copy_launch_sync      per request: 64 B H2D copy, a launch, D2H copy,
 *                             stream synchronize
 *   gpu.graph_replay          the same three captured as a CUDA graph,
 *                             replayed per request
 * Without a device it prints "skipped: no CUDA device (<why>)" and exits 0.
 *
 * Nothing here may hang: every host spin has a deadline, every device spin
 * a stop flag and an idle bound (%globaltimer), and a watchdog thread ends
 * the process with an error line if a blocking CUDA call stops making
 * progress.  Exit codes: 0 done (or skipped), 1 a case failed, 2 bad usage.
 */
#include <cuda_runtime.h>

#include <algorithm>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <vector>

/* ------------------------------------------------------------ settings --- */

static const uint64_t REPLY_TIMEOUT_NS = 2000000000ull;   /* one answer, host side */
static const uint64_t START_TIMEOUT_NS = 10000000000ull;  /* a persistent kernel starting */
static const uint64_t STOP_TIMEOUT_NS = 2000000000ull;    /* a persistent kernel stopping */
static const uint64_t DEVICE_IDLE_NS = 10000000000ull;    /* device gives up without traffic */
static const uint64_t WATCHDOG_STALL_NS = 30000000000ull; /* no heartbeat: the process ends */

static const uint32_t STREAM_THREADS = 1024;
static const uint32_t STREAM_SLOTS = 1u << 16;     /* per ring, 64 B each: 4 MiB */
static const uint32_t STREAM_MAX_BATCH = 4096;     /* messages per block round: 4 per thread */
static const uint32_t STREAM_HOST_BURST = 64;      /* messages per index publish, host side */

enum { ST_NONE = 0, ST_RUNNING = 1, ST_STOPPED = 2, ST_IDLE = 3 };

struct opts {
    const char *only;
    long iters;
    double seconds;
    uint64_t max_msgs;
    const char *json;
    const char *samples;
    int cpu[2]; /* --cpus A,B: host thread(s) on A, the stream's consumer on B; -1: not pinned */
};

static const opts *g_opts;

struct ctl;
static FILE *g_json;
/* The persistent kernel running now, if any: die() asks it to stop and
 * waits for it (bounded) before the process exits, so an error path does
 * not leave the driver to tear down a spinning kernel. */
static ctl *volatile g_live_ctl;
static cudaStream_t g_live_stream;
static void stop_live_kernel(void);
static char g_card[256];
static const char *g_case = "gpu.header";
static volatile uint64_t g_beat; /* bumped by the measuring thread; read by the watchdog */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void beat(void) { __atomic_fetch_add(&g_beat, 1, __ATOMIC_RELAXED); }

static void emit(const char *line)
{
    fprintf(stdout, "%s\n", line);
    fflush(stdout);
    if (g_json) {
        fprintf(g_json, "%s\n", line);
        fflush(g_json);
    }
}

/* The card name goes into every line: quotes and backslashes escaped. */
static void json_escape(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    for (; *src && o + 2 < cap; src++) {
        if (*src == '"' || *src == '\\')
            dst[o++] = '\\';
        dst[o++] = (unsigned char)*src < 0x20 ? ' ' : *src;
    }
    dst[o] = '\0';
}

/* An error line for the current case, on stdout (with the figures) and
 * stderr (for a person), then exit 1: a baseline that cannot finish is
 * not measured, and the caller must see it. */
static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    char msg[512], esc[1040], line[1400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_escape(esc, sizeof esc, msg);
    snprintf(line, sizeof line, "{\"name\":\"%s\",\"error\":\"%s\",\"card\":\"%s\"}", g_case, esc,
             g_card);
    emit(line);
    fprintf(stderr, "ringhost-bench-gpu: %s: %s\n", g_case, msg);
    stop_live_kernel();
    _exit(1);
}

#define CK(call)                                                                  \
    do {                                                                          \
        cudaError_t e_ = (call);                                                  \
        if (e_ != cudaSuccess)                                                    \
            die("%s: %s (%s)", #call, cudaGetErrorString(e_), cudaGetErrorName(e_)); \
    } while (0)

/* Backstop for the calls that block with no bound of their own (a launch,
 * cudaStreamSynchronize): no heartbeat for WATCHDOG_STALL_NS ends the
 * process with an error line rather than a hang. */
static void *watchdog(void *arg)
{
    (void)arg;
    uint64_t last = __atomic_load_n(&g_beat, __ATOMIC_RELAXED), since = now_ns();
    for (;;) {
        usleep(100000);
        uint64_t b = __atomic_load_n(&g_beat, __ATOMIC_RELAXED), t = now_ns();
        if (b != last) {
            last = b;
            since = t;
        } else if (t - since > WATCHDOG_STALL_NS) {
            die("no progress for %.0f s (a CUDA call blocked)", WATCHDOG_STALL_NS / 1e9);
        }
    }
    return NULL;
}

/* ------------------------------------------------------------- results --- */

/* Nearest-rank quantile of sorted samples. */
static double quantile(const std::vector<uint64_t> &s, double q)
{
    size_t n = s.size();
    size_t i = (size_t)(q * (double)n + 0.999999);
    i = i ? i - 1 : 0;
    return (double)s[i < n ? i : n - 1];
}

static void emit_latency(const char *name, std::vector<uint64_t> &lat, long warmup,
                         uint32_t payload, const char *extra)
{
    /* --samples: every measured round trip (ns, native uint64), for a
     * caller that pools samples over repetitions (ringhost-bench). */
    if (g_opts->samples) {
        FILE *f = fopen(g_opts->samples, "wb");
        if (!f || fwrite(lat.data(), sizeof lat[0], lat.size(), f) != lat.size() || fclose(f) != 0)
            die("cannot write %s: %s", g_opts->samples, strerror(errno));
    }
    std::sort(lat.begin(), lat.end());
    double sum = 0;
    for (uint64_t v : lat)
        sum += (double)v;
    char line[2048];
    snprintf(line, sizeof line,
             "{\"name\":\"%s\",\"unit\":\"ns\",\"p50\":%.0f,\"p99\":%.0f,\"p99.9\":%.0f,"
             "\"min\":%.0f,\"mean\":%.1f,\"iters\":%zu,\"warmup\":%ld,\"payload\":%u,%s"
             "\"card\":\"%s\"}",
             name, quantile(lat, 0.50), quantile(lat, 0.99), quantile(lat, 0.999),
             (double)lat.front(), sum / (double)lat.size(), lat.size(), warmup, payload,
             extra ? extra : "", g_card);
    emit(line);
}

/* --------------------------------------------------- device primitives --- */

/* Mapped host memory is read across PCIe: each of these is one bus round
 * trip when it misses.  System scope throughout: the other side is a CPU. */
__device__ __forceinline__ uint64_t ld_acquire_sys(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.acquire.sys.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ uint64_t ld_relaxed_sys(const uint64_t *p)
{
    uint64_t v;
    asm volatile("ld.relaxed.sys.u64 %0, [%1];" : "=l"(v) : "l"(p) : "memory");
    return v;
}

__device__ __forceinline__ void st_release_sys(uint64_t *p, uint64_t v)
{
    asm volatile("st.release.sys.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ void st_relaxed_sys(uint64_t *p, uint64_t v)
{
    asm volatile("st.relaxed.sys.u64 [%0], %1;" ::"l"(p), "l"(v) : "memory");
}

__device__ __forceinline__ uint64_t globaltimer_ns(void)
{
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

/* Host side of the same words.  On x86 both are plain moves; the builtins
 * keep the compiler from reordering or caching them. */
static inline uint64_t host_load_acquire(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void host_store_release(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
static inline void host_store_relaxed(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

/* Pins the calling thread (cpu < 0: left where the OS puts it). */
static void pin_self(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0)
        die("cannot pin a thread to cpu %d: %s", cpu, strerror(rc));
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield" ::: "memory");
#endif
}

/* One 64-byte line: every word one side writes sits on a line of its own,
 * so the GPU's reads of one index never share a line the CPU is writing
 * for another. */
struct alignas(64) line64 {
    uint64_t w[8];
};

/* The control block of one persistent kernel, in mapped host memory. */
struct ctl {
    line64 ping;  /* host writes: the request (pingpong), in_head (stream) */
    line64 pong;  /* device writes: the answer (pingpong), out_head (stream) */
    line64 in_tail;  /* device writes (stream): input slots consumed */
    line64 out_tail; /* host writes (stream): output slots consumed */
    line64 stop;  /* host writes 1: the kernel returns */
    line64 state; /* device writes ST_* */
};

/* Device-side bound shared by every persistent kernel's idle spin: true
 * when the host asked to stop or nothing arrived for idle_ns. */
__device__ __forceinline__ bool device_should_quit(ctl *c, uint64_t progress, uint64_t *seen,
                                                   uint64_t *since, uint64_t idle_ns, int *why)
{
    if (ld_relaxed_sys(&c->stop.w[0])) {
        *why = ST_STOPPED;
        return true;
    }
    uint64_t t = globaltimer_ns();
    if (progress != *seen) {
        *seen = progress;
        *since = t;
    } else if (t - *since > idle_ns) {
        *why = ST_IDLE;
        return true;
    }
    return false;
}

/* --------------------------------------------- gpu.pingpong.mapped ---- */

/* One thread: wait for request seq in ping (acquire: pairs with the host's
 * release store of ping), answer seq in pong (release: pairs with the
 * host's acquire load of pong).  The stop flag and the idle bound are read
 * only every 256 empty polls: each poll is already a PCIe round trip. */
__global__ void k_pingpong(ctl *c, uint64_t idle_ns)
{
    st_release_sys(&c->state.w[0], ST_RUNNING);
    uint64_t expect = 1, seen = 0, since = globaltimer_ns();
    uint32_t polls = 0;
    int why = ST_STOPPED;
    for (;;) {
        uint64_t v = ld_acquire_sys(&c->ping.w[0]);
        if (v == expect) {
            st_release_sys(&c->pong.w[0], v);
            expect++;
            continue;
        }
        if ((++polls & 255) == 0 && device_should_quit(c, expect, &seen, &since, idle_ns, &why))
            break;
    }
    st_release_sys(&c->state.w[0], (uint64_t)why);
}

/* -------------------------------------- gpu.pingpong.ll64.mapped ---- */

/* Eight lanes, one 8-byte word each: word j = seq << 32 | data.  A word
 * is written atomically by the host, so a lane whose word carries seq has
 * that word's data: no separate flag, no acquire, one bus round trip for
 * the 64 B (NCCL's low-latency protocol).  The answer goes back the same
 * way, data ^ 0xA5A5A5A5. */
#define LL_XOR 0xA5A5A5A5u
__global__ void k_pingpong_ll(ctl *c, uint64_t idle_ns)
{
    const unsigned lane = threadIdx.x, all = 0xffu;
    if (lane == 0)
        st_release_sys(&c->state.w[0], ST_RUNNING);
    uint64_t expect = 1, seen = 0, since = globaltimer_ns();
    uint32_t polls = 0;
    int why = ST_STOPPED;
    for (;;) {
        uint64_t v = ld_relaxed_sys(&c->ping.w[lane]);
        if (__all_sync(all, (v >> 32) == (expect & 0xffffffffu))) {
            st_relaxed_sys(&c->pong.w[lane], (v & 0xffffffff00000000ull) | ((uint32_t)v ^ LL_XOR));
            expect++;
            continue;
        }
        if ((++polls & 255) == 0) {
            int quit = 0;
            if (lane == 0)
                quit = device_should_quit(c, expect, &seen, &since, idle_ns, &why);
            if (__shfl_sync(all, quit, 0))
                break;
        }
    }
    if (lane == 0)
        st_release_sys(&c->state.w[0], (uint64_t)why);
}

/* --------------------------------------------- gpu.stream.mapped ---- */

/*
 * Two SPSC rings of 64 B slots in mapped host memory, each index with one
 * writer:
 *   in:  ctl.ping.w[0] = in_head  (host producer writes), ctl.in_tail (device)
 *   out: ctl.pong.w[0] = out_head (device writes), ctl.out_tail (host consumer)
 * Thread 0 polls the indices (the other side's index cached, read again
 * only when the cache says empty / full), the barrier hands the batch to
 * all 1024 lanes, each lane loads its messages (4 x 16 B, independent:
 * many loads in flight is what throughput is made of), writes the answer
 * (every word inverted), and after a second barrier thread 0 publishes
 * both indices.
 */
__global__ void __launch_bounds__(1024) k_stream(ctl *c, const line64 *in, line64 *out,
                                                 uint32_t slots, uint32_t max_batch,
                                                 uint64_t idle_ns)
{
    __shared__ uint32_t s_n;
    __shared__ int s_quit;
    const uint32_t tid = threadIdx.x, mask = slots - 1;
    uint64_t tail = 0, out_head = 0;                 /* every lane keeps both, in step */
    uint64_t head_cache = 0, out_tail_cache = 0;     /* thread 0 only */
    uint64_t seen = 0, since = globaltimer_ns();
    int why = ST_STOPPED;
    if (tid == 0)
        st_release_sys(&c->state.w[0], ST_RUNNING);
    for (;;) {
        if (tid == 0) {
            uint32_t n = 0, polls = 0;
            int quit = 0;
            for (;;) {
                /* acquire: pairs with the producer's release of in_head
                 * after it wrote the slots */
                if (head_cache == tail)
                    head_cache = ld_acquire_sys(&c->ping.w[0]);
                uint64_t avail = head_cache - tail;
                uint64_t want = avail < max_batch ? avail : max_batch;
                uint64_t room = slots - (out_head - out_tail_cache);
                /* acquire: pairs with the consumer's release of out_tail
                 * after it read the answers it frees */
                if (want > room) {
                    out_tail_cache = ld_acquire_sys(&c->out_tail.w[0]);
                    room = slots - (out_head - out_tail_cache);
                }
                n = (uint32_t)(want < room ? want : room);
                if (n)
                    break;
                if ((++polls & 255) == 0 &&
                    device_should_quit(c, tail, &seen, &since, idle_ns, &why)) {
                    quit = 1;
                    break;
                }
            }
            s_n = n;
            s_quit = quit;
        }
        /* Orders every lane's payload loads after thread 0's acquire of
         * in_head (a barrier, not a shuffle: other warps read too). */
        __syncthreads();
        if (s_quit)
            break;
        const uint32_t n = s_n;
        for (uint32_t k = tid; k < n; k += blockDim.x) {
            const ulonglong2 *src = (const ulonglong2 *)&in[(tail + k) & mask];
            ulonglong2 *dst = (ulonglong2 *)&out[(out_head + k) & mask];
            ulonglong2 a = src[0], b = src[1], d = src[2], e = src[3];
            dst[0] = make_ulonglong2(~a.x, ~a.y);
            dst[1] = make_ulonglong2(~b.x, ~b.y);
            dst[2] = make_ulonglong2(~d.x, ~d.y);
            dst[3] = make_ulonglong2(~e.x, ~e.y);
        }
        /* Every lane's loads are done and its stores made before thread
         * 0's release stores below, which are cumulative over them. */
        __syncthreads();
        tail += n;
        out_head += n;
        if (tid == 0) {
            st_release_sys(&c->pong.w[0], out_head); /* pairs with the consumer's acquire */
            st_release_sys(&c->in_tail.w[0], tail);  /* pairs with the producer's acquire */
        }
    }
    if (tid == 0)
        st_release_sys(&c->state.w[0], (uint64_t)why);
}

/* ------------------------------------------- copy_launch / graph ---- */

__global__ void k_echo64(const uint64_t *in, uint64_t *out)
{
    unsigned i = threadIdx.x;
    if (i < 8)
        out[i] = ~in[i];
}

/* ------------------------------------------------- host-side helpers --- */

static ctl *ctl_alloc(ctl **dev)
{
    ctl *c;
    CK(cudaHostAlloc((void **)&c, sizeof *c, cudaHostAllocMapped));
    memset((void *)c, 0, sizeof *c);
    CK(cudaHostGetDevicePointer((void **)dev, c, 0));
    return c;
}

static void stop_live_kernel(void)
{
    ctl *c = __atomic_exchange_n(&g_live_ctl, (ctl *)NULL, __ATOMIC_ACQ_REL);
    if (!c)
        return;
    host_store_release(&c->stop.w[0], 1);
    uint64_t t0 = now_ns();
    while (cudaStreamQuery(g_live_stream) == cudaErrorNotReady && now_ns() - t0 < STOP_TIMEOUT_NS)
        usleep(100);
}

/* Marks c's kernel live (for die()) and waits until it runs. */
static void wait_running(ctl *c, cudaStream_t s)
{
    g_live_stream = s;
    __atomic_store_n(&g_live_ctl, c, __ATOMIC_RELEASE);
    uint64_t t0 = now_ns();
    while (host_load_acquire(&c->state.w[0]) == ST_NONE) {
        if (now_ns() - t0 > START_TIMEOUT_NS) {
            cudaError_t e = cudaStreamQuery(s);
            die("persistent kernel not running after %.0f s (stream: %s)",
                START_TIMEOUT_NS / 1e9, cudaGetErrorString(e));
        }
        cpu_relax();
    }
    beat();
}

/* Stop a persistent kernel and wait for its end within a bound (never
 * cudaStreamSynchronize, which has none).  A kernel that stopped for
 * another reason than the stop flag is an error. */
static void stop_kernel(ctl *c, cudaStream_t s)
{
    __atomic_store_n(&g_live_ctl, (ctl *)NULL, __ATOMIC_RELEASE); /* stopped here, not in die() */
    host_store_release(&c->stop.w[0], 1);
    uint64_t t0 = now_ns();
    cudaError_t e;
    while ((e = cudaStreamQuery(s)) == cudaErrorNotReady) {
        if (now_ns() - t0 > STOP_TIMEOUT_NS)
            die("persistent kernel did not stop within %.0f ms", STOP_TIMEOUT_NS / 1e6);
        usleep(50);
    }
    if (e != cudaSuccess)
        die("persistent kernel: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
    uint64_t st = host_load_acquire(&c->state.w[0]);
    if (st != ST_STOPPED)
        die("persistent kernel ended in state %llu (%s)", (unsigned long long)st,
            st == ST_IDLE ? "idle bound reached: it saw no request" : "unexpected");
    beat();
}

/* Host side of one request / answer over an 8-byte word: the reply spin
 * checks its deadline every 1024 polls. */
static void case_pingpong(const opts *o, cudaStream_t s)
{
    g_case = "gpu.pingpong.mapped";
    ctl *dc, *c = ctl_alloc(&dc);
    long warm = o->iters / 10 + 100, total = warm + o->iters;
    std::vector<uint64_t> lat;
    lat.reserve((size_t)o->iters);
    k_pingpong<<<1, 1, 0, s>>>(dc, DEVICE_IDLE_NS);
    CK(cudaGetLastError());
    wait_running(c, s);
    for (long i = 0; i < total; i++) {
        uint64_t seq = (uint64_t)i + 1, t0 = now_ns(), t1;
        host_store_release(&c->ping.w[0], seq); /* pairs with the device's ld.acquire.sys */
        uint32_t spins = 0;
        /* acquire: pairs with the device's st.release.sys of pong */
        while (host_load_acquire(&c->pong.w[0]) != seq) {
            if ((++spins & 1023) == 0 && now_ns() - t0 > REPLY_TIMEOUT_NS)
                die("no answer to request %llu within %.0f ms", (unsigned long long)seq,
                    REPLY_TIMEOUT_NS / 1e6);
            cpu_relax();
        }
        t1 = now_ns();
        if (i >= warm)
            lat.push_back(t1 - t0);
        if ((i & 1023) == 0)
            beat();
    }
    stop_kernel(c, s);
    CK(cudaFreeHost(c));
    emit_latency(g_case, lat, warm, 8, "\"threads\":1,\"memory\":\"cudaHostAllocMapped\",");
}

static void case_pingpong_ll(const opts *o, cudaStream_t s)
{
    g_case = "gpu.pingpong.ll64.mapped";
    ctl *dc, *c = ctl_alloc(&dc);
    long warm = o->iters / 10 + 100, total = warm + o->iters;
    if (total >= 0xffffffffl)
        die("--iters too large for a 32-bit sequence");
    std::vector<uint64_t> lat;
    lat.reserve((size_t)o->iters);
    k_pingpong_ll<<<1, 8, 0, s>>>(dc, DEVICE_IDLE_NS);
    CK(cudaGetLastError());
    wait_running(c, s);
    for (long i = 0; i < total; i++) {
        uint64_t seq = (uint64_t)i + 1, t0 = now_ns(), t1;
        for (int j = 0; j < 8; j++) /* each word atomic on its own: no order needed */
            host_store_relaxed(&c->ping.w[j], seq << 32 | (uint32_t)(seq * 8 + (uint64_t)j));
        for (int j = 0; j < 8; j++) {
            uint32_t spins = 0;
            uint64_t v;
            while (((v = __atomic_load_n(&c->pong.w[j], __ATOMIC_RELAXED)) >> 32) != seq) {
                if ((++spins & 1023) == 0 && now_ns() - t0 > REPLY_TIMEOUT_NS)
                    die("no answer to request %llu word %d within %.0f ms",
                        (unsigned long long)seq, j, REPLY_TIMEOUT_NS / 1e6);
                cpu_relax();
            }
            if ((uint32_t)v != ((uint32_t)(seq * 8 + (uint64_t)j) ^ LL_XOR))
                die("request %llu word %d: answer 0x%08x, expected 0x%08x",
                    (unsigned long long)seq, j, (uint32_t)v,
                    (uint32_t)(seq * 8 + (uint64_t)j) ^ LL_XOR);
        }
        t1 = now_ns();
        if (i >= warm)
            lat.push_back(t1 - t0);
        if ((i & 1023) == 0)
            beat();
    }
    stop_kernel(c, s);
    CK(cudaFreeHost(c));
    emit_latency(g_case, lat, warm, 64,
                 "\"threads\":8,\"memory\":\"cudaHostAllocMapped\",\"protocol\":\"seq in every 8-byte word\",");
}

/* -- streaming: one host producer, one host consumer, the block between -- */

struct stream_run {
    ctl *c;
    line64 *in, *out;
    uint32_t slots;
    uint64_t max_msgs;
    uint64_t t_end_produce;  /* producer stops starting bursts after this */
    uint64_t produced;       /* written by the producer once done (release) */
    int produced_done;
    uint64_t warm_msgs;
    uint64_t t_warm, warm_got;          /* consumer: when, and how many, at the warm-up's end */
    uint64_t t_last, received;          /* consumer: the last answer's time, the count */
    int cpu_producer, cpu_consumer;
    int failed;                         /* either side: stop everything (relaxed) */
    char error[256];
};

static void stream_fail(stream_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void stream_fail(stream_run *r, const char *fmt, ...)
{
    if (__atomic_exchange_n(&r->failed, 1, __ATOMIC_ACQ_REL))
        return; /* the first error is the one reported */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
}

static inline uint64_t stream_word(uint64_t seq, int j) { return seq << 3 | (uint64_t)j; }

static void *stream_producer(void *arg)
{
    stream_run *r = (stream_run *)arg;
    pin_self(r->cpu_producer);
    uint64_t head = 0, tail_cache = 0, stall_since = now_ns();
    const uint32_t mask = r->slots - 1;
    while (!__atomic_load_n(&r->failed, __ATOMIC_RELAXED) && head < r->max_msgs) {
        uint64_t t = now_ns();
        if (t > r->t_end_produce)
            break;
        uint64_t want = r->max_msgs - head < STREAM_HOST_BURST ? r->max_msgs - head : STREAM_HOST_BURST;
        if (r->slots - (head - tail_cache) < want) {
            /* acquire: pairs with the device's st.release.sys of in_tail
             * (its lanes finished reading those slots) */
            tail_cache = host_load_acquire(&r->c->in_tail.w[0]);
            if (r->slots - (head - tail_cache) < want) {
                if (t - stall_since > REPLY_TIMEOUT_NS)
                    stream_fail(r, "input ring full for %.0f ms: the device stopped taking",
                                REPLY_TIMEOUT_NS / 1e6);
                cpu_relax();
                continue;
            }
        }
        stall_since = t;
        for (uint64_t k = 0; k < want; k++) {
            line64 *m = &r->in[(head + k) & mask];
            for (int j = 0; j < 8; j++)
                m->w[j] = stream_word(head + k, j);
        }
        head += want;
        host_store_release(&r->c->ping.w[0], head); /* pairs with thread 0's ld.acquire.sys */
    }
    r->produced = head;
    __atomic_store_n(&r->produced_done, 1, __ATOMIC_RELEASE); /* pairs with the consumer */
    return NULL;
}

static void *stream_consumer(void *arg)
{
    stream_run *r = (stream_run *)arg;
    pin_self(r->cpu_consumer);
    uint64_t got = 0, stall_since = now_ns();
    const uint32_t mask = r->slots - 1;
    while (!__atomic_load_n(&r->failed, __ATOMIC_RELAXED)) {
        /* acquire: pairs with thread 0's st.release.sys of out_head, made
         * after the barrier that follows every lane's answer stores */
        uint64_t h = host_load_acquire(&r->c->pong.w[0]);
        uint64_t t = now_ns();
        if (h == got) {
            if (__atomic_load_n(&r->produced_done, __ATOMIC_ACQUIRE) && got == r->produced)
                break;
            if (t - stall_since > REPLY_TIMEOUT_NS) {
                stream_fail(r, "no answer for %.0f ms after %llu received", REPLY_TIMEOUT_NS / 1e6,
                            (unsigned long long)got);
                break;
            }
            cpu_relax();
            continue;
        }
        for (uint64_t seq = got; seq < h; seq++) {
            const line64 *m = &r->out[seq & mask];
            for (int j = 0; j < 8; j++)
                if (m->w[j] != ~stream_word(seq, j)) {
                    stream_fail(r, "message %llu word %d: 0x%016llx, expected 0x%016llx",
                                (unsigned long long)seq, j, (unsigned long long)m->w[j],
                                (unsigned long long)~stream_word(seq, j));
                    return NULL;
                }
        }
        if (got < r->warm_msgs && h >= r->warm_msgs) {
            r->t_warm = t;
            r->warm_got = h;
        }
        got = h;
        r->t_last = t;
        stall_since = t;
        host_store_release(&r->c->out_tail.w[0], got); /* pairs with thread 0's acquire */
        beat();
    }
    r->received = got;
    return NULL;
}

static void case_stream(const opts *o, cudaStream_t s)
{
    g_case = "gpu.stream.mapped";
    ctl *dc, *c = ctl_alloc(&dc);
    line64 *in, *out, *din, *dout;
    size_t bytes = (size_t)STREAM_SLOTS * sizeof(line64);
    CK(cudaHostAlloc((void **)&in, bytes, cudaHostAllocMapped));
    CK(cudaHostAlloc((void **)&out, bytes, cudaHostAllocMapped));
    memset((void *)in, 0, bytes);
    memset((void *)out, 0, bytes);
    CK(cudaHostGetDevicePointer((void **)&din, in, 0));
    CK(cudaHostGetDevicePointer((void **)&dout, out, 0));

    k_stream<<<1, STREAM_THREADS, 0, s>>>(dc, din, dout, STREAM_SLOTS, STREAM_MAX_BATCH,
                                          DEVICE_IDLE_NS);
    CK(cudaGetLastError());
    wait_running(c, s);

    stream_run r;
    memset((void *)&r, 0, sizeof r);
    r.c = c;
    r.in = in;
    r.out = out;
    r.slots = STREAM_SLOTS;
    r.max_msgs = o->max_msgs;
    r.cpu_producer = o->cpu[0];
    r.cpu_consumer = o->cpu[1];
    r.warm_msgs = std::min<uint64_t>(o->max_msgs / 20, 1000000); /* not counted */
    uint64_t t_start = now_ns();
    r.t_end_produce = t_start + (uint64_t)(o->seconds * 1e9);
    r.t_warm = t_start;
    pthread_t prod, cons;
    if (pthread_create(&cons, NULL, stream_consumer, &r) != 0 ||
        pthread_create(&prod, NULL, stream_producer, &r) != 0)
        die("cannot start the host threads");
    pthread_join(prod, NULL);
    pthread_join(cons, NULL);
    stop_kernel(c, s);
    if (r.failed)
        die("%s", r.error);
    /* Counted from the batch that crossed the warm-up mark (all of it,
     * when the run was too short to cross it). */
    int warmed = r.warm_got && r.received > r.warm_got;
    uint64_t counted = warmed ? r.received - r.warm_got : r.received;
    uint64_t t0 = warmed ? r.t_warm : t_start;
    double secs = (double)(r.t_last - t0) / 1e9;
    if (counted == 0 || secs <= 0)
        die("nothing measured (%llu received)", (unsigned long long)r.received);
    char line[2048];
    snprintf(line, sizeof line,
             "{\"name\":\"%s\",\"unit\":\"msg/s\",\"msg_per_s\":%.0f,\"messages\":%llu,"
             "\"seconds\":%.3f,\"warmup_msgs\":%llu,\"payload\":64,\"threads\":%u,\"blocks\":1,"
             "\"ring_slots\":%u,\"max_batch\":%u,\"host_burst\":%u,\"checked\":true,"
             "\"memory\":\"cudaHostAllocMapped\",\"card\":\"%s\"}",
             g_case, (double)counted / secs, (unsigned long long)counted, secs,
             (unsigned long long)(r.received - counted), STREAM_THREADS, STREAM_SLOTS,
             STREAM_MAX_BATCH, STREAM_HOST_BURST, g_card);
    CK(cudaFreeHost(in));
    CK(cudaFreeHost(out));
    CK(cudaFreeHost(c));
    emit(line);
}

/* ------------------- per-request copy + launch + copy + sync, and graph -- */

struct echo_bufs {
    uint64_t *h_in, *h_out, *d_in, *d_out;
};

static void echo_alloc(echo_bufs *b)
{
    CK(cudaHostAlloc((void **)&b->h_in, 64, cudaHostAllocDefault));
    CK(cudaHostAlloc((void **)&b->h_out, 64, cudaHostAllocDefault));
    CK(cudaMalloc((void **)&b->d_in, 64));
    CK(cudaMalloc((void **)&b->d_out, 64));
}

static void echo_free(echo_bufs *b)
{
    CK(cudaFreeHost(b->h_in));
    CK(cudaFreeHost(b->h_out));
    CK(cudaFree(b->d_in));
    CK(cudaFree(b->d_out));
}

static void echo_enqueue(echo_bufs *b, cudaStream_t s)
{
    CK(cudaMemcpyAsync(b->d_in, b->h_in, 64, cudaMemcpyHostToDevice, s));
    k_echo64<<<1, 32, 0, s>>>(b->d_in, b->d_out);
    CK(cudaGetLastError());
    CK(cudaMemcpyAsync(b->h_out, b->d_out, 64, cudaMemcpyDeviceToHost, s));
}

static void echo_fill(echo_bufs *b, uint64_t seq)
{
    for (int j = 0; j < 8; j++) {
        b->h_in[j] = stream_word(seq, j);
        b->h_out[j] = 0;
    }
}

static void echo_check(echo_bufs *b, uint64_t seq)
{
    for (int j = 0; j < 8; j++)
        if (b->h_out[j] != ~stream_word(seq, j))
            die("request %llu word %d: 0x%016llx, expected 0x%016llx", (unsigned long long)seq,
                j, (unsigned long long)b->h_out[j], (unsigned long long)~stream_word(seq, j));
}

static void case_copy_launch(const opts *o, cudaStream_t s)
{
    g_case = "gpu.copy_launch_sync";
    echo_bufs b;
    echo_alloc(&b);
    long warm = o->iters / 10 + 100, total = warm + o->iters;
    std::vector<uint64_t> lat;
    lat.reserve((size_t)o->iters);
    for (long i = 0; i < total; i++) {
        echo_fill(&b, (uint64_t)i);
        uint64_t t0 = now_ns();
        echo_enqueue(&b, s);
        CK(cudaStreamSynchronize(s));
        uint64_t t1 = now_ns();
        echo_check(&b, (uint64_t)i);
        if (i >= warm)
            lat.push_back(t1 - t0);
        if ((i & 255) == 0)
            beat();
    }
    echo_free(&b);
    emit_latency(g_case, lat, warm, 64,
                 "\"steps\":\"cudaMemcpyAsync H2D, launch <<<1,32>>>, cudaMemcpyAsync D2H, "
                 "cudaStreamSynchronize\",\"host_memory\":\"cudaHostAlloc pinned\",");
}

static void case_graph(const opts *o, cudaStream_t s)
{
    g_case = "gpu.graph_replay";
    echo_bufs b;
    echo_alloc(&b);
    cudaGraph_t g;
    cudaGraphExec_t ge;
    CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    echo_enqueue(&b, s);
    CK(cudaStreamEndCapture(s, &g));
    CK(cudaGraphInstantiate(&ge, g, 0));
    CK(cudaGraphUpload(ge, s));
    CK(cudaStreamSynchronize(s));
    long warm = o->iters / 10 + 100, total = warm + o->iters;
    std::vector<uint64_t> lat;
    lat.reserve((size_t)o->iters);
    for (long i = 0; i < total; i++) {
        echo_fill(&b, (uint64_t)i);
        uint64_t t0 = now_ns();
        CK(cudaGraphLaunch(ge, s));
        CK(cudaStreamSynchronize(s));
        uint64_t t1 = now_ns();
        echo_check(&b, (uint64_t)i);
        if (i >= warm)
            lat.push_back(t1 - t0);
        if ((i & 255) == 0)
            beat();
    }
    CK(cudaGraphExecDestroy(ge));
    CK(cudaGraphDestroy(g));
    echo_free(&b);
    emit_latency(g_case, lat, warm, 64,
                 "\"steps\":\"cudaGraphLaunch (H2D, kernel, D2H), cudaStreamSynchronize\","
                 "\"host_memory\":\"cudaHostAlloc pinned\",");
}

/* ------------------------------------------------------------------ main - */

struct bench_case {
    const char *name;
    void (*run)(const opts *, cudaStream_t);
};

static const bench_case CASES[] = {
    {"gpu.pingpong.mapped", case_pingpong},
    {"gpu.pingpong.ll64.mapped", case_pingpong_ll},
    {"gpu.stream.mapped", case_stream},
    {"gpu.copy_launch_sync", case_copy_launch},
    {"gpu.graph_replay", case_graph},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ringhost-bench-gpu [--only SUBSTR] [--iters N] [--seconds S] [--json FILE]\n"
            "                          [--samples FILE] [--cpus A,B] [--list]\n"
            "  --only S     run only the cases whose name contains S\n"
            "  --iters N    measured round trips per latency case (default 100000;\n"
            "               a tenth more, plus 100, are warm-up)\n"
            "  --seconds S  how long gpu.stream.mapped streams (default 2; at most 50M messages)\n"
            "  --json FILE  append every JSON line to FILE too\n"
            "  --samples F  write a latency case's round trips to F (uint64 ns, raw)\n"
            "  --cpus A,B   host thread of the latency cases and the stream's producer on\n"
            "               cpu A, the stream's consumer on B (default: not pinned)\n"
            "  --list       print the case names, run nothing\n"
            "One JSON line per case on stdout.  Without a CUDA device: \"skipped: no CUDA\n"
            "device (...)\" and exit 0.\n");
}

static bool selected(const opts *o, const char *name) { return !o->only || strstr(name, o->only); }

int main(int argc, char **argv)
{
    /* Before the first CUDA call: lazy module loading would load a module
     * at its first launch, which waits for the running persistent kernel
     * (a deadlock), so every module is loaded when the context is made. */
    setenv("CUDA_MODULE_LOADING", "EAGER", 1);

    static const struct option lopts[] = {
        {"only", required_argument, NULL, 'o'},    {"iters", required_argument, NULL, 'i'},
        {"seconds", required_argument, NULL, 's'}, {"json", required_argument, NULL, 'j'},
        {"list", no_argument, NULL, 'l'},          {"help", no_argument, NULL, 'h'},
        {"samples", required_argument, NULL, 'S'}, {"cpus", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0}};
    opts o = {NULL, 100000, 2.0, 50000000ull, NULL, NULL, {-1, -1}};
    g_opts = &o;
    int list = 0;
    for (int c; (c = getopt_long(argc, argv, "", lopts, NULL)) != -1;) {
        char *end;
        switch (c) {
        case 'o': o.only = optarg; break;
        case 'i':
            o.iters = strtol(optarg, &end, 10);
            if (*end || o.iters < 1 || o.iters > 100000000) {
                fprintf(stderr, "ringhost-bench-gpu: --iters wants 1..100000000, not '%s'\n", optarg);
                return 2;
            }
            break;
        case 's':
            o.seconds = strtod(optarg, &end);
            if (*end || !(o.seconds > 0 && o.seconds <= 600)) {
                fprintf(stderr, "ringhost-bench-gpu: --seconds wants (0, 600], not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'j': o.json = optarg; break;
        case 'S': o.samples = optarg; break;
        case 'c':
            if (sscanf(optarg, "%d,%d", &o.cpu[0], &o.cpu[1]) != 2 || o.cpu[0] < 0 ||
                o.cpu[1] < 0 || o.cpu[0] >= CPU_SETSIZE || o.cpu[1] >= CPU_SETSIZE) {
                fprintf(stderr, "ringhost-bench-gpu: --cpus wants 'A,B', not '%s'\n", optarg);
                return 2;
            }
            break;
        case 'l': list = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ringhost-bench-gpu: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    int n_sel = 0;
    for (const bench_case &k : CASES)
        if (selected(&o, k.name)) {
            n_sel++;
            if (list)
                printf("%s\n", k.name);
        }
    if (n_sel == 0) {
        fprintf(stderr, "ringhost-bench-gpu: no case name contains '%s' (see --list)\n", o.only);
        return 2;
    }
    if (list)
        return 0;
    if (o.json && !(g_json = fopen(o.json, "a"))) {
        fprintf(stderr, "ringhost-bench-gpu: cannot open %s: %s\n", o.json, strerror(errno));
        return 2;
    }

    int n_dev = 0;
    cudaError_t e = cudaGetDeviceCount(&n_dev);
    if (e != cudaSuccess || n_dev == 0) {
        /* cudart reports a missing driver library as "driver version is
         * insufficient": say which it is. */
        int no_lib = e == cudaErrorInsufficientDriver && !dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
        printf("skipped: no CUDA device (%s%s)\n",
               e != cudaSuccess ? cudaGetErrorString(e) : "cudaGetDeviceCount found 0",
               no_lib ? ": no CUDA driver, libcuda.so.1 not found" : "");
        return 0;
    }
    pthread_t wd;
    if (pthread_create(&wd, NULL, watchdog, NULL) != 0)
        die("cannot start the watchdog thread");
    pthread_detach(wd);

    /* Mapped host memory, and a synchronize that spins rather than yields
     * or blocks: the per-request baselines get their lowest latency. */
    pin_self(o.cpu[0]); /* the latency cases' host thread */
    CK(cudaSetDeviceFlags(cudaDeviceMapHost | cudaDeviceScheduleSpin));
    CK(cudaSetDevice(0));
    cudaDeviceProp p;
    CK(cudaGetDeviceProperties(&p, 0));
    json_escape(g_card, sizeof g_card, p.name);
    int native_atomic = 0, map_host = 0, driver = 0, runtime = 0;
    CK(cudaDeviceGetAttribute(&native_atomic, cudaDevAttrHostNativeAtomicSupported, 0));
    CK(cudaDeviceGetAttribute(&map_host, cudaDevAttrCanMapHostMemory, 0));
    CK(cudaDriverGetVersion(&driver));
    CK(cudaRuntimeGetVersion(&runtime));
    char bus[32] = "";
    cudaDeviceGetPCIBusId(bus, sizeof bus, 0);
    CK(cudaFree(0)); /* the context, with every module loaded (EAGER) */

    /* Streams before any persistent launch: creating one later may wait
     * on the running kernel. */
    cudaStream_t persist, work;
    CK(cudaStreamCreateWithFlags(&persist, cudaStreamNonBlocking));
    CK(cudaStreamCreateWithFlags(&work, cudaStreamNonBlocking));

    char line[2048];
    snprintf(line, sizeof line,
             "{\"name\":\"gpu.header\",\"card\":\"%s\",\"cc\":\"%d.%d\",\"sms\":%d,"
             "\"pci_bus_id\":\"%s\",\"host_native_atomic\":%d,\"can_map_host_memory\":%d,"
             "\"driver\":%d,\"runtime\":%d,\"module_loading\":\"%s\",\"sync\":\"spin\","
             "\"iters\":%ld,\"seconds\":%.3f,\"devices\":%d,\"cpus\":[%d,%d]}",
             g_card, p.major, p.minor, p.multiProcessorCount, bus, native_atomic, map_host,
             driver, runtime, getenv("CUDA_MODULE_LOADING"), o.iters, o.seconds, n_dev, o.cpu[0],
             o.cpu[1]);
    emit(line);
    if (!map_host)
        die("this device cannot map host memory");

    for (const bench_case &k : CASES)
        if (selected(&o, k.name)) {
            k.run(&o, strstr(k.name, "mapped") ? persist : work);
            beat();
        }
    CK(cudaStreamDestroy(persist));
    CK(cudaStreamDestroy(work));
    if (g_json)
        fclose(g_json);
    return 0;
}
