/*
 * bridge_check.c — what an input bridge checks before a message reaches its
 * kernel, on both input paths (the copying pump, bridge.c, and the
 * in-place take, inplace.c): a recovered persist queue's redeliveries
 * marked, then the dedup window, the TTL, the length and the type's own
 * validator.  A duplicate is only counted; an expired or invalid message is
 * counted and dead-lettered with its reason (dlq.h).  A queue that declares
 * no dedup window and no TTL, with no redeliveries left to mark, gets the
 * length and the validator only, read once per burst (engine_pvt.h
 * rh__in_bridge_plain).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "engine/acks.h"
#include "engine/dedup.h"
#include "engine/engine_pvt.h"
#include "queue/dlq.h"
#include "queue/queue_pvt.h"

/* Why a message may not go on to the kernel (0 = it may). */
static int reject_reason(rh_in_bridge *b, rh_envelope *env, uint64_t now, char *why,
                         size_t why_len)
{
    if (rh__dedup_seen_or_add(b->dedup, env->id))
        return RH_QC_DUPLICATES + 1;
    if (b->ttl_ns && now > env->enqueue_ns && now - env->enqueue_ns > b->ttl_ns) {
        uint64_t age_us = (now - env->enqueue_ns) / RH_NS_PER_US;
        snprintf(why, why_len, "expired: %llu.%03llu ms in queue %s, ttl_ms %llu",
                 (unsigned long long)(age_us / 1000), (unsigned long long)(age_us % 1000),
                 rh_queue_name(b->queue), (unsigned long long)(b->ttl_ns / RH_NS_PER_MS));
        return RH_QC_EXPIRED + 1;
    }
    if (env->payload_len > b->type->size) {
        snprintf(why, why_len, "payload of %u bytes, type %s has %u", env->payload_len,
                 b->type->name, b->type->size);
        return RH_QC_INVALID + 1;
    }
    if (b->type->validate && b->type->validate(rh_ring_payload(env), why, why_len) != 0)
        return RH_QC_INVALID + 1;
    return 0;
}

/* A message refused before the kernel: a duplicate is only counted (the
 * dedup window exists to drop a sender's retries); an expired or invalid
 * one is counted and dead-lettered with its reason, and an invalid one is
 * logged too (someone sends malformed messages). */
static void refuse(rh_in_bridge *b, int reason, rh_envelope *env, const char *why)
{
    rh_kinst *k = b->kernel;
    rh__queue_count(b->queue, (rh_queue_counter)(reason - 1), 1);
    if (reason - 1 == RH_QC_DUPLICATES)
        return;
    if (reason - 1 == RH_QC_INVALID) {
        char id[37];
        rh_id_format(env->id, id);
        rh__log_event(k->rt->log, RH_LOG_WARN, "bridge.message_invalid",
                      "queue=%s id=%s kernel=%s refused=before_kernel reason=%s",
                      rh_queue_name(b->queue), id, k->decl->name, why);
    }
    rh__dlq_put(k->dlq, b->queue, k->decl->name, b->type,
                reason - 1 == RH_QC_INVALID ? RH_DLQ_INVALID : RH_DLQ_EXPIRED, env,
                rh_ring_payload(env), why, k->rt->log);
}

/* A recovered persist queue's first messages were the previous run's:
 * some of them its kernel had processed and answered before the host died.
 * Mark them (RH_ENV_REDELIVERED), so their answers, which get the same ids
 * as the first time (dispatch.c), are checked against the output queue's
 * recent ids (rh__out_bridge_flush_ring).  Every bridge on the queue marks
 * its first `carried`: more than were redelivered at worst, which only
 * means more answers checked. */
static void note_redelivery(rh_in_bridge *b)
{
    uint64_t carried = 0;
    b->redelivery_known = 1;
    if (rh__queue_recovered(b->queue, &carried))
        b->redelivered_left = carried;
}

static void mark_redelivered(rh_in_bridge *b, rh_envelope *const *dst, uint32_t got)
{
    uint32_t n = b->redelivered_left < got ? (uint32_t)b->redelivered_left : got;
    for (uint32_t i = 0; i < n; i++)
        dst[i]->flags |= RH_ENV_REDELIVERED;
    b->redelivered_left -= n;
}

void rh__in_bridge_begin(rh_in_bridge *b)
{
    if (b->acks) {
        rh__acks_settle(b);
        if (!b->redelivery_known)
            note_redelivery(b);
    }
}

uint32_t rh__in_bridge_check(rh_in_bridge *b, rh_envelope **envs, uint32_t got)
{
    if (rh__in_bridge_plain(b)) {
        /* No dedup window, no TTL, no redeliveries to mark: the length and
         * the type's own check per message, read once per burst (a
         * refused one goes the general way below, which says why). */
        uint32_t size = b->type->size, keep = 0;
        int (*validate)(const void *, char *, size_t) = b->type->validate;
        for (uint32_t i = 0; i < got; i++) {
            rh_envelope *env = envs[i];
            env->port = (uint16_t)b->port;
            if (__builtin_expect(env->payload_len > size ||
                                     (validate && !rh__in_bridge_valid(validate, env)),
                                 0)) {
                char why[256];
                why[0] = '\0';
                int reason = reject_reason(b, env, 0, why, sizeof why);
                if (reason) {
                    refuse(b, reason, env, why);
                    continue;
                }
            }
            envs[keep++] = env;
        }
        return keep;
    }
    if (b->redelivered_left) /* once per burst; only after a recovery */
        mark_redelivered(b, envs, got);
    uint64_t now = b->ttl_ns ? rh_now_ns() : 0;
    uint32_t keep = 0;
    if (b->dedup_lock) /* once per burst, only for inline workers sharing a window */
        pthread_mutex_lock(b->dedup_lock);
    for (uint32_t i = 0; i < got; i++) {
        char why[256];
        why[0] = '\0'; /* not "= {0}": that clears 256 bytes per message */
        envs[i]->port = (uint16_t)b->port;
        int reason = reject_reason(b, envs[i], now, why, sizeof why);
        if (reason) {
            refuse(b, reason, envs[i], why);
            continue;
        }
        envs[keep++] = envs[i];
    }
    if (b->dedup_lock)
        pthread_mutex_unlock(b->dedup_lock);
    return keep;
}

int rh__in_bridge_idle(rh_in_bridge *b)
{
    int none = rh__queue_to_take(b->queue);
    if (__builtin_expect(none == RH_QUEUE_HALTED, 0) && rh__queue_first_halt_notice(b->queue)) {
        rh_kinst *k = b->kernel;
        rh__log_event(k->rt->log, RH_LOG_ERROR, "bridge.input_halted",
                      "kernel=%s port=%s queue=%s reason=\"its indices describe no queue "
                      "(queue.corrupt side=indices): nothing can be taken from it\" "
                      "action=stops_polling_it_purge_or_relaunch_the_host",
                      k->decl->name, k->desc->inputs[b->port].name, rh_queue_name(b->queue));
    }
    return none;
}
