/*
 * nats_fixture.h — real nats-server processes for cmocka tests.
 *
 * Every server runs `nats-server -js` on 127.0.0.1, on a port of its own
 * (bench/natsd.h picks it and retries when a parallel test takes it first),
 * with its own folder (config, log, JetStream file store) under a mkdtemp
 * dir.  The fixture keeps every server it started in one list, and stops
 * them all by pid (SIGTERM, SIGKILL after NATS_FIXTURE_STOP_S) and removes
 * their folders at exit (atexit) and in nats_fixture_group_teardown(), so a
 * failing test leaves nothing behind; a test process killed outright takes
 * its servers along (PR_SET_PDEATHSIG), only their folders then stay.
 *
 * Each call fails the test (fail_msg, naming the server, its config and the
 * tail of its log) when it cannot do what it says: nats-server not
 * installed is such a failure, not a skip (CI installs it).
 *
 * Start servers from the test's main thread (natsd.h says why).
 * Link the test with libnats (RH_NATS target, cmake/FindNATS.cmake) and give
 * it EXTRA support/nats_fixture.c ../bench/natsd.c.
 */
#ifndef RH_TEST_NATS_FIXTURE_H
#define RH_TEST_NATS_FIXTURE_H

#include <nats/nats.h>

#include "../../bench/natsd.h"

/* How long a server gets to say it is ready, and to exit on SIGTERM, before
 * the fixture gives up (start) or kills it (stop).  Generous: sanitizer
 * builds on a loaded 2-core machine. */
#define NATS_FIXTURE_READY_S 30.0
#define NATS_FIXTURE_STOP_S 10.0

/* Start one standalone server with options o (may be NULL).  The natsd
 * (pid, port, url, dir, log) belongs to the fixture: valid until cleanup. */
natsd *nats_fixture_start(const natsd_opts *o);

/* The same, not started yet: a test that drives bench/natsd.h itself
 * (natsd_start, natsd_stop) and still wants the cleanup. */
natsd *nats_fixture_new(const natsd_opts *o);

/* Stop it gracefully (SIGTERM; SIGKILL past NATS_FIXTURE_STOP_S).  Its port,
 * folder and store stay for nats_fixture_restart(). */
void nats_fixture_stop(natsd *s);

/* SIGKILL it now (a crash). */
void nats_fixture_kill(natsd *s);

/* Start a stopped or killed server again: same port, same store, same
 * config; waits until it is ready. */
void nats_fixture_restart(natsd *s);

/* A three-node JetStream cluster on loopback: server names rh-n0..rh-n2,
 * cluster "rh-test", each routed to the other two. */
#define NATS_CLUSTER_NODES 3
typedef struct nats_cluster {
    natsd *node[NATS_CLUSTER_NODES];
    char urls[256]; /* "nats://127.0.0.1:a,nats://127.0.0.1:b,nats://127.0.0.1:c" */
} nats_cluster;

/* Start the cluster and wait until it can place a file stream with three
 * replicas (a meta leader is elected and every peer has joined). */
nats_cluster *nats_fixture_cluster_start(void);

/* SIGKILL node i (0 .. NATS_CLUSTER_NODES-1). */
void nats_fixture_cluster_kill_node(nats_cluster *c, int i);

/* Connect to urls (comma-separated, as nats_cluster.urls) retrying until
 * within_s has passed; fails the test then, with the last error. */
natsConnection *nats_fixture_connect(const char *urls, double within_s);

/* Stop every server the fixture started and remove their folders.  Runs at
 * exit by itself; call it from a group teardown to free ports sooner. */
void nats_fixture_cleanup(void);
int nats_fixture_group_teardown(void **state);

/* The libnats text of the last error ("status: what happened"), for
 * messages. */
const char *nats_fixture_error(natsStatus s);

#endif /* RH_TEST_NATS_FIXTURE_H */
