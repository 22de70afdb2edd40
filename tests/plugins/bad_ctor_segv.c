/* bad_ctor_segv.so: its constructor dereferences NULL (SIGSEGV) as soon as
 * it is loaded, before any entry is called. */
#include "bad_plugin.h"

static void __attribute__((constructor)) crash_on_load(void)
{
    volatile int *volatile nowhere = 0; /* volatile: the compiler may not drop it */
    *nowhere = 1;
}

static const rh_kernel_desc desc = {RH_KERNEL_ABI, BAD_PLUGIN_BODY("bad_ctor_segv"),
                                    .process = bad_process};

RH_KERNEL_EXPORT(desc)
