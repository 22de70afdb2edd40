/*
 * rt_fixture.h — a runtime launched from a manifest written on the fly,
 * for unit tests that drive the embedding API with the real kernel plugins
 * of the build (RH_TEST_PLUGIN_DIR).  Failures end the test (cmocka).
 */
#ifndef RH_TEST_RT_FIXTURE_H
#define RH_TEST_RT_FIXTURE_H

#include <stdio.h>

#include "expect.h"
#include "ringhost/ringhost.h"

/* A log stream that discards (runtime lines would drown the test output). */
FILE *rt_quiet_log(void);

/* Write a manifest named name (instance "fx<pid>-<name>") whose plugin
 * folders are the build's and, when built, its test plugins'
 * (RH_TEST_BUILD_DIR/test_plugins); body is its "queues"/"kernels" members (JSON, no
 * braces).  Returns its path (a static buffer: unlink it when done). */
const char *rt_write_manifest(const char *name, const char *body);

/* Launch such a manifest (its file is removed again): rh_runtime_launch's
 * result, *rt and err as it leaves them. */
int rt_try_launch(const char *name, const char *body, rh_runtime **rt, rh_error *err);

/* The same, failing the test when the launch fails. */
rh_runtime *rt_launch(const char *name, const char *body);

/* Send the JSON body json to queue qname (decoded with the queue's type);
 * the assigned id goes to *id when not NULL.  Fails the test on error. */
void rt_send_json(rh_runtime *rt, const char *qname, const char *json, rh_id *id);

/* Receive one message of qname (up to timeout_ms) into *buf (reallocated);
 * returns rh_recv's result. */
int rt_recv_one(rh_runtime *rt, const char *qname, rh_envelope *env, void **buf,
                int timeout_ms);

/* Launch like rt_launch, logging to a file of its own (one at a time per
 * test program; read back with rt_log_count), and activate it. */
rh_runtime *rt_launch_logged(const char *name, const char *body);

/* Destroy a runtime from rt_launch_logged and remove its log. */
void rt_destroy_logged(rh_runtime *rt);

/* Lines of that log so far holding w1 (and w2 unless NULL). */
int rt_log_count(const char *w1, const char *w2);

/* The "text" field of the next message of qname (echo.message and the
 * test kernels' types), or "" after timeout_ms.  A static buffer. */
const char *rt_recv_text(rh_runtime *rt, const char *qname, int timeout_ms);

/* rh_runtime_kernel_info of the index-th kernel (failing the test if none),
 * and the depth of queue qname. */
rh_kernel_info rt_kernel_info(rh_runtime *rt, uint32_t index);
uint64_t rt_queue_depth(rh_runtime *rt, const char *qname);

#endif
