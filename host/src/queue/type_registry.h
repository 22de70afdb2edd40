/*
 * type_registry.h — the message types a dead letter's payload may be
 * encoded with (type_registry.c): a process-wide registry keyed by
 * fingerprint.  encode() of a dead-letter type (dlq.h) shows the payload as
 * its type's JSON when that type is registered, else as {"base64": ...}.
 * The runtime registers its kernels' input types at launch and removes them
 * at destroy; `ringhost recv` registers the types of the plugin named in
 * the queue header.  Each add needs one remove (the type must stay valid,
 * its plugin loaded, until then).  Thread-safe.
 */
#ifndef RH_QUEUE_TYPE_REGISTRY_H
#define RH_QUEUE_TYPE_REGISTRY_H

#include <stdint.h>

#include "ringhost/kernel.h"

void rh__type_registry_add(const rh_type *t);
void rh__type_registry_remove(const rh_type *t);

/* The registered type with this fingerprint (or, when fingerprint is 0, this
 * name), or NULL; the registry stays locked until rh__type_registry_release,
 * so the type's plugin cannot be unloaded while the caller uses it.  Every
 * acquire needs one release, whatever it returned. */
const rh_type *rh__type_registry_acquire(uint64_t fingerprint, const char *name);
void rh__type_registry_release(void);

#endif /* RH_QUEUE_TYPE_REGISTRY_H */
