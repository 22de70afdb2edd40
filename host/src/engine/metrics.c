/*
 * metrics.c — reading the runtime's counters: idleness, the bindings
 * report, and the summary and accounting lines printed at terminate.
 * Counters are written by their owner threads with relaxed atomics; this
 * file only reads them.
 */
#include <string.h>

#include "base/clock.h"
#include "base/placement.h"
#include "engine/engine.h"
#include "queue/queue_pvt.h"

int rh__kernel_is_quiet(rh_kinst *k, int queues_too)
{
    /* A kernel terminated alone never takes from its queues again: what
     * waits there is queued for good, not on its way. */
    int given_up = atomic_load_explicit(&k->given_up, memory_order_acquire);
    if (queues_too && k->state != RH_STATE_TERMINATED && !given_up) {
        for (uint32_t p = 0; p < k->desc->n_inputs; p++)
            if (rh__queue_to_take(k->in_q[p]) == 0) /* a halted queue's are queued for good */
                return 0;
        for (uint32_t b = 0; b < k->n_in_bridges; b++)
            if (atomic_load_explicit(&k->in_bridges[b].inflight, memory_order_acquire))
                return 0;
    }
    for (uint32_t w = 0; w < k->n_workers; w++) {
        rh_worker *wk = &k->workers[w];
        /* a kernel given up (restart.c) never takes from its rings again */
        for (uint32_t p = 0; p < k->desc->n_inputs && !given_up; p++)
            if (rh__ring_count(wk->in[p]))
                return 0;
        if (atomic_load_explicit(&wk->busy, memory_order_acquire))
            return 0;
        for (uint32_t p = 0; p < k->desc->n_outputs; p++)
            if (rh__ring_count(wk->out[p]))
                return 0;
    }
    return 1;
}

/* One upstream-to-downstream scan: every stage hands a message to the next
 * before releasing it, so a message is always seen somewhere on the way. */
static int scan_quiet(rh_runtime *rt, int queues_too)
{
    for (uint32_t i = 0; i < rt->n_kernels; i++)
        if (!rh__kernel_is_quiet(&rt->kernels[i], queues_too))
            return 0;
    return 1;
}

int rh__runtime_is_quiet(rh_runtime *rt, int queues_too)
{
    /* Twice: kernels are scanned in manifest order, which need not be the
     * pipeline's order, so a message could pass behind the first scan. */
    return scan_quiet(rt, queues_too) && scan_quiet(rt, queues_too);
}

int rh_runtime_is_idle(rh_runtime *rt)
{
    return rh__runtime_is_quiet(rt, 1);
}

void rh_runtime_report_bindings(rh_runtime *rt, FILE *out)
{
    for (uint32_t i = 0; i < rt->n_reactors; i++) {
        rh_reactor *r = rt->reactors[i];
        char set[64] = "any";
        if (!hwloc_bitmap_iszero(r->cpuset))
            rh__binding_string(r->cpuset, set, sizeof set);
        fprintf(out, "binding: thread %-14s pinned to cpus %-6s runs on cpu %d, wait %s:",
                r->name, set, atomic_load(&r->last_cpu), rh__wait_name(r->wait));
        for (uint32_t t = 0; t < r->n_tasks; t++)
            fprintf(out, "%s %s", t ? ";" : "", r->tasks[t].what);
        if (r->run_kernel && r->n_workers)
            fprintf(out, " run %s#%u", r->workers[0]->kernel->decl->name, r->workers[0]->index);
        fprintf(out, "\n");
    }
}

void rh_runtime_report_summary(rh_runtime *rt, FILE *out)
{
    uint64_t now = rh_now_ns();
    double uptime = (double)(now - rt->launch_ns) / (double)RH_NS_PER_S;
    double active = rt->activate_ns ? (double)(now - rt->activate_ns) / (double)RH_NS_PER_S : 0.0;
    fprintf(out, "summary: instance %s, uptime %.3f s (active %.3f s), %u thread(s)\n",
            rt->instance, uptime, active, rt->n_reactors);
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        uint64_t processed = 0, failed = 0, emitted = 0, batches = 0, stalls = 0;
        for (uint32_t w = 0; w < k->n_workers; w++) {
            stalls += atomic_load(&k->workers[w].stalls);
            processed += atomic_load(&k->workers[w].processed);
            failed += atomic_load(&k->workers[w].failed);
            emitted += atomic_load(&k->workers[w].emitted);
            batches += atomic_load(&k->workers[w].batches);
        }
        fprintf(out,
                "summary: kernel %s: processed %llu, failed %llu, emitted %llu, batches %llu, "
                "workers %u, restarts %llu, stalls %llu%s\n",
                k->decl->name, (unsigned long long)processed, (unsigned long long)failed,
                (unsigned long long)emitted, (unsigned long long)batches, k->n_workers,
                (unsigned long long)atomic_load(&k->restarts), (unsigned long long)stalls,
                atomic_load(&k->given_up) ? ", given up" : "");
        /* What each bridge moved: a pump that never ran shows here as 0. */
        for (uint32_t p = 0; p < k->desc->n_inputs; p++) {
            uint64_t moved = 0;
            for (uint32_t b = 0; b < k->n_in_bridges; b++)
                if (k->in_bridges[b].port == p)
                    moved += atomic_load(&k->in_bridges[b].moved);
            fprintf(out, "summary: bridge %s -> %s.%s: moved %llu\n", rh_queue_name(k->in_q[p]),
                    k->decl->name, k->desc->inputs[p].name, (unsigned long long)moved);
        }
        for (uint32_t p = 0; p < k->desc->n_outputs; p++) {
            rh_out_bridge *b = &k->out_bridges[p];
            fprintf(out,
                    "summary: bridge %s.%s -> %s: sent %llu, refused by the queue %llu, "
                    "undeliverable %llu, repeated answers dropped %llu\n",
                    k->decl->name, k->desc->outputs[p].name, rh_queue_name(b->queue),
                    (unsigned long long)atomic_load(&b->sent),
                    (unsigned long long)atomic_load(&b->refused),
                    (unsigned long long)atomic_load(&b->undeliverable),
                    (unsigned long long)atomic_load(&b->duplicates));
        }
    }
    for (uint32_t i = 0; i < rt->n_queues; i++) {
        if (rh_runtime_queue_borrowed(rt, i))
            continue; /* its creator (another runtime of the host) reports it */
        rh_queue_stats s = RH_QUEUE_STATS_INIT;
        rh_queue_stats_get(rt->queues[i], &s);
        fprintf(out,
                "summary: queue %s: enqueued %llu, dequeued %llu, depth %llu, high-water %llu, "
                "rejected %llu, dropped_oldest %llu, dropped_newest %llu, duplicates %llu, "
                "expired %llu, invalid %llu, failed %llu, dead_lettered %llu\n",
                rh_queue_name(rt->queues[i]), (unsigned long long)s.enqueued,
                (unsigned long long)s.dequeued, (unsigned long long)s.depth,
                (unsigned long long)s.high_water, (unsigned long long)s.rejected,
                (unsigned long long)s.dropped_oldest, (unsigned long long)s.dropped_newest,
                (unsigned long long)s.duplicates, (unsigned long long)s.expired,
                (unsigned long long)s.invalid, (unsigned long long)s.failed,
                (unsigned long long)s.dead_lettered);
    }
}

/* ------------------------------------------------------- accounting -- */

/*
 * The equation (engine.h, rh_queue_account) holds by construction only
 * if every stage hands each message on or counts it: the input bridge puts
 * every message it dequeues into a ring or counts it duplicate, expired or
 * invalid; each expired, invalid or kernel-failed message is counted
 * dead_lettered once it was handed to the dead-letter queue.  A bridge that
 * loses a message, or a refusal or failure that is not dead-lettered, shows
 * here as a line that does not balance.  (The queue's own counters give
 * enqueued = dequeued + dropped_oldest + depth; what is checked is where the
 * dequeued ones went, against the bridges' own count of what they moved.)
 */
int rh__queue_account_of(const rh_queue_stats *s, int kernel_input, uint64_t moved,
                         uint64_t in_rings, rh_queue_account *out)
{
    /* Every counter may come from a header another process scribbled on
     * (a shared queue), so no sum or difference is trusted to fit: each is
     * checked (__builtin_*_overflow computes the exact result and says
     * whether it fits the destination), and a line whose counters no queue
     * can hold is impossible, never balanced, and never undefined
     * behaviour. */
    int bad = 0;
    memset(out, 0, sizeof *out);
    out->accepted = s->enqueued;
    out->dead_lettered = s->dead_lettered;
    bad |= __builtin_add_overflow(s->dropped_oldest, s->duplicates, &out->dropped);
    bad |= __builtin_add_overflow(s->depth, in_rings, &out->queued);
    bad |= __builtin_add_overflow(s->rejected, s->dropped_newest, &out->refused);
    int64_t delivered = 0;
    if (kernel_input) {
        uint64_t not_delivered;
        bad |= __builtin_add_overflow(in_rings, s->failed, &not_delivered);
        bad |= __builtin_sub_overflow(moved, not_delivered, &delivered);
    } else {
        bad |= __builtin_add_overflow(s->dequeued, 0, &delivered);
    }
    out->delivered = delivered > 0 ? (uint64_t)delivered : 0;
    uint64_t elsewhere;
    int64_t sum;
    bad |= __builtin_add_overflow(out->dead_lettered, out->dropped, &elsewhere);
    bad |= __builtin_add_overflow(elsewhere, out->queued, &elsewhere);
    bad |= __builtin_add_overflow(delivered, elsewhere, &sum);
    bad |= __builtin_sub_overflow(out->accepted, sum, &out->missing);
    out->impossible = bad;
    out->balanced = !bad && out->missing == 0 && delivered >= 0;
    return out->balanced;
}

/* What the input bridges of rt's kernels reading q took from it and moved
 * into kernel rings, and what is still in those rings (added to *taken,
 * *moved, *in_rings). */
static int kernel_intake_of(rh_runtime *rt, const rh_queue *q, uint64_t *taken, uint64_t *moved,
                            uint64_t *in_rings)
{
    int read = 0;
    for (uint32_t i = 0; i < rt->n_kernels; i++) {
        rh_kinst *k = &rt->kernels[i];
        for (uint32_t b = 0; b < k->n_in_bridges; b++)
            if (k->in_bridges[b].queue == q) {
                *taken += atomic_load(&k->in_bridges[b].taken);
                *moved += atomic_load(&k->in_bridges[b].moved);
            }
        for (uint32_t p = 0; p < k->desc->n_inputs; p++) {
            if (k->in_q[p] != q)
                continue;
            read = 1;
            for (uint32_t w = 0; w < k->n_workers; w++)
                *in_rings += rh__ring_count(k->workers[w].in[p]);
        }
    }
    return read;
}

/* The intake of every kernel reading q: rt's own, and those of the other
 * runtimes of its host (rt->peers: a manifest launched into a running host
 * may read a queue rt created, which rt accounts). */
static int kernel_intake(rh_runtime *rt, const rh_queue *q, uint64_t *taken, uint64_t *moved,
                         uint64_t *in_rings)
{
    *taken = *moved = *in_rings = 0;
    int read = kernel_intake_of(rt, q, taken, moved, in_rings);
    for (rh_runtime *const *p = rt->peers; p && *p; p++)
        if (*p != rt)
            read |= kernel_intake_of(*p, q, taken, moved, in_rings);
    return read;
}

void rh__runtime_hand_over_intake(rh_runtime *rt)
{
    for (uint32_t i = 0; i < rt->n_queues; i++) {
        if (!rh_runtime_queue_borrowed(rt, i))
            continue; /* rt's own: it goes with rt */
        rh_queue *q = rt->queues[i];
        uint64_t taken = 0, moved = 0, in_rings = 0;
        if (!kernel_intake_of(rt, q, &taken, &moved, &in_rings))
            continue; /* rt only wrote to it */
        for (rh_runtime *const *p = rt->peers; p && *p; p++) {
            rh_runtime *c = *p;
            for (uint32_t j = 0; c != rt && j < c->n_queues && j < c->n_qplan; j++) {
                if (c->queues[j] != q || c->qplan[j].borrowed)
                    continue;
                rh_qplan *qp = &c->qplan[j];
                qp->retired_taken += taken;
                qp->retired_moved += moved; /* in_rings is 0: rt's kernels are quiet */
                qp->retired_reader = 1;
            }
        }
    }
}

/*
 * Where every answer a kernel emitted went, one line per kernel with output
 * ports: emitted = sent (accepted by its output queue, where the queue's own
 * line takes over) + refused (dropped by drop_newest or by the dead-letter
 * queue's policy, counted there too) + undeliverable (dead-lettered: the
 * queue refused it, or was full when the host stopped) +
 * repeated (an answer to a redelivered input that the queue had already
 * accepted: dropped, bridge.c) + still in its output rings.  Each term is written by its own thread; read
 * after terminate joined them, the line is exact.
 */
static int report_kernel_outputs(rh_kinst *k, FILE *out)
{
    if (k->desc->n_outputs == 0)
        return 1;
    uint64_t emitted = 0, sent = 0, refused = 0, undeliverable = 0, repeated = 0, in_rings = 0;
    for (uint32_t w = 0; w < k->n_workers; w++) {
        emitted += atomic_load(&k->workers[w].emitted);
        for (uint32_t p = 0; p < k->desc->n_outputs; p++)
            in_rings += rh__ring_count(k->workers[w].out[p]);
    }
    for (uint32_t p = 0; p < k->desc->n_outputs; p++) {
        sent += atomic_load(&k->out_bridges[p].sent);
        refused += atomic_load(&k->out_bridges[p].refused);
        undeliverable += atomic_load(&k->out_bridges[p].undeliverable);
        repeated += atomic_load(&k->out_bridges[p].duplicates);
    }
    /* All local counters (no shared header), so no sum can overflow short
     * of 2^64 messages; checked anyway, as the queue lines are. */
    uint64_t sum;
    int bad = __builtin_add_overflow(sent, refused, &sum);
    bad |= __builtin_add_overflow(sum, undeliverable, &sum);
    bad |= __builtin_add_overflow(sum, repeated, &sum);
    bad |= __builtin_add_overflow(sum, in_rings, &sum);
    int balanced = !bad && sum == emitted;
    fprintf(out,
            "accounting: kernel %s: emitted %llu %s sent %llu + refused %llu + undeliverable "
            "%llu + repeated %llu + in output rings %llu",
            k->decl->name, (unsigned long long)emitted, balanced ? "=" : "!=",
            (unsigned long long)sent, (unsigned long long)refused,
            (unsigned long long)undeliverable, (unsigned long long)repeated,
            (unsigned long long)in_rings);
    /* Not ": balanced": that word counts the queue lines (tests and
     * scripts match it once per queue); an unbalanced line says
     * UNBALANCED as the queue lines do. */
    if (balanced)
        fprintf(out, ": every answer accounted for\n");
    else if (!bad && emitted > sum)
        fprintf(out, ": UNBALANCED, %llu answer(s) unaccounted for\n",
                (unsigned long long)(emitted - sum));
    else
        fprintf(out, ": UNBALANCED, %llu answer(s) counted twice\n",
                bad ? 0ull : (unsigned long long)(sum - emitted));
    return balanced;
}

int rh_runtime_report_accounting(rh_runtime *rt, FILE *out)
{
    int unbalanced = 0;
    for (uint32_t i = 0; i < rt->n_queues; i++) {
        if (rh_runtime_queue_borrowed(rt, i))
            continue; /* its creator reports it, with the counters it sees */
        rh_queue *q = rt->queues[i];
        uint64_t taken, moved, in_rings;
        int kernel_input = kernel_intake(rt, q, &taken, &moved, &in_rings);
        const rh_qplan *qp = i < rt->n_qplan ? &rt->qplan[i] : NULL;
        if (qp && qp->retired_reader) {
            /* kernels of released runtimes read it (rh__runtime_hand_over_intake) */
            taken += qp->retired_taken;
            moved += qp->retired_moved;
            kernel_input = 1;
        }
        /* A recovered persist queue: this run's counts, its carried-over
         * messages among the accepted (queue_pvt.h). */
        rh_queue_stats s = RH_QUEUE_STATS_INIT;
        rh__queue_stats_since_open(q, &s);
        uint64_t carried;
        int recovered = rh__queue_recovered(q, &carried);
        /* What no kernel took, clients did (rh_recv on a kernel's input, before
         * a kernel launched into the host read it, after the last one went):
         * delivered to them. */
        if (kernel_input && s.dequeued > taken)
            moved += s.dequeued - taken;
        rh_queue_account a;
        rh__queue_account_of(&s, kernel_input, moved, in_rings, &a);
        fprintf(out,
                "accounting: queue %s: accepted %llu %s delivered %llu + dead-lettered %llu + "
                "dropped %llu + queued %llu",
                rh_queue_name(q), (unsigned long long)a.accepted, a.balanced ? "=" : "!=",
                (unsigned long long)a.delivered, (unsigned long long)a.dead_lettered,
                (unsigned long long)a.dropped, (unsigned long long)a.queued);
        if (a.balanced)
            fprintf(out, ": balanced");
        else if (a.impossible)
            fprintf(out, ": UNBALANCED, counters no queue can hold (its shared header was "
                         "written by another process?)");
        else if (a.missing > 0)
            fprintf(out, ": UNBALANCED, %lld message(s) unaccounted for", (long long)a.missing);
        else
            fprintf(out, ": UNBALANCED, %lld message(s) counted twice", -(long long)a.missing);
        fprintf(out, " (not accepted: %llu", (unsigned long long)a.refused);
        /* A drop_oldest queue evicts unread messages (an undeclared
         * dead-letter queue does: dlq.c); say it where the count is read. */
        if (s.dropped_oldest)
            fprintf(out, "; dropped includes %llu evicted unread by drop_oldest, capacity %u",
                    (unsigned long long)s.dropped_oldest, rh_queue_config_of(q)->capacity);
        if (recovered)
            fprintf(out, "; accepted includes %llu carried over from the previous run",
                    (unsigned long long)carried);
        fprintf(out, ")\n");
        unbalanced += !a.balanced;
    }
    for (uint32_t i = 0; i < rt->n_kernels; i++)
        unbalanced += !report_kernel_outputs(&rt->kernels[i], out);
    return unbalanced;
}

int rh_runtime_unbalanced(const rh_runtime *rt)
{
    return rt->unbalanced;
}
