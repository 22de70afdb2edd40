/* bad_ctor_pause.so: its constructor waits for a signal forever (pause),
 * which would hang whoever loads it. */
#include <unistd.h>

#include "bad_plugin.h"

static void __attribute__((constructor)) hang_on_load(void)
{
    for (;;)
        pause();
}

static const rh_kernel_desc desc = {RH_KERNEL_ABI, BAD_PLUGIN_BODY("bad_ctor_pause"),
                                    .process = bad_process};

RH_KERNEL_EXPORT(desc)
