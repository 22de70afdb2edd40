/*
 * struct_size.h — the library's side of "structs that grow"
 * (ringhost/ringhost.h): the public structs a caller fills or the library
 * fills in caller memory begin with uint32_t struct_size; every public
 * function that takes one goes through these two calls, so the rule is
 * checked in one place.
 */
#ifndef RH_STRUCT_SIZE_H
#define RH_STRUCT_SIZE_H

#include <stddef.h>

#include "ringhost/ringhost.h"

/* The size of a struct up to and including `field`. */
#define RH__SIZE_UPTO(type, field) (offsetof(type, field) + sizeof(((type *)0)->field))

/* Each struct's first version: the smallest struct_size accepted.  Fields
 * after these were appended, and read as zero from a caller whose
 * struct_size ends before them.  Never raise one: a caller built against
 * that version would be refused. */
#define RH__LAUNCH_OPTS_V1 RH__SIZE_UPTO(rh_launch_opts, log)
#define RH__QUEUE_CONFIG_V1 RH__SIZE_UPTO(rh_queue_config, shared)
#define RH__QUEUE_STATS_V1 RH__SIZE_UPTO(rh_queue_stats, capacity)
#define RH__KERNEL_INFO_V1 RH__SIZE_UPTO(rh_kernel_info, cpus)

/* What names a struct in a refusal: its type and its initialiser macro. */
typedef struct rh__struct_kind {
    const char *type;  /* "rh_launch_opts" */
    const char *init;  /* "RH_LAUNCH_OPTS_INIT(...)" */
    size_t first_size; /* RH__..._V1 */
    size_t size;       /* this library's sizeof */
} rh__struct_kind;

extern const rh__struct_kind rh__kind_launch_opts, rh__kind_queue_config, rh__kind_queue_stats,
    rh__kind_kernel_info;

/* 0 when struct_size (what the caller's struct says) is one this library
 * accepts for kind; RH_EINVAL with the reason in err otherwise (0, or
 * smaller than the first version). */
int rh__struct_size_check(const rh__struct_kind *kind, uint32_t struct_size, rh_error *err);

/*
 * A struct the caller filled (src, of kind) into the library's full-size
 * dst: dst is zeroed (every field's default), then the first
 * min(src->struct_size, kind->size) bytes of src are copied, and
 * dst->struct_size becomes kind->size.  Nothing past src's struct_size is
 * read.  0, or rh__struct_size_check's refusal (dst all defaults then).
 */
int rh__struct_in(const rh__struct_kind *kind, void *dst, const void *src, rh_error *err);

/* rh__struct_in for launch options, NULL meaning every default: what
 * rh_runtime_launch and the planners read instead of the caller's opts.
 * Nothing keeps a pointer to it past the call that made it. */
int rh__launch_opts_in(const rh_launch_opts *opts, rh_launch_opts *full, rh_error *err);

/*
 * A struct the library filled (src, full size) into the caller's dst: the
 * first min(dst->struct_size, kind->size) bytes are copied and
 * dst->struct_size becomes that count.  Nothing past dst's struct_size is
 * written.  0, or rh__struct_size_check's refusal (dst untouched; also
 * logged once per kind to `log` (NULL: stderr) as api.struct_size, since
 * the calls that write such structs take no rh_error).
 */
int rh__struct_out(const rh__struct_kind *kind, void *dst, const void *src, FILE *log);

#endif /* RH_STRUCT_SIZE_H */
