/*
 * remote.c — the links and bridges of one runtime (remote.h): started at
 * launch after the queues exist, stopped at terminate (imports before the
 * kernels drain, exports after), their accounting lines and counters.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/log.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"
#include "remote/remote.h"
#include "remote/remote_pvt.h"

rh_queue *rh__remote_queue(rh_runtime *rt, const char *name)
{
    for (uint32_t i = 0; i < rt->n_queues; i++)
        if (strcmp(rh_queue_name(rt->queues[i]), name) == 0)
            return rt->queues[i];
    return NULL;
}

static rh_queue *dlq_of(rh_runtime *rt, const char *name)
{
    char d[RH_QUEUE_NAME_MAX + 8];
    snprintf(d, sizeof d, "%s" RH_DLQ_SUFFIX, name);
    return rh__remote_queue(rt, d);
}

int rh__remote_start(rh_runtime *rt, rh_error *err)
{
    rh_manifest *m = rt->m;
    if (!m->n_links)
        return 0;
    rh_remote *r = calloc(1, sizeof *r);
    if (!r)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    rt->remote = r;
    r->exports = calloc(m->n_queues ? m->n_queues : 1, sizeof *r->exports);
    r->imports = calloc(m->n_queues ? m->n_queues : 1, sizeof *r->imports);
    if (!r->exports || !r->imports)
        return rh_error_set(err, RH_ENOMEM, "out of memory");
    /* each link knows its subjects before it checks its stream */
    for (uint32_t i = 0; i < m->n_links; i++) {
        rh_link *l = &r->links[i];
        l->decl = &m->links[i];
        l->manifest = m->path;
        l->log = rt->log;
        for (uint32_t q = 0; q < m->n_queues; q++) {
            const rh_remote_decl *both[2] = {&m->queues[q].export_to, &m->queues[q].import_from};
            for (int b = 0; b < 2; b++) {
                if (!both[b]->set || both[b]->link != i)
                    continue;
                int dup = 0;
                for (int s = 0; s < l->n_subjects; s++)
                    dup |= strcmp(l->subjects[s], both[b]->subject) == 0;
                if (!dup && l->n_subjects < (int)(sizeof l->subjects / sizeof l->subjects[0]))
                    l->subjects[l->n_subjects++] = both[b]->subject;
            }
        }
    }
    for (uint32_t i = 0; i < m->n_links; i++) {
        r->n_links = i + 1;
        int rc = rh__link_open(&r->links[i], err);
        if (rc)
            return rc;
    }
    for (uint32_t q = 0; q < m->n_queues; q++) {
        const rh_queue_decl *d = &m->queues[q];
        rh_queue *queue = rh__remote_queue(rt, d->name);
        if (d->export_to.set) {
            rh_export *x = &r->exports[r->n_exports++];
            x->rt = rt;
            x->link = &r->links[d->export_to.link];
            x->decl = d;
            x->queue = queue;
            x->dlq = dlq_of(rt, d->name);
            int rc = rh__export_start(x, err);
            if (rc)
                return rc;
        }
        if (d->import_from.set) {
            rh_import *im = &r->imports[r->n_imports++];
            im->rt = rt;
            im->link = &r->links[d->import_from.link];
            im->decl = d;
            im->queue = queue;
            im->dlq = dlq_of(rt, d->name);
            int rc = rh__import_start(im, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}

void rh__remote_stop_imports(rh_runtime *rt)
{
    rh_remote *r = rt->remote;
    for (uint32_t i = 0; r && i < r->n_imports; i++)
        rh__import_stop(&r->imports[i]);
}

void rh__remote_stop_exports(rh_runtime *rt, uint64_t deadline_ns)
{
    rh_remote *r = rt->remote;
    for (uint32_t i = 0; r && i < r->n_exports; i++)
        rh__export_stop(&r->exports[i], deadline_ns);
}

/*
 * Where the messages each bridge handled went.  Export: taken from the
 * queue = acked by JetStream + dead-lettered (too big) + in flight (not
 * acked when the host stopped: a persist queue keeps them for the next
 * run, any other queue loses them, which the line then says).  Import:
 * fetched = enqueued (acked to JetStream) + repeats dropped (acked) +
 * refused by the queue (nak'd: JetStream delivers them again) +
 * dead-lettered (unreadable).
 */
int rh__remote_report_accounting(rh_runtime *rt, FILE *out)
{
    rh_remote *r = rt->remote;
    int unbalanced = 0;
    for (uint32_t i = 0; r && i < r->n_exports; i++) {
        rh_export *x = &r->exports[i];
        uint64_t taken = atomic_load(&x->taken), acked = atomic_load(&x->acked);
        uint64_t dead = atomic_load(&x->dead_lettered);
        uint64_t in_flight = x->tail - x->head;
        /* acked counts the dead-lettered too (their slots are done) */
        int ok = taken == acked + in_flight && acked >= dead;
        int kept = rh__queue_is_persist(x->queue);
        fprintf(out,
                "accounting: export %s -> %s/%s: taken %llu %s acked by JetStream %llu + "
                "dead-lettered %llu + in flight %llu",
                x->decl->name, x->link->decl->name, x->decl->export_to.subject,
                (unsigned long long)taken, ok ? "=" : "!=",
                (unsigned long long)(acked - (dead <= acked ? dead : 0)),
                (unsigned long long)dead, (unsigned long long)in_flight);
        if (!ok)
            fprintf(out, ": UNBALANCED\n");
        else if (in_flight && !kept)
            fprintf(out, ": UNCONFIRMED, %llu message(s) not acked by JetStream when the host "
                         "stopped (JetStream may or may not have them)\n",
                    (unsigned long long)in_flight);
        else if (in_flight)
            fprintf(out, ": every message accounted for (in flight ones stay in the persist "
                         "queue for the next run)\n");
        else
            fprintf(out, ": every message accounted for\n");
        unbalanced += !ok || (in_flight && !kept);
    }
    for (uint32_t i = 0; r && i < r->n_imports; i++) {
        rh_import *m = &r->imports[i];
        uint64_t f = atomic_load(&m->fetched), e = atomic_load(&m->enqueued),
                 p = atomic_load(&m->repeats), n = atomic_load(&m->refused),
                 d = atomic_load(&m->dead_lettered);
        int ok = f == e + p + n + d;
        fprintf(out,
                "accounting: import %s/%s -> %s: fetched %llu %s enqueued and acked %llu + "
                "repeats dropped %llu + refused and nak'd %llu + dead-lettered %llu%s\n",
                m->link->decl->name, m->decl->import_from.subject, m->decl->name,
                (unsigned long long)f, ok ? "=" : "!=", (unsigned long long)e,
                (unsigned long long)p, (unsigned long long)n, (unsigned long long)d,
                ok ? ": every message accounted for" : ": UNBALANCED");
        unbalanced += !ok;
    }
    return unbalanced;
}

json_t *rh__remote_stats_json(rh_runtime *rt)
{
    rh_remote *r = rt->remote;
    json_t *a = json_array();
    for (uint32_t i = 0; r && a && i < r->n_links; i++) {
        rh_link *l = &r->links[i];
        uint64_t published = 0, acked = 0, pending = 0, redeliveries = 0, lag = 0;
        for (uint32_t x = 0; x < r->n_exports; x++)
            if (r->exports[x].link == l) {
                rh_export *e = &r->exports[x];
                uint64_t p = atomic_load(&e->published), k = atomic_load(&e->acked);
                uint64_t t = atomic_load(&e->taken);
                published += p;
                acked += k;
                pending += t > k ? t - k : 0;
            }
        for (uint32_t m = 0; m < r->n_imports; m++)
            if (r->imports[m].link == l) {
                redeliveries += atomic_load(&r->imports[m].redeliveries);
                lag += atomic_load(&r->imports[m].lag);
            }
        json_array_append_new(
            a, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "link", l->decl->name,
                         "stream", l->decl->stream, "connected", (json_int_t)atomic_load(&l->connected),
                         "published", (json_int_t)published, "acked", (json_int_t)acked,
                         "pending_acks", (json_int_t)pending,
                         "redeliveries", (json_int_t)redeliveries,
                         "consumer_lag", (json_int_t)lag,
                         "reconnects", (json_int_t)atomic_load(&l->reconnects)));
    }
    return a;
}

void rh__remote_free(rh_runtime *rt)
{
    rh_remote *r = rt->remote;
    if (!r)
        return;
    for (uint32_t i = 0; i < r->n_imports; i++) {
        rh__import_stop(&r->imports[i]);
        rh__import_free(&r->imports[i]);
    }
    for (uint32_t i = 0; i < r->n_exports; i++) {
        atomic_store(&r->exports[i].stop, 2);
        rh__export_stop(&r->exports[i], 0);
    }
    /* The connections close first: the client's threads call the exports'
     * ack handler, which reads their slots, until then. */
    for (uint32_t i = 0; i < r->n_links; i++)
        rh__link_disconnect(&r->links[i]);
    for (uint32_t i = 0; i < r->n_exports; i++)
        rh__export_free(&r->exports[i]);
    for (uint32_t i = 0; i < r->n_links; i++)
        rh__link_close(&r->links[i]);
    free(r->exports);
    free(r->imports);
    free(r);
    rt->remote = NULL;
}
