/*
 * remote.h — queues shared across hosts through NATS JetStream:
 * what runtime.c calls.  A manifest's "links" are connected and their
 * streams checked at launch; each queue with "export" gets a thread
 * rh-export-Q that publishes what the queue holds, each with "import" a
 * thread rh-import-Q that fills it from a durable pull consumer.
 * docs/SCALE-OUT.md is the user's page; README.md in this folder the
 * maintainer's.
 */
#ifndef RH_REMOTE_H
#define RH_REMOTE_H

#include <stdio.h>

#include "engine/engine.h"

/* Connect every link of rt's manifest, create or check its stream, start
 * the bridges (rt->remote).  A manifest without links: 0 and nothing.
 * Errors (RH_EREMOTE, RH_ENOMEM, RH_ESYS) name the manifest file, the
 * link's JSON path and the server URL; credentials are never written. */
int rh__remote_start(rh_runtime *rt, rh_error *err);

/* Stop the import bridges (no more intake from JetStream); what they
 * enqueued stays; what they fetched but did not enqueue is not acked, so
 * JetStream delivers it again (to this host's next run or another). */
void rh__remote_stop_imports(rh_runtime *rt);

/* Let the export bridges publish what their queues still hold and wait
 * for JetStream's acks until deadline_ns (CLOCK_MONOTONIC), then stop
 * them and close the links. */
void rh__remote_stop_exports(rh_runtime *rt, uint64_t deadline_ns);

/* One accounting line per bridge ("accounting: export ..." / "accounting:
 * import ..."); returns how many do not balance. */
int rh__remote_report_accounting(rh_runtime *rt, FILE *out);

/* The counters of each link and bridge as a JSON array (new reference;
 * an empty array when the manifest has no links), for stat / ps / --prom. */
struct json_t *rh__remote_stats_json(rh_runtime *rt);

/* Free rt->remote (stopping whatever still runs). */
void rh__remote_free(rh_runtime *rt);

#endif /* RH_REMOTE_H */
