/*
 * remote_common.h — what the remote-queue integration tests share:
 * the manifests of a gateway host (no kernel) and an echo kernel host
 * on one JetStream stream, starting and stopping real `ringhost run`
 * processes, and a client that attaches to the gateway's queues and counts
 * every answer by correlation id (exactly once: none missing, none twice,
 * none to no request).
 *
 * The wiring: the gateway's e.in exports to rh.<tag>.in and its e.out
 * imports rh.<tag>.out; a kernel host imports rh.<tag>.in into its echo
 * kernel and exports the answers to rh.<tag>.out.  The gateway's manifest
 * is <tag>-gw (instance cli_instance("<tag>-gw")).
 */
#ifndef RH_TEST_REMOTE_COMMON_H
#define RH_TEST_REMOTE_COMMON_H

#include <stdint.h>

#include "cli_common.h"
#include "ringhost/ringhost.h"

/* How long a host gets to say it serves (sanitizer builds, a busy machine). */
#define REMOTE_READY_WITHIN_S 60.0
/* Bytes of each request's payload (an empty echo.message). */
#define REMOTE_PAYLOAD 16
/* The gateway's e.in capacity (cells): what backpressure fills. */
#define REMOTE_GATEWAY_IN_CAPACITY 1024

/* The "nats" value of a manifest for urls (comma-separated: one URL gives
 * a string, several a list; one starting with '[' is a JSON list already
 * and stays as it is).  Lives until cli_cleanup(). */
const char *remote_nats_json(const char *urls);

/* The gateway's manifest <tag>-gw on urls; extra_link (may be NULL) is
 * appended to the link's object (", \"wait\": true"); persist: its queues
 * are "persist": true (they outlive a SIGKILL). */
const char *remote_gateway(const char *tag, const char *urls, const char *extra_link,
                           int persist);

/* A kernel host's manifest <tag>-<which>; extra_link and persist as
 * above. */
const char *remote_kernel_host(const char *tag, const char *which, const char *urls,
                               const char *extra_link, int persist);

/* `ringhost run manifest` in the background, waiting until it serves;
 * fails the test (with its stderr) when it does not within
 * REMOTE_READY_WITHIN_S. */
void remote_start_host(proc *host, const char *manifest_path);

/* SIGTERM; its exit status must be 0 and every accounting line balanced
 * (queues, and the export and import lines).  Returns its stderr
 * (malloc'd). */
char *remote_stop_host_balanced(proc *host, const char *what);

/* SIGKILL by pid and reap. */
void remote_kill_host(proc *host);

/* A per-test cmocka teardown: every host remote_start_host() started that
 * has not been waited for (a failed test jumps past its stops) is stopped
 * (SIGTERM, SIGKILL after 30 s) and its stderr printed, warnings and
 * errors and accounting lines, so the failure shows what each counted. */
int remote_hosts_teardown(void **state);
/* A cmocka test entry with that teardown. */
#define REMOTE_TEST(f) cmocka_unit_test_teardown(f, remote_hosts_teardown)

/* A counter of `ringhost stat --instance instance --json`'s first link
 * ("connected", "published", "acked", "pending_acks", "redeliveries",
 * "consumer_lag", "reconnects"); -1 when stat fails or has no such member
 * (so it can sit in a WAIT_UNTIL condition). */
long long remote_link_counter(const char *instance, const char *counter);

/* From a host's stderr: the number after counter on the first line holding
 * needle, or -1. */
long long remote_summary_counter(const char *err, const char *needle, const char *counter);

/* Remove the persist queues this test process left in /dev/shm
 * (ringhost.<instance>:... of its own instances only). */
void remote_remove_persist_queues(void);

/* ---------------------------------------------------------- client ---- */

typedef struct remote_client {
    rh_queue *in, *out;  /* the gateway's e.in and e.out, while attached */
    char instance[128];  /* the gateway's instance */
    uint64_t n;          /* requests */
    unsigned char *seen; /* answers per request (0..n-1) */
    uint64_t answers, repeats, strangers;
} remote_client;

/* The id of request i (1-based) of this process. */
rh_id remote_request_id(uint64_t i);

/* Attach to the gateway instance's e.in / e.out, for n requests. */
void remote_client_open(remote_client *c, const char *instance, uint64_t n);
/* Let go of the queues (a persist queue is not recovered while a client
 * holds it), keeping the count; attach again with remote_client_attach. */
void remote_client_detach(remote_client *c);
void remote_client_attach(remote_client *c, const char *instance);
void remote_client_close(remote_client *c);

/* Send requests [from, to) in bursts, waiting as the queue's policy says
 * (a block that timed out: the rest again); fails the test, with the
 * gateway's e.in depth and link counters, when the gateway has not taken
 * them all within REMOTE_SEND_WITHIN_S (its export wedged). */
#define REMOTE_SEND_WITHIN_S 120.0
void remote_send_range(remote_client *c, uint64_t from, uint64_t to);

/* Receive answers until `until` were counted or within_s passed. */
void remote_receive(remote_client *c, uint64_t until, double within_s);

/* After a quiet 1.5 s more (a late repeat would show): fail unless every
 * request was answered exactly once. */
void remote_expect_exactly_once(remote_client *c, const char *what);

#endif /* RH_TEST_REMOTE_COMMON_H */
