/* rt_fixture.c — see rt_fixture.h. */
#include "rt_fixture.h"

#include <stdlib.h>
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
    return path;
}

int rt_try_launch(const char *name, const char *body, rh_runtime **rt, rh_error *err)
{
    const char *path = rt_write_manifest(name, body);
    rh_launch_opts opts = {.log = rt_quiet_log()};
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

void rt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}
