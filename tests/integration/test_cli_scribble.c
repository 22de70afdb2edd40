/*
 * test_cli_scribble.c — a scribbled queue header, with the real host: a
 * serving `ringhost run` (e.in -> echo -> e.out) while another process of
 * the user writes random values into e.in's header.
 *
 *  - Index lines (prod_head, prod_tail, cons_head, cons_tail), 2 s of
 *    random 64-bit writes while a client sends: before, the input bridge
 *    replayed cells without end (152,368 sends became 207,034,589 answers).
 *    Now the first index that describes no queue halts both sides
 *    (CORRUPT_INDICES): answers never outnumber the sends accepted, e.in is
 *    shown corrupt by `stat` (table, --json, --prom) and the host logs it
 *    once.
 *  - The fixed fields (magic): `stat` left the row out (attach refused the
 *    header) and exited 0.  Now the row is there, corrupt 1, side header,
 *    with why; the host's heartbeat logs it once.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_common.h"
#include "queue/queue_layout.h"
#include "ringhost/ringhost.h"

/* bridge: the kernel's "bridge" ("thread", "inline"). */
static const char *manifest_bridge(const char *tag, const char *bridge)
{
    return cli_manifest(tag, cli_keep(
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 1024,\n"
        "                       \"block_timeout_ms\": 200},\n"
        "            \"e.out\": {\"type\": \"echo.message\", \"capacity\": 4096}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"echo\", \"bridge\": \"%s\",\n"
        "               \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n",
        bridge));
}

static const char *manifest(const char *tag)
{
    return manifest_bridge(tag, "thread");
}

/* e.in's header, mapped read-write as any process of the user may. */
static queue_header *map_header(const char *instance, const char *name)
{
    char shm[256];
    snprintf(shm, sizeof shm, "/" SHM_PREFIX "%s:%s", instance, name);
    int fd = shm_open(shm, O_RDWR, 0);
    if (fd < 0)
        fail_msg("expected %s in /dev/shm", shm);
    void *p = mmap(NULL, sizeof(queue_header), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        fail_msg("mmap of %s failed", shm);
    return p;
}

/* The host's stderr so far (malloc'd). */
static char *host_err(const proc *host)
{
    FILE *f = fopen(host->err_path, "r");
    if (!f)
        return strdup("");
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    fclose(m);
    return buf;
}

/* A client: sends until told to stop, counting what was accepted; and a
 * reader of e.out counting the answers. */
typedef struct traffic {
    rh_queue *in, *out;
    _Atomic uint64_t accepted, answered;
    _Atomic int stop;
} traffic;

static void *send_main(void *arg)
{
    traffic *t = arg;
    uint32_t size = rh_queue_payload_size(t->in);
    unsigned char *buf = calloc(1, size);
    for (uint64_t seq = 0; !atomic_load(&t->stop); seq++) {
        memcpy(buf, &seq, sizeof seq);
        if (rh_send(t->in, NULL, buf, size, NULL) == 0)
            atomic_fetch_add(&t->accepted, 1);
    }
    free(buf);
    return NULL;
}

static void *read_main(void *arg)
{
    traffic *t = arg;
    uint32_t size = rh_queue_payload_size(t->out);
    unsigned char *bufs = calloc(64, size);
    while (!atomic_load(&t->stop)) {
        int n = rh_recv_burst(t->out, NULL, bufs, size, 64, 20);
        if (n > 0)
            atomic_fetch_add(&t->answered, (uint64_t)n);
    }
    free(bufs);
    return NULL;
}

/* The scribbler, another process: random values into the index lines for
 * ms milliseconds. */
static pid_t scribble_indices(const char *inst, int ms)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    queue_header *h = map_header(inst, "e.in");
    _Atomic uint64_t *idx[] = {&h->prod_head, &h->prod_tail, &h->cons_head, &h->cons_tail};
    uint64_t x = 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        for (int i = 0; i < 1000; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            atomic_store_explicit(idx[x & 3], x, memory_order_relaxed);
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    _exit(0);
}

/* The e.in row of `stat --once` (the wide table): its corrupt column. */
static long long once_corrupt(const char *inst, const char *queue, cli_out *o)
{
    cli_exec(o, NULL, "stat", "--instance", inst, "--once", NULL);
    cli_expect_exit(o, 0);
    const char *line = o->r.out;
    size_t ql = strlen(queue);
    while (line && *line) {
        if (!strncmp(line, queue, ql) && line[ql] == ' ') {
            /* queue type depth/capacity enqueued dequeued rejected dropped dups expired
             * invalid failed dlq'd corrupt */
            char copy[512];
            snprintf(copy, sizeof copy, "%.*s", (int)strcspn(line, "\n"), line);
            char *save = NULL, *tok = strtok_r(copy, " ", &save);
            for (int i = 0; tok && i < 12; i++)
                tok = strtok_r(NULL, " ", &save);
            return tok ? atoll(tok) : -1;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return -1;
}

/* The value of ringhost_queue_corrupt_total for queue in --prom text, or -1. */
static long long prom_corrupt(const char *text, const char *queue)
{
    char label[128];
    snprintf(label, sizeof label, "queue=\"%s\"}", queue);
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        const char *lab = strstr(l, label);
        if (!strncmp(l, "ringhost_queue_corrupt_total{", 29) && lab && lab < l + len)
            return atoll(lab + strlen(label));
        l = nl ? nl + 1 : NULL;
    }
    return -1;
}

/* The queue's object in `stat --json`, or NULL. */
static json_t *json_row(const char *inst, const char *queue, cli_out *o)
{
    cli_exec(o, NULL, "stat", "--instance", inst, "--json", NULL);
    cli_expect_exit(o, 0);
    json_error_t je;
    json_t *root = json_loads(o->r.out, 0, &je), *q, *found = NULL;
    size_t i;
    json_array_foreach (json_object_get(root, "queues"), i, q)
        if (!strcmp(json_string_value(json_object_get(q, "queue")), queue))
            found = json_incref(q);
    json_decref(root);
    return found;
}

static void test_scribbled_indices_halt_the_queue_and_stat_shows_it(void **state)
{
    (void)state;
    const char *inst = cli_instance("scribidx");
    proc host;
    cli_start_host(&host, manifest("scribidx"), inst);
    static traffic t;
    memset(&t, 0, sizeof t);
    rh_error err = {0};
    EXPECT(rh_queue_attach(inst, "e.in", &t.in, &err) == 0, "expected e.in: %s", err.msg);
    EXPECT(rh_queue_attach(inst, "e.out", &t.out, &err) == 0, "expected e.out: %s", err.msg);
    pthread_t st, rt;
    pthread_create(&rt, NULL, read_main, &t);
    pthread_create(&st, NULL, send_main, &t);
    EXPECT_WITHIN(10.0, atomic_load(&t.answered) > 1000, "expected traffic before the scribble");
    pid_t scribbler = scribble_indices(inst, 2000);
    int ws;
    waitpid(scribbler, &ws, 0);
    /* The answers settle: nothing more is taken from e.in once it halted. */
    uint64_t last = 0;
    EXPECT_WITHIN(20.0, ({
                      uint64_t a = atomic_load(&t.answered);
                      int same = a == last;
                      last = a;
                      sleep_ms(300); /* one bridge round and more */
                      same;
                  }),
                  "expected the answers to stop growing once e.in halted");
    atomic_store(&t.stop, 1);
    pthread_join(st, NULL);
    pthread_join(rt, NULL);
    uint64_t accepted = atomic_load(&t.accepted), answered = atomic_load(&t.answered);
    printf("scribble: accepted %llu, answered %llu\n", (unsigned long long)accepted,
           (unsigned long long)answered);
    EXPECT(answered <= accepted, "expected no replay: %llu answers for %llu sends accepted",
           (unsigned long long)answered, (unsigned long long)accepted);
    rh_queue_close(t.in);
    rh_queue_close(t.out);

    cli_out o;
    json_t *row = json_row(inst, "e.in", &o);
    CLI_CHECK(&o, row, "expected e.in in stat --json");
    const char *side =
        json_string_value(json_object_get(json_object_get(row, "corrupt_detail"), "side"));
    CLI_CHECK(&o, json_integer_value(json_object_get(row, "corrupt")) >= 1 && side &&
                      strstr(side, "indices"),
              "expected e.in shown corrupt, side indices, in --json");
    json_decref(row);
    cli_free(&o);
    long long c = once_corrupt(inst, "e.in", &o);
    CLI_CHECK(&o, c >= 1, "expected the e.in row of stat --once with corrupt >= 1, got %lld", c);
    cli_free(&o);
    cli_exec(&o, NULL, "stat", "--instance", inst, "--prom", NULL);
    CLI_CHECK(&o, o.r.exit_code == 0 && prom_corrupt(o.r.out, "e.in") >= 1,
              "expected ringhost_queue_corrupt_total of e.in at 1 or more in --prom");
    cli_free(&o);
    cli_await_log(&host, "event=queue.corrupt queue=e.in side=indices", 1, 10);
    /* a heartbeat or two later, still once */
    sleep_ms(2500); /* two heartbeats: what must not happen is a second line */
    char *log = host_err(&host);
    size_t lines = cli_count(log, "event=queue.corrupt queue=e.in side=indices");
    if (lines != 1)
        fail_msg("expected the host to log e.in's scribbled indices once, got %zu; stderr:\n%s",
                 lines, log);
    free(log);
    proc_signal(&host, SIGTERM);
    proc_result r;
    proc_wait(&host, 30, &r);
    proc_result_free(&r);
}

static void test_a_scribbled_magic_is_shown_corrupt_never_left_out(void **state)
{
    (void)state;
    const char *inst = cli_instance("scribmagic");
    proc host;
    cli_start_host(&host, manifest("scribmagic"), inst);
    queue_header *h = map_header(inst, "e.in");
    atomic_store(&h->magic, 0x0123456789abcdefull);
    munmap(h, sizeof *h);
    cli_out o;
    json_t *row = json_row(inst, "e.in", &o);
    CLI_CHECK(&o, row, "expected e.in in stat --json (it was left out)");
    const char *side =
        json_string_value(json_object_get(json_object_get(row, "corrupt_detail"), "side"));
    const char *why =
        json_string_value(json_object_get(json_object_get(row, "corrupt_detail"), "reason"));
    CLI_CHECK(&o, json_integer_value(json_object_get(row, "corrupt")) == 1 && side &&
                      !strcmp(side, "header") && why && strstr(why, "bad magic"),
              "expected e.in corrupt 1, side header, the reason naming the magic");
    json_decref(row);
    cli_free(&o);
    long long c = once_corrupt(inst, "e.in", &o);
    CLI_CHECK(&o, c == 1, "expected the e.in row of stat --once with corrupt 1, got %lld", c);
    cli_free(&o);
    cli_exec(&o, NULL, "stat", "--instance", inst, "--prom", NULL);
    CLI_CHECK(&o, o.r.exit_code == 0 && prom_corrupt(o.r.out, "e.in") == 1,
              "expected e.in's corrupt counter at 1 in --prom");
    cli_free(&o);
    cli_await_log(&host, "event=queue.corrupt queue=e.in side=header", 1, 10);
    proc_signal(&host, SIGTERM);
    proc_result r;
    proc_wait(&host, 30, &r);
    proc_result_free(&r);
}

/* The cpu seconds (user + system) process pid has used, or -1. */
static double cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut,
                     &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A host whose input queue halted on scribbled indices: its bridge stops
 * polling it (the host idles, as with an empty queue), says so once, and
 * a SIGTERM ends the host without waiting for the queue to drain.  Before,
 * the bridge found the queue non-empty at every round and claimed nothing:
 * a core's share for as long as the host ran. */
static void halted_input_is_no_longer_polled(const char *tag, const char *bridge)
{
    const char *inst = cli_instance(tag);
    proc host;
    cli_start_host(&host, manifest_bridge(tag, bridge), inst);
    queue_header *h = map_header(inst, "e.in");
    /* one index that describes no queue: more published than it holds */
    atomic_store(&h->prod_tail, atomic_load(&h->cons_head) + 8 * (uint64_t)h->capacity);
    munmap(h, sizeof *h);
    const char *said = "event=bridge.input_halted kernel=k port=in queue=e.in";
    cli_await_log(&host, said, 1, 10);
    cli_await_log(&host, "event=queue.corrupt queue=e.in side=indices", 1, 10);
    sleep_ms(300); /* the bridge's thread parks */
    double t0 = proc_now(), c0 = cpu_s(host.pid);
    sleep_ms(2000);
    double used = cpu_s(host.pid) - c0, wall = proc_now() - t0;
    printf("halted (%s bridge): the host used %.2f s of cpu in %.2f s\n", bridge, used, wall);
    EXPECT(c0 >= 0 && used < 0.25 * wall,
           "expected the host to idle once e.in halted; it used %.2f s of cpu in %.2f s", used,
           wall);
    char *log = host_err(&host);
    size_t lines = cli_count(log, said);
    if (lines != 1)
        fail_msg("expected the bridge to say once that it stops polling e.in, got %zu; "
                 "stderr:\n%s", lines, log);
    free(log);
    double t1 = proc_now();
    proc_signal(&host, SIGTERM);
    proc_result r;
    proc_wait(&host, 30, &r);
    printf("halted: SIGTERM ended the host in %.2f s\n", proc_now() - t1);
    EXPECT(!r.timed_out && proc_now() - t1 < 10.0,
           "expected SIGTERM to end the host within 10 s; it took %.1f s", proc_now() - t1);
    proc_result_free(&r);
}

static void test_a_halted_input_queue_is_no_longer_polled(void **state)
{
    (void)state;
    halted_input_is_no_longer_polled("scribhalt", "thread");
}

static void test_a_halted_input_queue_is_no_longer_polled_in_place(void **state)
{
    (void)state;
    halted_input_is_no_longer_polled("scribhaltip", "inline");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CLI_HOST_TEST(test_scribbled_indices_halt_the_queue_and_stat_shows_it),
        CLI_HOST_TEST(test_a_scribbled_magic_is_shown_corrupt_never_left_out),
        CLI_HOST_TEST(test_a_halted_input_queue_is_no_longer_polled),
        CLI_HOST_TEST(test_a_halted_input_queue_is_no_longer_polled_in_place),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
