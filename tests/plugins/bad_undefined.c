/* bad_undefined.so: calls a function no library defines.  A MODULE links with
 * undefined symbols allowed, so the file builds; the host's
 * dlopen(RTLD_NOW) must fail with "undefined symbol:
 * rh_bad_function_nobody_defines". */
#include "bad_plugin.h"

extern int rh_bad_function_nobody_defines(int x);

static int process_calling_nowhere(rh_ctx *ctx, void *state, const rh_batch *batch)
{
    (void)ctx;
    (void)state;
    return rh_bad_function_nobody_defines((int)batch->count);
}

static const rh_kernel_desc desc = {RH_KERNEL_ABI, BAD_PLUGIN_BODY("bad_undefined"),
                                    .process = process_calling_nowhere};

RH_KERNEL_EXPORT(desc)
