/*
 * base_iceoryx.c — iceoryx 2.0.3 (Debian `iceoryx`, `libiceoryx-binding-c-dev`),
 * the zero-copy IPC peer, measured in the same run as ringhost,
 * on the same two cpus, client in another process.
 *
 * Cases (group xproc):
 *   iceoryx.rtt.p{64,1024,65536,1048576}  round trip: client process (cpu[0])
 *                                         -> echo process (cpu[1]) -> client
 *   iceoryx.echo.b32.p64                  echo throughput, bursts of 32
 *
 * Both sides are children forked for each repetition (xproc.h); the
 * benchmark process itself never joins iceoryx, so iox-roudi can be stopped
 * at the end without a runtime of ours still registered.  Every message is
 * a loaned chunk (iox_pub_loan_chunk / iox_pub_publish_chunk) read in place
 * (iox_sub_take_chunk / iox_sub_release_chunk).  Each side writes only the
 * message's header — the 4-byte length and the 8-byte sequence number
 * ringhost's bench messages carry — never the body: that is how a
 * zero-copy producer writes a message once (iceoryx's own iceperf does the
 * same), and what the "flat from 64 B to 1 MiB" target measures.  The
 * echo process answers each chunk with a fresh loaned chunk of the same
 * size (a received chunk is read-only and cannot be sent on).
 *
 * The daemon: the first case starts `iox-roudi -c <work_dir>/roudi.toml`
 * (mempools for exactly these payloads, ~10 MB; the management segment,
 * ~66 MB, is fixed by Debian's build), waits up to 10 s for "RouDi is ready
 * for clients", and it is stopped by pid (SIGTERM, SIGKILL after 3 s, then
 * its files removed) at exit or on SIGINT/SIGTERM/SIGHUP/SIGQUIT/SIGPIPE.  When iox-roudi is
 * not installed, the library was not found at build time, or roudi cannot
 * start, every iceoryx case is skipped with the reason.  iceoryx 2.0.3 runs
 * one roudi per machine: its socket /tmp/roudi, lock /tmp/roudi.lock and
 * segment /dev/shm/iceoryx_mgmt are named at build time, and neither -u
 * (unique roudi id) nor the config file changes them; a second roudi aborts
 * with "Could not acquire lock, is RouDi still running?" and leaves the
 * first unharmed.  So while another roudi runs, these cases are skipped.
 *
 * Window: the echo client keeps at most IOX_WINDOW (256) messages in flight,
 * not BENCH_ECHO_WINDOW (1024): a subscriber queue holds at most 256 chunks
 * in this build (IOX_MAX_CHUNKS_HELD_PER_SUBSCRIBER_SIMULTANEOUSLY), and with
 * more in flight either messages are lost (DISCARD_OLDEST_DATA) or both
 * sides block on each other's full queues.  At burst 32, 256 is 8 bursts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_pvt.h"
#include "xproc.h"

#ifdef BENCH_HAVE_ICEORYX
#include <iceoryx_binding_c/log.h>
#include <iceoryx_binding_c/publisher.h>
#include <iceoryx_binding_c/runtime.h>
#include <iceoryx_binding_c/subscriber.h>
#endif

#define IOX_WINDOW 256u
#define IOX_SERVICE "rhbench"
#define ROUDI_READY "RouDi is ready for clients"
#define ROUDI_START_MS 10000
#define CONNECT_MS 10000    /* publisher and subscriber of both sides matched */
#define ANSWER_MS 10000     /* the longest one round trip may take (a loaded machine) */
#define RTT_WARMUP_MIN 100u /* warm-up: a tenth of the samples plus this, as rh_xproc.c */

/* ------------------------------------------------------------ roudi --- */

static struct roudi_state {
    int tried, ok;
    pid_t pid;
    pid_t owner;             /* the benchmark process: children exit() too */
    char why[256];           /* why the cases are skipped */
    char user_shm[96];       /* /dev/shm/<user>: roudi's data segment */
    /* The IPC channels (/tmp/<runtime name>, and .lock) of the two children
     * of the case running now: a child killed before it deregistered leaves
     * them.  Paths made in advance, so the signal path only unlinks. */
    char child_files[4][96];
} roudi;

static void remove_child_files(void)
{
    for (int i = 0; i < 4; i++)
        if (roudi.child_files[i][0])
            unlink(roudi.child_files[i]);
}

/* What a SIGKILLed roudi leaves (a SIGTERMed one removes them itself).
 * Only ours can be there: a second roudi cannot run (see the top). */
static void roudi_remove_leftovers(void)
{
    unlink("/dev/shm/iceoryx_mgmt");
    if (roudi.user_shm[0])
        unlink(roudi.user_shm);
    unlink("/tmp/roudi");
    unlink("/tmp/roudi.lock");
    unlink("/tmp/iox-unique-roudi.lock");
    remove_child_files();
}

static void roudi_stop_at_exit(void)
{
    if (!roudi.ok || getpid() != roudi.owner)
        return;
    pid_t pid = roudi.pid;
    int killed = bench_daemon_stop();
    roudi.ok = 0;
    /* Lock file roudi creates and never removes; nobody holds it now. */
    unlink("/tmp/iox-unique-roudi.lock");
    if (killed >= 0)
        fprintf(stderr, "iceoryx: iox-roudi (pid %d) stopped%s\n", (int)pid,
                killed ? " with SIGKILL; its shared memory and socket removed" : "");
}

static int find_in_path(const char *prog, char *out, size_t len)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        const char *end = strchr(path, ':');
        size_t n = end ? (size_t)(end - path) : strlen(path);
        snprintf(out, len, "%.*s/%s", (int)n, path, prog);
        if (n && access(out, X_OK) == 0)
            return 0;
        path += n + (end ? 1 : 0);
    }
    return -1;
}

/* Mempools for the payloads of the cases: each chunk carries one message;
 * counts cover the echo window and a few loans (64 B), or a round trip's
 * two chunks with room to spare (the rest). */
static const char roudi_config[] =
    "# written by ringhost-bench (bench/base_iceoryx.c) for its own iox-roudi\n"
    "[general]\nversion = 1\n\n[[segment]]\n\n"
    "[[segment.mempool]]\nsize = 128\ncount = 1024\n\n"
    "[[segment.mempool]]\nsize = 1024\ncount = 32\n\n"
    "[[segment.mempool]]\nsize = 65536\ncount = 8\n\n"
    "[[segment.mempool]]\nsize = 1048576\ncount = 8\n";

/* The last line of roudi's log that says something (for an error). */
static void log_tail(const char *log, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(log, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            snprintf(out, len, "%s", line);
    }
    fclose(f);
}

static int file_contains(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static int roudi_start(const bench_env *env)
{
    char exe[PATH_MAX], cfg[PATH_MAX], log[PATH_MAX];
    if (find_in_path("iox-roudi", exe, sizeof exe) != 0) {
        snprintf(roudi.why, sizeof roudi.why,
                 "iox-roudi not found in PATH (Debian package iceoryx)");
        return -1;
    }
    struct passwd *pw = getpwuid(getuid());
    if (pw)
        snprintf(roudi.user_shm, sizeof roudi.user_shm, "/dev/shm/%s", pw->pw_name);
    snprintf(cfg, sizeof cfg, "%s/roudi.toml", env->work_dir);
    snprintf(log, sizeof log, "%s/roudi.log", env->work_dir);
    FILE *f = fopen(cfg, "w");
    if (!f || fputs(roudi_config, f) < 0 || fclose(f) != 0) {
        snprintf(roudi.why, sizeof roudi.why, "cannot write %s: %s", cfg, strerror(errno));
        return -1;
    }
    fflush(NULL);
    uint64_t t0 = bench_now_ns();
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(roudi.why, sizeof roudi.why, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        /* A roudi that aborts (another one runs) must not leave a core. */
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_RDONLY);
        if (fd < 0 || null < 0)
            _exit(126);
        dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        /* Its own process group: a ^C at the terminal reaches the
         * benchmark, which stops roudi after its children. */
        setpgid(0, 0);
        /* ...and a benchmark killed by SIGKILL (no clean-up runs) still
         * stops it: roudi gets SIGTERM when its parent dies. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(126);
        execl(exe, "iox-roudi", "-c", cfg, (char *)NULL);
        _exit(127);
    }
    bench_daemon_register(pid, roudi_remove_leftovers);
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            bench_daemon_register(0, NULL);
            char tail[200];
            log_tail(log, tail, sizeof tail);
            if (file_contains(log, "is RouDi still running"))
                snprintf(roudi.why, sizeof roudi.why,
                         "another iox-roudi runs on this machine; iceoryx 2.0.3 allows one per "
                         "machine (/tmp/roudi, /dev/shm/iceoryx_mgmt are fixed names)");
            else
                snprintf(roudi.why, sizeof roudi.why, "iox-roudi -c %s exited (%s %d): %s", cfg,
                         WIFEXITED(status) ? "status" : "signal",
                         WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
            return -1;
        }
        if (file_contains(log, ROUDI_READY))
            break;
        if (bench_now_ns() - t0 > (uint64_t)ROUDI_START_MS * 1000000ull) {
            bench_daemon_stop();
            snprintf(roudi.why, sizeof roudi.why, "iox-roudi -c %s not ready after %d ms", cfg,
                     ROUDI_START_MS);
            return -1;
        }
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    roudi.pid = pid;
    roudi.owner = getpid();
    roudi.ok = 1;
    atexit(roudi_stop_at_exit); /* after xproc's own: runs first, and says so */
    fprintf(env->log,
            "iceoryx: started iox-roudi (pid %d) on its own config %s in %.0f ms; "
            "it is stopped when the benchmark ends\n",
            (int)pid, cfg, (double)(bench_now_ns() - t0) / 1e6);
    return 0;
}

/* 0 when roudi runs (started now or before); -1 with roudi.why set. */
static int roudi_ensure(const bench_env *env)
{
    if (!roudi.tried) {
        roudi.tried = 1;
#ifdef BENCH_HAVE_ICEORYX
        if (roudi_start(env) != 0)
            fprintf(env->log, "iceoryx: skipped: %s\n", roudi.why);
#else
        (void)roudi_start;
        snprintf(roudi.why, sizeof roudi.why,
                 "ringhost-bench was built without iceoryx (libiceoryx-binding-c-dev)");
        fprintf(env->log, "iceoryx: skipped: %s\n", roudi.why);
#endif
    }
    return roudi.ok ? 0 : -1;
}

/* ------------------------------------------------------------- cases --- */

/* What both children and the parent see (bench_shared_alloc). */
typedef struct iox_job {
    uint32_t payload, batch, samples;
    double rep_seconds;
    char instance[64];       /* the iceoryx service instance: unique per repetition */
    char runtime[2][64];     /* runtime names of the client [0] and the echo [1] */
    _Atomic int stop;        /* set by the client (or the parent) when done */
    /* client results */
    uint64_t received;
    double elapsed_s;
    uint32_t n_lat;
    char error[2][256];      /* per side */
    uint64_t lat[];          /* samples round trips */
} iox_job;

#ifdef BENCH_HAVE_ICEORYX

typedef struct iox_side {
    iox_pub_storage_t pub_storage;
    iox_sub_storage_t sub_storage;
    iox_pub_t pub;
    iox_sub_t sub;
} iox_side;

static void put_header(void *chunk, uint32_t payload, uint64_t seq)
{
    uint32_t used = payload - 4;
    memcpy(chunk, &used, 4);
    memcpy((char *)chunk + 4, &seq, sizeof seq);
}

static uint64_t header_seq(const void *chunk)
{
    uint64_t seq;
    memcpy(&seq, (const char *)chunk + 4, sizeof seq);
    return seq;
}

/* Joins iceoryx as `name`, publishes `pub_event`, subscribes to
 * `sub_event`, and waits until both are matched with the other side. */
static int side_open(iox_side *s, const iox_job *j, int role, char *err, size_t errlen)
{
    iox_set_loglevel(Iceoryx_LogLevel_Warn); /* not a Debug line per process */
    iox_runtime_init(j->runtime[role]);
    iox_pub_options_t po;
    iox_pub_options_init(&po);
    po.historyCapacity = 0;
    po.subscriberTooSlowPolicy = ConsumerTooSlowPolicy_WAIT_FOR_CONSUMER;
    iox_sub_options_t so;
    iox_sub_options_init(&so);
    so.queueCapacity = IOX_WINDOW;
    so.historyRequest = 0;
    so.queueFullPolicy = QueueFullPolicy_BLOCK_PRODUCER;
    const char *pub_event = role == 0 ? "ping" : "pong";
    const char *sub_event = role == 0 ? "pong" : "ping";
    s->pub = iox_pub_init(&s->pub_storage, IOX_SERVICE, j->instance, pub_event, &po);
    s->sub = iox_sub_init(&s->sub_storage, IOX_SERVICE, j->instance, sub_event, &so);
    uint64_t deadline = bench_now_ns() + (uint64_t)CONNECT_MS * 1000000ull;
    while (iox_sub_get_subscription_state(s->sub) != SubscribeState_SUBSCRIBED ||
           !iox_pub_has_subscribers(s->pub)) {
        if (bench_now_ns() > deadline || atomic_load(&j->stop)) {
            snprintf(err, errlen, "%s: publisher and subscriber not matched after %d ms",
                     j->runtime[role], CONNECT_MS);
            return -1;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* Leaves iceoryx and ends the child with exit(), not the _exit() of
 * bench_proc_start: the runtime deregisters from roudi in its static
 * destructor.  A process that skips it stays on roudi's list, and roudi
 * then aborts at SIGTERM (POSH__ROUDI_PROCESS_SHUTDOWN_FAILED, leaving its
 * shared memory behind) after trying to SIGTERM that pid, which another
 * process may have by then.  iox_runtime_shutdown() does not deregister
 * (and exit() after it hangs), so it is not called. */
static void side_close_and_exit(iox_side *s, int rc)
{
    if (s->sub)
        iox_sub_deinit(s->sub);
    if (s->pub)
        iox_pub_deinit(s->pub);
    exit(rc == 0 ? 0 : 1);
}

static int publish(iox_side *s, uint32_t payload, uint64_t seq, char *err, size_t errlen)
{
    void *chunk;
    enum iox_AllocationResult a = iox_pub_loan_chunk(s->pub, &chunk, payload);
    if (a != AllocationResult_SUCCESS) {
        snprintf(err, errlen, "iox_pub_loan_chunk(%u bytes): result %d", payload, (int)a);
        return -1;
    }
    put_header(chunk, payload, seq);
    iox_pub_publish_chunk(s->pub, chunk);
    return 0;
}

/* The echo process: answer every chunk until the client says stop. */
static int echo_main(void *arg)
{
    iox_job *j = arg;
    iox_side s = {0};
    char *err = j->error[1];
    int rc = side_open(&s, j, 1, err, sizeof j->error[1]);
    for (uint32_t polls = 0; rc == 0; polls++) {
        const void *in;
        if (iox_sub_take_chunk(s.sub, &in) != ChunkReceiveResult_SUCCESS) {
            if ((polls & 255) == 0 && atomic_load_explicit(&j->stop, memory_order_relaxed))
                break;
            bench_cpu_relax();
            continue;
        }
        rc = publish(&s, j->payload, header_seq(in), err, sizeof j->error[1]);
        iox_sub_release_chunk(s.sub, in);
    }
    side_close_and_exit(&s, rc);
    return 1;
}

/* Takes one answer, spinning; checks its sequence number. */
static int take_answer(iox_side *s, uint64_t expect, char *err, size_t errlen)
{
    const void *in;
    uint64_t deadline = 0;
    for (uint32_t spins = 0; iox_sub_take_chunk(s->sub, &in) != ChunkReceiveResult_SUCCESS;
         spins++) {
        bench_cpu_relax();
        if ((spins & 1023) == 1023) {
            uint64_t now = bench_now_ns();
            if (!deadline)
                deadline = now + (uint64_t)ANSWER_MS * 1000000ull;
            else if (now > deadline) {
                snprintf(err, errlen, "answer %llu: none after %d ms",
                         (unsigned long long)expect, ANSWER_MS);
                return -1;
            }
        }
    }
    uint64_t seq = header_seq(in);
    iox_sub_release_chunk(s->sub, in);
    if (seq != expect) {
        snprintf(err, errlen, "answer %llu arrived where %llu was due (lost, twice or out of order)",
                 (unsigned long long)seq, (unsigned long long)expect);
        return -1;
    }
    return 0;
}

static int rtt_client_main(void *arg)
{
    iox_job *j = arg;
    iox_side s = {0};
    char *err = j->error[0];
    size_t errlen = sizeof j->error[0];
    int rc = side_open(&s, j, 0, err, errlen);
    uint32_t warm = j->samples / 10 + RTT_WARMUP_MIN;
    for (uint32_t i = 0; rc == 0 && i < warm + j->samples; i++) {
        uint64_t t0 = bench_now_ns();
        rc = publish(&s, j->payload, i, err, errlen);
        if (rc == 0)
            rc = take_answer(&s, i, err, errlen);
        uint64_t t1 = bench_now_ns();
        if (rc == 0 && i >= warm)
            j->lat[j->n_lat++] = t1 - t0;
    }
    atomic_store(&j->stop, 1);
    side_close_and_exit(&s, rc);
    return 1;
}

static int echo_client_main(void *arg)
{
    iox_job *j = arg;
    iox_side s = {0};
    char *err = j->error[0];
    size_t errlen = sizeof j->error[0];
    int rc = side_open(&s, j, 0, err, errlen);
    uint64_t next = 0, expect = 0;
    uint64_t start = bench_now_ns();
    uint64_t measure_from = start + (uint64_t)(j->rep_seconds * 0.2e9);
    uint64_t end = measure_from + (uint64_t)(j->rep_seconds * 1e9);
    uint64_t t0 = 0, at_t0 = 0;
    for (uint64_t round = 0; rc == 0; round++) {
        if (next - expect + j->batch <= IOX_WINDOW)
            for (uint32_t b = 0; rc == 0 && b < j->batch; b++)
                rc = publish(&s, j->payload, next++, err, errlen);
        for (uint32_t b = 0; rc == 0 && b < j->batch; b++) {
            const void *in;
            if (iox_sub_take_chunk(s.sub, &in) != ChunkReceiveResult_SUCCESS)
                break;
            uint64_t seq = header_seq(in);
            iox_sub_release_chunk(s.sub, in);
            if (seq != expect) {
                snprintf(err, errlen, "answer %llu arrived where %llu was due",
                         (unsigned long long)seq, (unsigned long long)expect);
                rc = -1;
            }
            expect++;
        }
        if ((round & 63) == 0) {
            uint64_t now = bench_now_ns();
            if (!t0 && now >= measure_from) {
                t0 = now;
                at_t0 = expect;
            } else if (t0 && now >= end) {
                j->received = expect - at_t0;
                j->elapsed_s = (double)(now - t0) / 1e9;
                break;
            }
        }
    }
    /* Everything sent must come back. */
    while (rc == 0 && expect < next)
        rc = take_answer(&s, expect++, err, errlen);
    atomic_store(&j->stop, 1);
    side_close_and_exit(&s, rc);
    return 1;
}

#endif /* BENCH_HAVE_ICEORYX */

typedef enum iox_mode { IOX_RTT, IOX_ECHO } iox_mode;

static int run_case(const bench_env *env, const bench_params *p, bench_result *out, iox_mode mode)
{
    if (roudi_ensure(env) != 0)
        return bench_skip(out, "%s", roudi.why);
#ifndef BENCH_HAVE_ICEORYX
    (void)p;
    (void)mode;
    return bench_skip(out, "%s", roudi.why);
#else
    static unsigned serial;
    uint32_t samples = mode == IOX_RTT ? bench_rtt_samples_for(env, p->payload) : 0;
    size_t bytes = sizeof(iox_job) + (size_t)samples * sizeof(uint64_t);
    iox_job *j = bench_shared_alloc(bytes);
    if (!j)
        return bench_fail(out, "cannot map %zu bytes of shared memory", bytes);
    j->payload = p->payload;
    j->batch = p->batch ? p->batch : 1;
    j->samples = samples;
    j->rep_seconds = env->rep_seconds;
    unsigned n = serial++;
    snprintf(j->instance, sizeof j->instance, "p%d-%u", (int)getpid(), n);
    snprintf(j->runtime[0], sizeof j->runtime[0], "rhbench-%d-%u-client", (int)getpid(), n);
    snprintf(j->runtime[1], sizeof j->runtime[1], "rhbench-%d-%u-echo", (int)getpid(), n);

    for (int side = 0; side < 2; side++) {
        snprintf(roudi.child_files[2 * side], sizeof roudi.child_files[0], "/tmp/%s",
                 j->runtime[side]);
        snprintf(roudi.child_files[2 * side + 1], sizeof roudi.child_files[0], "/tmp/%s.lock",
                 j->runtime[side]);
    }
    pid_t echo, client;
    int rc = bench_proc_start(&echo, env->cpu[1], echo_main, j);
    if (rc != 0) {
        bench_shared_free(j, bytes);
        return bench_fail(out, "fork: %s", strerror(-rc));
    }
    rc = bench_proc_start(&client, env->cpu[0], mode == IOX_RTT ? rtt_client_main
                                                                : echo_client_main, j);
    int client_rc = rc == 0 ? bench_proc_wait(client, CONNECT_MS + ANSWER_MS + 30000) : rc;
    atomic_store(&j->stop, 1);
    int echo_rc = bench_proc_wait(echo, CONNECT_MS);
    remove_child_files(); /* gone already unless a child was killed */
    memset(roudi.child_files, 0, sizeof roudi.child_files);
    if (client_rc != 0 || echo_rc != 0) {
        rc = bench_fail(out, "iceoryx %s: client %s%s%s, echo %s%s%s",
                        mode == IOX_RTT ? "round trip" : "echo",
                        client_rc == 0 ? "ok" : client_rc == -ETIMEDOUT ? "timed out" : "failed",
                        j->error[0][0] ? ": " : "", j->error[0],
                        echo_rc == 0 ? "ok" : echo_rc == -ETIMEDOUT ? "timed out" : "failed",
                        j->error[1][0] ? ": " : "", j->error[1]);
    } else if (mode == IOX_RTT) {
        uint64_t *lat = malloc((size_t)j->n_lat * sizeof *lat);
        if (!lat || !j->n_lat) {
            free(lat);
            rc = bench_fail(out, "no round trip measured");
        } else {
            memcpy(lat, j->lat, (size_t)j->n_lat * sizeof *lat);
            bench_put_latencies(out, lat, j->n_lat);
        }
    } else if (j->elapsed_s <= 0) {
        rc = bench_fail(out, "no message came back");
    } else {
        double rate = (double)j->received / j->elapsed_s;
        bench_put(out, "msgs_per_s", "msg/s", rate);
        bench_put(out, "gb_per_s", "GB/s", rate * p->payload / 1e9);
    }
    bench_shared_free(j, bytes);
    return rc;
#endif
}

static int run_rtt(const bench_env *env, const bench_params *p, bench_result *out)
{
    return run_case(env, p, out, IOX_RTT);
}

static int run_echo(const bench_env *env, const bench_params *p, bench_result *out)
{
    return run_case(env, p, out, IOX_ECHO);
}

void bench_register_iceoryx(bench_suite *s, const bench_env *env)
{
    (void)env;
    static const uint32_t payloads[] = {64, 1024, 65536, 1048576};
    char name[BENCH_NAME_MAX];
    for (size_t i = 0; i < sizeof payloads / sizeof *payloads; i++) {
        snprintf(name, sizeof name, "iceoryx.rtt.p%u", payloads[i]);
        bench_add(s, "xproc", name, run_rtt, &(bench_params){.payload = payloads[i], .batch = 1});
    }
    bench_add(s, "xproc", "iceoryx.echo.b32.p64", run_echo,
              &(bench_params){.payload = 64, .batch = 32});
}
