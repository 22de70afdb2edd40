/*
 * remote_common.c — the remote-queue tests' manifests, hosts and client;
 * see remote_common.h.
 */
#include "remote_common.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *remote_nats_json(const char *urls)
{
    if (urls[0] == '[')
        return cli_keep("%s", urls); /* a JSON list already */
    if (!strchr(urls, ','))
        return cli_keep("\"%s\"", urls);
    cli_str b = {0};
    cli_str_addf(&b, "[");
    const char *u = urls;
    for (int i = 0; *u; i++) {
        size_t len = strcspn(u, ",");
        cli_str_addf(&b, "%s\"%.*s\"", i ? ", " : "", (int)len, u);
        u += len + (u[len] == ',');
    }
    cli_str_addf(&b, "]");
    const char *r = cli_keep("%s", b.s);
    cli_str_free(&b);
    return r;
}

const char *remote_gateway(const char *tag, const char *urls, const char *extra_link,
                           int persist)
{
    char text[4096];
    const char *p = persist ? ", \"persist\": true" : "";
    snprintf(text, sizeof text,
             "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
             " \"links\": {\"hub\": {\"nats\": %s, \"stream\": \"S_%s\", "
             "\"ack_wait_ms\": 2000%s}},\n"
             " \"queues\": {\n"
             "  \"e.in\": {\"type\": \"echo.message\", \"capacity\": %d%s, "
             "\"export\": {\"link\": \"hub\", \"subject\": \"rh.%s.in\"}},\n"
             "  \"e.out\": {\"type\": \"echo.message\", \"capacity\": 16384%s, "
             "\"import\": {\"link\": \"hub\", \"subject\": \"rh.%s.out\"}}},\n"
             " \"kernels\": []}\n",
             remote_nats_json(urls), tag, extra_link ? extra_link : "",
             REMOTE_GATEWAY_IN_CAPACITY, p, tag, p, tag);
    char name[128];
    snprintf(name, sizeof name, "%s-gw", tag);
    return cli_manifest(name, text);
}

/* persist: the kernel host's queues outlive a SIGKILL (what it took from
 * JetStream and acked, and what it answered but JetStream has not acked).
 * e.out blocks up to 60 s, not the default 5: while a link fails over (a
 * cluster node killed: ~15 s under ASan) the export takes nothing, and an
 * answer the full queue refuses after its block timeout is counted but
 * gone for the client, whose input JetStream already saw acked. */
const char *remote_kernel_host(const char *tag, const char *which, const char *urls,
                               const char *extra_link, int persist)
{
    char text[4096];
    const char *p = persist ? ", \"persist\": true" : "";
    snprintf(text, sizeof text,
             "{\"ringhost\": 1, \"name\": \"@NAME@\", \"plugins\": [@PLUGINS@],\n"
             " \"links\": {\"hub\": {\"nats\": %s, \"stream\": \"S_%s\", "
             "\"ack_wait_ms\": 2000%s}},\n"
             " \"queues\": {\n"
             "  \"e.in\": {\"type\": \"echo.message\", \"capacity\": 1024, "
             "\"dedup_window\": 4096%s, "
             "\"import\": {\"link\": \"hub\", \"subject\": \"rh.%s.in\"}},\n"
             "  \"e.out\": {\"type\": \"echo.message\", \"capacity\": 1024, "
             "\"block_timeout_ms\": 60000%s, \"export\": {\"link\": \"hub\", \"subject\": \"rh.%s.out\"}}},\n"
             " \"kernels\": [{\"name\": \"e\", \"plugin\": \"echo\", "
             "\"inputs\": {\"in\": \"e.in\"}, \"outputs\": {\"out\": \"e.out\"}}]}\n",
             remote_nats_json(urls), tag, extra_link ? extra_link : "", p, tag, p, tag);
    char name[128];
    snprintf(name, sizeof name, "%s-%s", tag, which);
    return cli_manifest(name, text);
}

void remote_start_host(proc *host, const char *manifest_path)
{
    /* Remembered by cli_common until waited for: remote_hosts_teardown
     * stops the ones a failed test left. */
    cli_start_host_within(host, manifest_path, NULL, REMOTE_READY_WITHIN_S);
}

char *remote_stop_host_balanced(proc *host, const char *what)
{
    proc_signal(host, SIGTERM);
    proc_result r;
    proc_wait(host, 60, &r);
    char *err = strdup(r.err ? r.err : "");
    if (r.exit_code != 0 || strstr(err, "UNBALANCED") || strstr(err, "UNCONFIRMED") ||
        !strstr(err, "accounting: export") || !strstr(err, "accounting: import")) {
        /* fail_msg keeps a few hundred bytes: the whole stderr first */
        fprintf(stderr, "---- stderr of the %s ----\n%s\n", what, err);
        fail_msg("expected the %s to stop with exit 0 and every accounting line balanced "
                 "(queues, export, import); got exit %d signal %d, stderr:\n%s",
                 what, r.exit_code, r.term_signal, err);
    }
    proc_result_free(&r);
    return err;
}

void remote_kill_host(proc *host)
{
    assert_int_equal(proc_signal(host, SIGKILL), 0);
    proc_result r;
    proc_wait(host, 10, &r);
    proc_result_free(&r);
}

/* Stop the host copy h names (it may have exited, or been reaped by a
 * proc_running() on the test's own struct), then print its stderr. */
static void stop_left_host(proc *h)
{
    if (kill(h->pid, 0) == 0)
        kill(h->pid, SIGTERM);
    int status = 0;
    double deadline = proc_now() + 30;
    pid_t w;
    while ((w = waitpid(h->pid, &status, WNOHANG)) == 0 && proc_now() < deadline)
        sleep_ms(20); /* a host's exit has no condition to wait on here but waitpid */
    if (w == 0) {
        kill(h->pid, SIGKILL);
        waitpid(h->pid, &status, 0);
    }
    fprintf(stderr, "---- a host the test left running (pid %d), stopped; its stderr (info lines "
                    "left out) ----\n", (int)h->pid);
    FILE *f = fopen(h->err_path, "r");
    char line[2048];
    while (f && fgets(line, sizeof line, f))
        if (!strstr(line, "level=info"))
            fputs(line, stderr);
    if (f)
        fclose(f);
    unlink(h->err_path);
    unlink(h->out_path);
}

int remote_hosts_teardown(void **state)
{
    (void)state;
    cli_hosts_stop_left(stop_left_host);
    return 0;
}

long long remote_link_counter(const char *instance, const char *counter)
{
    cli_out o;
    cli_exec(&o, NULL, "stat", "--instance", instance, "--json", NULL);
    long long v = -1;
    json_error_t je;
    json_t *j = o.r.exit_code == 0 ? json_loads(o.r.out ? o.r.out : "", 0, &je) : NULL;
    json_t *c = json_object_get(json_array_get(json_object_get(j, "links"), 0), counter);
    if (json_is_integer(c))
        v = (long long)json_integer_value(c);
    json_decref(j);
    cli_free(&o);
    return v;
}

long long remote_summary_counter(const char *err, const char *needle, const char *counter)
{
    const char *line = strstr(err, needle);
    if (!line)
        return -1;
    const char *c = strstr(line, counter);
    const char *nl = strchr(line, '\n');
    if (!c || (nl && c > nl))
        return -1;
    return atoll(c + strlen(counter));
}

void remote_remove_persist_queues(void)
{
    /* cli_instance() names end in "-<pid>", and a queue's object is
     * ringhost.<instance>:<queue> */
    char mark[32];
    snprintf(mark, sizeof mark, "-%d:", (int)getpid());
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        if (strncmp(e->d_name, "ringhost.", 9) == 0 && strstr(e->d_name, mark)) {
            char path[300];
            snprintf(path, sizeof path, "/dev/shm/%s", e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
}

/* ---------------------------------------------------------- client ---- */

rh_id remote_request_id(uint64_t i)
{
    rh_id id = {.hi = 0x5248000000000000ull | (uint64_t)getpid() << 16, .lo = i};
    return id;
}

void remote_client_attach(remote_client *c, const char *instance)
{
    rh_error err;
    snprintf(c->instance, sizeof c->instance, "%s", instance);
    if (rh_queue_attach(instance, "e.in", &c->in, &err) != 0 ||
        rh_queue_attach(instance, "e.out", &c->out, &err) != 0)
        fail_msg("cannot attach to the gateway %s: %s", instance, err.msg);
}

void remote_client_detach(remote_client *c)
{
    rh_queue_close(c->in);
    rh_queue_close(c->out);
    c->in = c->out = NULL;
}

void remote_client_open(remote_client *c, const char *instance, uint64_t n)
{
    memset(c, 0, sizeof *c);
    remote_client_attach(c, instance);
    c->n = n;
    c->seen = calloc(n, 1);
    assert_non_null(c->seen);
}

void remote_client_close(remote_client *c)
{
    remote_client_detach(c);
    free(c->seen);
    c->seen = NULL;
}

void remote_send_range(remote_client *c, uint64_t from, uint64_t to)
{
    enum { BURST = 256 };
    rh_envelope envs[BURST];
    unsigned char payloads[BURST][REMOTE_PAYLOAD];
    double deadline = proc_now() + REMOTE_SEND_WITHIN_S;
    for (uint64_t i = from; i < to;) {
        if (proc_now() > deadline)
            fail_msg("expected the gateway %s to take requests %llu..%llu within %.0f s; it "
                     "stopped at %llu: e.in depth %lld, link connected %lld, published %lld, "
                     "acked %lld, pending_acks %lld", c->instance, (unsigned long long)from + 1,
                     (unsigned long long)to, REMOTE_SEND_WITHIN_S, (unsigned long long)i,
                     cli_queue_counter(c->instance, "e.in", "depth"),
                     remote_link_counter(c->instance, "connected"),
                     remote_link_counter(c->instance, "published"),
                     remote_link_counter(c->instance, "acked"),
                     remote_link_counter(c->instance, "pending_acks"));
        uint32_t k = (uint32_t)(to - i < BURST ? to - i : BURST);
        for (uint32_t j = 0; j < k; j++) {
            memset(&envs[j], 0, sizeof envs[j]);
            envs[j].id = remote_request_id(i + j + 1);
            memset(payloads[j], 0, REMOTE_PAYLOAD); /* a valid echo.message: empty */
        }
        int sent = rh_send_burst(c->in, envs, payloads, REMOTE_PAYLOAD, REMOTE_PAYLOAD, k, NULL);
        if (sent < 0)
            fail_msg("rh_send_burst to the gateway's e.in failed: %s", rh_strerror(sent));
        i += (uint64_t)sent; /* a block that timed out: the rest again */
    }
}

void remote_receive(remote_client *c, uint64_t until, double within_s)
{
    enum { BURST = 256 };
    uint32_t stride = rh_queue_payload_size(c->out);
    rh_envelope envs[BURST];
    unsigned char *bufs = malloc((size_t)stride * BURST);
    assert_non_null(bufs);
    double deadline = proc_now() + within_s;
    while (c->answers < until && proc_now() < deadline) {
        int got = rh_recv_burst(c->out, envs, bufs, stride, BURST, 200);
        for (int j = 0; j < got; j++) {
            rh_id cid = envs[j].correlation_id;
            uint64_t i = cid.lo;
            if (cid.hi != remote_request_id(1).hi || i == 0 || i > c->n) {
                c->strangers++;
                continue;
            }
            if (c->seen[i - 1]++)
                c->repeats++;
            else
                c->answers++;
        }
    }
    free(bufs);
}

void remote_expect_exactly_once(remote_client *c, const char *what)
{
    remote_receive(c, c->n + 1, 1.5); /* nothing more may come */
    uint64_t missing = 0, first_missing = 0;
    for (uint64_t i = 0; i < c->n; i++)
        if (!c->seen[i] && !missing++)
            first_missing = i + 1;
    if (missing || c->repeats || c->strangers)
        fail_msg("%s: expected each of %llu requests answered exactly once; got %llu missing "
                 "(first: request %llu), %llu repeated answers, %llu answers to no request",
                 what, (unsigned long long)c->n, (unsigned long long)missing,
                 (unsigned long long)first_missing, (unsigned long long)c->repeats,
                 (unsigned long long)c->strangers);
}
