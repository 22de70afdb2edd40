/*
 * test_cli_queue_health.c — a shared queue tells its clients and operators
 * the truth about its host and its indices,
 * through the real `ringhost` binary and the shipped `echo` kernel.
 *
 * Stale handles: a client attached across a SIGKILL and restart of its host gets
 * RH_ESTALE from rh_send / rh_recv (instead of writing into the dead,
 * unlinked queue and then timing out for ever), and `ringhost recv`
 * re-attaches by itself.  Scribbled indices: an index scribbled a few cells ahead of
 * its tail (the wait of publish() could never end) is reported
 * (`queue.corrupt`, the `corrupt` counter of `ringhost stat`) and no call
 * waits past its deadline.  Dead hosts: after a SIGKILL, `ringhost stat` and
 * `ringhost ps` both say the host is gone and since when, and the next
 * start logs what it found and replaced.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_common.h"
#include "queue/queue_layout.h"
#include "queue/queue_notes.h"
#include "queue/queue_protocol.h"

/* e.in (capacity 16, block 2000 ms) -> echo -> e.out; x.q read by nobody. */
static const char *manifest(const char *tag)
{
    return cli_manifest(tag,
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 16,\n"
        "                       \"block_timeout_ms\": 2000},\n"
        "            \"e.out\": {\"type\": \"echo.message\", \"capacity\": 64},\n"
        "            \"x.q\": {\"type\": \"echo.message\", \"capacity\": 16,\n"
        "                    \"block_timeout_ms\": 2000}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"echo\",\n"
        "               \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n");
}

static void kill_host(proc *host)
{
    assert_int_equal(proc_signal(host, SIGKILL), 0);
    proc_result r;
    proc_wait(host, 10, &r);
    proc_result_free(&r);
}

static void stop_host(proc *host)
{
    proc_signal(host, SIGTERM);
    proc_result r;
    proc_wait(host, 30, &r);
    proc_result_free(&r);
}

/* The stderr of a background host so far (malloc'd). */
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

/* The header of instance's queue name, mapped read-write as any process of
 * the user may (a hostile or buggy one). */
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

/* The JSON object of queue in `ringhost stat --json`, or fail. */
static json_t *stat_queue(const char *instance, const char *queue, cli_out *o)
{
    cli_exec(o, NULL, "stat", "--instance", instance, "--json", NULL);
    cli_expect_exit(o, 0);
    json_error_t je;
    json_t *root = json_loads(o->r.out, 0, &je), *q;
    size_t i;
    json_array_foreach (json_object_get(root, "queues"), i, q)
        if (strcmp(json_string_value(json_object_get(q, "queue")), queue) == 0) {
            json_incref(q);
            json_decref(root);
            return q;
        }
    json_decref(root);
    CLI_CHECK(o, 0, "expected queue %s in `ringhost stat --json`", queue);
    return NULL;
}

/* ------------------------------------------------------ dead hosts ---- */

static void test_stat_and_ps_say_a_killed_host_is_gone_and_since_when(void **state)
{
    (void)state;
    const char *m = manifest("gone");
    const char *inst = cli_instance("gone");
    proc host;
    cli_start_host(&host, m, inst);
    int pid = host.pid;
    cli_out o;
    json_t *q = stat_queue(inst, "e.in", &o);
    CLI_CHECK(&o, strcmp(json_string_value(json_object_get(q, "host")), "running") == 0 &&
                      json_integer_value(json_object_get(q, "host_pid")) == pid,
              "expected e.in's host running as pid %d while it serves", pid);
    json_decref(q);
    cli_free(&o);

    kill_host(&host);

    q = stat_queue(inst, "e.in", &o);
    const char *since = json_string_value(json_object_get(q, "host_gone_since"));
    CLI_CHECK(&o, strcmp(json_string_value(json_object_get(q, "host")), "gone") == 0 &&
                      json_integer_value(json_object_get(q, "host_pid")) == pid && since &&
                      strlen(since) == 20 &&
                      json_integer_value(json_object_get(q, "heartbeat_age_s")) >= 0 &&
                      json_integer_value(json_object_get(q, "heartbeat_age_s")) < 60,
              "expected stat to say e.in's host pid %d is gone, with the time of its last "
              "heartbeat (host_gone_since)", pid);
    CLI_CHECK(&o, strstr(o.r.err, "is gone") && strstr(o.r.err, "last heartbeat"),
              "expected stat to say on stderr that the host is gone and since when");
    json_decref(q);
    cli_free(&o);

    cli_exec(&o, NULL, "stat", "--instance", inst, "--once", NULL);
    char want[64];
    snprintf(want, sizeof want, "gone:%d", pid);
    CLI_CHECK(&o, strstr(o.r.out, want) && strstr(o.r.out, "is gone"),
              "expected the stat table to show %s for each queue and a line saying the host is "
              "gone", want);
    cli_free(&o);

    cli_exec(&o, NULL, "ps", "--instance", inst, NULL);
    snprintf(want, sizeof want, "host pid %d is gone", pid);
    CLI_CHECK(&o, o.r.exit_code == 2 && strstr(o.r.err, "no host running") &&
                      strstr(o.r.err, want) && strstr(o.r.err, "last heartbeat"),
              "expected ps to agree with stat: no host, and '%s' with its last heartbeat", want);
    cli_free(&o);
    cli_forget_killed_host(inst);
}

static void test_the_next_start_logs_the_queues_it_found_and_replaced(void **state)
{
    (void)state;
    const char *m = manifest("replaced");
    const char *inst = cli_instance("replaced");
    proc host;
    cli_start_host(&host, m, inst);
    int pid = host.pid;
    /* two messages left in x.q, which nobody reads */
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "x.q", "{\"seq\": 1}", "{\"seq\": 2}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    kill_host(&host);

    cli_start_host(&host, m, inst);
    char *err = host_err(&host);
    char want[128];
    snprintf(want, sizeof want, "event=queue.replaced queue=x.q object=/dev/shm/ringhost.%s:x.q "
             "host_pid=%d host=gone", inst, pid);
    if (!strstr(err, want) || !strstr(strstr(err, want), "queued_discarded=2") ||
        !strstr(strstr(err, want), "last_heartbeat_age_s=") ||
        cli_count(err, "event=queue.replaced") != 4)
        fail_msg("expected the new host to log, for each of the 4 queues it replaced, whose "
                 "(pid %d), how old and how many messages went with it ('%s ... "
                 "queued_discarded=2' for x.q); its stderr:\n%s", pid, want, err);
    free(err);
    stop_host(&host);
}

/* --------------------------------------------------- stale handles ---- */

static void test_a_client_attached_across_a_restart_gets_RH_ESTALE_not_a_dead_queue(void **s)
{
    (void)s;
    const char *m = manifest("stale");
    const char *inst = cli_instance("stale");
    proc host;
    cli_start_host(&host, m, inst);
    rh_queue *in, *out;
    rh_error err;
    assert_int_equal(rh_queue_attach(inst, "e.in", &in, &err), 0);
    assert_int_equal(rh_queue_attach(inst, "e.out", &out, &err), 0);
    rh_id id;
    assert_int_equal(rh_send(in, NULL, NULL, 0, &id), 0);
    rh_envelope env;
    char buf[8192];
    assert_true(rh_queue_payload_size(out) <= sizeof buf);
    assert_true(rh_recv(out, &env, buf, sizeof buf, 10000) >= 0);

    kill_host(&host);
    cli_start_host(&host, m, inst);

    /* The old e.in is unlinked and read by nobody: at most its capacity of
     * sends may still land there (the check runs on the slow path, when it
     * is full), then RH_ESTALE, not a 2 s block timeout. */
    double t0 = proc_now();
    int rc = 0, sent = 0;
    while (sent <= 17 && (rc = rh_send(in, NULL, NULL, 0, NULL)) == 0)
        sent++;
    double took = proc_now() - t0;
    if (rc != RH_ESTALE || took > 1.5)
        fail_msg("expected rh_send on the replaced queue to fail with RH_ESTALE (%d) once it "
                 "filled, at once; got %d (%s) after %d sends and %.2f s", RH_ESTALE, rc,
                 rh_strerror(rc), sent, took);
    rh_queue_stats st = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(in, &st);
    if (st.depth != (uint64_t)sent)
        fail_msg("expected the stale handle's depth (%llu) to say how many sends never "
                 "reached a host (%d)", (unsigned long long)st.depth, sent);
    t0 = proc_now();
    rc = rh_recv(out, &env, buf, sizeof buf, 3000);
    took = proc_now() - t0;
    if (rc != RH_ESTALE || took > 1.0)
        fail_msg("expected rh_recv(timeout 3000 ms) on the replaced e.out to return RH_ESTALE "
                 "within 1 s, got %d (%s) after %.2f s", rc, rh_strerror(rc), took);
    /* sticky, and said again at once */
    assert_int_equal(rh_send(in, NULL, NULL, 0, NULL), RH_ESTALE);
    /* What is stranded there is the client's to take back (and resend):
     * rh_recv on the stale handle returns each, and RH_ESTALE once empty. */
    int taken = 0;
    while ((rc = rh_recv(in, &env, buf, sizeof buf, 0)) >= 0)
        taken++;
    if (taken != sent || rc != RH_ESTALE)
        fail_msg("expected rh_recv on the stale e.in to give back the %d stranded sends, then "
                 "RH_ESTALE; got %d, then %d (%s)", sent, taken, rc, rh_strerror(rc));
    rh_queue_close(in);
    rh_queue_close(out);

    /* Attached again: the new host answers. */
    assert_int_equal(rh_queue_attach(inst, "e.in", &in, &err), 0);
    assert_int_equal(rh_queue_attach(inst, "e.out", &out, &err), 0);
    assert_int_equal(rh_send(in, NULL, NULL, 0, &id), 0);
    rc = rh_recv(out, &env, buf, sizeof buf, 10000);
    if (rc < 0 || !rh_id_eq(env.correlation_id, id))
        fail_msg("expected the new host to answer a message sent after re-attaching (%d)", rc);
    rh_queue_close(in);
    rh_queue_close(out);
    stop_host(&host);
}

static void test_ringhost_recv_attaches_again_when_its_host_is_replaced(void **state)
{
    (void)state;
    const char *m = manifest("reattach");
    const char *inst = cli_instance("reattach");
    proc host, recv;
    cli_start_host(&host, m, inst);
    char *argv[] = {RH_TEST_BINARY, "recv", "--instance", (char *)inst, "e.out", "-n", "1",
                    "--timeout", "20", NULL};
    assert_int_equal(proc_start(&recv, argv), 0);
    /* recv is attached and waiting once stat shows... nothing to see: give
     * it the moment to attach by waiting for its mapping (its stderr is
     * empty; its /proc maps name the object). */
    char maps[64], shm[128];
    snprintf(maps, sizeof maps, "/proc/%d/maps", (int)recv.pid);
    snprintf(shm, sizeof shm, "ringhost.%s:e.out", inst);
    EXPECT_WITHIN(10, cli_file_count(maps, shm) > 0, "expected ringhost recv to map %s", shm);
    kill_host(&host);
    cli_start_host(&host, m, inst);
    const char *id = cli_id(7);
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "--id", id, "e.in", "{\"seq\": 7}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    proc_result r;
    proc_wait(&recv, 25, &r);
    if (r.exit_code != 0 || !strcasestr(r.out, id) || !strstr(r.err, "attaching again"))
        fail_msg("expected `ringhost recv -n 1` to attach again to the new host's e.out and "
                 "print the answer to %s (exit %d)\nstdout:\n%s\nstderr:\n%s", id, r.exit_code,
                 r.out, r.err);
    proc_result_free(&r);
    stop_host(&host);
}

/* A persist queue is kept on purpose: the new host recovers the same
 * object (same inode) and writes its own pid into it, so a client that
 * re-attaches finds the very queue it had, with nothing lost. */
/* `ringhost send` blocked on a full queue whose host is killed and
 * restarted: the 16 bodies that landed in the dead queue are taken back and
 * sent again to the new host's queue, with the ids it printed, and so are
 * the rest; a reader of the new queue gets every one. */
static void test_ringhost_send_moves_what_it_stranded_to_the_new_host(void **state)
{
    (void)state;
    enum { N = 20 };
    const char *m = manifest("strand");
    const char *inst = cli_instance("strand");
    proc host, send, recv;
    cli_start_host(&host, m, inst);
    char *argv[N + 6] = {RH_TEST_BINARY, "send", "--instance", (char *)inst, "x.q"};
    char bodies[N][32];
    for (int i = 0; i < N; i++) {
        snprintf(bodies[i], sizeof bodies[i], "{\"seq\": %d}", i);
        argv[5 + i] = bodies[i];
    }
    argv[5 + N] = NULL;
    assert_int_equal(proc_start(&send, argv), 0);
    /* x.q (capacity 16, read by nobody) is full and the 17th send blocks
     * (block_timeout_ms 2000): kill the host then. */
    queue_header *h = map_header(inst, "x.q");
    EXPECT_WITHIN(10, atomic_load(&h->prod_tail) == 16,
                  "expected ringhost send to fill x.q (16 cells), prod_tail %llu",
                  (unsigned long long)atomic_load(&h->prod_tail));
    munmap(h, sizeof(queue_header));
    kill_host(&host);
    cli_start_host(&host, m, inst);
    char *rargv[] = {RH_TEST_BINARY, "recv", "--instance", (char *)inst, "x.q", "-n", "20",
                     "--timeout", "20", NULL};
    assert_int_equal(proc_start(&recv, rargv), 0);
    proc_result s, r;
    proc_wait(&send, 30, &s);
    proc_wait(&recv, 30, &r);
    if (s.exit_code != 0 || !strstr(s.err, "sent again the 16 message(s)"))
        fail_msg("expected ringhost send to send again the 16 messages stranded in the dead "
                 "x.q and exit 0 (exit %d)\nstderr:\n%s", s.exit_code, s.err);
    int ids = 0;
    for (char *line = s.out, *end; *line; line = end + 1) {
        end = strchr(line, '\n');
        if (!end)
            break;
        *end = '\0';
        if (!strcasestr(r.out, line))
            fail_msg("expected the new host's x.q to hold message %s that send printed\n"
                     "recv stdout:\n%s", line, r.out);
        ids++;
    }
    if (ids != N || r.exit_code != 0)
        fail_msg("expected %d ids from send (got %d) and recv of all of them to exit 0 (%d)\n"
                 "recv stderr:\n%s", N, ids, r.exit_code, r.err);
    proc_result_free(&s);
    proc_result_free(&r);
    stop_host(&host);
}

static void test_a_persist_queue_taken_over_by_the_next_host_is_the_same_object(void **state)
{
    (void)state;
    const char *m = cli_manifest("pstale",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"p.in\": {\"type\": \"echo.message\", \"persist\": true},\n"
        "            \"p.out\": {\"type\": \"echo.message\", \"persist\": true}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"echo\",\n"
        "               \"inputs\": {\"in\": \"p.in\"}, \"outputs\": {\"out\": \"p.out\"}}]}\n");
    const char *inst = cli_instance("pstale");
    proc host, recv;
    cli_start_host(&host, m, inst);
    char path[256];
    snprintf(path, sizeof path, "/dev/shm/" SHM_PREFIX "%s:p.out", inst);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);
    char *argv[] = {RH_TEST_BINARY, "recv", "--instance", (char *)inst, "p.out", "-n", "1",
                    "--timeout", "20", NULL};
    assert_int_equal(proc_start(&recv, argv), 0);
    char maps[64], shm[128];
    snprintf(maps, sizeof maps, "/proc/%d/maps", (int)recv.pid);
    snprintf(shm, sizeof shm, "ringhost.%s:p.out", inst);
    EXPECT_WITHIN(10, cli_file_count(maps, shm) > 0, "expected ringhost recv to map %s", shm);
    int pid = host.pid;
    kill_host(&host);
    cli_start_host(&host, m, inst);
    char *err = host_err(&host);
    char want[128];
    snprintf(want, sizeof want, "event=queue.taken_over queue=p.out object=%s "
             "previous_host_pid=%d", path, pid);
    if (!strstr(err, want) || !strstr(strstr(err, want), "last_heartbeat_age_s="))
        fail_msg("expected the new host to log what it took over ('%s ...'); its stderr:\n%s",
                 want, err);
    free(err);
    assert_int_equal(stat(path, &after), 0);
    if (after.st_ino != before.st_ino)
        fail_msg("expected the next host to recover the persist queue's object itself "
                 "(inode %lu), not a new one (%lu)", (unsigned long)before.st_ino,
                 (unsigned long)after.st_ino);
    const char *id = cli_id(9);
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "--id", id, "p.in", "{\"seq\": 9}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    proc_result r;
    proc_wait(&recv, 25, &r);
    if (r.exit_code != 0 || !strcasestr(r.out, id))
        fail_msg("expected `ringhost recv` to go on with the recovered p.out and print the "
                 "answer to %s (exit %d)\nstdout:\n%s\nstderr:\n%s", id, r.exit_code, r.out,
                 r.err);
    proc_result_free(&r);
    stop_host(&host);
    cli_exec(&o, NULL, "purge", "--instance", inst, "p.in", NULL);
    cli_free(&o);
    cli_exec(&o, NULL, "purge", "--instance", inst, "p.out", NULL);
    cli_free(&o);
}

/* ----------------------------------------------- scribbled indices ---- */

/* cons_head scribbled 3 ahead on a kernel's input queue (the case once met):
 * the input bridge's wait for cons_tail could never end.  Now the host logs
 * queue.corrupt once with the values, counts it, the kernel still answers
 * what the bridge took, and the sends that find no room get RH_ECORRUPT
 * instead of waiting: no call waits past its deadline. */
static void test_a_scribbled_consumer_head_is_reported_and_waits_end(void **state)
{
    (void)state;
    /* f.in -> echo -> f.out beside e.in's kernel, both pumps on one core:
     * one reactor thread runs both input bridges, so a bridge stuck on
     * e.in would starve f.in too. */
    const char *m = cli_manifest("corrupt",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\", \"capacity\": 16,\n"
        "                       \"block_timeout_ms\": 2000},\n"
        "            \"e.out\": {\"type\": \"echo.message\", \"capacity\": 64},\n"
        "            \"f.in\": {\"type\": \"echo.message\"},\n"
        "            \"f.out\": {\"type\": \"echo.message\"}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"echo\", \"pin\": {\"pump\": \"core:0\"},\n"
        "               \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}},\n"
        "              {\"name\": \"f\", \"plugin\": \"echo\", \"pin\": {\"pump\": \"core:0\"},\n"
        "               \"inputs\": {\"in\": \"f.in\"}, \"outputs\": {\"out\": \"f.out\"}}]}\n");
    const char *inst = cli_instance("corrupt");
    proc host;
    cli_start_host(&host, m, inst);
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 0}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    EXPECT_WITHIN(10, cli_queue_counter(inst, "e.out", "enqueued") == 1,
                  "expected the first message answered");
    queue_header *h = map_header(inst, "e.in");
    atomic_fetch_add(&h->cons_head, 3);

    const char *args[32] = {"send", "--instance", inst, "e.in"};
    int a = 4;
    for (int i = 1; i <= 20; i++)
        args[a++] = cli_keep("{\"seq\": %d}", i);
    args[a] = NULL;
    cli_exec_argv(&o, NULL, args);
    /* 16 fit in e.in (its cons_tail no longer moves); the 17th waits for
     * the bridge's stall to be declared (1 s), the rest are refused at once. */
    CLI_CHECK(&o, o.r.exit_code == 1 && cli_count(o.r.err, "queue indices corrupt") == 4 &&
                      o.r.wall_s < 5.0,
              "expected 16 sends accepted and 4 refused with RH_ECORRUPT within 5 s (block "
              "timeout 2 s each), took %.1f s", o.r.wall_s);
    cli_free(&o);
    cli_await_log(&host, "event=queue.corrupt queue=e.in side=consumers", 1, 10);
    char *err = host_err(&host);
    if (cli_count(err, "event=queue.corrupt") != 1 || !strstr(err, "tail=1 claim=4"))
        fail_msg("expected one queue.corrupt line naming the stalled tail (1) and the claim "
                 "waiting for it (4); stderr:\n%s", err);
    free(err);
    json_t *q = stat_queue(inst, "e.in", &o);
    CLI_CHECK(&o, json_integer_value(json_object_get(q, "corrupt")) >= 1 &&
                      json_object_get(q, "corrupt_detail"),
              "expected stat to count the corrupt wait and show its values");
    json_decref(q);
    cli_free(&o);
    cli_exec(&o, NULL, "stat", "--instance", inst, "--prom", NULL);
    CLI_CHECK(&o, strstr(o.r.out, "ringhost_queue_corrupt_total{instance=") != NULL,
              "expected ringhost_queue_corrupt_total in --prom");
    cli_free(&o);
    /* What the bridge took past the gap was answered: 13 of the 16. */
    EXPECT_WITHIN(10, cli_queue_counter(inst, "e.out", "enqueued") == 14,
                  "expected the kernel to answer the 13 messages taken past the gap");
    /* and the reactor thread e.in's bridge shares goes on serving f.in */
    cli_exec(&o, NULL, "send", "--instance", inst, "f.in", "{\"seq\": 1}", "{\"seq\": 2}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    EXPECT_WITHIN(10, cli_queue_counter(inst, "f.out", "enqueued") == 2,
                  "expected the other kernel on the same pump thread to answer f.in");
    munmap(h, sizeof *h);
    stop_host(&host);
}

/* The dead letters of kernel k's dead-letter queue: exactly n, each an
 * answer its output queue e.out refused for good (stage "undeliverable",
 * source e.out, the reason saying it refuses every send). */
/* n dead letters in k.dlq, stage undeliverable from e.out, each reason
 * holding `says`. */
static void expect_undeliverable_saying(const char *inst, size_t n, const char *says)
{
    cli_out dl;
    EXPECT_WITHIN(10, cli_queue_counter(inst, "k.dlq", "depth") == (long long)n,
                  "expected the %zu answers e.out refused dead-lettered in k.dlq, found %lld", n,
                  (long long)cli_queue_counter(inst, "k.dlq", "depth"));
    cli_exec(&dl, NULL, "recv", "--instance", inst, "k.dlq", "--timeout", "1", NULL);
    cli_expect_exit(&dl, 0);
    json_t *dead = cli_lines(&dl);
    size_t i;
    json_t *l;
    CLI_CHECK(&dl, json_array_size(dead) == n, "expected %zu dead letters, read %zu", n,
              json_array_size(dead));
    json_array_foreach (dead, i, l) {
        json_t *body = json_object_get(l, "body");
        const char *stage = json_string_value(json_object_get(body, "stage"));
        const char *src = json_string_value(json_object_get(body, "source_queue"));
        const char *reason = json_string_value(json_object_get(body, "reason"));
        CLI_CHECK(&dl, stage && !strcmp(stage, "undeliverable") && src && !strcmp(src, "e.out") &&
                           reason && strstr(reason, says),
                  "expected an undeliverable answer from e.out saying \"%s\", "
                  "got stage %s, source %s, reason %s", says, stage ? stage : "-",
                  src ? src : "-", reason ? reason : "-");
    }
    json_decref(dead);
    cli_free(&dl);
}

static void expect_undeliverable_refusals(const char *inst, size_t n)
{
    expect_undeliverable_saying(inst, n, "output queue e.out refuses every send");
}

/* The output bridge waits itself on a full `block` output queue (so that
 * a stop can end the wait).  On a queue whose consumers' side is marked
 * corrupt no cell is ever freed: the bridge must refuse at once, as rh_send
 * does, not hold its reactor thread block_timeout_ms (here 60 s) per answer. */
static void test_the_output_bridge_refuses_at_once_into_a_corrupt_output_queue(void **state)
{
    (void)state;
    const char *m = cli_manifest("outcorrupt",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
        "            \"e.out\": {\"type\": \"echo.message\", \"capacity\": 4,\n"
        "                       \"block_timeout_ms\": 60000}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"echo\",\n"
        "               \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n");
    const char *inst = cli_instance("outcorrupt");
    proc host;
    cli_start_host(&host, m, inst);
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 1}", "{\"seq\": 2}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    EXPECT_WITHIN(10, cli_queue_counter(inst, "e.out", "enqueued") == 2,
                  "expected the first two answers in e.out");
    /* A consumer claim past a gap: the recv waits 1 s for a cons_tail that
     * never comes, marks the consumers' side corrupt, and still returns its
     * message. */
    queue_header *h = map_header(inst, "e.out");
    atomic_fetch_add(&h->cons_head, 1);
    munmap(h, sizeof *h);
    cli_exec(&o, NULL, "recv", "--instance", inst, "e.out", "-n", "1", "--timeout", "5", NULL);
    cli_free(&o);
    const char *args[32] = {"send", "--instance", inst, "e.in"};
    int a = 4;
    for (int i = 3; i <= 10; i++)
        args[a++] = cli_keep("{\"seq\": %d}", i);
    args[a] = NULL;
    cli_exec_argv(&o, NULL, args);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    /* 2 more fit (capacity 4, no cell freed), the other 6 are refused at
     * once and counted; before, each waited 60 s. */
    EXPECT_WITHIN(8, cli_queue_counter(inst, "e.out", "rejected") == 6,
                  "expected the output bridge to refuse the 6 answers with no room at once "
                  "(rejected %lld, enqueued %lld)",
                  (long long)cli_queue_counter(inst, "e.out", "rejected"),
                  (long long)cli_queue_counter(inst, "e.out", "enqueued"));
    assert_int_equal(cli_queue_counter(inst, "e.out", "enqueued"), 4);
    /* refused, and kept: the kernel's inputs were taken, so the answers go
     * to its dead-letter queue, not only to a counter */
    expect_undeliverable_refusals(inst, 6);
    stop_host(&host);
}

/* The same on the in-place path: an inline kernel writes its answers into
 * e.out's cells; with prod_head scribbled 3 ahead its publish waits for a
 * prod_tail that never comes, the producers' side is marked corrupt after
 * the 1-s stall, and the answers written to cells nobody will read are
 * dead-lettered from those cells (engine/inplace.c publish_run). */
static void test_answers_written_in_place_into_a_corrupt_output_queue_are_dead_lettered(
    void **state)
{
    (void)state;
    const char *m = cli_manifest("ipcorrupt",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
        "            \"e.out\": {\"type\": \"echo.message\", \"capacity\": 64}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"echo\", \"bridge\": \"inline\",\n"
        "               \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n");
    const char *inst = cli_instance("ipcorrupt");
    proc host;
    cli_start_host(&host, m, inst);
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 1}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    EXPECT_WITHIN(10, cli_queue_counter(inst, "e.out", "enqueued") == 1,
                  "expected the first answer in e.out");
    queue_header *h = map_header(inst, "e.out");
    atomic_fetch_add(&h->prod_head, 3);
    munmap(h, sizeof *h);
    const char *args[16] = {"send", "--instance", inst, "e.in"};
    int a = 4;
    for (int i = 2; i <= 6; i++)
        args[a++] = cli_keep("{\"seq\": %d}", i);
    args[a] = NULL;
    cli_exec_argv(&o, NULL, args);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    expect_undeliverable_refusals(inst, 5);
    assert_int_equal(cli_queue_counter(inst, "e.out", "enqueued"), 1);
    stop_host(&host);
}

/* An in-place answer whose publish gives up at its deadline behind a live
 * sender's claim (slow, not dead: queue_notes.c) is dead-lettered saying
 * so; the queue is sound and nothing is marked.  Before, the reason said
 * the queue "refuses every send (its shared indices cannot be true)".
 * The live sender is this test's thread: a claim of one cell of e.out,
 * with its note, held until the answers behind it gave up. */
static void test_an_answer_given_up_behind_a_slow_sender_says_so_not_corrupt(void **state)
{
    (void)state;
    const char *m = cli_manifest("ipgaveup",
        "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
        " \"queues\": {\"e.in\": {\"type\": \"echo.message\"},\n"
        "            \"e.out\": {\"type\": \"echo.message\", \"capacity\": 64,\n"
        "                       \"backpressure\": \"reject\", \"block_timeout_ms\": 200}},\n"
        " \"kernels\": [{\"name\": \"k\", \"plugin\": \"echo\", \"bridge\": \"inline\",\n"
        "               \"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n");
    const char *inst = cli_instance("ipgaveup");
    proc host;
    cli_start_host(&host, m, inst);
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 1}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    EXPECT_WITHIN(10, cli_queue_counter(inst, "e.out", "enqueued") == 1,
                  "expected the first answer in e.out");
    rh_queue *q = NULL;
    rh_error err = {0};
    EXPECT(rh_queue_attach(inst, "e.out", &q, &err) == 0, "expected e.out: %s", err.msg);
    queue_note *note = note_take(q);
    uint64_t pos = 0;
    EXPECT(note && claim_enqueue_run(q, 1, &pos, note) == 1, "expected a claim of one cell");
    const char *args[16] = {"send", "--instance", inst, "e.in"};
    int a = 4;
    for (int i = 2; i <= 4; i++)
        args[a++] = cli_keep("{\"seq\": %d}", i);
    args[a] = NULL;
    cli_exec_argv(&o, NULL, args);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    /* each run waits the deadline (1 s: block_timeout_ms, at least the
     * stall rule) behind the claim, then is given up */
    EXPECT_WITHIN(20, cli_queue_counter(inst, "k.dlq", "depth") == 3,
                  "expected the 3 answers behind the held claim dead-lettered, found %lld",
                  (long long)cli_queue_counter(inst, "k.dlq", "depth"));
    /* the held cell, published as no message: the queue goes on */
    atomic_store(&cell_at(q, pos)->env.port, (uint16_t)CELL_VOID_PORT);
    EXPECT(publish(q, CORRUPT_PRODUCERS, &q->h->prod_tail, pos, pos + 1) == 0,
           "expected the held claim to publish");
    note_free(note);
    rh_queue_close(q);
    expect_undeliverable_saying(inst, 3, "gave up at its deadline (block_timeout_ms 200, at "
                                         "least 1 s) behind another sender's claim");
    cli_await_log(&host, "reason=gave_up_behind_a_slow_sender", 1, 10);
    cli_exec(&o, NULL, "send", "--instance", inst, "e.in", "{\"seq\": 5}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    cli_exec(&o, NULL, "recv", "--instance", inst, "e.out", "-n", "2", "--timeout", "10", NULL);
    CLI_CHECK(&o, o.r.exit_code == 0 && strstr(o.r.out, "\"seq\": 1") &&
                      strstr(o.r.out, "\"seq\": 5"),
              "expected e.out to deliver seq 1 and, after the given-up runs, seq 5");
    cli_free(&o);
    EXPECT(cli_queue_counter(inst, "e.out", "corrupt") == 0, "expected e.out never marked");
    char *log = host_err(&host);
    if (strstr(log, "queue.corrupt") || strstr(log, "refuses every send"))
        fail_msg("expected no corrupt wording; the host's stderr:\n%s", log);
    free(log);
    stop_host(&host);
}

/* A client's recv on a queue whose cons_head was scribbled ahead waited
 * for ever in publish (`recv --timeout 3` hung past 15 s); a send on one
 * whose prod_head was likewise.  Both now end. */
static void test_client_calls_on_scribbled_heads_end_by_their_deadline(void **state)
{
    (void)state;
    const char *m = manifest("heads");
    const char *inst = cli_instance("heads");
    proc host;
    cli_start_host(&host, m, inst);
    cli_out o;
    cli_exec(&o, NULL, "send", "--instance", inst, "x.q", "{\"seq\": 0}", "{\"seq\": 1}",
             "{\"seq\": 2}", "{\"seq\": 3}", "{\"seq\": 4}", NULL);
    cli_expect_exit(&o, 0);
    cli_free(&o);
    queue_header *h = map_header(inst, "x.q");
    atomic_fetch_add(&h->cons_head, 3);
    cli_exec(&o, NULL, "recv", "--instance", inst, "x.q", "--timeout", "3", NULL);
    /* cells 3 and 4, each taken past the gap and delivered; then 3 s of nothing */
    CLI_CHECK(&o, o.r.exit_code == 0 && cli_count(o.r.out, "\"queue\"") == 2 &&
                      o.r.wall_s < 7.0,
              "expected recv --timeout 3 to deliver the 2 messages past the gap and end "
              "within 7 s, took %.1f s", o.r.wall_s);
    cli_free(&o);

    atomic_fetch_add(&h->prod_head, 3);
    cli_exec(&o, NULL, "send", "--instance", inst, "x.q", "{\"seq\": 5}", NULL);
    CLI_CHECK(&o, o.r.exit_code == 1 && strstr(o.r.err, "queue indices corrupt") &&
                      o.r.wall_s < 4.0,
              "expected a send behind a scribbled prod_head to be refused with RH_ECORRUPT "
              "within 4 s, took %.1f s", o.r.wall_s);
    cli_free(&o);
    /* and a recv then says so at once instead of waiting for its timeout */
    cli_exec(&o, NULL, "recv", "--instance", inst, "x.q", "--timeout", "10", NULL);
    CLI_CHECK(&o, o.r.exit_code == 1 && strstr(o.r.err, "corrupt") && o.r.wall_s < 4.0,
              "expected recv on a queue whose producers stalled to say corrupt at once");
    cli_free(&o);
    munmap(h, sizeof *h);
    stop_host(&host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CLI_HOST_TEST(test_stat_and_ps_say_a_killed_host_is_gone_and_since_when),
        CLI_HOST_TEST(test_the_next_start_logs_the_queues_it_found_and_replaced),
        CLI_HOST_TEST(test_a_client_attached_across_a_restart_gets_RH_ESTALE_not_a_dead_queue),
        CLI_HOST_TEST(test_ringhost_recv_attaches_again_when_its_host_is_replaced),
        CLI_HOST_TEST(test_ringhost_send_moves_what_it_stranded_to_the_new_host),
        CLI_HOST_TEST(test_a_persist_queue_taken_over_by_the_next_host_is_the_same_object),
        CLI_HOST_TEST(test_a_scribbled_consumer_head_is_reported_and_waits_end),
        CLI_HOST_TEST(test_the_output_bridge_refuses_at_once_into_a_corrupt_output_queue),
        CLI_HOST_TEST(test_answers_written_in_place_into_a_corrupt_output_queue_are_dead_lettered),
        CLI_HOST_TEST(test_client_calls_on_scribbled_heads_end_by_their_deadline),
        CLI_HOST_TEST(test_an_answer_given_up_behind_a_slow_sender_says_so_not_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, cli_group_teardown);
}
