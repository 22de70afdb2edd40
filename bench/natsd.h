/*
 * natsd.h — one local `nats-server -js` process, started and stopped by pid.
 *
 * The benchmark (bench/base_nats.c) and the tests (tests/support/nats_fixture.c,
 * which builds the test lifecycle and the three-node cluster on top of this)
 * both need a real JetStream server of their own: on 127.0.0.1, on a port
 * nobody else uses, with its own store folder, stopped by its pid however the
 * run ends.  It lives here, beside the bench, because the bench is a program
 * users run and tests may reuse a program's code but not the other way round;
 * it needs nothing but libc (no libnats, no cmocka).
 *
 * A server's folder (natsd.dir, created by the caller, e.g. natsd_make_dir())
 * holds its generated config (nats.conf), its log (nats.log: the server's
 * stdout and stderr, appended over restarts) and its JetStream store
 * (store/).  A restart reuses all three and the same client port, so a
 * file-storage stream keeps its messages across it.
 *
 * Ports: a random free one in [NATSD_PORT_MIN, NATSD_PORT_MAX), below
 * Linux's ephemeral range (32768+) so that no outgoing connection's local
 * port collides with it.  Picking and binding are two steps (the server binds
 * after we probed), so parallel test programs can still race for one port:
 * natsd_start() of a standalone server that never ran picks another port and
 * tries again when the server reports "address already in use".
 *
 * The child gets PR_SET_PDEATHSIG SIGKILL: when the process (strictly: the
 * thread) that started it dies, even by SIGKILL, the server dies too.  So
 * start servers from a thread that outlives them (the main thread).
 *
 * Not thread-safe: one thread drives a given natsd.
 */
#ifndef RH_BENCH_NATSD_H
#define RH_BENCH_NATSD_H

#include <stddef.h>
#include <sys/types.h>

#define NATSD_PATH_MAX 512
#define NATSD_PORT_MIN 20000
#define NATSD_PORT_MAX 32000

/* The nats-server binary: $RINGHOST_NATS_SERVER when set, else this path
 * when it exists, else "nats-server" searched on PATH. */
#define NATSD_DEFAULT_BINARY "/usr/sbin/nats-server"

/* What a server is configured with beyond the defaults.  Strings are copied
 * by natsd_init(); NULL/0 leaves the server's default. */
typedef struct natsd_opts {
    const char *name;         /* server_name (JetStream clusters need one); NULL: "rh-<port>" */
    long max_payload;         /* bytes; 0: the server's default (1 MiB) */
    const char *user;         /* authorization { user, password }; NULL: none */
    const char *password;
    /* Cluster membership: cluster_name non-NULL adds
     * `cluster { name, listen: 127.0.0.1:cluster_port, routes }`, routes being
     * the route ports of the other members (nats-route://127.0.0.1:<port>). */
    const char *cluster_name;
    int cluster_port;
    const int *route_ports;
    size_t n_routes;
} natsd_opts;

#define NATSD_MAX_ROUTES 8

typedef struct natsd {
    pid_t pid;                  /* > 0 while it runs; 0 once stopped and reaped */
    int port;                   /* client port on 127.0.0.1 */
    char url[64];               /* "nats://127.0.0.1:<port>" */
    char dir[NATSD_PATH_MAX];   /* its folder (the caller's) */
    char conf[NATSD_PATH_MAX];  /* <dir>/nats.conf */
    char log[NATSD_PATH_MAX];   /* <dir>/nats.log */
    char store[NATSD_PATH_MAX]; /* <dir>/store */
    unsigned starts;            /* successful starts so far ("Server is ready" lines in log) */
    int exit_status;            /* waitpid status of its last exit, -1 before any */
    int port_taken;             /* the last start failed on a port another process holds */
    /* copied options */
    char name[64];
    long max_payload;
    char user[64], password[64];
    char cluster_name[64];
    int cluster_port;
    int route_ports[NATSD_MAX_ROUTES];
    size_t n_routes;
    char err[1024];             /* why the last call that failed failed */
} natsd;

/* A random port in [NATSD_PORT_MIN, NATSD_PORT_MAX) that 127.0.0.1 can bind
 * now (TCP), or -1 after many tries. */
int natsd_pick_port(void);

/* Create a fresh folder "<$TMPDIR or /tmp>/rh-nats-<tag>-<pid>-XXXXXX" into
 * out (len bytes).  0, or -1 with errno set. */
int natsd_make_dir(char *out, size_t len, const char *tag);

/* Remove path and everything under it (it must not be a symlink).
 * 0, or -1 with errno set (what could be removed is gone). */
int natsd_remove_dir(const char *path);

/* Set s up to run in dir (which exists) with options o (may be NULL):
 * picks its client port.  Starts nothing.  0, or -1 with s->err. */
int natsd_init(natsd *s, const char *dir, const natsd_opts *o);

/*
 * Write the config and start the server; wait up to within_s seconds for its
 * log to say "Server is ready" (one more time than before: restarts count).
 * Client port, store and config stay those of earlier starts, except that the
 * very first start of a standalone server re-picks its port when another
 * process holds it.  0; or -1 with s->err (naming the log and quoting its
 * tail), the server killed and reaped, and s->port_taken set when it failed
 * because a port (client or cluster) was taken: a cluster then starts again
 * on new ports (nats_fixture.c).
 */
int natsd_start(natsd *s, double within_s);

/* 1 while the server's process has not exited (reaps it when it has). */
int natsd_running(natsd *s);

/*
 * SIGTERM, wait up to within_s for it to exit, then SIGKILL and reap.
 * 0 when it exited on SIGTERM (or was not running), 1 when it needed SIGKILL,
 * -1 with s->err when it could not be signalled or reaped.
 */
int natsd_stop(natsd *s, double within_s);

/* SIGKILL now and reap (a crash: nothing flushed).  0, or -1 with s->err. */
int natsd_kill(natsd *s);

/* Occurrences of needle in the server's log so far (0 when unreadable). */
size_t natsd_log_count(const natsd *s, const char *needle);

#endif /* RH_BENCH_NATSD_H */
