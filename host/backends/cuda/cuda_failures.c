/*
 * cuda_failures.c — what the CUDA executor does with what a device worker
 * hands back outside its output rings: the messages it failed (its fail
 * ring, to the dead-letter queue with their reasons), its counters (into
 * the engine's worker), and, after a device fault, the batch it died in
 * (retried one at a time, or dead-lettered as poison: the process
 * executor's rule, exec_process.c).
 */
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cuda_exec.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"

/* The failures the device handed over: dead-lettered with their reason,
 * then released (the device then releases their inputs). */
void rh__cuda_drain_failures(rh_kinst *k, cuda_kernel *ck, uint32_t j)
{
    rh_ring *f = ck->fail[j];
    uint64_t pos;
    uint32_t n;
    while ((n = rh__ring_peek(f, 64, &pos)) > 0) {
        for (uint32_t i = 0; i < n; i++) {
            rh_envelope *env = rh_ring_slot(f, pos + i);
            uint32_t port = env->port < k->desc->n_inputs ? env->port : 0;
            const char *payload = rh_ring_payload(env);
            char reason[RH_DEV_FAIL_REASON + 1];
            memcpy(reason, payload + ck->fail_reason_offset, RH_DEV_FAIL_REASON);
            reason[RH_DEV_FAIL_REASON] = '\0';
            rh_envelope copy = *env;
            copy.port = 0;
            rh__queue_count(k->in_q[port], RH_QC_FAILED, 1);
            rh__dlq_put(k->dlq, k->in_q[port], k->decl->name, k->desc->inputs[port].type,
                        RH_DLQ_FAILED, &copy, payload, reason, k->rt->log);
        }
        rh__ring_release(f, n);
    }
}

/* The device's counters, on top of what earlier launches and the host
 * counted, into the worker's (stat, accounting: the output bridge's
 * "emitted = sent + ..." line reads emitted). */
void rh__cuda_mirror_counters(rh_kinst *k, cuda_kernel *ck)
{
    for (uint32_t j = 0; j < k->n_workers; j++) {
        rh_worker *w = &k->workers[j];
        const rh_dev_worker *b = &ck->blocks[j];
        const cuda_counts *c = &ck->base[j];
        atomic_store(&w->processed,
                     c->processed + __atomic_load_n(&b->processed, __ATOMIC_RELAXED));
        atomic_store(&w->failed, c->failed + __atomic_load_n(&b->failed, __ATOMIC_RELAXED));
        atomic_store(&w->emitted, c->emitted + __atomic_load_n(&b->emitted, __ATOMIC_RELAXED));
        atomic_store(&w->batches, c->batches + __atomic_load_n(&b->batches, __ATOMIC_RELAXED));
    }
}

/* A launch counts from 0 (rh_dev_open): without the fold, a relaunch
 * after a fault forgot what the dead launch had emitted, and the kernel's
 * accounting line read "answers counted twice". */
void rh__cuda_fold_counters(rh_kinst *k, cuda_kernel *ck)
{
    for (uint32_t j = 0; j < k->n_workers; j++) {
        rh_dev_worker *b = &ck->blocks[j];
        cuda_counts *c = &ck->base[j];
        c->processed += __atomic_exchange_n(&b->processed, 0, __ATOMIC_RELAXED);
        c->failed += __atomic_exchange_n(&b->failed, 0, __ATOMIC_RELAXED);
        c->emitted += __atomic_exchange_n(&b->emitted, 0, __ATOMIC_RELAXED);
        c->batches += __atomic_exchange_n(&b->batches, 0, __ATOMIC_RELAXED);
    }
}

/* The poison rule of the process executor (exec_process.c), for a batch
 * the device died in: a retried message alone in it is dead-lettered, the
 * others are marked retried and go one at a time at the next launch. */
void rh__cuda_after_fault(rh_kinst *k, cuda_kernel *ck, const char *reason)
{
    for (uint32_t j = 0; j < k->n_workers; j++) {
        rh_worker *w = &k->workers[j];
        rh_dev_worker *b = &ck->blocks[j];
        rh__cuda_drain_failures(k, ck, j);
        uint32_t n = __atomic_load_n(&b->batch_n, __ATOMIC_RELAXED);
        uint32_t port = __atomic_load_n(&b->batch_port, __ATOMIC_RELAXED);
        b->retry_n = 0;
        if (n && port < k->desc->n_inputs) {
            rh_ring *r = w->in[port];
            /* The device is gone: the host is the ring's consumer now. */
            uint64_t head = rh_ring_committed(r), tail = rh_ring_released(r);
            if (head - tail < n)
                n = (uint32_t)(head - tail);
            rh_envelope *first = rh_ring_slot(r, tail);
            if (n == 1 && (first->flags & RH_ENV_RETRIED)) {
                char why[RH_DEV_FAIL_REASON + 64], id[37];
                snprintf(why, sizeof why, "poison: the device faulted twice with this message in "
                                          "its batch (%s)", reason);
                rh_id_format(first->id, id);
                rh__log_event(k->rt->log, RH_LOG_ERROR, "kernel.poison",
                              "kernel=%s worker=%u id=%s reason=%s", k->decl->name, j, id,
                              why);
                ck->base[j].failed++; /* the mirror that follows writes w->failed */
                rh__queue_count(k->in_q[port], RH_QC_FAILED, 1);
                rh__dlq_put(k->dlq, k->in_q[port], k->decl->name, k->desc->inputs[port].type,
                            RH_DLQ_FAILED, first, rh_ring_payload(first), why, k->rt->log);
                rh__ring_release(r, 1);
            } else if (n) {
                for (uint32_t i = 0; i < n; i++)
                    rh_ring_slot(r, tail + i)->flags |= RH_ENV_RETRIED;
                b->retry_n = n;
                b->retry_port = port;
            }
        }
        __atomic_store_n(&b->batch_n, 0, __ATOMIC_RELAXED);
        rh__worker_schedule_restart(w, "device_fault");
    }
}

