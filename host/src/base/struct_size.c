/* struct_size.c — see struct_size.h. */
#include "base/struct_size.h"

#include <stdatomic.h>
#include <string.h>

#include "base/log.h"

/* struct_size is the first member of each: the copies below rely on it. */
_Static_assert(offsetof(rh_launch_opts, struct_size) == 0, "struct_size leads");
_Static_assert(offsetof(rh_queue_config, struct_size) == 0, "struct_size leads");
_Static_assert(offsetof(rh_queue_stats, struct_size) == 0, "struct_size leads");
_Static_assert(offsetof(rh_kernel_info, struct_size) == 0, "struct_size leads");

const rh__struct_kind rh__kind_launch_opts = {"rh_launch_opts", "RH_LAUNCH_OPTS_INIT(...)",
                                              RH__LAUNCH_OPTS_V1, sizeof(rh_launch_opts)};
const rh__struct_kind rh__kind_queue_config = {"rh_queue_config", "RH_QUEUE_CONFIG_INIT(...)",
                                               RH__QUEUE_CONFIG_V1, sizeof(rh_queue_config)};
const rh__struct_kind rh__kind_queue_stats = {"rh_queue_stats", "RH_QUEUE_STATS_INIT",
                                              RH__QUEUE_STATS_V1, sizeof(rh_queue_stats)};
const rh__struct_kind rh__kind_kernel_info = {"rh_kernel_info", "RH_KERNEL_INFO_INIT",
                                              RH__KERNEL_INFO_V1, sizeof(rh_kernel_info)};

int rh__struct_size_check(const rh__struct_kind *kind, uint32_t struct_size, rh_error *err)
{
    if (struct_size == 0)
        return rh_error_set(err, RH_EINVAL,
                            "%s.struct_size is 0: the struct was not initialised; declare it "
                            "with %s (ringhost/ringhost.h, \"structs that grow\")",
                            kind->type, kind->init);
    if (struct_size < kind->first_size)
        return rh_error_set(err, RH_EINVAL,
                            "%s.struct_size is %u, smaller than its first version (%zu bytes); "
                            "declare it with %s",
                            kind->type, struct_size, kind->first_size, kind->init);
    return 0;
}

int rh__struct_in(const rh__struct_kind *kind, void *dst, const void *src, rh_error *err)
{
    uint32_t size;
    memset(dst, 0, kind->size);
    memcpy(&size, src, sizeof size);
    int rc = rh__struct_size_check(kind, size, err);
    if (rc == 0)
        memcpy(dst, src, size < kind->size ? size : kind->size);
    size = (uint32_t)kind->size;
    memcpy(dst, &size, sizeof size);
    return rc;
}

int rh__launch_opts_in(const rh_launch_opts *opts, rh_launch_opts *full, rh_error *err)
{
    if (opts)
        return rh__struct_in(&rh__kind_launch_opts, full, opts, err);
    *full = (rh_launch_opts)RH_LAUNCH_OPTS_INIT();
    return 0;
}

int rh__struct_out(const rh__struct_kind *kind, void *dst, const void *src, FILE *log)
{
    /* One line per kind and process: a caller that forgot the macro
     * usually asks in a loop (stats every second).  Relaxed: the bit
     * publishes nothing else, it only elects the one caller that logs. */
    static atomic_uint logged;
    uint32_t size;
    memcpy(&size, dst, sizeof size);
    rh_error err;
    int rc = rh__struct_size_check(kind, size, &err);
    if (rc != 0) {
        unsigned bit = kind == &rh__kind_queue_stats ? 1u : kind == &rh__kind_kernel_info ? 2u : 4u;
        if (!(atomic_fetch_or_explicit(&logged, bit, memory_order_relaxed) & bit))
            rh__log_event(log, RH_LOG_ERROR, "api.struct_size", "error=%s", err.msg);
        return rc;
    }
    size_t n = size < kind->size ? size : kind->size;
    memcpy(dst, src, n);
    size = (uint32_t)n;
    memcpy(dst, &size, sizeof size);
    return 0;
}
