/*
 * hotswap.c — replacing a running kernel's plugin (placeholder: the swap
 * itself is being written on its own branch; until then reload refuses).
 */
#include "runtime_pvt.h"

int rh_runtime_kernel_reload(rh_runtime *rt, const char *kernel, rh_error *err)
{
    if (!rh_runtime_kernel_find(rt, kernel))
        return rh_error_set(err, RH_ENOENT, "no kernel \"%s\" in instance %s", kernel ? kernel : "",
                            rt->instance);
    return rh_error_set(err, RH_ESTATE, "reload of kernel %s: not available in this build",
                        kernel);
}
