/*
 * pin_sweep.c — `ringhost bench --pin-sweep MANIFEST [--send FILE.jsonl]`:
 * run a manifest's traffic under each placement the topology allows and
 * say which `pin` block to paste back into the manifest.
 *
 * Placements tried (each only where the machine has it):
 *   same-pu        every dispatch and pump thread on one PU
 *   smt-siblings   dispatch on one PU, pumps on its SMT sibling
 *   split-cores    dispatch on one core, pumps on another
 *   spread-cores   kernels round robin over the cores, each with its pumps
 *   split-numa     dispatch on one NUMA node, pumps on another
 *   unpinned       no pin: the scheduler decides (the reference)
 * For each: the manifest is copied with every kernel's "pin" replaced (and
 * "placement" removed), launched under a private instance, and driven by one
 * client thread that keeps a window of messages in each host input queue
 * (read by a kernel, written by none) and takes the answers from every host
 * output queue (read by no kernel).  Messages come from --send (JSON lines
 * as for `ringhost run --send`, decoded with the queue's type) or, without
 * it, are all-zero structs of each input's type.  Figures: median
 * throughput over the repetitions, and one round trip's p50.
 */
#define _GNU_SOURCE
#include <hwloc.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "ringhost/ringhost.h"

#define MAX_PLACEMENTS 8
#define MAX_QUEUES 64
#define MAX_TEMPLATES 256

typedef struct placement {
    char name[32];
    char why[96];        /* shown when the placement is not possible here */
    int possible;
    /* pins per kernel index: dispatch and pump specs ("" = no pin) */
    char dispatch[MAX_TEMPLATES][24];
    char pump[MAX_TEMPLATES][24];
} placement;

typedef struct traffic {
    rh_queue *in[MAX_QUEUES], *out[MAX_QUEUES];
    uint32_t n_in, n_out;
    /* per input: message templates (decoded from --send, or one zero struct) */
    unsigned char *tmpl[MAX_QUEUES];
    uint32_t n_tmpl[MAX_QUEUES];
    uint32_t size[MAX_QUEUES];
} traffic;

/* ---------------------------------------------------------- topology --- */

static hwloc_obj_t nth(hwloc_topology_t t, hwloc_obj_type_t type, unsigned i)
{
    return hwloc_get_obj_by_type(t, type, i);
}

static void set_all(placement *p, uint32_t n_kernels, const char *d, const char *u)
{
    for (uint32_t k = 0; k < n_kernels; k++) {
        snprintf(p->dispatch[k], sizeof p->dispatch[k], "%s", d);
        snprintf(p->pump[k], sizeof p->pump[k], "%s", u);
    }
}

static uint32_t plan_placements(placement *pl, uint32_t n_kernels)
{
    hwloc_topology_t t;
    uint32_t n = 0;
    if (hwloc_topology_init(&t) != 0 || hwloc_topology_load(t) != 0)
        return 0;
    int cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
    int numas = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_NUMANODE);
    char a[24], b[24];

    placement *p = &pl[n++];
    snprintf(p->name, sizeof p->name, "same-pu");
    p->possible = 1;
    set_all(p, n_kernels, "pu:0", "pu:0");

    p = &pl[n++];
    snprintf(p->name, sizeof p->name, "smt-siblings");
    hwloc_obj_t core0 = nth(t, HWLOC_OBJ_CORE, 0);
    int sibs = core0 ? hwloc_get_nbobjs_inside_cpuset_by_type(t, core0->cpuset, HWLOC_OBJ_PU) : 0;
    if (sibs >= 2) {
        hwloc_obj_t pu0 = hwloc_get_obj_inside_cpuset_by_type(t, core0->cpuset, HWLOC_OBJ_PU, 0);
        hwloc_obj_t pu1 = hwloc_get_obj_inside_cpuset_by_type(t, core0->cpuset, HWLOC_OBJ_PU, 1);
        snprintf(a, sizeof a, "pu:%u", pu0->logical_index);
        snprintf(b, sizeof b, "pu:%u", pu1->logical_index);
        p->possible = 1;
        set_all(p, n_kernels, a, b);
    } else {
        snprintf(p->why, sizeof p->why, "no SMT: core:0 has %d PU", sibs);
    }

    p = &pl[n++];
    snprintf(p->name, sizeof p->name, "split-cores");
    placement *q = &pl[n++];
    snprintf(q->name, sizeof q->name, "spread-cores");
    if (cores >= 2) {
        p->possible = q->possible = 1;
        set_all(p, n_kernels, "core:1", "core:0");
        for (uint32_t k = 0; k < n_kernels; k++) {
            snprintf(q->dispatch[k], sizeof q->dispatch[k], "core:%u", k % (uint32_t)cores);
            snprintf(q->pump[k], sizeof q->pump[k], "core:%u", k % (uint32_t)cores);
        }
    } else {
        snprintf(p->why, sizeof p->why, "one core");
        snprintf(q->why, sizeof q->why, "one core");
    }

    p = &pl[n++];
    snprintf(p->name, sizeof p->name, "split-numa");
    if (numas >= 2) {
        p->possible = 1;
        set_all(p, n_kernels, "numa:1", "numa:0");
    } else {
        snprintf(p->why, sizeof p->why, "%d NUMA node", numas);
    }

    p = &pl[n++];
    snprintf(p->name, sizeof p->name, "unpinned");
    p->possible = 1;
    set_all(p, n_kernels, "", "");
    hwloc_topology_destroy(t);
    return n;
}

/* ---------------------------------------------------------- manifest --- */

/* The manifest with the placement's pins, plugin folders made absolute (the
 * copy lives elsewhere), "placement" removed and a private name. */
static int write_variant(json_t *orig, const char *manifest_dir, const placement *p,
                         const char *name, const char *path)
{
    json_t *m = json_deep_copy(orig);
    json_object_del(m, "placement");
    json_object_set_new(m, "name", json_string(name));
    json_t *plugins = json_object_get(m, "plugins");
    json_t *abs = json_array();
    if (json_is_array(plugins)) {
        size_t i;
        json_t *v;
        json_array_foreach(plugins, i, v) {
            const char *d = json_string_value(v);
            char buf[PATH_MAX];
            if (d && d[0] != '/')
                snprintf(buf, sizeof buf, "%s/%s", manifest_dir, d);
            else
                snprintf(buf, sizeof buf, "%s", d ? d : "");
            json_array_append_new(abs, json_string(buf));
        }
    } else {
        char buf[PATH_MAX];
        snprintf(buf, sizeof buf, "%s/../plugins", manifest_dir);
        json_array_append_new(abs, json_string(buf));
    }
    json_object_set_new(m, "plugins", abs);
    size_t k;
    json_t *kv;
    json_array_foreach(json_object_get(m, "kernels"), k, kv) {
        json_object_del(kv, "pin");
        if (k >= MAX_TEMPLATES || !p->dispatch[k][0])
            continue;
        json_t *pin = json_pack("{s:s}", "dispatch", p->dispatch[k]);
        const char *bridge = json_string_value(json_object_get(kv, "bridge"));
        if (!bridge || strcmp(bridge, "inline") != 0)
            json_object_set_new(pin, "pump", json_string(p->pump[k]));
        json_object_set_new(kv, "pin", pin);
    }
    int rc = json_dump_file(m, path, JSON_INDENT(2));
    json_decref(m);
    return rc;
}

/* Whether any kernel of the manifest lists queue `name` among its `side`
 * ("inputs" or "outputs"). */
static int kernels_use(json_t *m, const char *side, const char *name)
{
    size_t k;
    json_t *kv;
    json_array_foreach(json_object_get(m, "kernels"), k, kv) {
        const char *port;
        json_t *q;
        json_object_foreach(json_object_get(kv, side), port, q)
            if (json_is_string(q) && strcmp(json_string_value(q), name) == 0)
                return 1;
    }
    return 0;
}

/* --------------------------------------------------------- traffic --- */

static int load_traffic(rh_runtime *rt, json_t *m, const char *send_path, traffic *tr,
                        FILE *err)
{
    memset(tr, 0, sizeof *tr);
    for (uint32_t i = 0;; i++) {
        const char *name = rh_runtime_queue_name(rt, i);
        if (!name)
            break;
        rh_queue *q = rh_runtime_queue(rt, name);
        /* A host input is read by a kernel and written by none (it may be an
         * automatic <kernel>.<port> queue, absent from the manifest). */
        if (rh_runtime_queue_consumed(rt, i) && !kernels_use(m, "outputs", name) &&
            tr->n_in < MAX_QUEUES) {
            tr->size[tr->n_in] = rh_queue_payload_size(q);
            tr->in[tr->n_in++] = q;
        } else if (!rh_runtime_queue_consumed(rt, i) && tr->n_out < MAX_QUEUES) {
            tr->out[tr->n_out++] = q;
        }
    }
    if (tr->n_in == 0) {
        fprintf(err, "ringhost bench --pin-sweep: the manifest has no input queue that the "
                     "host feeds (every queue read by a kernel is written by another)\n");
        return -1;
    }
    json_t *lines = json_array();
    if (send_path) {
        FILE *f = fopen(send_path, "r");
        if (!f) {
            fprintf(err, "ringhost bench --pin-sweep: cannot read %s\n", send_path);
            json_decref(lines);
            return -1;
        }
        char buf[1 << 16];
        for (unsigned line = 1; fgets(buf, sizeof buf, f); line++) {
            json_error_t je;
            json_t *v = json_loads(buf, 0, &je);
            if (!v) {
                if (buf[strspn(buf, " \t\r\n")] != '\0')
                    fprintf(err, "%s:%u: skipped: %s\n", send_path, line, je.text);
                continue;
            }
            json_array_append_new(lines, v);
        }
        fclose(f);
    }
    for (uint32_t i = 0; i < tr->n_in; i++) {
        const rh_type *type = rh_queue_type(tr->in[i]);
        uint32_t cap = (uint32_t)json_array_size(lines) + 1;
        tr->tmpl[i] = calloc(cap, tr->size[i]);
        size_t j;
        json_t *v;
        json_array_foreach(lines, j, v) {
            const char *qn = json_string_value(json_object_get(v, "queue"));
            char why[256];
            if (!qn || strcmp(qn, rh_queue_name(tr->in[i])) != 0 || !type || !type->decode)
                continue;
            unsigned char *dst = tr->tmpl[i] + (size_t)tr->n_tmpl[i] * tr->size[i];
            if (type->decode(json_object_get(v, "body"), dst, why, sizeof why) == 0)
                tr->n_tmpl[i]++;
            else
                fprintf(err, "%s: a line for %s skipped: %s\n", send_path, qn, why);
        }
        if (tr->n_tmpl[i] == 0)
            tr->n_tmpl[i] = 1; /* the all-zero struct */
    }
    json_decref(lines);
    return 0;
}

static void free_traffic(traffic *tr)
{
    for (uint32_t i = 0; i < tr->n_in; i++)
        free(tr->tmpl[i]);
}

typedef struct drive {
    traffic *tr;
    double seconds;
    uint64_t taken;      /* messages the kernels took from the host inputs */
    uint64_t answers;    /* messages that came out on the host outputs */
    double elapsed_s;
} drive;

#define SWEEP_BURST 32u

static uint64_t taken_from_inputs(const traffic *tr, uint64_t *depth)
{
    uint64_t taken = 0;
    *depth = 0;
    for (uint32_t i = 0; i < tr->n_in; i++) {
        rh_queue_stats st = RH_QUEUE_STATS_INIT;
        rh_queue_stats_get(tr->in[i], &st);
        taken += st.dequeued;
        *depth += st.depth;
    }
    return taken;
}

/* Keep every input queue's depth under a window; empty the outputs. */
static void *drive_traffic(void *arg)
{
    drive *d = arg;
    traffic *tr = d->tr;
    uint32_t max_size = 1;
    for (uint32_t i = 0; i < tr->n_out; i++)
        if (rh_queue_payload_size(tr->out[i]) > max_size)
            max_size = rh_queue_payload_size(tr->out[i]);
    unsigned char *rbuf = malloc((size_t)SWEEP_BURST * max_size);
    /* One burst per input, cycling through its templates. */
    unsigned char *burst[MAX_QUEUES] = {0};
    for (uint32_t i = 0; i < tr->n_in; i++) {
        burst[i] = malloc((size_t)SWEEP_BURST * tr->size[i]);
        for (uint32_t j = 0; burst[i] && j < SWEEP_BURST; j++)
            memcpy(burst[i] + (size_t)j * tr->size[i],
                   tr->tmpl[i] + (size_t)(j % tr->n_tmpl[i]) * tr->size[i], tr->size[i]);
        if (!burst[i])
            rbuf = NULL; /* out of memory: skip the loop, report nothing */
    }
    uint64_t depth, taken0 = taken_from_inputs(tr, &depth), got = 0;
    uint64_t t0 = bench_now_ns(), end = t0 + (uint64_t)(d->seconds * 1e9);
    for (uint64_t round = 1; rbuf; round++) {
        for (uint32_t i = 0; i < tr->n_in; i++) {
            rh_queue_stats st = RH_QUEUE_STATS_INIT;
            rh_queue_stats_get(tr->in[i], &st);
            if (st.depth >= BENCH_ECHO_WINDOW)
                continue;
            rh_send_burst(tr->in[i], NULL, burst[i], tr->size[i], tr->size[i], SWEEP_BURST,
                          NULL);
        }
        for (uint32_t o = 0; o < tr->n_out; o++) {
            int k = rh_recv_burst(tr->out[o], NULL, rbuf, max_size, SWEEP_BURST, 0);
            if (k > 0)
                got += (uint64_t)k;
        }
        if ((round & 15) == 0 && bench_now_ns() >= end)
            break;
    }
    uint64_t now = bench_now_ns();
    d->taken = taken_from_inputs(tr, &depth) - taken0;
    d->answers = got;
    d->elapsed_s = (double)(now - t0) / 1e9;
    for (uint32_t i = 0; i < tr->n_in; i++)
        free(burst[i]);
    free(rbuf);
    return NULL;
}

/* Launch one variant, drive it for the repetition's time, tear it down.
 * Returns messages taken per second, or a negative value on failure. */
static double run_variant(const bench_env *env, json_t *orig, const char *dir,
                          const placement *p, const char *send_path, double *answers_per_s,
                          FILE *err)
{
    static unsigned serial;
    char name[64], path[PATH_MAX], logpath[PATH_MAX];
    snprintf(name, sizeof name, "pinsweep-%d-%u", (int)getpid(), serial++);
    snprintf(path, sizeof path, "%s/%s.json", env->work_dir, name);
    snprintf(logpath, sizeof logpath, "%s/%s.log", env->work_dir, name);
    if (write_variant(orig, dir, p, name, path) != 0) {
        fprintf(err, "ringhost bench --pin-sweep: cannot write %s\n", path);
        return -1;
    }
    FILE *log = fopen(logpath, "w");
    rh_launch_opts opts = RH_LAUNCH_OPTS_INIT(.instance = name, .log = log);
    rh_runtime *rt = NULL;
    rh_error e = {0};
    double rate = -1;
    if (rh_runtime_launch(path, &opts, &rt, &e) != 0 || rh_runtime_activate(rt, &e) != 0) {
        fprintf(err, "ringhost bench --pin-sweep: %s: %s\n", p->name, e.msg);
        goto out;
    }
    traffic tr;
    if (load_traffic(rt, orig, send_path, &tr, err) != 0)
        goto out;
    drive d = {.tr = &tr, .seconds = env->rep_seconds * 2};
    pthread_t t;
    /* The client is unpinned: it must not decide the placement under test. */
    if (pthread_create(&t, NULL, drive_traffic, &d) == 0) {
        pthread_join(t, NULL);
        rate = (double)d.taken / d.elapsed_s;
        *answers_per_s = (double)d.answers / d.elapsed_s;
    }
    free_traffic(&tr);
out:
    if (rt)
        rh_runtime_destroy(rt);
    if (log)
        fclose(log);
    return rate;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int bench_pin_sweep(const bench_env *env, const char *manifest_path, const char *send_path,
                    int reps, FILE *out)
{
    json_error_t je;
    json_t *m = json_load_file(manifest_path, 0, &je);
    if (!m) {
        fprintf(env->log, "%s:%d: %s\n", manifest_path, je.line, je.text);
        return 2;
    }
    char real[PATH_MAX];
    if (!realpath(manifest_path, real)) {
        json_decref(m);
        return 2;
    }
    char *dir = dirname(real);
    uint32_t n_kernels = (uint32_t)json_array_size(json_object_get(m, "kernels"));
    if (n_kernels == 0 || n_kernels > MAX_TEMPLATES) {
        fprintf(env->log, "%s: kernels: expected 1 to %d kernels\n", manifest_path,
                MAX_TEMPLATES);
        json_decref(m);
        return 2;
    }
    placement *pl = calloc(MAX_PLACEMENTS, sizeof *pl);
    uint32_t np = pl ? plan_placements(pl, n_kernels) : 0;
    double best = -1;
    int best_i = -1;
    double rates[MAX_PLACEMENTS] = {0}, answers[MAX_PLACEMENTS] = {0};
    fprintf(out, "pin sweep of %s: %u kernel(s), %d repetition(s) of %.1f s each%s%s\n",
            manifest_path, n_kernels, reps, env->rep_seconds * 2,
            send_path ? ", messages from " : ", all-zero messages", send_path ? send_path : "");
    for (uint32_t i = 0; i < np; i++) {
        if (!pl[i].possible)
            continue;
        double r[16], a[16];
        int ok = 0;
        for (int k = 0; k < reps && k < 16; k++) {
            double ans = 0;
            double v = run_variant(env, m, dir, &pl[i], send_path, &ans, env->log);
            if (v < 0)
                break;
            r[ok] = v;
            a[ok++] = ans;
            fprintf(env->log, "  %-13s rep %d/%d: %.3f M msg/s\n", pl[i].name, k + 1, reps,
                    v / 1e6);
        }
        if (ok == 0) {
            rates[i] = -1;
            continue;
        }
        qsort(r, (size_t)ok, sizeof r[0], cmp_double);
        qsort(a, (size_t)ok, sizeof a[0], cmp_double);
        rates[i] = r[ok / 2];
        answers[i] = a[ok / 2];
        if (rates[i] > best) {
            best = rates[i];
            best_i = (int)i;
        }
    }
    fprintf(out, "\n%-14s %-26s %14s %14s %8s\n", "placement", "pins (kernel 0)",
            "taken msg/s", "answers msg/s", "vs best");
    for (uint32_t i = 0; i < np; i++) {
        char pins[64];
        snprintf(pins, sizeof pins, "%s%s%s", pl[i].dispatch[0][0] ? pl[i].dispatch[0] : "none",
                 pl[i].pump[0][0] ? " / pump " : "", pl[i].pump[0]);
        if (!pl[i].possible)
            fprintf(out, "%-14s %-26s %14s %14s %8s  (not here: %s)\n", pl[i].name, "-", "-",
                    "-", "-", pl[i].why);
        else if (rates[i] < 0)
            fprintf(out, "%-14s %-26s %14s %14s %8s  (failed, see above)\n", pl[i].name, pins,
                    "-", "-", "-");
        else
            fprintf(out, "%-14s %-26s %14.0f %14.0f %7.2fx\n", pl[i].name, pins, rates[i],
                    answers[i], best > 0 ? rates[i] / best : 0);
    }
    int rc = 1;
    if (best_i >= 0) {
        placement *b = &pl[best_i];
        fprintf(out, "\nbest: %s.  Paste into each kernel of %s:\n", b->name, manifest_path);
        size_t k;
        json_t *kv;
        json_array_foreach(json_object_get(m, "kernels"), k, kv) {
            const char *kn = json_string_value(json_object_get(kv, "name"));
            if (!b->dispatch[k][0]) {
                fprintf(out, "  %s: no \"pin\" (leave the threads unpinned)\n", kn ? kn : "?");
                continue;
            }
            const char *bridge = json_string_value(json_object_get(kv, "bridge"));
            if (bridge && strcmp(bridge, "inline") == 0)
                fprintf(out, "  %s: \"pin\": {\"dispatch\": \"%s\"}\n", kn ? kn : "?",
                        b->dispatch[k]);
            else
                fprintf(out, "  %s: \"pin\": {\"dispatch\": \"%s\", \"pump\": \"%s\"}\n",
                        kn ? kn : "?", b->dispatch[k], b->pump[k]);
        }
        rc = 0;
    }
    free(pl);
    json_decref(m);
    return rc;
}
