/*
 * test_cli_slow_producers.c — slow is not dead, with the real host: a
 * serving `ringhost run` (e.in -> echo -> e.out) fed by producers at
 * SCHED_IDLE priority beside `stress-ng --cpu 2`, so they are descheduled
 * between claim and publish for as long as the busy cpus keep them off
 * (seen: 1.4 s; before the producers' notes, 1 s of that marked e.in
 * corrupt and every later send failed RH_ECORRUPT until a relaunch).
 *
 * Producers: 3 processes sending bursts of 16 through the copying path
 * (rh_send_burst, the API the bridges and C clients use) and 2 loops of the
 * real `ringhost send` (its loans), all SCHED_IDLE; every 1.6 s one copying
 * producer is stopped for 1.2 s wherever it is (a steal spike: SIGSTOP,
 * SIGCONT).  Every answer is read from e.out.  Expected: no send refused, nothing marked corrupt, each
 * accepted message answered exactly once.
 *
 * SLOW_PRODUCERS_SECONDS sets how long the producers run (default 15);
 * tests/stress/slow_producers.sh runs this for minutes.  The figures are
 * printed on stdout as one line (sent, refused, answered, duplicated, lost,
 * corrupt).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_common.h"
#include "ringhost/ringhost.h"

#define PRODUCERS 3
#define CLI_LOOPS 2
#define BURST 16
#define PER_PRODUCER_MAX (1u << 22)
#define CLI_TAG 0x4000000000000000ull /* below 2^63: JSON integers are signed */
#define CLI_BODIES 64

typedef struct shared {
    _Atomic uint64_t sent[PRODUCERS], refused[PRODUCERS];
    _Atomic uint64_t cli_sent, cli_refused;
    _Atomic int stop;
} shared;

static shared *sh;

static const char *manifest(void)
{
    return cli_manifest("slowprod",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 256},\n"
        "            \"e.out\": {\"type\": \"echo.message\", \"capacity\": 4096}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"echo\",\n"
        "               \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n");
}

static void idle_priority(void)
{
    struct sched_param sp = {0};
    sched_setscheduler(0, SCHED_IDLE, &sp);
}

/* A copying producer: bursts of 16 until told to stop. */
static void producer(const char *inst, int p)
{
    idle_priority();
    rh_queue *q = NULL;
    if (rh_queue_attach(inst, "e.in", &q, NULL) != 0)
        _exit(3);
    uint32_t size = rh_queue_payload_size(q);
    unsigned char *bufs = calloc(BURST, size);
    for (uint64_t i = 0; i + BURST <= PER_PRODUCER_MAX && !atomic_load(&sh->stop);) {
        for (uint32_t k = 0; k < BURST; k++) {
            uint64_t seq = ((uint64_t)p << 32) | (i + k);
            memcpy(bufs + (size_t)k * size, &seq, sizeof seq);
        }
        int rc = rh_send_burst(q, NULL, bufs, size, size, BURST, NULL);
        if (rc < 0) {
            atomic_fetch_add(&sh->refused[p], 1);
            continue; /* the same burst again, as a client retrying would */
        }
        if (rc < BURST)
            atomic_fetch_add(&sh->refused[p], BURST - (uint32_t)rc);
        i += (uint64_t)rc;
        atomic_store(&sh->sent[p], i);
    }
    _exit(0);
}

/* `chrt -i 0 ringhost send` of CLI_BODIES messages, again and again. */
static void cli_loop(const char *inst, int l)
{
    char *args[CLI_BODIES + 10];
    int a = 0;
    static char chrt[] = "chrt", opt[] = "-i", prio[] = "0", verb[] = "send",
                flag[] = "--instance", qn[] = "e.in";
    args[a++] = chrt;
    args[a++] = opt;
    args[a++] = prio;
    static char binary[] = RH_TEST_BINARY;
    args[a++] = binary;
    args[a++] = verb;
    args[a++] = flag;
    args[a++] = strdup(inst);
    args[a++] = qn;
    int first = a;
    static char bodies[CLI_BODIES][48];
    for (uint64_t round = 0; !atomic_load(&sh->stop); round++) {
        for (int b = 0; b < CLI_BODIES; b++) {
            uint64_t seq = CLI_TAG | ((uint64_t)l << 40) | (round * CLI_BODIES + (uint64_t)b);
            snprintf(bodies[b], sizeof bodies[b], "{\"seq\": %llu}", (unsigned long long)seq);
            args[first + b] = bodies[b];
        }
        args[first + CLI_BODIES] = NULL;
        pid_t pid = fork();
        if (pid == 0) {
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 1);
            execvp("chrt", args);
            _exit(127);
        }
        int st = 0;
        waitpid(pid, &st, 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
            atomic_fetch_add(&sh->cli_sent, CLI_BODIES);
        else
            atomic_fetch_add(&sh->cli_refused, 1);
    }
    _exit(0);
}

typedef struct reader {
    rh_queue *q;
    uint8_t *seen[PRODUCERS];
    _Atomic uint64_t answered, cli_answered; /* read by the test while the reader runs */
    uint64_t twice, bad;
    _Atomic int stop;
} reader;

static void *reader_main(void *arg)
{
    reader *r = arg;
    uint32_t size = rh_queue_payload_size(r->q);
    unsigned char *bufs = calloc(64, size);
    while (!atomic_load(&r->stop)) {
        int n = rh_recv_burst(r->q, NULL, bufs, size, 64, 50);
        for (int i = 0; i < n; i++) {
            uint64_t seq;
            memcpy(&seq, bufs + (size_t)i * size, sizeof seq);
            if ((seq & CLI_TAG) == CLI_TAG) {
                r->cli_answered++;
                continue;
            }
            uint64_t p = seq >> 32, k = seq & 0xffffffffu;
            if (p >= PRODUCERS || k >= PER_PRODUCER_MAX) {
                r->bad++;
                continue;
            }
            r->twice += r->seen[p][k]++ != 0;
            r->answered++;
        }
    }
    free(bufs);
    return NULL;
}

static void test_idle_priority_producers_beside_a_busy_cpu_are_never_refused(void **state)
{
    (void)state;
    const char *env = getenv("SLOW_PRODUCERS_SECONDS");
    int seconds = env ? atoi(env) : 15;
    if (seconds < 1)
        seconds = 15;
    const char *inst = cli_instance("slowprod");
    proc host;
    cli_start_host(&host, manifest(), inst);
    rh_queue *out = NULL;
    rh_error err = {0};
    EXPECT(rh_queue_attach(inst, "e.out", &out, &err) == 0, "expected e.out: %s", err.msg);
    static reader r;
    memset(&r, 0, sizeof r);
    r.q = out;
    for (int p = 0; p < PRODUCERS; p++)
        r.seen[p] = calloc(PER_PRODUCER_MAX, 1);
    pthread_t rt;
    pthread_create(&rt, NULL, reader_main, &r);

    pid_t stress = fork();
    if (stress == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("stress-ng", "stress-ng", "--cpu", "2", "--timeout", cli_keep("%ds", seconds + 60),
               (char *)NULL);
        _exit(127);
    }
    pid_t kids[PRODUCERS + CLI_LOOPS];
    for (int p = 0; p < PRODUCERS; p++)
        if ((kids[p] = fork()) == 0)
            producer(inst, p);
    for (int l = 0; l < CLI_LOOPS; l++)
        if ((kids[PRODUCERS + l] = fork()) == 0)
            cli_loop(inst, l);
    /* The behaviour under test is what happens while they run this long,
     * with a steal spike now and then: a copying producer stopped for
     * 1.2 s (past the old 1-s rule) wherever it is, claim held or not. */
    uint64_t spikes = 0;
    for (double until = expect_now_s() + seconds; expect_now_s() < until; spikes++) {
        pid_t victim = kids[spikes % PRODUCERS];
        /* Blind, and never longer than 1.2 s in all: a stop that lasts past
         * the producers' block_timeout_ms (5 s) would have the senders
         * behind it give their runs up (RH_ETIMEDOUT), as documented.  (An
         * aimed stop, waiting for the stop to land and for a held claim,
         * held SCHED_IDLE producers for seconds: 12 such refusals in 3
         * minutes.)  test_queue_notes aims its stops. */
        kill(victim, SIGSTOP);
        sleep_ms(1200);
        kill(victim, SIGCONT);
        sleep_ms(400);
    }
    atomic_store(&sh->stop, 1);
    for (int k = 0; k < PRODUCERS + CLI_LOOPS; k++) {
        int st;
        waitpid(kids[k], &st, 0);
    }
    kill(stress, SIGTERM);
    waitpid(stress, NULL, 0);

    uint64_t sent = 0, refused = 0;
    for (int p = 0; p < PRODUCERS; p++) {
        sent += atomic_load(&sh->sent[p]);
        refused += atomic_load(&sh->refused[p]);
    }
    uint64_t cli_sent = atomic_load(&sh->cli_sent), cli_refused = atomic_load(&sh->cli_refused);
    WAIT_UNTIL(60.0, r.answered >= sent && r.cli_answered >= cli_sent);
    atomic_store(&r.stop, 1);
    pthread_join(rt, NULL);
    long long corrupt_in = cli_queue_counter(inst, "e.in", "corrupt");
    long long corrupt_out = cli_queue_counter(inst, "e.out", "corrupt");
    uint64_t lost = 0;
    for (int p = 0; p < PRODUCERS; p++)
        for (uint64_t k = 0; k < atomic_load(&sh->sent[p]); k++)
            lost += r.seen[p][k] == 0;
    printf("slow_producers: seconds %d, stops %llu, sent %llu (copying %llu, ringhost send %llu), refused "
           "%llu (copying %llu, ringhost send runs %llu), answered %llu, duplicated %llu, lost "
           "%llu, corrupt %lld\n",
           seconds, (unsigned long long)spikes, (unsigned long long)(sent + cli_sent),
           (unsigned long long)sent,
           (unsigned long long)cli_sent, (unsigned long long)(refused + cli_refused),
           (unsigned long long)refused, (unsigned long long)cli_refused,
           (unsigned long long)(r.answered + r.cli_answered), (unsigned long long)r.twice,
           (unsigned long long)lost, corrupt_in + corrupt_out);
    fflush(stdout);
    EXPECT(refused == 0 && cli_refused == 0,
           "expected no send refused, got %llu copying bursts and %llu ringhost send runs",
           (unsigned long long)refused, (unsigned long long)cli_refused);
    EXPECT(corrupt_in == 0 && corrupt_out == 0,
           "expected nothing marked corrupt, got e.in %lld, e.out %lld", corrupt_in, corrupt_out);
    EXPECT(lost == 0 && r.twice == 0 && r.bad == 0 && r.cli_answered == cli_sent,
           "expected every accepted message answered once: lost %llu, twice %llu, bad %llu, "
           "ringhost send's %llu of %llu", (unsigned long long)lost,
           (unsigned long long)r.twice, (unsigned long long)r.bad,
           (unsigned long long)r.cli_answered, (unsigned long long)cli_sent);
    EXPECT(sent > 0 && cli_sent > 0, "expected both kinds of producer to send something");
    rh_queue_close(out);
    for (int p = 0; p < PRODUCERS; p++)
        free(r.seen[p]);
    proc_signal(&host, SIGTERM);
    proc_result res;
    proc_wait(&host, 30, &res);
    EXPECT(!strstr(res.err ? res.err : "", "event=queue.corrupt"),
           "expected no queue.corrupt in the host's log");
    proc_result_free(&res);
}

int main(void)
{
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        return 1;
    const struct CMUnitTest tests[] = {
        CLI_HOST_TEST(test_idle_priority_producers_beside_a_busy_cpu_are_never_refused),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
