/*
 * ringhost-stress — N producers × M echo kernels × many messages, with more
 * threads than cores, and nothing may be lost or duplicated.
 *
 * The program writes a manifest to a temporary folder (M kernels of the
 * shipped `echo` plugin, each reading its own input queue and writing its
 * own output queue; odd kernels run two workers on their one input queue),
 * launches it through the embedding API, and runs
 *   - N producer threads: producer p sends its share of the messages, each
 *     an echo.message whose seq is (p << 40 | i), whose text names p and
 *     whose data holds a checksum followed by bytes derived from seq
 *     (stress_payload.h);
 *     chunks of B messages go alternately through rh_send_burst and through
 *     B rh_send calls, each chunk to the next kernel's input queue; every id
 *     the queue hands back is kept;
 *   - one consumer thread per output queue, taking bursts with
 *     rh_recv_burst: each output is checked (length, checksum, content) and
 *     marked in a bitmap of (producer, seq); a bit already set is a
 *     duplicate; its correlation id is kept.
 * At the end every accepted message must have been received once (lost 0,
 * duplicates 0), each output's correlation id must equal the id its
 * producer got for that message, those ids must all differ, the queues'
 * own counters must agree with the program's, and after
 * rh_runtime_terminate() every accounting line must balance
 * (rh_runtime_unbalanced() == 0).  Exit 0 only then.
 *
 * All queues block when full, with a block timeout longer than any run, so
 * no policy may drop a message: "lost" must be 0 exactly.  A send that
 * still times out is retried (the queue counts it as rejected, outside the
 * accounting's "accepted").
 *
 * --fault-drop-every K makes the consumers forget every K-th output they
 * take, as a lossy host would: the run must then fail with lost =
 * received / K.  test_stress_detects_loss runs it, so a checker that stops
 * checking cannot pass unnoticed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringhost/ringhost.h"
#include "stress_payload.h"

#ifndef RH_STRESS_PLUGIN_DIR
#define RH_STRESS_PLUGIN_DIR "plugins"
#endif

#define MAX_THREADS 256
#define RECV_BURST 64
#define BLOCK_TIMEOUT_MS 600000 /* longer than any run: a full queue waits, never drops */

typedef struct options {
    uint32_t producers;
    uint32_t kernels;
    uint64_t messages;
    uint32_t seconds_max;
    int bridge_inline;
    uint32_t burst;
    uint64_t fault_drop_every; /* 0: off */
    const char *plugin_dir;
    int verbose;
} options;

typedef struct stress {
    options opt;
    rh_runtime *rt;
    rh_queue **in;  /* [kernels] */
    rh_queue **out; /* [kernels] */
    uint64_t *first; /* [producers + 1]: producer p owns messages first[p] .. first[p+1]-1 */
    rh_id *sent_id;  /* [messages]: the id rh_send / rh_send_burst gave each */
    rh_id *corr_id;  /* [messages]: the correlation id of its output */
    _Atomic uint64_t *seen; /* bitmap over [messages] */
    uint64_t deadline_ns;
    _Atomic int stop;            /* set on deadline or a fatal error */
    _Atomic uint64_t sent;       /* accepted by an input queue */
    _Atomic uint64_t send_retries;
    _Atomic uint64_t send_errors;
    _Atomic uint64_t received;   /* outputs taken, each checked */
    _Atomic uint64_t unique;     /* outputs whose bit was not yet set */
    _Atomic uint64_t duplicates;
    _Atomic uint64_t corrupt;    /* bad length, checksum, content or seq */
    _Atomic uint64_t taken;      /* outputs taken by all consumers */
    _Atomic uint64_t faked_loss; /* forgotten by --fault-drop-every */
    _Atomic uint64_t producers_done;
} stress;

typedef struct worker {
    stress *s;
    uint32_t index;
} worker;


/* -------------------------------------------------------- producers ---- */

static int past_deadline(stress *s)
{
    if (atomic_load_explicit(&s->stop, memory_order_relaxed))
        return 1;
    if (rh_now_ns() > s->deadline_ns) {
        atomic_store(&s->stop, 1);
        return 1;
    }
    return 0;
}

/* Send msgs[0..n) (all of payload length len) to q with one burst call,
 * retrying from the first refused one.  Returns how many were accepted. */
static uint32_t send_burst(stress *s, rh_queue *q, const stress_msg *msgs, uint32_t len,
                           uint32_t n, rh_id *ids)
{
    uint32_t done = 0;
    while (done < n && !past_deadline(s)) {
        int rc = rh_send_burst(q, NULL, &msgs[done], sizeof *msgs, len, n - done, &ids[done]);
        if (rc < 0) {
            fprintf(stderr, "stress: rh_send_burst: %s\n", rh_strerror(rc));
            atomic_fetch_add(&s->send_errors, 1);
            atomic_store(&s->stop, 1);
            break;
        }
        done += (uint32_t)rc;
        if (done < n)
            atomic_fetch_add(&s->send_retries, 1); /* block timed out: try again */
    }
    return done;
}

static int send_one(stress *s, rh_queue *q, const stress_msg *m, rh_id *id)
{
    while (!past_deadline(s)) {
        int rc = rh_send(q, NULL, m, stress_payload_len(m->data_len), id);
        if (rc == 0)
            return 1;
        if (rc != RH_ETIMEDOUT) {
            fprintf(stderr, "stress: rh_send: %s\n", rh_strerror(rc));
            atomic_fetch_add(&s->send_errors, 1);
            atomic_store(&s->stop, 1);
            return 0;
        }
        atomic_fetch_add(&s->send_retries, 1);
    }
    return 0;
}

static void *producer_main(void *arg)
{
    worker *w = arg;
    stress *s = w->s;
    uint32_t p = w->index, B = s->opt.burst;
    uint64_t first = s->first[p], count = s->first[p + 1] - first;
    stress_msg *msgs = calloc(B, sizeof *msgs);
    if (!msgs) {
        atomic_store(&s->stop, 1);
        return NULL;
    }
    uint64_t i = 0;
    for (uint64_t chunk = 0; i < count && !past_deadline(s); chunk++) {
        uint32_t n = count - i < B ? (uint32_t)(count - i) : B;
        rh_queue *q = s->in[(p + chunk) % s->opt.kernels];
        uint32_t accepted = 0;
        if (chunk % 2 == 0 && n > 1) {
            /* One length for the burst, another for the next. */
            uint32_t data_len = CHECKSUM_BYTES + (uint32_t)(stress_mix64(p * 131u + chunk) % 120);
            for (uint32_t j = 0; j < n; j++)
                stress_fill(&msgs[j], p, i + j, data_len);
            accepted = send_burst(s, q, msgs, stress_payload_len(data_len), n,
                                  &s->sent_id[first + i]);
        } else {
            for (uint32_t j = 0; j < n; j++) {
                uint32_t data_len = CHECKSUM_BYTES + (uint32_t)(stress_mix64(first + i + j) % 200);
                stress_fill(&msgs[0], p, i + j, data_len);
                if (!send_one(s, q, &msgs[0], &s->sent_id[first + i + j]))
                    break;
                accepted++;
            }
        }
        atomic_fetch_add(&s->sent, accepted);
        i += accepted;
        if (accepted < n)
            break;
    }
    free(msgs);
    atomic_fetch_add(&s->producers_done, 1);
    return NULL;
}

/* -------------------------------------------------------- consumers ---- */

static void *consumer_main(void *arg)
{
    worker *w = arg;
    stress *s = w->s;
    rh_queue *q = s->out[w->index];
    uint32_t stride = rh_queue_payload_size(q);
    if (stride < sizeof(stress_msg))
        stride = sizeof(stress_msg);
    stride = (stride + 7u) & ~7u;
    uint8_t *bufs = aligned_alloc(8, (size_t)stride * RECV_BURST);
    rh_envelope *envs = calloc(RECV_BURST, sizeof *envs);
    if (!bufs || !envs) {
        atomic_store(&s->stop, 1);
        free(bufs);
        free(envs);
        return NULL;
    }
    for (;;) {
        int n = rh_recv_burst(q, envs, bufs, stride, RECV_BURST, 50);
        if (n == RH_ETIMEDOUT || n == 0) {
            /* Done when every producer has finished and every message it
             * got accepted has come back (or the run is out of time). */
            if (past_deadline(s))
                break;
            if (atomic_load(&s->producers_done) == s->opt.producers &&
                atomic_load(&s->received) >= atomic_load(&s->sent))
                break;
            continue;
        }
        if (n < 0) {
            fprintf(stderr, "stress: rh_recv_burst on %s: %s\n", rh_queue_name(q), rh_strerror(n));
            atomic_store(&s->stop, 1);
            break;
        }
        for (int j = 0; j < n; j++) {
            const stress_msg *m = (const stress_msg *)(bufs + (size_t)j * stride);
            uint64_t taken = atomic_fetch_add(&s->taken, 1) + 1;
            if (s->opt.fault_drop_every && taken % s->opt.fault_drop_every == 0) {
                atomic_fetch_add(&s->faked_loss, 1);
                atomic_fetch_add(&s->received, 1);
                continue;
            }
            char why[160];
            uint64_t slot;
            if (stress_check(m, envs[j].payload_len, s->opt.producers, s->first, &slot, why,
                             sizeof why) != 0) {
                if (atomic_fetch_add(&s->corrupt, 1) < 10)
                    fprintf(stderr, "stress: corrupt output on %s: %s\n", rh_queue_name(q), why);
                atomic_fetch_add(&s->received, 1);
                continue;
            }
            uint64_t bit = UINT64_C(1) << (slot % 64);
            uint64_t was = atomic_fetch_or(&s->seen[slot / 64], bit);
            if (was & bit) {
                if (atomic_fetch_add(&s->duplicates, 1) < 10)
                    fprintf(stderr, "stress: duplicate output of seq %#llx on %s\n",
                            (unsigned long long)m->seq, rh_queue_name(q));
            } else {
                s->corr_id[slot] = envs[j].correlation_id; /* only the first writer */
                atomic_fetch_add(&s->unique, 1);
            }
            atomic_fetch_add(&s->received, 1);
        }
    }
    free(bufs);
    free(envs);
    return NULL;
}

/* ----------------------------------------------------- the manifest ---- */

static int write_manifest(const stress *s, const char *path, const char *name)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f,
            "{\n  \"ringhost\": 1,\n  \"name\": \"%s\",\n  \"plugins\": [\"%s\"],\n"
            "  \"defaults\": {\"queue\": {\"capacity\": 1024, \"backpressure\": \"block\",\n"
            "                           \"block_timeout_ms\": %d, \"shared\": false}},\n"
            "  \"queues\": {\n",
            name, s->opt.plugin_dir, BLOCK_TIMEOUT_MS);
    for (uint32_t k = 0; k < s->opt.kernels; k++)
        fprintf(f, "    \"s%u.in\": {\"type\": \"echo.message\"},\n"
                   "    \"s%u.out\": {\"type\": \"echo.message\"}%s\n",
                k, k, k + 1 < s->opt.kernels ? "," : "");
    fprintf(f, "  },\n  \"kernels\": [\n");
    for (uint32_t k = 0; k < s->opt.kernels; k++)
        fprintf(f,
                "    {\"name\": \"echo%u\", \"plugin\": \"echo\", \"workers\": %u,\n"
                "     \"inputs\": {\"in\": \"s%u.in\"}, \"outputs\": {\"out\": \"s%u.out\"},\n"
                "     \"bridge\": \"%s\"}%s\n",
                k, 1 + k % 2, k, k, s->opt.bridge_inline ? "inline" : "thread",
                k + 1 < s->opt.kernels ? "," : "");
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ checks ---- */

static int cmp_id(const void *a, const void *b)
{
    const rh_id *x = a, *y = b;
    if (x->hi != y->hi)
        return x->hi < y->hi ? -1 : 1;
    if (x->lo != y->lo)
        return x->lo < y->lo ? -1 : 1;
    return 0;
}

/* Outputs whose correlation id is not the id their input got, and ids
 * given to two messages (sent_id is sorted in place: call last). */
static void check_ids(stress *s, uint64_t *wrong_corr, uint64_t *repeated_ids)
{
    uint64_t total = s->opt.messages, wrong = 0, repeated = 0;
    for (uint64_t i = 0; i < total; i++) {
        if (!(atomic_load_explicit(&s->seen[i / 64], memory_order_relaxed) >> (i % 64) & 1))
            continue;
        if (rh_id_is_zero(s->sent_id[i]) || !rh_id_eq(s->sent_id[i], s->corr_id[i])) {
            if (wrong++ < 5)
                fprintf(stderr, "stress: output of message %llu: correlation id is not its id\n",
                        (unsigned long long)i);
        }
    }
    qsort(s->sent_id, total, sizeof *s->sent_id, cmp_id);
    for (uint64_t i = 1; i < total; i++)
        if (!rh_id_is_zero(s->sent_id[i]) && rh_id_eq(s->sent_id[i], s->sent_id[i - 1]))
            repeated++;
    *wrong_corr = wrong;
    *repeated_ids = repeated;
}

/* What the queues counted must be what the program counted. */
static int check_queue_counters(stress *s, uint64_t received_total)
{
    uint64_t enq = 0, deq = 0;
    for (uint32_t k = 0; k < s->opt.kernels; k++) {
        rh_queue_stats in = RH_QUEUE_STATS_INIT, out = RH_QUEUE_STATS_INIT;
        rh_queue_stats_get(s->in[k], &in);
        rh_queue_stats_get(s->out[k], &out);
        enq += in.enqueued;
        deq += out.dequeued;
    }
    uint64_t sent = atomic_load(&s->sent);
    if (enq != sent || deq != received_total) {
        fprintf(stderr,
                "stress: queue counters disagree: inputs enqueued %llu (program sent %llu), "
                "outputs dequeued %llu (program received %llu)\n",
                (unsigned long long)enq, (unsigned long long)sent, (unsigned long long)deq,
                (unsigned long long)received_total);
        return -1;
    }
    return 0;
}

/* -------------------------------------------------------------- main ---- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: ringhost-stress [--producers N] [--kernels M] [--messages TOTAL]\n"
            "                       [--seconds-max S] [--bridge inline|thread] [--burst B]\n"
            "                       [--plugins DIR] [--fault-drop-every K] [--verbose]\n"
            "Exit 0 only when lost == 0, duplicates == 0, nothing corrupt, ids match and\n"
            "every accounting line balances.\n");
}

static int parse_u64(const char *text, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"producers", required_argument, 0, 'p'},
        {"kernels", required_argument, 0, 'k'},
        {"messages", required_argument, 0, 'm'},
        {"seconds-max", required_argument, 0, 's'},
        {"bridge", required_argument, 0, 'b'},
        {"burst", required_argument, 0, 'B'},
        {"plugins", required_argument, 0, 'P'},
        {"fault-drop-every", required_argument, 0, 'f'},
        {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    *o = (options){.producers = 4, .kernels = 4, .messages = 400000, .seconds_max = 60,
                   .burst = 32, .plugin_dir = RH_STRESS_PLUGIN_DIR};
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'p':
        case 'k':
            if (parse_u64(optarg, 1, 64, &v) != 0)
                goto bad;
            *(c == 'p' ? &o->producers : &o->kernels) = (uint32_t)v;
            break;
        case 'm':
            if (parse_u64(optarg, 1, UINT64_C(1) << 32, &o->messages) != 0)
                goto bad;
            break;
        case 's':
            if (parse_u64(optarg, 1, 86400, &v) != 0)
                goto bad;
            o->seconds_max = (uint32_t)v;
            break;
        case 'b':
            if (strcmp(optarg, "inline") != 0 && strcmp(optarg, "thread") != 0)
                goto bad;
            o->bridge_inline = strcmp(optarg, "inline") == 0;
            break;
        case 'B':
            if (parse_u64(optarg, 1, 1024, &v) != 0)
                goto bad;
            o->burst = (uint32_t)v;
            break;
        case 'P':
            o->plugin_dir = optarg;
            break;
        case 'f':
            if (parse_u64(optarg, 1, UINT64_MAX, &o->fault_drop_every) != 0)
                goto bad;
            break;
        case 'v':
            o->verbose = 1;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            goto bad;
        }
    }
    if (optind != argc)
        goto bad;
    return 0;
bad:
    usage(stderr);
    return -1;
}

int main(int argc, char **argv)
{
    stress *s = calloc(1, sizeof *s);
    if (!s || parse_options(argc, argv, &s->opt) != 0)
        return 2;
    options *o = &s->opt;
    if (o->messages < o->producers) {
        fprintf(stderr, "stress: --messages must be at least --producers\n");
        return 2;
    }

    char dir[] = "/tmp/ringhost-stress-XXXXXX", manifest[PATH_MAX], logpath[PATH_MAX], name[64];
    if (!mkdtemp(dir)) {
        perror("stress: mkdtemp");
        return 1;
    }
    snprintf(name, sizeof name, "stress-%d", (int)getpid());
    snprintf(manifest, sizeof manifest, "%s/stress.json", dir);
    snprintf(logpath, sizeof logpath, "%s/host.log", dir);
    if (write_manifest(s, manifest, name) != 0) {
        fprintf(stderr, "stress: cannot write %s\n", manifest);
        return 1;
    }
    FILE *log = o->verbose ? stderr : fopen(logpath, "w+");
    if (!log) {
        perror("stress: host log");
        return 1;
    }

    s->in = calloc(o->kernels, sizeof *s->in);
    s->out = calloc(o->kernels, sizeof *s->out);
    s->first = calloc(o->producers + 1, sizeof *s->first);
    s->sent_id = calloc(o->messages, sizeof *s->sent_id);
    s->corr_id = calloc(o->messages, sizeof *s->corr_id);
    s->seen = calloc((o->messages + 63) / 64, sizeof *s->seen);
    if (!s->in || !s->out || !s->first || !s->sent_id || !s->corr_id || !s->seen) {
        fprintf(stderr, "stress: out of memory for %llu messages\n",
                (unsigned long long)o->messages);
        return 1;
    }
    for (uint32_t p = 0; p <= o->producers; p++)
        s->first[p] = o->messages * p / o->producers;

    rh_error err = {0};
    rh_launch_opts lo = RH_LAUNCH_OPTS_INIT(.instance = name, .log = log);
    if (rh_runtime_launch(manifest, &lo, &s->rt, &err) != 0 ||
        rh_runtime_activate(s->rt, &err) != 0) {
        fprintf(stderr, "stress: launch %s: %s\n", manifest, err.msg);
        return 1;
    }
    for (uint32_t k = 0; k < o->kernels; k++) {
        char q[32];
        snprintf(q, sizeof q, "s%u.in", k);
        s->in[k] = rh_runtime_queue(s->rt, q);
        snprintf(q, sizeof q, "s%u.out", k);
        s->out[k] = rh_runtime_queue(s->rt, q);
        if (!s->in[k] || !s->out[k]) {
            fprintf(stderr, "stress: queue %s missing after launch\n", q);
            return 1;
        }
    }

    uint32_t nthreads = o->producers + o->kernels;
    if (nthreads > MAX_THREADS)
        return 2;
    pthread_t tids[MAX_THREADS];
    worker workers[MAX_THREADS];
    uint64_t t0 = rh_now_ns();
    s->deadline_ns = t0 + (uint64_t)o->seconds_max * 1000000000u;
    for (uint32_t t = 0; t < nthreads; t++) {
        int is_producer = t < o->producers;
        workers[t] = (worker){.s = s, .index = is_producer ? t : t - o->producers};
        if (pthread_create(&tids[t], NULL, is_producer ? producer_main : consumer_main,
                           &workers[t]) != 0) {
            fprintf(stderr, "stress: pthread_create failed\n");
            return 1;
        }
    }
    for (uint32_t t = 0; t < nthreads; t++)
        pthread_join(tids[t], NULL);
    double ms = (double)(rh_now_ns() - t0) / 1e6;
    int timed_out = atomic_load(&s->stop) != 0;

    uint64_t sent = atomic_load(&s->sent), received = atomic_load(&s->received);
    uint64_t unique = atomic_load(&s->unique), duplicates = atomic_load(&s->duplicates);
    uint64_t corrupt = atomic_load(&s->corrupt);
    uint64_t lost = sent > unique ? sent - unique : 0;
    int counters_bad = check_queue_counters(s, received) != 0;

    if (rh_runtime_terminate(s->rt, 10000, &err) != 0)
        fprintf(stderr, "stress: terminate: %s\n", err.msg);
    int unbalanced = rh_runtime_unbalanced(s->rt);
    if (unbalanced)
        rh_runtime_report_accounting(s->rt, stderr);

    uint64_t wrong_corr, repeated_ids;
    check_ids(s, &wrong_corr, &repeated_ids);

    int ok = !timed_out && sent == o->messages && lost == 0 && duplicates == 0 && corrupt == 0 &&
             wrong_corr == 0 && repeated_ids == 0 && !counters_bad && unbalanced == 0 &&
             atomic_load(&s->send_errors) == 0;
    printf("stress: producers %u kernels %u bridge %s burst %u: sent %llu received %llu lost %llu "
           "duplicates %llu corrupt %llu bad_correlation %llu repeated_ids %llu retries %llu "
           "accounting %s, %.0f ms, %.0f msg/s%s: %s\n",
           o->producers, o->kernels, o->bridge_inline ? "inline" : "thread", o->burst,
           (unsigned long long)sent, (unsigned long long)received, (unsigned long long)lost,
           (unsigned long long)duplicates, (unsigned long long)corrupt,
           (unsigned long long)wrong_corr, (unsigned long long)repeated_ids,
           (unsigned long long)atomic_load(&s->send_retries),
           unbalanced ? "UNBALANCED" : "balanced", ms, ms > 0 ? (double)sent * 1000.0 / ms : 0.0,
           timed_out ? " (stopped: --seconds-max reached or an error)" : "", ok ? "PASS" : "FAIL");

    rh_runtime_destroy(s->rt);
    if (log != stderr)
        fclose(log);
    /* A failure keeps the manifest and the host log to look at, unless it
     * was asked for (--fault-drop-every). */
    if (ok || o->fault_drop_every) {
        unlink(manifest);
        unlink(logpath);
        rmdir(dir);
    } else {
        fprintf(stderr, "stress: manifest and host log kept in %s\n", dir);
    }
    free(s->in);
    free(s->out);
    free(s->first);
    free(s->sent_id);
    free(s->corr_id);
    free(s->seen);
    free(s);
    return ok ? 0 : 1;
}
