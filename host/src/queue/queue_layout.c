/*
 * queue_layout.c — the check of a queue header another process wrote
 * (queue_layout.h is the layout): queue_shm.c runs it when a client
 * attaches, queue_persist.c when a relaunch takes a persist queue over.
 */
#include <string.h>

#include "queue/queue_layout.h"

/* memchr-based: a string field of a foreign header must end inside it. */
static int field_terminated(const char *field, size_t size)
{
    return memchr(field, '\0', size) != NULL;
}

/* Check every header field an attacher relies on.  The header is writable
 * by any process of the user, so nothing in it is trusted unchecked. */
int rh__queue_header_check(const queue_header *h, size_t file_size, const char *name,
                           rh_error *err)
{
    const char *what = NULL;
    if (atomic_load_explicit(&h->magic, memory_order_acquire) != QUEUE_MAGIC)
        what = "bad magic: not a ringhost queue, or still being created";
    else if (h->layout_version != QUEUE_LAYOUT_VERSION)
        what = "unknown layout version";
    else if (h->header_size != sizeof(queue_header))
        what = "header size differs from this build's";
    else if (!capacity_valid(h->capacity) || h->mask != h->capacity - 1)
        what = "capacity is not a power of two in range";
    else if (h->slot_size != slot_size_for(h->payload_size) || h->slot_size > INT32_MAX)
        what = "slot size does not match the payload size";
    else if ((uint64_t)file_size != sizeof(queue_header) + (uint64_t)h->capacity * h->slot_size)
        what = "file size does not match capacity * slot size + header";
    else if (h->policy >= BP_COUNT)
        what = "unknown backpressure policy";
    else if (h->fingerprint == 0)
        what = "type fingerprint is 0";
    else if (!field_terminated(h->name, sizeof h->name) ||
             !field_terminated(h->type_name, sizeof h->type_name) ||
             !field_terminated(h->type_origin, sizeof h->type_origin))
        what = "unterminated name field";
    else if (strcmp(h->name, name) != 0)
        what = "header names a different queue";
    else if (!h->not_empty.shared || !h->not_full.shared)
        what = "doorbells are not marked shared";
    else if (h->persist > 1)
        what = "persist flag is neither 0 nor 1";
    if (what)
        return rh_error_set(err, RH_EINVAL, "queue \"%s\": %s (layout version %u expected)",
                            name, what, QUEUE_LAYOUT_VERSION);
    return 0;
}
