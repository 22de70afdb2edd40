/*
 * manifest.h — a manifest file loaded with jansson into plain C structs.
 *
 * rh__manifest_load() applies the "defaults" block, checks every value and
 * rejects unknown keys (suggesting the nearest known key).  Every error
 * message has the form
 *     <file>: <json.path>: expected <what>, got <value>
 * e.g. "m.json: kernels[0].inputs.requests: expected the name of a queue
 * declared in "queues", got "vadd.inn"".  Checks that need the plugins
 * (port names, message types) are done by the runtime, with the same form.
 */
#ifndef RH_MANIFEST_H
#define RH_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "ringhost/ringhost.h"
#include "base/json_check.h" /* rh__manifest_path_key: the one way to write a JSON path */
#include "base/wait.h"

#define RH_MANIFEST_VERSION 1
#define RH_MAX_PORTS 16
#define RH_MAX_WORKERS 256
#define RH_BATCH_MAX 4096
#define RH_RING_CAPACITY_MAX 65536
#define RH_MAX_PLUGIN_DIRS 8

typedef enum rh_bridge_mode { RH_BRIDGE_THREAD = 0, RH_BRIDGE_INLINE = 1 } rh_bridge_mode;

/* A placement request as written: "core:1", "pu:0", "numa:0", a list of
 * those (joined with ","), or "" for none.  Resolved by placement.c. */
typedef struct rh_pin_spec {
    char text[256];
} rh_pin_spec;

/* Remote queues (manifest_links.c; run by host/src/remote/). */
#define RH_MAX_LINKS 16
#define RH_LINK_SERVERS_MAX 8
#define RH_SUBJECT_MAX 200

/* One entry of "links": NATS servers (a cluster when several) and the
 * JetStream stream that exports publish to and imports consume from. */
typedef struct rh_link_decl {
    char name[64];
    char servers[RH_LINK_SERVERS_MAX][256]; /* "nats://host:port", no user or password */
    uint32_t n_servers;
    char stream[64];
    int wait;                /* "wait": true: an unreachable server at launch is waited for */
    /* "credentials": where the secret is, never the secret: a file (absolute,
     * resolved against the manifest's folder) or an environment variable
     * ("env:NAME").  "" = none.  Read by remote/link.c at connect. */
    char credentials[4096];
    uint32_t ack_wait_ms;    /* the import consumers' redelivery horizon */
    uint32_t duplicates_ms;  /* the stream's Nats-Msg-Id window, >= 2 * ack_wait_ms */
    uint32_t max_deliver;    /* deliveries of one message before it is given up, 0 = no limit */
    uint32_t replicas;       /* the stream's replicas when the host creates it (1..5) */
    char json_path[80];      /* "links.hub" */
} rh_link_decl;

/* A queue's "export" or "import": {"link": NAME, "subject": S}. */
typedef struct rh_remote_decl {
    int set;                 /* the key is there */
    uint32_t link;           /* index into rh_manifest.links */
    char subject[RH_SUBJECT_MAX + 1];
    char durable[64];        /* import only: the durable consumer's name ("" = derived) */
} rh_remote_decl;

typedef struct rh_queue_decl {
    char name[RH_QUEUE_NAME_MAX + 1];
    char type[128];          /* message type name; "" = take the wired port's type */
    rh_queue_config cfg;
    char json_path[80];      /* "queues[\"vadd.in\"]" style path for later errors */
    rh_remote_decl export_to;   /* "export": a bridge publishes what the queue holds */
    rh_remote_decl import_from; /* "import": a bridge fills the queue from a consumer */
} rh_queue_decl;

typedef struct rh_port_binding {
    char port[64];
    char queue[RH_QUEUE_NAME_MAX + 1];
} rh_port_binding;

typedef struct rh_kernel_decl {
    char name[64];
    char plugin[1024];              /* a plugin name, or an absolute .so path (--allow-plugin) */
    uint32_t workers;               /* 1..RH_MAX_WORKERS */
    rh_port_binding inputs[RH_MAX_PORTS];
    uint32_t n_inputs;
    rh_port_binding outputs[RH_MAX_PORTS];
    uint32_t n_outputs;
    rh_pin_spec pin_dispatch;       /* "" = not pinned (placement policy decides) */
    rh_pin_spec pin_pump;
    rh_bridge_mode bridge;
    rh_wait_kind wait;
    uint32_t batch;                 /* 1..RH_BATCH_MAX */
    uint32_t ring_capacity;         /* kernel ring slots, power of two; 0 = auto (kernel_build.c) */
    char *config_json;              /* compact JSON text of "config", "{}" if absent (owned) */
    /* Kernel faults (manifest_faults.c; engine/restart.c, faults/). */
    uint32_t watchdog_ms;           /* longest process() call before it is stalled; 0 = off */
    uint32_t restart_max;           /* restarts before the kernel is given up */
    uint32_t restart_backoff_ms;    /* wait before the first restart, doubled each time */
    uint32_t restart_backoff_max_ms;/* the doubling stops here */
    uint32_t restart_failed_batches;/* restart after this many failed batches in a row; 0 = off */
    const char *executor;           /* "isolation": where its workers run, the name of an
                                     * executor (exec/): "thread" (default) or "process" */
} rh_kernel_decl;

typedef struct rh_manifest {
    char path[4096];                /* as given */
    char name[64];                  /* also the default instance name; "" when a launched
                                       manifest left it out (RH_MANIFEST_LAUNCHED) */
    char plugin_dirs[RH_MAX_PLUGIN_DIRS][4096]; /* resolved relative to the manifest's folder */
    uint32_t n_plugin_dirs;
    int plugins_default;            /* no "plugins" key: plugin_dirs is "../plugins" */
    char placement[16];             /* "none" (default), "compact", "scatter" */
    int strict;                     /* 1 (default): impossible pins are errors, else warnings */
    rh_queue_config queue_defaults;
    rh_wait_kind wait_default;
    uint32_t batch_default;
    uint32_t ring_capacity_default; /* defaults.ring_capacity, 0 (auto) when absent */
    rh_queue_decl *queues;
    uint32_t n_queues;
    rh_kernel_decl *kernels;
    uint32_t n_kernels;             /* 0 only in a gateway: queues that export or import */
    rh_link_decl links[RH_MAX_LINKS];
    uint32_t n_links;
    uint32_t n_remote;              /* queues with "export" or "import" */
} rh_manifest;

/* Load and check a manifest.  Returns 0 and a manifest to free with
 * rh__manifest_free(), or RH_EMANIFEST / RH_ENOENT with err->msg naming the
 * file and JSON path. */
int rh__manifest_load(const char *path, rh_manifest **out, rh_error *err);
/* The same, for a manifest launched into a running host (ringhost launch):
 * "name" may be left out (the host names the instance). */
#define RH_MANIFEST_LAUNCHED 1
int rh__manifest_load_as(const char *path, int flags, rh_manifest **out, rh_error *err);
void rh__manifest_free(rh_manifest *m);

/* The declared queue named name, or NULL. */
rh_queue_decl *rh__manifest_queue(rh_manifest *m, const char *name);

#endif /* RH_MANIFEST_H */
