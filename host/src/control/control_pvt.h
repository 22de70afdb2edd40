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
} rh_control_rt;

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
    rh_control_rt *rts;
    unsigned n_rts, cap_rts;
    rh_runtime **peers;        /* every rts[i].rt, NULL-terminated: each runtime's peers */
};

/* runtimes.c: free what rh__control_add_runtime allocated (not the
 * runtimes themselves). */
void rh__control_runtimes_free(rh_control *c);

#endif /* RH_CONTROL_PVT_H */
