/*
 * nats_fixture.c — nats-server processes for tests; see nats_fixture.h.
 *
 * bench/natsd.c runs one server; this file adds what tests need on top: a
 * list of every server started (so that cleanup finds them however a test
 * ends), failing the test with the server's own words, the cluster, and
 * waiting until JetStream can really serve (libnats).
 */
#include "nats_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expect.h"

/* Servers one test program starts, at most (a cluster is three). */
#define MAX_SERVERS 32

static natsd *servers[MAX_SERVERS];
static size_t n_servers;
/* Clusters handed out, freed at cleanup with their servers. */
static nats_cluster *clusters[MAX_SERVERS / NATS_CLUSTER_NODES];
static size_t n_clusters;
static int atexit_done;

const char *nats_fixture_error(natsStatus s)
{
    static __thread char buf[512];
    natsStatus last;
    const char *text = nats_GetLastError(&last);
    snprintf(buf, sizeof buf, "%s (%d)%s%s", natsStatus_GetText(s), (int)s,
             text && *text ? ": " : "", text ? text : "");
    return buf;
}

static void cleanup_at_exit(void)
{
    nats_fixture_cleanup();
}

/* A new server in the list with a folder of its own (removed at cleanup). */
static natsd *new_server(const char *tag, const natsd_opts *o)
{
    if (!atexit_done) {
        atexit(cleanup_at_exit);
        atexit_done = 1;
    }
    EXPECT(n_servers < MAX_SERVERS, "nats_fixture: more than %d servers in one test program",
           MAX_SERVERS);
    natsd *s = calloc(1, sizeof *s);
    EXPECT(s, "nats_fixture: out of memory");
    char dir[NATSD_PATH_MAX];
    if (natsd_make_dir(dir, sizeof dir, tag) != 0) {
        free(s);
        fail_msg("nats_fixture: cannot create a folder for nats-server under $TMPDIR or /tmp: %s",
                 strerror(errno));
    }
    if (natsd_init(s, dir, o) != 0) {
        char err[sizeof s->err];
        snprintf(err, sizeof err, "%s", s->err);
        natsd_remove_dir(dir);
        free(s);
        fail_msg("nats_fixture: %s", err);
    }
    servers[n_servers++] = s;
    return s;
}

static void fail_start(const natsd *s)
{
    fail_msg("nats_fixture: %s\n(is nats-server installed? .ci/deps.sh installs it; "
             "RINGHOST_NATS_SERVER names another binary)", s->err);
}

static void start_or_fail(natsd *s)
{
    if (natsd_start(s, NATS_FIXTURE_READY_S) != 0)
        fail_start(s);
}

natsd *nats_fixture_new(const natsd_opts *o)
{
    return new_server("test", o);
}

natsd *nats_fixture_start(const natsd_opts *o)
{
    natsd *s = new_server("test", o);
    start_or_fail(s);
    return s;
}

void nats_fixture_stop(natsd *s)
{
    int rc = natsd_stop(s, NATS_FIXTURE_STOP_S);
    EXPECT(rc >= 0, "nats_fixture: %s", s->err);
}

void nats_fixture_kill(natsd *s)
{
    EXPECT(natsd_kill(s) == 0, "nats_fixture: %s", s->err);
}

void nats_fixture_restart(natsd *s)
{
    EXPECT(!natsd_running(s), "nats_fixture: restart of nats-server on port %d, which still "
                              "runs (pid %d): stop or kill it first", s->port, (int)s->pid);
    start_or_fail(s);
}

natsConnection *nats_fixture_connect(const char *urls, double within_s)
{
    natsOptions *opts = NULL;
    natsStatus st = natsOptions_Create(&opts);
    EXPECT(st == NATS_OK, "nats_fixture: natsOptions_Create: %s", nats_fixture_error(st));
    /* natsOptions_SetURL of libnats 3.4.1 accepts a comma-separated list
     * but then connects to none of them ("No server available"):
     * natsOptions_SetServers with the list split does. */
    char copy[1024];
    const char *list[16];
    int n = 0;
    EXPECT(strlen(urls) < sizeof copy, "nats_fixture: server list too long: %s", urls);
    snprintf(copy, sizeof copy, "%s", urls);
    for (char *save = NULL, *u = strtok_r(copy, ",", &save); u && n < 16;
         u = strtok_r(NULL, ",", &save))
        list[n++] = u;
    st = natsOptions_SetServers(opts, list, n);
    EXPECT(st == NATS_OK, "nats_fixture: natsOptions_SetServers(%s): %s", urls,
           nats_fixture_error(st));
    natsOptions_SetTimeout(opts, 2000);
    natsConnection *nc = NULL;
    double end = expect_now_s() + within_s;
    for (;;) {
        st = natsConnection_Connect(&nc, opts);
        if (st == NATS_OK || expect_now_s() >= end)
            break;
        sleep_ms(50); /* no condition to wait on but the server's accept */
    }
    natsOptions_Destroy(opts);
    EXPECT(st == NATS_OK, "nats_fixture: cannot connect to %s within %.1f s: %s", urls, within_s,
           nats_fixture_error(st));
    return nc;
}

/* 1 once the cluster places (and removes) a file stream of NATS_CLUSTER_NODES
 * replicas: the meta leader is elected and every peer has joined. */
static int cluster_places_r3(jsCtx *js, char *why, size_t len)
{
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = "RH_FIXTURE_PROBE";
    const char *subjects[] = {"rh.fixture.probe"};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = NATS_CLUSTER_NODES;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsStatus st = js_AddStream(&si, js, &cfg, NULL, &jerr);
    if (st != NATS_OK) {
        snprintf(why, len, "js_AddStream R%d: %s (jetstream error %d)", NATS_CLUSTER_NODES,
                 nats_fixture_error(st), (int)jerr);
        return 0;
    }
    jsStreamInfo_Destroy(si);
    st = js_DeleteStream(js, cfg.Name, NULL, &jerr);
    if (st != NATS_OK) {
        snprintf(why, len, "js_DeleteStream: %s (jetstream error %d)", nats_fixture_error(st),
                 (int)jerr);
        return 0;
    }
    return 1;
}

/* Start the NATS_CLUSTER_NODES servers of c on fresh ports.  0; 1 when a
 * port was taken by another process meanwhile (every node is then killed,
 * for a new try); fails the test on any other error. */
static int cluster_try(nats_cluster *c, int attempt)
{
    /* Route ports first: each node's config names the other two. */
    int route[NATS_CLUSTER_NODES];
    for (int i = 0; i < NATS_CLUSTER_NODES; i++) {
        int taken;
        do {
            route[i] = natsd_pick_port();
            EXPECT(route[i] > 0, "nats_fixture: no free loopback port for a cluster route");
            taken = 0;
            for (int j = 0; j < i; j++)
                taken |= route[j] == route[i];
        } while (taken);
    }
    for (int i = 0; i < NATS_CLUSTER_NODES; i++) {
        int others[NATS_CLUSTER_NODES - 1], n = 0;
        for (int j = 0; j < NATS_CLUSTER_NODES; j++)
            if (j != i)
                others[n++] = route[j];
        char name[16];
        snprintf(name, sizeof name, "rh-n%d", i);
        natsd_opts o = {.name = name, .cluster_name = "rh-test", .cluster_port = route[i],
                        .route_ports = others, .n_routes = (size_t)n};
        if (attempt == 0) {
            c->node[i] = new_server(name, &o);
        } else {
            /* Same folder, a fresh store: the failed try's members may have
             * written cluster state naming the old routes. */
            char dir[NATSD_PATH_MAX];
            snprintf(dir, sizeof dir, "%s", c->node[i]->dir);
            EXPECT(natsd_remove_dir(c->node[i]->store) == 0, "nats_fixture: cannot remove %s",
                   c->node[i]->store);
            EXPECT(natsd_init(c->node[i], dir, &o) == 0, "nats_fixture: %s", c->node[i]->err);
        }
    }
    for (int i = 0; i < NATS_CLUSTER_NODES; i++) {
        if (natsd_start(c->node[i], NATS_FIXTURE_READY_S) == 0)
            continue;
        if (!c->node[i]->port_taken || attempt >= 4)
            fail_start(c->node[i]);
        for (int j = 0; j < NATS_CLUSTER_NODES; j++)
            natsd_kill(c->node[j]);
        return 1;
    }
    return 0;
}

nats_cluster *nats_fixture_cluster_start(void)
{
    EXPECT(n_clusters < sizeof clusters / sizeof clusters[0],
           "nats_fixture: more than %zu clusters in one test program",
           sizeof clusters / sizeof clusters[0]);
    nats_cluster *c = calloc(1, sizeof *c);
    EXPECT(c, "nats_fixture: out of memory");
    clusters[n_clusters++] = c;
    /* A member that loses a port to a parallel test cannot move alone (the
     * others' routes name it): the whole cluster starts again elsewhere. */
    for (int attempt = 0; cluster_try(c, attempt) != 0; attempt++) {
    }
    size_t len = 0;
    for (int i = 0; i < NATS_CLUSTER_NODES; i++)
        len += (size_t)snprintf(c->urls + len, sizeof c->urls - len, "%s%s", i ? "," : "",
                                c->node[i]->url);

    natsConnection *nc = nats_fixture_connect(c->urls, NATS_FIXTURE_READY_S);
    jsCtx *js = NULL;
    natsStatus st = natsConnection_JetStream(&js, nc, NULL);
    EXPECT(st == NATS_OK, "nats_fixture: natsConnection_JetStream: %s", nats_fixture_error(st));
    char why[600] = "";
    int ok = WAIT_UNTIL_EVERY(NATS_FIXTURE_READY_S, 100, cluster_places_r3(js, why, sizeof why));
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    EXPECT(ok, "nats_fixture: the cluster %s cannot place a stream of %d replicas within %.0f s: "
               "%s (logs: %s, %s, %s)", c->urls, NATS_CLUSTER_NODES, NATS_FIXTURE_READY_S, why,
           c->node[0]->log, c->node[1]->log, c->node[2]->log);
    return c;
}

void nats_fixture_cluster_kill_node(nats_cluster *c, int i)
{
    EXPECT(i >= 0 && i < NATS_CLUSTER_NODES, "nats_fixture: no cluster node %d", i);
    nats_fixture_kill(c->node[i]);
}

void nats_fixture_cleanup(void)
{
    for (size_t i = 0; i < n_servers; i++) {
        natsd *s = servers[i];
        if (natsd_stop(s, NATS_FIXTURE_STOP_S) < 0)
            fprintf(stderr, "nats_fixture: cleanup: %s\n", s->err);
        if (natsd_remove_dir(s->dir) != 0)
            fprintf(stderr, "nats_fixture: cleanup: cannot remove %s: %s\n", s->dir,
                    strerror(errno));
        free(s);
        servers[i] = NULL;
    }
    n_servers = 0;
    for (size_t i = 0; i < n_clusters; i++) {
        free(clusters[i]);
        clusters[i] = NULL;
    }
    n_clusters = 0;
}

int nats_fixture_group_teardown(void **state)
{
    (void)state;
    nats_fixture_cleanup();
    return 0;
}
