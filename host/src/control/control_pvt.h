/*
 * control_pvt.h — what the files of the control layer share: the server
 * (server.c), the commands (control_cmd.c) and the runtimes it answers for
 * (runtimes.c).  Nothing outside control/ includes it.
 */
#ifndef RH_CONTROL_PVT_H
#define RH_CONTROL_PVT_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

#include "control/control.h"

/* One runtime of the host, and the last ps sample of each of its kernels. */
typedef struct rh_control_rt {
    rh_runtime *rt;
    char *manifest;            /* the path it was launched from */
    struct rh_control_sample {
        uint64_t processed, ns;
        double rate;           /* msgs/s between the last two samples */
    } *samples;                /* one per kernel */
    /* Released once its kernels are terminated (runtimes.c): 1 once its
     * threads are joined (rh_runtime_terminate), until nothing needs its
     * queues any more and it is destroyed and dropped from the list. */
    int retired;
    int stuck;                 /* its terminate left a thread running: kept for good */
    char held_by[192];         /* why it is kept, as last logged ("" = not logged) */
} rh_control_rt;

/* A kernel of a released runtime, as ps shows it (the last few only). */
#define RH_CONTROL_TOMBS 32
typedef struct rh_control_tomb {
    rh_kernel_info ki;         /* its last counters; the strings point into the fields below */
    char name[128], plugin[128], version[64], path[512], manifest[512];
} rh_control_tomb;

struct rh_control {
    char instance[64];
    char path[108];            /* sockaddr_un.sun_path */
    FILE *log;
    int listen_fd;
    int lock_fd;               /* <instance>.lock, flock'ed for the host's life */
    int owns_lock;             /* the flock is ours: remove the file when closing */
    char lock_path[108];
    int wake[2];               /* self-pipe: rh__control_close wakes the thread */
    pthread_t thread;
    int started;
    /* rts and n_rts change on the control thread only, under rts_lock: the
     * plugin watcher's thread reads them under it (plugin_users). */
    pthread_mutex_t rts_lock;
    int watch_hooked;          /* rts[0]'s plugin watcher asks plugin_users */
    rh_control_rt *rts;
    unsigned n_rts, cap_rts;
    rh_runtime **peers;        /* every rts[i].rt, NULL-terminated: each runtime's peers */
    rh_control_tomb *tombs;    /* RH_CONTROL_TOMBS, a ring: n_tombs written so far */
    unsigned n_tombs;
    unsigned released;         /* runtimes released (destroyed) so far */
    int released_unbalanced;   /* accounting lines that did not balance at their release */
    /* rh_now_ns() of the serving thread's last turn (the sample every
     * RH_CONTROL_SAMPLE_MS): written by it, read by rh__control_heartbeat_ns
     * from the main thread; relaxed both ways, a time and nothing it guards. */
    _Atomic uint64_t heartbeat_ns;
};

/* runtimes.c: free what rh__control_add_runtime allocated (not the
 * runtimes themselves). */
void rh__control_runtimes_free(rh_control *c);
/* runtimes.c: the first runtime's plugin watcher stops asking the control
 * layer (before the runtimes go). */
void rh__control_unhook_watch(rh_control *c);
/* runtimes.c: the first runtime's plugin watcher watches rt's plugin
 * folders too (a launched manifest's), extra: its --plugins folder or NULL. */
void rh__control_watch_folders(rh_control *c, rh_runtime *rt, const char *extra);

/* save_config.c: the requests of the protocol (control.h), NULL-ended:
 * params is "a, b?" (? = optional). */
typedef struct rh_control_method {
    const char *name, *params, *description;
} rh_control_method;
extern const rh_control_method rh__control_methods[];

/* The `methods` reply's "methods" array (a new reference). */
struct json_t *rh__control_methods_json(void);

/* The `save_config` reply's "manifest" (a new reference). */
struct json_t *rh__control_save_config(rh_control *c);

/* runtimes.c: the tombstone of a released kernel called name, or NULL;
 * forget the ones called name (a kernel of that name was launched again). */
const rh_control_tomb *rh__control_tomb(const rh_control *c, const char *name);
void rh__control_tomb_forget(rh_control *c, const char *name);

#endif /* RH_CONTROL_PVT_H */
