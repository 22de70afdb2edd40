/* bad_ctor_exit.so: its constructor calls exit(0), which would end the
 * host with a success status and no output. */
#include <stdlib.h>

#include "bad_plugin.h"

static void __attribute__((constructor)) exit_on_load(void)
{
    exit(0);
}

static const rh_kernel_desc desc = {RH_KERNEL_ABI, BAD_PLUGIN_BODY("bad_ctor_exit"),
                                    .process = bad_process};

RH_KERNEL_EXPORT(desc)
