/*
 * queue_peek.c — rh_queue_peek: browse the messages waiting in a queue
 * without taking them, as a queue browser does (`ringhost recv --peek`).
 *
 * The messages waiting are the cells at positions [cons_head, prod_tail):
 * published by their producers, not yet claimed by a consumer.  A peek
 * copies one such cell and touches no index, so consumers and producers
 * never see it (no claim, no counter, no bell).
 *
 * It is a snapshot, and a loose one: while it reads, consumers may take
 * the message and a producer may then reuse its cell, so a copy could mix
 * two messages.  The check that rejects such a torn copy is the
 * consumers' free index (cons_tail, or acked on a persist queue: what
 * producers wait on before they reuse a cell): a producer may write the
 * cell at pos only once that index has passed pos.  So after the copy
 * (and an acquire fence, as a seqlock reader does), if the index is still
 * at or before pos no producer can have written the cell: the copy is the
 * message that was published there.  If it passed pos the copy is thrown
 * away and the peek goes on with the next message still waiting.  What
 * this means for a caller browsing a busy queue: each message returned is
 * whole and was waiting at some moment of the call; messages taken
 * meanwhile are missed, and a queue that moves under the browse shows a
 * mix of earlier and later contents, never a message twice.
 *
 * Not on any hot path: a slow, read-only walk for tools.  The cell bytes
 * are read while a producer may be writing them (the copy is then
 * discarded, as above): that read is copy_racy, volatile word loads (no
 * memcpy the compiler or a sanitizer's interceptor would see) in a
 * function ThreadSanitizer does not instrument, since this race is the
 * design and the check above is what makes it harmless.
 */
#include <string.h>

#include "queue/queue_layout.h"
#include "queue/queue_pvt.h"

/* Copy n bytes of a cell that a producer may be rewriting. */
__attribute__((no_sanitize_thread)) static void copy_racy(void *dst, const void *src, size_t n)
{
    const volatile unsigned char *s = src;
    unsigned char *d = dst;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* cells are 16-byte aligned, slot sizes multiples of 16 */
        uint64_t w = *(const volatile uint64_t *)(const volatile void *)(s + i);
        memcpy(d + i, &w, 8);
    }
    for (; i < n; i++)
        d[i] = s[i];
}

int rh_queue_peek(rh_queue *q, uint64_t *cursor, rh_envelope *env, void *buf, uint32_t buf_len)
{
    if (!q || !cursor || !env || (q->payload_size && (!buf || buf_len < q->payload_size)))
        return RH_EINVAL;
    queue_header *h = q->h;
    for (;;) {
        uint64_t head = atomic_load_explicit(&h->cons_head, memory_order_acquire);
        /* *cursor is the next position + 1 (0: from the oldest waiting);
         * positions before cons_head were taken meanwhile. */
        uint64_t pos = *cursor ? *cursor - 1 : head;
        if ((int64_t)(pos - head) < 0)
            pos = head;
        uint64_t tail = atomic_load_explicit(&h->prod_tail, memory_order_acquire);
        if ((int64_t)(tail - pos) <= 0) {
            *cursor = pos + 1;
            return RH_EEMPTY;
        }
        const cell *c = (const cell *)(q->cells + (size_t)(pos & q->mask) * q->slot_size);
        copy_racy(env, &c->env, sizeof *env);
        if (q->payload_size)
            copy_racy(buf, c + 1, q->payload_size);
        atomic_thread_fence(memory_order_acquire);
        uint64_t freed = atomic_load_explicit(q->free_tail, memory_order_relaxed);
        *cursor = pos + 2;
        if ((int64_t)(freed - pos) > 0)
            continue; /* its cell may have been reused during the copy: torn */
        if (env->port == CELL_VOID_PORT)
            continue; /* no message: a dead holder's loan (queue_loan.c) */
        uint32_t len = env->payload_len <= q->payload_size ? env->payload_len : q->payload_size;
        if (len < q->payload_size) /* zero-extended to the type's size, as rh_recv does */
            memset((char *)buf + len, 0, q->payload_size - len);
        return (int)len;
    }
}
