/*
 * type_registry.c — the message types this process knows by fingerprint
 * (type_registry.h): a process-wide table, so that a dead letter's payload,
 * which only carries its type's fingerprint and name, can be shown and read
 * as that type's JSON.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/grow.h"
#include "queue/type_registry.h"

/* Entries are per descriptor pointer, with a count of adds, so two plugins
 * defining the same type each keep their own entry valid until they remove
 * it. */
static pthread_mutex_t known_lock = PTHREAD_MUTEX_INITIALIZER;
static struct known {
    const rh_type *t;
    unsigned refs;
} *known;
static uint32_t n_known, cap_known;

void rh__type_registry_add(const rh_type *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&known_lock);
    uint32_t i = 0;
    while (i < n_known && known[i].t != t)
        i++;
    if (i == n_known && rh_grow(&known, &cap_known, n_known + 1, sizeof *known)) {
        /* payloads of this type then show as base64 (dlq.c) */
        pthread_mutex_unlock(&known_lock);
        return;
    }
    if (i == n_known)
        known[n_known++] = (struct known){t, 0};
    known[i].refs++;
    pthread_mutex_unlock(&known_lock);
}

void rh__type_registry_remove(const rh_type *t)
{
    pthread_mutex_lock(&known_lock);
    for (uint32_t i = 0; i < n_known; i++)
        if (known[i].t == t) {
            if (--known[i].refs == 0)
                known[i] = known[--n_known];
            break;
        }
    if (n_known == 0) {
        free(known);
        known = NULL;
        cap_known = 0;
    }
    pthread_mutex_unlock(&known_lock);
}

const rh_type *rh__type_registry_acquire(uint64_t fingerprint, const char *name)
{
    pthread_mutex_lock(&known_lock);
    for (uint32_t i = 0; i < n_known; i++)
        if (fingerprint ? known[i].t->fingerprint == fingerprint
                        : strcmp(known[i].t->name, name) == 0)
            return known[i].t;
    return NULL;
}

void rh__type_registry_release(void)
{
    pthread_mutex_unlock(&known_lock);
}
