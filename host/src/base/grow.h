/*
 * grow.h — the one way the host grows an array it appends to.
 *
 *     if (rh_grow(&r->tasks, &r->cap_tasks, r->n_tasks + 1, sizeof *r->tasks))
 *         return RH_ENOMEM;
 *     r->tasks[r->n_tasks++] = t;
 *
 * arrp is the address of the array pointer (a T ** for any T; NULL arrays
 * are fine).  It is read and written with memcpy, so no T * is accessed as
 * a void * (no type punning).
 *
 * cap is the element count the array has room for.  When need fits, nothing
 * happens; otherwise the room doubles (from RH_GROW_MIN) until need fits.
 * A NULL cap is for arrays that record no spare room (a NULL-terminated
 * list, an array as long as its count): the array is resized to exactly
 * need elements.  need 0 asks for nothing.
 *
 * Returns 0, or RH_ENOMEM when the allocation fails or need * elem_size
 * would overflow; then the array and *cap are left as they were (the caller
 * still owns and frees the old array).
 */
#ifndef RH_BASE_GROW_H
#define RH_BASE_GROW_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ringhost/ringhost.h"

#define RH_GROW_MIN 8u

static inline int rh_grow(void *arrp, uint32_t *cap, uint32_t need, size_t elem_size)
{
    if (need == 0 || (cap && need <= *cap))
        return 0;
    uint32_t n = need;
    if (cap) {
        n = *cap ? *cap : RH_GROW_MIN;
        while (n < need)
            n = n > UINT32_MAX / 2 ? need : n * 2;
    }
    if (elem_size && n > SIZE_MAX / elem_size)
        return RH_ENOMEM;
    void *arr;
    memcpy(&arr, arrp, sizeof arr);
    void *p = realloc(arr, (size_t)n * elem_size);
    if (!p)
        return RH_ENOMEM;
    memcpy(arrp, &p, sizeof p);
    if (cap)
        *cap = n;
    return 0;
}

#endif /* RH_BASE_GROW_H */
