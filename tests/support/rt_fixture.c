/* rt_fixture.c — see rt_fixture.h. */
#include "rt_fixture.h"
#include "run_ledger.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

FILE *rt_quiet_log(void)
{
    static FILE *devnull;
    if (!devnull)
        devnull = fopen("/dev/null", "w");
    return devnull;
}

const char *rt_write_manifest(const char *name, const char *body)
{
    static char path[256];
    snprintf(path, sizeof path, "/tmp/rh-test-fixture-%d-%s.json", (int)getpid(), name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    /* the test plugins (tests/plugins: failing, …) when they are built */
    const char *test_plugins = RH_TEST_BUILD_DIR "/test_plugins";
    int with_tests = access(test_plugins, F_OK) == 0;
    fprintf(f, "{\"ringhost\": 1, \"name\": \"fx%d-%s\", \"plugins\": [\"%s\"%s%s%s], %s}\n",
            (int)getpid(), name, RH_TEST_PLUGIN_DIR, with_tests ? ", \"" : "",
            with_tests ? test_plugins : "", with_tests ? "\"" : "", body);
    fclose(f);
    char instance[128];
    snprintf(instance, sizeof instance, "fx%d-%s", (int)getpid(), name);
    rh_test_ledger_add(instance);
    return path;
}

int rt_try_launch(const char *name, const char *body, rh_runtime **rt, rh_error *err)
{
    const char *path = rt_write_manifest(name, body);
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT(.log = rt_quiet_log());
    int rc = rh_runtime_launch(path, &opts, rt, err);
    unlink(path);
    return rc;
}

rh_runtime *rt_launch(const char *name, const char *body)
{
    rh_runtime *rt = NULL;
    rh_error err = {0};
    if (rt_try_launch(name, body, &rt, &err) != 0)
        fail_msg("launch of %s failed: %s", name, err.msg);
    return rt;
}

void rt_send_json(rh_runtime *rt, const char *qname, const char *json, rh_id *id)
{
    rh_queue *q = rh_runtime_queue(rt, qname);
    if (!q)
        fail_msg("no queue %s", qname);
    const rh_type *t = rh_queue_type(q);
    json_t *body = json_loads(json, 0, NULL);
    assert_non_null(body);
    void *buf = calloc(1, t->size);
    char why[256];
    if (t->decode(body, buf, why, sizeof why) != 0)
        fail_msg("decode %s: %s", json, why);
    int rc = rh_send(q, NULL, buf, t->size, id);
    if (rc != 0)
        fail_msg("send to %s: %s", qname, rh_strerror(rc));
    free(buf);
    json_decref(body);
}

int rt_recv_one(rh_runtime *rt, const char *qname, rh_envelope *env, void **buf,
                int timeout_ms)
{
    rh_queue *q = rh_runtime_queue(rt, qname);
    if (!q)
        fail_msg("no queue %s", qname);
    uint32_t len = rh_queue_payload_size(q);
    *buf = realloc(*buf, len);
    return rh_recv(q, env, *buf, len, timeout_ms);
}

static char log_path[256];
static FILE *log_file;

rh_runtime *rt_launch_logged(const char *name, const char *body)
{
    snprintf(log_path, sizeof log_path, "/tmp/rh-test-fixture-%d-%s.log", (int)getpid(), name);
    log_file = fopen(log_path, "w");
    assert_non_null(log_file);
    const char *path = rt_write_manifest(name, body);
    rh_runtime *rt = NULL;
    rh_error err = {0};
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT(.log = log_file);
    int rc = rh_runtime_launch(path, &opts, &rt, &err);
    unlink(path);
    if (rc != 0)
        fail_msg("launch of %s failed: %s", name, err.msg);
    assert_int_equal(rh_runtime_activate(rt, &err), 0);
    return rt;
}

void rt_destroy_logged(rh_runtime *rt)
{
    rh_runtime_destroy(rt);
    fclose(log_file);
    log_file = NULL;
    unlink(log_path);
}

int rt_log_count(const char *w1, const char *w2)
{
    fflush(log_file);
    FILE *f = fopen(log_path, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, w1) && (!w2 || strstr(line, w2));
    fclose(f);
    return n;
}

const char *rt_recv_text(rh_runtime *rt, const char *qname, int timeout_ms)
{
    static char text[128];
    rh_envelope env;
    void *buf = NULL;
    text[0] = 0;
    if (rt_recv_one(rt, qname, &env, &buf, timeout_ms) > 0) {
        json_t *j = rh_queue_type(rh_runtime_queue(rt, qname))->encode(buf);
        snprintf(text, sizeof text, "%s", json_string_value(json_object_get(j, "text")));
        json_decref(j);
    }
    free(buf);
    return text;
}

rh_kernel_info rt_kernel_info(rh_runtime *rt, uint32_t index)
{
    rh_kernel_info ki = RH_KERNEL_INFO_INIT;
    assert_int_equal(rh_runtime_kernel_info(rt, index, &ki), 0);
    return ki;
}

uint64_t rt_queue_depth(rh_runtime *rt, const char *qname)
{
    rh_queue_stats s = RH_QUEUE_STATS_INIT;
    rh_queue_stats_get(rh_runtime_queue(rt, qname), &s);
    return s.depth;
}
